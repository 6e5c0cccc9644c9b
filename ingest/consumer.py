"""The ingest process: MQTT in, batched commits out, acknowledgement only after the commit.

paho runs in a child process (ingest.receiver), so that its packet parsing and this process's decoding run
on two cores; a thread here puts what it sends into the inbox. Decoding and every database call happen on
the event loop, which decodes the next batch while the previous one is being committed.
Messages are acknowledged (PUBACK) after the batch holding them is committed, so a crash at any moment
leaves them with the broker, which redelivers them to the same persistent session; redelivered readings
are skipped by the (device, sensor, time) key. The receiver takes no more than four batches of messages
it has not acknowledged, counted in messages and in payload bytes (GEOHAZARD_INGEST_WINDOW_BYTES), and
nothing is acknowledged while the database is down: memory stays bounded and the backlog waits in the
broker. A message larger than any a device sends (GEOHAZARD_INGEST_MAX_MESSAGE_BYTES) is not decoded: the
receiver passes on only its beginning, size and hash, and it becomes a dead letter.
"""

import asyncio
import collections
import gc
import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
from prometheus_client import start_http_server

from ingest import metrics, receiver
from ingest.quality import SeriesQuality
from ingest.receiver import ReceiverConfig
from ingest.routing import Limits, add_message, subscriptions
from ingest.writer import KEPT_PAYLOAD_BYTES, Batch, DeadLetter, Rows, Written, prepare, write_batch
from runtime.settings import Settings
from sql import queries

log = logging.getLogger(__name__)
Q = queries("ingest")

# Waiting longer than this between retries while the database is down only delays recovery.
MAX_RETRY_DELAY_S = 30.0
MQTT_KEEPALIVE_S = 30
# A receiver told to stop disconnects at once; one that takes longer than this is stuck and is killed.
RECEIVER_STOP_S = 10.0
# The receiver holds this many batches of messages not yet acknowledged, at most (in messages and in bytes):
# a batch committing, the next one gathered, and as many again arriving meanwhile, so that paho keeps parsing
# while the writer commits (at twice the batch, one-reading messages went 30% slower).
BATCHES_IN_WINDOW = 4
# A batch also ends when no message has come for this long: the receiver holds only a limited number of
# messages not yet acknowledged (and the broker sends only so many), so waiting for more stalls ingest.
IDLE_GAP_S = 0.005
# Allocations between runs of Python's cycle collector while ingest runs (its default is 700).
GC_THRESHOLD = 50_000
# Readings decoded between yields to the event loop, letting the previous batch's commit proceed.
DECODE_YIELD_EVERY = 200
# Readings laid out for COPY between yields to the event loop.
LAY_OUT_YIELD_EVERY = 1000
# How often a summary line is logged while messages flow.
SUMMARY_EVERY_S = 30.0
# How often silent sensors are marked offline and the per-device acceleration units and protocols are reread.
HOUSEKEEPING_EVERY_S = 60.0
# Errors that mean "the database is not reachable right now": hold the batch and retry it whole.
# An administrator's shutdown and asyncpg losing track of a connection the server closed belong here.
CONNECTION_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                     asyncpg.CannotConnectNowError, asyncpg.exceptions.OperatorInterventionError,
                     asyncpg.InternalClientError, asyncio.TimeoutError)
# The database refusing what a device sent (a NUL in a code, a key longer than an index takes...):
# the batch is written message by message and the refused message dead-lettered, never retried forever.
REFUSED = (asyncpg.DataError, asyncpg.exceptions.ProgramLimitExceededError, UnicodeError, ValueError)


async def _lay_out(readings: list) -> Rows:
    """writer.lay_out, yielding to the event loop between slices so that a commit going on is not held up."""
    rows = Rows()
    for at in range(0, len(readings), LAY_OUT_YIELD_EVERY):
        rows.add(readings[at:at + LAY_OUT_YIELD_EVERY])
        await asyncio.sleep(0)
    return rows


