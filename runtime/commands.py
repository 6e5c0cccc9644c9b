"""Outbound device commands: record a downlink command, publish it, and list what a device was sent.

A command is recorded before it is published, so an answer arriving at once always finds it (ingest
records the answers, `ingest.commands`). Payloads and topics are built in `sensors.commands`.
`CommandSender` is the one way asyncio code (the engine, the API) sends: through psycopg, on a worker thread.
"""

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import paho.mqtt.client as mqtt
import psycopg
from psycopg.rows import class_row

import sql
from runtime.settings import Settings
from sensors import commands

log = logging.getLogger(__name__)

Q = sql.queries("commands")
# The broker answers a QoS 1 publish in milliseconds; ten seconds without a PUBACK means it is gone.
PUBLISH_TIMEOUT_S = 10.0
# Enough history for an operator to see what a device was last told and what it said.
LIST_LIMIT = 20

# send_command(device_id, name, params) records the command in device_command, publishes it and
# returns its command id.
SendCommand = Callable[[str, str, Mapping[str, object]], Awaitable[str]]
# What a failed send may raise: an unregistered device (LookupError), parameters the command refuses
# (ValueError), a publish the broker did not acknowledge (RuntimeError), a lost connection (OSError).
# One failed device must not keep the others at their slow interval.
COMMAND_FAILURES = (LookupError, ValueError, RuntimeError, OSError)


class UnknownDevice(LookupError):
    """No device with this id is registered."""


class CommandNotSent(RuntimeError):
    """The broker did not acknowledge the command; its record was withdrawn."""


@dataclass(frozen=True)
class CommandRecord:
    command_id: str
    name: str
    params: dict
    sent_at: datetime
    sent_by: str
    result: str | None
    answer: str | None
    answered_at: datetime | None


def device_protocol(conn: psycopg.Connection, device_id: str) -> str:
    """The protocol a registered device speaks; UnknownDevice if it is not registered."""
    with psycopg.RawCursor(conn) as cur:
        row = cur.execute(Q["device_protocol"], (device_id,)).fetchone()
    if row is None:
        raise UnknownDevice(f"no device {device_id!r} is registered")
    return row[0]


def send_command(conn: psycopg.Connection, client: mqtt.Client, *, settings: Settings, device_id: str,
                 name: str, params: Mapping[str, object], sent_by: str) -> str:
    """Record a command and publish it to the device at QoS 1; return its command id.

    ValueError for bad parameters, UnknownDevice, and CommandNotSent while the client is not connected,
    before anything is recorded; CommandNotSent (and the record withdrawn) when the broker does not
    acknowledge the publish.
    """
    command = commands.build_command(name, params)
    protocol = device_protocol(conn, device_id)
    if protocol == "manual":
        raise ValueError(f"{device_id} is a manual device (a grid monitor measures its cracks by hand): "
                         "it takes no commands")
    # Refused before anything is recorded: a disconnected paho would queue the publish and send it on
    # reconnection, after the record below had been withdrawn.
    if not client.is_connected():
        raise CommandNotSent(f"{name} for {device_id} was not sent: the MQTT broker at "
                             f"{settings.mqtt_host}:{settings.mqtt_port} is not connected")
    command_id = commands.new_command_id()
    topic = commands.request_topic(protocol, topic_root=settings.topic_root, device_id=device_id,
                                   command_id=command_id)
    payload = command.payload(protocol, command_id)
    with conn.transaction(), psycopg.RawCursor(conn) as cur:
        cur.execute(Q["insert_command"], (device_id, command_id, command.name, json.dumps(command.params),
                                          payload, topic, sent_by))
    try:
        info = client.publish(topic, payload.encode("ascii"), qos=1)
        info.wait_for_publish(PUBLISH_TIMEOUT_S)
        problem = None if info.is_published() else f"no acknowledgement within {PUBLISH_TIMEOUT_S:g} s"
    except (RuntimeError, ValueError) as exc:  # paho: not connected, or its queue is full
        problem = str(exc)
    if problem:
        with conn.transaction(), psycopg.RawCursor(conn) as cur:
            cur.execute(Q["withdraw_command"], (command_id,))
        raise CommandNotSent(f"the broker did not acknowledge {name} for {device_id} ({problem}); "
                             "its record was withdrawn")
    log.info("sent %s to %s on %s as %s", name, device_id, topic, command_id)
    return command_id


def recent_commands(conn: psycopg.Connection, *, device_id: str, limit: int = LIST_LIMIT) -> list[CommandRecord]:
    """The device's latest commands with their answers, newest first."""
    with psycopg.RawCursor(conn, row_factory=class_row(CommandRecord)) as cur:
        return cur.execute(Q["recent_commands"], (device_id, limit)).fetchall()


class CommandSender:
    """Sends downlink commands for asyncio code: `send_command` through psycopg, on a worker thread.

    With `keep_connection`, one connection is kept for every command (the engine: a storm sends thousands,
    and a connection each doubled their cost); without, each command opens its own (the API: few commands).
    """

    def __init__(self, settings: Settings, client: mqtt.Client, *, keep_connection: bool) -> None:
        self.settings = settings
        self._client = client
        self._keep_connection = keep_connection
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def by(self, actor: str) -> SendCommand:
        """A `send_command` that records `actor` as the sender."""

        async def send(device_id: str, name: str, params: Mapping[str, object]) -> str:
            return await asyncio.to_thread(self._send, device_id, name, params, actor)

        return send

    def close(self) -> None:
        """Close the kept connection, if there is one."""
        if self._conn is not None:
            self._conn.close()

    def _send(self, device_id: str, name: str, params: Mapping[str, object], sent_by: str) -> str:
        try:
            with self._connection() as conn:
                return send_command(conn, self._client, settings=self.settings, device_id=device_id, name=name,
                                    params=params, sent_by=sent_by)
        except psycopg.OperationalError as exc:  # an OSError for the effects: noted, and tried again later
            raise ConnectionError(f"the database did not take the command: {exc}") from exc

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if not self._keep_connection:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                yield conn
            return
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.settings.database_url, autocommit=True)
            try:
                yield self._conn
            except psycopg.OperationalError:
                self._conn.close()
                raise
