"""The ingest process: MQTT in, batched commits out, acknowledgement only after the commit.

paho's network thread only copies each message onto the asyncio queue; decoding and every database
call happen on the event loop. Messages are acknowledged (PUBACK) after the batch holding them is
committed, so a crash at any moment leaves them with the broker, which redelivers them to the same
persistent session; redelivered readings are skipped by the (device, sensor, time) key.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import paho.mqtt.client as mqtt

from ingest.writer import Batch, DeadLetter, Written, prepare, write_batch
from sensors.native import MalformedMessage, decode_readings, gateway_of, readings_topic
from service.settings import Settings

log = logging.getLogger(__name__)

# Waiting longer than this between retries while the database is down only delays recovery.
MAX_RETRY_DELAY_S = 30.0
# A batch also ends when no message has come for this long: the broker sends only a limited window
# of unacknowledged messages (max_inflight_messages), so waiting for more than it sends stalls ingest.
IDLE_GAP_S = 0.005
# How often a summary line is logged while messages flow.
SUMMARY_EVERY_S = 30.0
# Errors that mean "the database is not reachable right now": hold the batch and retry it whole.
CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                     asyncpg.CannotConnectNowError, asyncio.TimeoutError)


@dataclass(slots=True, frozen=True)
class Incoming:
    mid: int
    qos: int
    session: int  # which broker connection delivered it; a PUBACK is only valid on that one
    topic: str
    payload: bytes
    received_at: datetime


class Consumer:
    """Subscribes to the readings topics and writes what arrives, acknowledging after each commit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.totals = Written(0, 0, 0)
        self._queue: asyncio.Queue[Incoming] = asyncio.Queue()
        self._session = 0
        self._stopping = False
        # Set once the broker has confirmed the subscription: from then on nothing published is missed.
        self.subscribed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.settings.ingest_client_id,
            clean_session=False,  # a persistent session: the broker keeps what we have not acknowledged
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password)
        client.reconnect_delay_set(min_delay=1, max_delay=int(MAX_RETRY_DELAY_S))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: self.subscribed.set()
        return client

    # paho callbacks: these run on paho's thread and must not block or touch the database.
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("MQTT broker refused the connection: %s", reason_code)
            return
        self._session += 1
        client.subscribe(readings_topic(self.settings.topic_root), qos=1)
        log.info("connected to MQTT %s as %s (session %s resumed: %s)", self.settings.mqtt_url,
                 self.settings.ingest_client_id, self._session, flags.session_present)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self._stopping:
            log.info("disconnected from MQTT")
            return
        log.warning("disconnected from MQTT (%s); paho reconnects by itself, unacknowledged "
                    "messages will be redelivered", reason_code)

    def _on_message(self, client, userdata, message):
        incoming = Incoming(message.mid, message.qos, self._session, message.topic,
                            bytes(message.payload), datetime.now(timezone.utc))
        self._loop.call_soon_threadsafe(self._queue.put_nowait, incoming)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then finish the batch in hand and disconnect."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._client.loop_start()
        conn = None
        last_summary, summary_base = time.monotonic(), self.totals
        try:
            while not stop.is_set():
                messages = await self._next_batch(stop)
                if not messages:
                    continue
                batch = self._decode(messages)
                conn, written = await self._commit(conn, batch, stop)
                if written is None:
                    break  # stopping while the database was down: the broker keeps the messages
                self._acknowledge(messages)
                self.totals = self.totals.plus(written)
                if time.monotonic() - last_summary >= SUMMARY_EVERY_S:
                    delta = self.totals.minus(summary_base)
                    log.info("last %.0fs: %d readings stored, %d quarantined, %d dead letters",
                             time.monotonic() - last_summary, *delta)
                    last_summary, summary_base = time.monotonic(), self.totals
        finally:
            self._stopping = True
            self._client.disconnect()
            self._client.loop_stop()
            if conn is not None:
                await conn.close()

    async def _next_batch(self, stop: asyncio.Event) -> list[Incoming]:
        """Wait for one message, then gather more until the batch is full or old enough."""
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout=0.5)
        except asyncio.TimeoutError:
            return []
        messages = [first]
        deadline = time.monotonic() + self.settings.ingest_batch_wait_ms / 1000
        while len(messages) < self.settings.ingest_batch_messages and not stop.is_set():
            timeout = min(deadline - time.monotonic(), IDLE_GAP_S)
            if timeout <= 0:
                break
            try:
                messages.append(await asyncio.wait_for(self._queue.get(), timeout))
            except asyncio.TimeoutError:
                break
        return messages

    def _decode(self, messages: list[Incoming]) -> Batch:
        batch = Batch()
        future = timedelta(seconds=self.settings.future_tolerance_s)
        retention = timedelta(days=self.settings.retention_days)
        for m in messages:
            try:
                gateway = gateway_of(m.topic, self.settings.topic_root)
                decoded = decode_readings(m.payload, topic_gateway=gateway, received_at=m.received_at,
                                          future_tolerance=future, retention=retention)
            except MalformedMessage as exc:
                log.warning("dead-lettered a message on %s: %s (payload %r)", m.topic, exc, m.payload[:120])
                batch.dead_letters.append(DeadLetter(m.received_at, m.topic, m.payload, str(exc)))
                continue
            batch.readings.extend((m.topic, r) for r in decoded.readings)
            batch.devices_seen[gateway] = m.received_at
            for reason in decoded.rejected:
                batch.dead_letters.append(DeadLetter(m.received_at, m.topic, m.payload, reason))
        return batch

    async def _commit(self, conn, batch: Batch, stop: asyncio.Event):
        """Write the batch, reconnecting and retrying while the database is unreachable."""
        delay = 1.0
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await asyncpg.connect(self.settings.database_url, timeout=10)
                    await prepare(conn)
                return conn, await write_batch(conn, batch)
            except CONNECTION_ERRORS as exc:
                log.error("cannot write to PostgreSQL (%s: %s); holding %d readings unacknowledged, "
                          "retrying in %.0fs. Check that the database at %s is up.",
                          type(exc).__name__, exc, len(batch.readings), delay, self.settings.database_url)
                if conn is not None:
                    conn.terminate()
                    conn = None
            if stop.is_set():
                return conn, None
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY_S)

    def _acknowledge(self, messages: list[Incoming]) -> None:
        for m in messages:
            # A message delivered on an earlier connection is redelivered on the new one; its old
            # packet id means nothing there, so it is acknowledged when it comes back.
            if m.qos > 0 and m.session == self._session:
                self._client.ack(m.mid, m.qos)