class ReceiverLost(RuntimeError):
    """The MQTT receiver process exited, so ingest stopped: start it again (docker compose's restart policy
    and `--workers` do). Nothing is lost: the broker redelivers every message not yet acknowledged."""

    def __init__(self, exit_code: int | None):
        super().__init__(f"{' '.join(self.__doc__.split())} (the receiver's exit code: {exit_code})")


@dataclass(slots=True, frozen=True)
class Incoming:
    mid: int
    qos: int
    session: int  # which broker connection delivered it; a PUBACK is only valid on that one
    topic: str
    payload: bytes  # all of it, or its first KEPT_PAYLOAD_BYTES if it is larger than ingest decodes (see whole)
    received_at: datetime
    whole: tuple[int, bytes] | None  # the (size, SHA-256) of a payload too large to decode, which was cut

    @property
    def size(self) -> int:
        """The payload's size as sent by its device."""
        return self.whole[0] if self.whole else len(self.payload)

    def dead_letter(self, reason: str) -> DeadLetter:
        """This message as a dead letter, with the reason."""
        size, sha256 = self.whole or (None, None)
        return DeadLetter(self.received_at, self.topic, self.payload, reason, payload_bytes=size,
                          payload_sha256=sha256)


class _Committing:
    """The batch being committed (and then acknowledged) while the next one is gathered and decoded, and the
    connection: batches are committed one at a time, in order, on the one connection."""

    def __init__(self):
        self.conn: asyncpg.Connection | None = None
        self._task: asyncio.Task | None = None

    def start(self, commit) -> None:
        """Commit the next batch (a `_commit_and_acknowledge` coroutine): the previous one is done."""
        self._task = asyncio.ensure_future(commit)

    async def finish(self) -> bool:
        """Wait for the batch in hand, if any; False if it was left uncommitted: stopping while the database was
        down (the broker keeps its messages)."""
        if self._task is None:
            return True
        self._task, (self.conn, written) = None, await self._task
        return written is not None

    def cancel(self) -> None:
        """Drop the batch in hand, if any: its messages stay unacknowledged with the broker."""
        if self._task is not None:
            self._task.cancel()

    async def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            await self.conn.close()


