"""Downlink commands: record and publish them, record the devices' answers, and `geohazard command`.

A command is recorded before it is published, so an answer arriving at once always finds it; the
answer is matched by command id and by the device that sent it. Payloads and topics are built in
`sensors.commands`; `prepare_answer` does everything but the UPDATE, so an asyncpg caller runs the
same statement with `conn.fetchrow(Q["record_answer"], *prepared.args)`.
"""

import getpass
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

import paho.mqtt.client as mqtt
import psycopg
from psycopg.rows import class_row

import sql
from sensors import commands
from service.settings import Settings

log = logging.getLogger(__name__)

Q = sql.queries("commands")
# The broker answers a QoS 1 publish in milliseconds; ten seconds without a PUBACK means it is gone.
PUBLISH_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
# Enough history for an operator to see what a device was last told and what it said.
LIST_LIMIT = 20


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


@dataclass(frozen=True)
class PreparedAnswer:
    """The arguments of the `record_answer` statement for one answer message."""

    command_id: str
    device_id: str
    answer: str
    name: str | None
    result: str | None

    @property
    def args(self) -> tuple:
        return self.command_id, self.device_id, self.answer, self.name, self.result


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


def prepare_answer(*, topic: str, payload: bytes, topic_root: str) -> PreparedAnswer | None:
    """What to record for a message on an answer topic; None when it cannot be matched to a command."""
    source = commands.answer_source(topic, topic_root)
    if source is None:
        return None
    try:
        answer = commands.parse_answer(source.protocol, payload)
        name, result, command_id = answer.name, answer.result, answer.command_id
    except commands.MalformedAnswer as exc:
        log.warning("unreadable answer on %s (kept without a result): %s; payload %r", topic, exc, payload[:120])
        name = result = None
        command_id = exc.command_id
    command_id = source.command_id or command_id
    if not command_id:
        log.warning("answer on %s names no command id; payload %r", topic, payload[:120])
        return None
    # Kept as it arrived; PostgreSQL text cannot hold NUL, which some firmware appends.
    text = payload.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return PreparedAnswer(command_id, source.device_id, text, name, result)


def record_answer(conn: psycopg.Connection, *, topic: str, payload: bytes, topic_root: str) -> bool:
    """Store a device's answer with its command; False when no command of that device has its id."""
    prepared = prepare_answer(topic=topic, payload=payload, topic_root=topic_root)
    if prepared is None:
        return False
    with conn.transaction(), psycopg.RawCursor(conn) as cur:
        row = cur.execute(Q["record_answer"], prepared.args).fetchone()
    if row is None:
        log.warning("answer on %s to unknown command %s of %s", topic, prepared.command_id, prepared.device_id)
        return False
    if prepared.name is not None and prepared.name != row[0]:
        log.warning("answer on %s names %s but command %s was %s; kept without a result",
                    topic, prepared.name, prepared.command_id, row[0])
    return True


def recent_commands(conn: psycopg.Connection, *, device_id: str, limit: int = LIST_LIMIT) -> list[CommandRecord]:
    """The device's latest commands with their answers, newest first."""
    with psycopg.RawCursor(conn, row_factory=class_row(CommandRecord)) as cur:
        return cur.execute(Q["recent_commands"], (device_id, limit)).fetchall()


# --- `geohazard command` -----------------------------------------------------------------------


def add_parser(subparsers) -> None:
    """Register `geohazard command`."""
    p = subparsers.add_parser(
        "command", help="send a command to a device, or list the commands it was sent",
        description="Send a downlink command (SPEC 2.1/2.2) to a registered device and print its command "
                    "id; the device's answer is recorded against that id. Commands and their parameters: "
                    "setsensortime sensor_id=L1_LF_1 sample_intv=60 upload_intv=60 plus_intv=60 (seconds); "
                    "getstatus; settime server=HOST; meteorologicalearlywarning level=0..3|red..blue "
                    "effective_time=SECONDS lon_range=A,B lat_range=A,B. "
                    "With --list, show the device's recent commands and answers instead.")
    p.add_argument("device", metavar="DEVICE", help="device or gateway id")
    p.add_argument("name", metavar="NAME", nargs="?", choices=commands.COMMAND_NAMES,
                   help="the command: " + ", ".join(commands.COMMAND_NAMES))
    p.add_argument("params", metavar="key=value", nargs="*", help="the command's parameters")
    p.add_argument("--list", action="store_true", help="list the device's recent commands and answers")
    p.add_argument("--limit", type=int, default=LIST_LIMIT, help=f"how many to list (default {LIST_LIMIT})")
    p.add_argument("--sent-by", help="who is sending, for the record (default cli:<login name>)")
    p.set_defaults(func=cmd_command)


def cmd_command(settings: Settings, args) -> None:
    from service.cli import NotReady, check_mqtt, check_postgres

    check_postgres(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            if args.list:
                if args.name:
                    raise NotReady("--list takes only the device: geohazard command --list DEVICE")
                _print_commands(conn, args.device, args.limit)
                return
            if not args.name:
                raise NotReady(f"name the command to send: one of {', '.join(commands.COMMAND_NAMES)}")
            params = _key_values(args.params)
            commands.build_command(args.name, params)  # readable errors before touching the broker
            device_protocol(conn, args.device)
            check_mqtt(settings)
            client = _connected_client(settings)
            try:
                command_id = send_command(conn, client, settings=settings, device_id=args.device, name=args.name,
                                          params=params, sent_by=args.sent_by or _operator())
            finally:
                client.disconnect()
                client.loop_stop()
        except (ValueError, UnknownDevice, CommandNotSent, OSError) as exc:
            raise NotReady(str(exc)) from None
    print(command_id)


def _operator() -> str:
    """Who runs the CLI, for the record; containers often have no entry for their user id."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _key_values(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r} is not key=value")
        params[key] = value
    return params


def _print_commands(conn: psycopg.Connection, device_id: str, limit: int) -> None:
    device_protocol(conn, device_id)
    rows = recent_commands(conn, device_id=device_id, limit=limit)
    if not rows:
        print(f"no commands were sent to {device_id}")
        return
    print("sent_at\tcommand_id\tcommand\tsent_by\tresult\tanswered_at\tanswer")
    for r in rows:
        result = r.result or ("not understood" if r.answer else "no answer")
        answered_at = r.answered_at.isoformat(timespec="seconds") if r.answered_at else "-"
        print("\t".join([r.sent_at.isoformat(timespec="seconds"), r.command_id, commands.describe(r.name, r.params),
                         r.sent_by, result, answered_at, " ".join((r.answer or "-").split())]))


def _connected_client(settings: Settings) -> mqtt.Client:
    """A paho client connected to the configured broker with the service account, its loop running."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"geohazard-cli-{uuid.uuid4().hex[:8]}")
    if settings.mqtt_username:
        client.username_pw_set(settings.mqtt_username, settings.mqtt_password)
    outcome: dict[str, object] = {}
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["reason"] = reason_code
        connected.set()

    client.on_connect = on_connect
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT_S) or outcome["reason"].is_failure:
        client.loop_stop()
        reason = outcome.get("reason", f"no answer within {CONNECT_TIMEOUT_S:g} s")
        raise ConnectionError(f"the MQTT broker at {settings.mqtt_host}:{settings.mqtt_port} refused the "
                              f"connection: {reason}")
    return client