class Consumer:
    """Subscribes to the device topics and writes what arrives, acknowledging after each commit."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.totals = Written(0, 0, 0)
        self.limits = Limits(settings.topic_root, timedelta(seconds=settings.future_tolerance_s),
                             timedelta(days=settings.retention_days))
        # Messages from paho's thread, oldest first. paho appends (deque appends are atomic) and wakes the
        # event loop only when it is not already woken: one wake-up per burst, not one per message.
        self._inbox: collections.deque[Incoming] = collections.deque()
        self._arrived = asyncio.Event()
        self._wake_pending = False
        self._stopping = False
        self._receiver_lost = False
        # Payload bytes received from the receiver and not yet acknowledged (the receiver holds as many, or more
        # for a moment); the receiver's thread adds, the event loop subtracts.
        self._held_bytes = self._held_bytes_max = 0
        self._held_lock = threading.Lock()
        self._batch_bytes = max(1, settings.ingest_window_bytes // BATCHES_IN_WINDOW)
        self._unjudged = 0  # batches whose readings' quality their commit is still to judge
        self._accel_unit: dict[str, str] = {}
        self._without_dp: dict[str, str] = {}  # native gateways and manual devices -> their protocol
        self._quality = SeriesQuality()
        # Set once the broker has confirmed the subscriptions: from then on nothing published is missed.
        self.subscribed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start_receiver(self) -> None:
        """Start the MQTT receiver process (ingest.receiver) and the thread that takes what it sends."""
        login = self.settings.ingest_login
        config = ReceiverConfig(
            # Ingest's own account (GEOHAZARD_INGEST_MQTT_URL), which the broker's ACL lets only read.
            host=login.host, port=login.port, username=login.username, password=login.password,
            client_id=self.settings.ingest_client_id,
            filters=subscriptions(self.settings.topic_root, self.settings.ingest_share_group,
                                  dollar_topics=self.settings.ingest_dollar_topics),
            keepalive_s=MQTT_KEEPALIVE_S, parent_pid=os.getpid(),
            max_outstanding=BATCHES_IN_WINDOW * self.settings.ingest_batch_messages,
            max_outstanding_bytes=self.settings.ingest_window_bytes,
            max_message_bytes=self.settings.ingest_max_message_bytes, kept_bytes=KEPT_PAYLOAD_BYTES)
        self._receiver, self._messages, self._acks = receiver.spawn(config)
        self._receiver_config = config
        threading.Thread(target=self._take_from_receiver, name="from-receiver", daemon=True).start()

    def _stop_receiver(self) -> None:
        """Tell the receiver to disconnect (what is not acknowledged stays with the broker) and wait for it."""
        try:
            receiver.send(self._acks, None)
        except BrokenPipeError:
            log.info("the MQTT receiver had already exited")
        try:
            self._receiver.wait(RECEIVER_STOP_S)
        except subprocess.TimeoutExpired:
            log.warning("the MQTT receiver did not stop within %.0fs; killing it", RECEIVER_STOP_S)
            self._receiver.kill()
            self._receiver.wait()
        self._acks.close()
        log.info("disconnected from MQTT")

    def _receiver_exit_code(self) -> int | None:
        try:
            return self._receiver.wait(RECEIVER_STOP_S)  # its pipe closed as it exited: a moment at most
        except subprocess.TimeoutExpired:
            return None

    def _take_from_receiver(self) -> None:
        """On its own thread: put what the receiver sends into the inbox, waking the event loop once per burst."""
        for kind, *event in receiver.received(self._messages):
            if kind == "messages":
                utc = timezone.utc
                arrived = [Incoming(mid, qos, session, topic, payload, datetime.fromtimestamp(at, utc), whole)
                           for session, mid, qos, topic, payload, at, whole in event[0]]
                self._hold(sum(len(m.payload) for m in arrived))
                self._inbox.extend(arrived)
                if not self._wake_pending and not self._stopping:
                    self._wake_pending = True
                    self._loop.call_soon_threadsafe(self._wake)
            elif kind == "connected":
                session, session_present = event
                log.info("connected to MQTT %s as %s (session resumed: %s); subscribed to %s",
                         self.settings.ingest_login, self.settings.ingest_client_id, session_present,
                         ", ".join(self._receiver_config.filters))
            elif kind == "subscribed":
                self.subscribed.set()
            elif kind == "refused":
                log.error("MQTT broker %s refused the connection: %s (check the account in "
                          "GEOHAZARD_INGEST_MQTT_URL, or GEOHAZARD_MQTT_URL if unset, and that `geohazard acl` wrote "
                          "it to the broker's services password file)", self.settings.ingest_login, event[0])
            elif kind == "disconnected" and not self._stopping:
                log.warning("disconnected from MQTT (%s); reconnecting, unacknowledged messages will be "
                            "redelivered", event[0])
            elif kind == "waiting":
                log.warning("holding %d messages (%d bytes) not yet committed and no commit for %.0fs: reading no "
                            "more from the broker until one makes room (the backlog waits in the broker)", *event)
        self._messages.close()
        if not self._stopping:
            self._receiver_lost = True
            self._loop.call_soon_threadsafe(self._arrived.set)

    def _hold(self, size: int) -> None:
        """Count `size` more payload bytes held (a negative size: acknowledged)."""
        with self._held_lock:
            self._held_bytes += size
            self._held_bytes_max = max(self._held_bytes_max, self._held_bytes)
            metrics.HELD_BYTES.set(self._held_bytes)
            metrics.HELD_BYTES_MAX.set(self._held_bytes_max)

    def _wake(self) -> None:
        # On the event loop. Cleared before the waiter looks at the inbox, so a message appended after
        # this point either is seen by it or schedules another wake-up.
        self._wake_pending = False
        self._arrived.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then finish the batch in hand and disconnect."""
        self._loop = asyncio.get_running_loop()
        # A batch allocates hundreds of thousands of small acyclic objects (readings, their dicts and
        # lists); at the default threshold (700) the cycle collector would run hundreds of times per batch.
        gc_thresholds = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD, *gc_thresholds[1:])
        if self.settings.ingest_metrics_port:
            start_http_server(self.settings.ingest_metrics_port)
            log.info("metrics at http://0.0.0.0:%d/metrics", self.settings.ingest_metrics_port)
        self._start_receiver()
        self._last_summary, self._summary_base = time.monotonic(), self.totals
        committing = _Committing()
        try:
            await self._consume(stop, committing)
        finally:
            committing.cancel()  # leaving on an error: its messages stay unacknowledged with the broker
            self._stopping = True
            self._stop_receiver()
            await committing.close()
            gc.set_threshold(*gc_thresholds)

    async def _consume(self, stop: asyncio.Event, committing: _Committing) -> None:
        """Gather, decode and judge each batch while the previous one commits, with housekeeping now and then,
        until `stop` is set or a batch cannot be committed before it is."""
        next_housekeeping = 0.0
        while not stop.is_set():
            if self._receiver_lost:
                raise ReceiverLost(self._receiver_exit_code())
            if time.monotonic() >= next_housekeeping:
                if not await committing.finish():
                    return  # stopping while the database was down: the broker keeps the messages
                committing.conn = await self._housekeeping(committing.conn)
                next_housekeeping = time.monotonic() + HOUSEKEEPING_EVERY_S
            messages = await self._next_batch(stop)
            if not messages:
                continue
            parts = await self._decode(messages)
            batch, cleared = await self._batch_of(parts)
            if not await committing.finish():
                return
            committing.start(self._commit_and_acknowledge(committing.conn, messages, parts, batch, cleared, stop))
        await committing.finish()

    async def _batch_of(self, parts: list[Batch]) -> tuple[Batch, list | None]:
        """The messages' parts as one batch, and the spike flags its readings take back (None: still to be judged).

        The readings are judged now, while the previous batch commits, unless a sensor's history must be read
        from the database first or an earlier batch is still to be judged (readings are judged in order): then
        its commit does it."""
        batch = Batch()
        for part in parts:
            batch.extend(part)
        cleared = None
        if not self._unjudged:
            cleared = await self._quality.flag_known([r for _, r in batch.readings])
        if cleared is None:
            self._unjudged += 1
        else:  # judged: lay its readings out for COPY now too, and its commit only has to send them
            batch.rows = await _lay_out(batch.readings)
        return batch, cleared

    async def _decode(self, messages: list[Incoming]) -> list[Batch]:
        """Each message's part of the batch. Yields to the event loop now and then, so that the previous
        batch's commit goes on meanwhile (the database works while this decodes)."""
        parts = []
        since_yield = 0
        for m in messages:
            part = Batch()
            if m.whole is None:
                add_message(part, m.topic, m.payload, m.received_at, self.limits, self._accel_unit, self._without_dp)
            else:
                part.dead_letters.append(self._oversized(m))
            parts.append(part)
            since_yield += len(part.readings) + 1
            if since_yield >= DECODE_YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)
        return parts

    async def _commit_and_acknowledge(self, conn, messages: list[Incoming], parts: list[Batch], batch: Batch,
                                      cleared, stop):
        """Commit the batch (the messages' parts together), then (and only then) acknowledge its messages;
        (connection, written or None). `cleared`: the spike flags its readings take back, or None if they are
        still to be judged."""
        started = time.monotonic()
        conn, written = await self._commit(conn, messages, parts, batch, cleared, stop)
        if written is None:
            return conn, None  # stopping while the database was down: the broker keeps the messages
        self._acknowledge(messages)
        self._count(messages, written, time.monotonic() - started)
        log.debug("committed %d messages (%d readings stored) in %.0f ms; %d messages waiting", len(messages),
                  written.stored, 1000 * (time.monotonic() - started), len(self._inbox))
        if time.monotonic() - self._last_summary >= SUMMARY_EVERY_S:
            log.info("last %.0fs: %d readings stored, %d quarantined, %d dead letters",
                     time.monotonic() - self._last_summary, *self.totals.minus(self._summary_base))
            self._last_summary, self._summary_base = time.monotonic(), self.totals
        return conn, written

    def _oversized(self, m: Incoming) -> DeadLetter:
        """The dead letter of a message too large to decode (the receiver passed on only its beginning)."""
        limit = self.settings.ingest_max_message_bytes
        log.warning("dead-lettered a message of %d bytes on %s without decoding it: larger than "
                    "GEOHAZARD_INGEST_MAX_MESSAGE_BYTES (%d)", m.size, m.topic, limit)
        metrics.OVERSIZED.inc()
        return m.dead_letter(f"message of {m.size} bytes, larger than the {limit} bytes ingest decodes "
                             f"(GEOHAZARD_INGEST_MAX_MESSAGE_BYTES; the largest universal frame is 65538 bytes): "
                             f"not decoded, only its first {len(m.payload)} bytes are kept")

    async def _next_batch(self, stop: asyncio.Event) -> list[Incoming]:
        """Wait for one message, then gather more until the batch is full (in messages or in bytes), old enough,
        or the flow pauses. A message larger than a batch's bytes makes a batch alone."""
        inbox = self._inbox
        if not inbox:
            self._arrived.clear()
            if not inbox:
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout=0.5)
                except asyncio.TimeoutError:
                    return []
                if not inbox:  # woken for messages an earlier batch already took
                    return []
        limit, limit_bytes = self.settings.ingest_batch_messages, self._batch_bytes
        messages = [inbox.popleft()]
        size = len(messages[0].payload)
        deadline = time.monotonic() + self.settings.ingest_batch_wait_ms / 1000
        while not stop.is_set():
            while inbox and len(messages) < limit and size + len(inbox[0].payload) <= limit_bytes:
                messages.append(inbox.popleft())
                size += len(messages[-1].payload)
            if inbox or len(messages) >= limit:
                break  # full: the next message would pass the batch's messages or bytes
            timeout = min(deadline - time.monotonic(), IDLE_GAP_S)
            if timeout <= 0:
                break
            self._arrived.clear()
            if inbox:
                continue
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except asyncio.TimeoutError:
                break
        metrics.WAITING.set(len(inbox) + len(messages))
        return messages

    async def _connect(self, conn):
        if conn is None or conn.is_closed():
            conn = await asyncpg.connect(self.settings.database_url, timeout=10)
            await prepare(conn)
        return conn

    async def _commit(self, conn, messages: list[Incoming], parts: list[Batch], batch: Batch, cleared,
                      stop: asyncio.Event):
        """Write the batch, reconnecting and retrying while the database is unreachable; if the database refuses
        it, write the messages' parts one by one. `cleared` is None if the readings are still to be judged
        (see _batch_of)."""
        delay = 1.0
        try:
            while True:
                try:
                    conn = await self._connect(conn)
                    try:
                        if cleared is None:  # judged once, here: judged again, the readings would clear nothing
                            cleared = await self._judge(conn, batch)
                            batch.rows = await _lay_out(batch.readings)
                        batch.cleared_spikes = cleared
                        written = await write_batch(conn, batch)
                    except REFUSED as exc:
                        log.error("the database refused a batch of %d messages (%s: %s); writing them one by one "
                                  "to dead-letter the one it refuses", len(messages), type(exc).__name__, exc)
                        written = await self._write_one_by_one(conn, messages, parts, batch.cleared_spikes)
                    metrics.DATABASE_UP.set(1)
                    return conn, written
                except CONNECTION_ERRORS as exc:
                    self._database_down(conn, exc, batch, delay)
                    conn = None
                if stop.is_set():
                    return conn, None
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
        finally:
            if cleared is None:  # left without judging them (refused, stopping, an error): hold no later batch back
                self._unjudged -= 1

    async def _judge(self, conn, batch: Batch) -> list:
        """Judge the batch's readings against their sensors' history: the spike flags they take back."""
        cleared = await self._quality.flag(conn, [r for _, r in batch.readings])
        self._unjudged -= 1  # the batches decoded meanwhile may be judged before their commit
        return cleared

    def _database_down(self, conn, exc: Exception, batch: Batch, delay: float) -> None:
        """Say that the batch waits for the database, and drop the connection."""
        metrics.DATABASE_UP.set(0)
        log.error("cannot write to PostgreSQL (%s: %s); holding %d readings unacknowledged, "
                  "retrying in %.0fs. Check that the database at %s is up.",
                  type(exc).__name__, exc, len(batch.readings), delay, self.settings.database_url)
        if conn is not None:
            conn.terminate()

    async def _write_one_by_one(self, conn, messages: list[Incoming], parts: list[Batch], cleared) -> Written:
        """Each message in its own transaction; one the database refuses becomes a dead letter with the reason."""
        total = Written(0, 0, 0)
        for m, part in zip(messages, parts):
            part.cleared_spikes = cleared  # idempotent: clearing a flag twice changes nothing
            try:
                total = total.plus(await write_batch(conn, part))
            except REFUSED as exc:
                log.warning("dead-lettered a message on %s the database refused: %s: %s", m.topic,
                            type(exc).__name__, exc)
                letter = m.dead_letter(f"the database refused it: {type(exc).__name__}: {exc}")
                total = total.plus(await write_batch(conn, Batch(dead_letters=[letter])))
        return total

    async def _housekeeping(self, conn):
        """Mark silent sensors offline (and back), and reread which devices report acceleration in g and which
        send no `$dp` frames."""
        now = datetime.now(timezone.utc)
        try:
            conn = await self._connect(conn)
            for row in await conn.fetch(Q["mark_silent_sensors_offline"], now):
                log.warning("sensor %s/%s is offline: silent for more than 3 reporting intervals",
                            row["device_id"], row["code"])
            for row in await conn.fetch(Q["mark_reporting_sensors_online"], now):
                log.info("sensor %s/%s is reporting again", row["device_id"], row["code"])
            self._accel_unit = {row["id"]: "g" for row in await conn.fetch(Q["accel_units_in_g"])}
            self._without_dp = {row["id"]: row["protocol"] for row in await conn.fetch(Q["devices_without_dp"])}
        except CONNECTION_ERRORS as exc:
            log.error("housekeeping skipped, the database is unreachable: %s", exc)
            if conn is not None:
                conn.terminate()
            return None
        except asyncpg.PostgresError as exc:
            # Readings matter more than offline marks: keep ingesting, say loudly what failed.
            log.error("housekeeping failed (%s: %s); readings are still being stored", type(exc).__name__, exc)
        return conn

    def _acknowledge(self, messages: list[Incoming]) -> None:
        """Tell the receiver these are done: it acknowledges them (not those delivered on an earlier connection)."""
        self._hold(-sum(len(m.payload) for m in messages))
        try:  # all of them, QoS 0 too: the receiver counts what it holds, in messages and bytes
            receiver.send(self._acks, [(m.session, m.mid, m.qos, len(m.payload)) for m in messages])
        except OSError as exc:  # the receiver died: its connection went with it, so the broker redelivers these
            log.error("could not pass acknowledgements to the MQTT receiver: %s", exc)
            self._receiver_lost = True

    def _count(self, messages: list[Incoming], written: Written, commit_s: float) -> None:
        self.totals = self.totals.plus(written)
        metrics.MESSAGES.inc(len(messages))
        metrics.MESSAGE_BYTES.inc(sum(m.size for m in messages))
        metrics.BATCH_BYTES.observe(sum(len(m.payload) for m in messages))
        metrics.READINGS.labels("stored").inc(written.stored)
        metrics.READINGS.labels("quarantined").inc(written.quarantined)
        metrics.DEAD_LETTERS.inc(written.dead_lettered)
        metrics.BATCH_MESSAGES.observe(len(messages))
        metrics.COMMIT_SECONDS.observe(commit_s)
        metrics.LAG_SECONDS.set((datetime.now(timezone.utc) - messages[0].received_at).total_seconds())
        metrics.WAITING.set(len(self._inbox))
