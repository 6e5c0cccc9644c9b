"""Commit a batch of decoded messages in one transaction: readings by COPY, the rest beside them."""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import asyncpg

from ingest.commands import PreparedAnswer
from runtime.notices import notices_of
from sensors.readings import Reading
from sensors.status import DeviceStatus
from sql import queries

log = logging.getLogger(__name__)
Q = queries("ingest")
COMMANDS_Q = queries("commands")
_READING_COLUMNS = list(Reading._fields)  # device_id, sensor_code, ts, kind, value, fields, quality, server_timed
# A reading without fields, flags or server time is COPYed without those columns, whose defaults (null,
# '{}', false) are its values: asyncpg encodes the text[] of flags at half the cost of the whole row.
_PLAIN_COUNT = 5
PLAIN_COLUMNS = _READING_COLUMNS[:_PLAIN_COUNT]
_STAGE_COLUMNS = [*_READING_COLUMNS, "topic"]
# A dead letter keeps at most this many bytes of its payload, with the whole payload's size and SHA-256: the
# largest universal frame (a type byte, a 2-byte length, 65,535 bytes of JSON), so that every $dp frame a
# device can send is kept whole; a longer native message cut here still shows its gateway, seq and first
# readings, and its hash matches it to the device's log.
KEPT_PAYLOAD_BYTES = 65_538
# The dead letters of one message keep this many of its bytes between them, at most: one message of thousands
# of bad readings gives a dead letter per reading, and each would otherwise store the payload again. The
# later ones keep its size and hash, which the ones with its bytes share.
KEPT_BYTES_PER_MESSAGE = 1024 * 1024


@dataclass(slots=True)
class DeadLetter:
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    client_id: str | None = None
    # The whole payload's size and SHA-256 when `payload` is only its beginning (the receiver cut a message too
    # large to decode); None: `payload` is the whole.
    payload_bytes: int | None = None
    payload_sha256: bytes | None = None


@dataclass(slots=True)
class StatusReport:
    """A device's status as decoded, with the message it came in (dead-lettered if the device is unknown)."""

    status: "DeviceStatus"
    topic: str
    payload: bytes
    received_at: datetime


@dataclass(slots=True)
class CommandAnswer:
    """A device's answer to a downlink command, with the message it came in."""

    prepared: "PreparedAnswer"
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class Batch:
    """What one commit writes; built by the consumer, written here."""

    readings: list[tuple[str, Reading]] = field(default_factory=list)  # (topic, reading)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    statuses: list[StatusReport] = field(default_factory=list)
    online: dict[str, bool] = field(default_factory=dict)  # device id -> the retained online flag
    answers: list[CommandAnswer] = field(default_factory=list)
    devices_seen: dict[str, datetime] = field(default_factory=dict)
    # Readings stored earlier as spikes that later readings showed to be real movement.
    cleared_spikes: list[tuple[str, str, datetime]] = field(default_factory=list)
    # The readings laid out for COPY (lay_out), once their quality is judged; None: write_batch lays them out.
    rows: "Rows | None" = None

    def extend(self, other: "Batch") -> None:
        """Add another message's part to this batch."""
        self.readings += other.readings
        self.dead_letters += other.dead_letters
        self.statuses += other.statuses
        self.online.update(other.online)
        self.answers += other.answers
        self.devices_seen.update(other.devices_seen)
        self.cleared_spikes += other.cleared_spikes

    def __len__(self) -> int:
        return (len(self.readings) + len(self.dead_letters) + len(self.statuses) + len(self.online)
                + len(self.answers))


class Written(NamedTuple):
    stored: int
    quarantined: int
    dead_lettered: int

    def plus(self, other: "Written") -> "Written":
        return Written(*(a + b for a, b in zip(self, other)))

    def minus(self, other: "Written") -> "Written":
        return Written(*(a - b for a, b in zip(self, other)))


async def prepare(conn: asyncpg.Connection) -> None:
    """Create this connection's staging table; call once per new connection."""
    await conn.execute(Q["create_stage"])


async def write_batch(conn: asyncpg.Connection, batch: Batch) -> Written:
    """Store, quarantine and dead-letter one batch atomically; duplicates of stored readings are skipped."""
    dead_letters = list(batch.dead_letters)
    async with conn.transaction():
        # Status first: a sensor reported faulty flags the readings that came with the report.
        dead_letters += await _apply_statuses(conn, batch.statuses)
        for device_id, online in batch.online.items():
            await conn.execute(Q["set_online"], device_id, online)
        dead_letters += await _record_answers(conn, batch.answers)
        stored = quarantined = 0
        rows = None
        if batch.readings:
            rows = batch.rows if batch.rows is not None else lay_out(batch.readings)
            stored, quarantined = await _store_readings(conn, batch.readings, rows)
        if batch.cleared_spikes:
            await conn.execute(Q["clear_spike_flags"], *map(list, zip(*batch.cleared_spikes)))
        if batch.devices_seen:
            await conn.execute(Q["touch_devices"], list(batch.devices_seen), list(batch.devices_seen.values()))
        if stored or batch.cleared_spikes:
            # Delivered at commit: the engine re-evaluates these devices' points within a second.
            for notice in stored_notices(rows, batch.cleared_spikes):
                await conn.execute(Q["notify_readings_stored"], notice)
        if dead_letters:
            await conn.executemany(Q["insert_dead_letter"], dead_letter_records(dead_letters))
    return Written(stored, quarantined, len(dead_letters))


def dead_letter_records(letters: list[DeadLetter]) -> list[tuple]:
    """The dead letters as insert_dead_letter's arguments, each payload cut to KEPT_PAYLOAD_BYTES with its whole
    size and SHA-256, and no message's bytes kept more than KEPT_BYTES_PER_MESSAGE in all."""
    # The letters of one message share its payload object: hashed and cut once, kept within one budget.
    by_payload: dict[int, list] = {}  # id(payload) -> [kept bytes, size, sha256, bytes left to keep]
    records = []
    for d in letters:
        message = by_payload.get(id(d.payload))
        if message is None:
            head = d.payload[:KEPT_PAYLOAD_BYTES]
            if d.payload_sha256 is None:
                size, sha256 = len(d.payload), hashlib.sha256(d.payload).digest()
            else:
                size, sha256 = d.payload_bytes, d.payload_sha256
            message = by_payload[id(d.payload)] = [head, size, sha256, KEPT_BYTES_PER_MESSAGE]
        head, size, sha256, left = message
        kept = head if len(head) <= left else b""
        message[3] = left - len(kept)
        records.append((d.received_at, _text(d.topic), d.client_id, kept, size, sha256, _text(d.reason)))
    return records


@dataclass(slots=True)
class _SensorRows:
    """One (device, sensor, kind)'s readings in a batch, ready for COPY whatever the registry says."""

    plain: list = field(default_factory=list)  # the leading columns of readings with no fields, flags or server time
    full: list = field(default_factory=list)  # records of every column (fields as JSON text) for the others
    pairs: list = field(default_factory=list)  # (topic, reading) of all of them, for the staging table


@dataclass(slots=True)
class Rows:
    """A batch's readings laid out for storing: built once their quality is judged, while the previous batch
    commits, so that its own commit only looks each sensor up in the registry."""

    sensors: dict[tuple[str, str, str], _SensorRows] = field(default_factory=dict)
    latest: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (device, sensor) -> newest reading
    earliest: dict[str, datetime] = field(default_factory=dict)  # device -> its earliest reading

    def add(self, readings: list[tuple[str, Reading]]) -> "Rows":
        """Lay these readings out too; call after their quality has been judged."""
        sensors, latest, earliest = self.sensors, self.latest, self.earliest
        plain_count = _PLAIN_COUNT
        for pair in readings:
            r = pair[1]
            device, ts = r.device_id, r.ts
            key = (device, r.sensor_code)
            last = latest.get(key)
            if last is None or ts > last:
                latest[key] = ts
            first = earliest.get(device)
            if first is None or ts < first:
                earliest[device] = ts
            group = sensors.get((*key, r.kind))
            if group is None:
                group = sensors[(*key, r.kind)] = _SensorRows()
            group.pairs.append(pair)
            if r.fields is not None:
                group.full.append(_record(r, r.quality))
            elif r.quality or r.server_timed:
                group.full.append(r)  # a Reading is a record of the reading table's columns, in order
            else:
                group.plain.append(r[:plain_count])  # nearly every reading: the rest are the columns' defaults
        return self


def lay_out(readings: list[tuple[str, Reading]]) -> Rows:
    """The readings by sensor and kind, as COPY records; call after their quality has been judged."""
    return Rows().add(readings)


def _record(r: Reading, quality: list[str]) -> tuple:
    return (r.device_id, r.sensor_code, r.ts, r.kind, r.value,
            json.dumps(r.fields) if r.fields is not None else None, quality, r.server_timed)


async def _store_readings(conn: asyncpg.Connection, readings: list[tuple[str, Reading]],
                          rows: Rows) -> tuple[int, int]:
    """Store the readings of registered sensors, quarantine the rest; (stored, quarantined).

    The fast path: readings whose sensor is registered with their kind (nearly all of them) are COPYed
    straight into `reading` (those without fields, flags or server time in a COPY of fewer columns),
    flagged `sensor_state` where the sensor is reported faulty, exactly as store_registered would.
    A COPY cannot skip duplicates, so it runs under a savepoint: if any of those readings is already
    stored (a redelivery), the savepoint is rolled back and every reading goes through the staging table,
    where INSERT ... ON CONFLICT DO NOTHING skips them. The others (unregistered device or sensor,
    another kind) always go through the staging table.
    """
    registered = {(row[0], row[1]): (row[2], row[3])
                  for row in await conn.fetch(Q["registered_sensors"], list(rows.earliest))}
    plain, direct, staged = [], [], []
    for (device, code, kind), group in rows.sensors.items():
        sensor = registered.get((device, code))
        if sensor is None or sensor[0] != kind:
            staged += group.pairs
        elif sensor[1]:  # reported faulty: its readings are stored flagged
            direct += [_record(r, [*r.quality, "sensor_state"]) for _, r in group.pairs]
        else:
            plain += group.plain
            direct += group.full
    stored = quarantined = 0
    if direct or plain:
        try:
            async with conn.transaction():  # a savepoint
                if plain:
                    await conn.copy_records_to_table("reading", records=plain, columns=PLAIN_COLUMNS)
                if direct:
                    await conn.copy_records_to_table("reading", records=direct, columns=_READING_COLUMNS)
            stored = len(plain) + len(direct)
        except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError):
            staged = readings  # some are stored already: let the staging path skip them
    if staged:
        records = [(*_record(r, r.quality), topic) for topic, r in staged]
        await conn.copy_records_to_table("reading_stage", records=records, columns=_STAGE_COLUMNS)
        stored += _count(await conn.execute(Q["store_registered"]))
        quarantined = _count(await conn.execute(Q["quarantine_unregistered"]))
    # Every reading touches its sensor, stored or quarantined (a sensor registered as another kind).
    keys = list(rows.latest)
    await conn.execute(Q["touch_sensors_latest"], [k[0] for k in keys], [k[1] for k in keys],
                       list(rows.latest.values()))
    return stored, quarantined


async def _record_answers(conn: asyncpg.Connection, answers: list[CommandAnswer]) -> list[DeadLetter]:
    """Store each answer with its command; answers to commands nobody sent come back as dead letters."""
    rejected = []
    for a in answers:
        if await conn.fetchrow(COMMANDS_Q["record_answer"], *a.prepared.args) is None:
            rejected.append(DeadLetter(a.received_at, a.topic, a.payload,
                                       f"answer to command {a.prepared.command_id}, which was not sent to "
                                       f"device {a.prepared.device_id}"))
    return rejected


async def _apply_statuses(conn: asyncpg.Connection, reports: list[StatusReport]) -> list[DeadLetter]:
    """Record each status report; those of unregistered devices come back as dead letters."""
    if not reports:
        return []
    known = {r["id"] for r in await conn.fetch(Q["registered_devices"], list({r.status.device_id for r in reports}))}
    rejected = []
    for report in reports:
        st = report.status
        if st.device_id not in known:
            rejected.append(DeadLetter(report.received_at, report.topic, report.payload,
                                       f"status from device {st.device_id}, which is not registered"))
            continue
        await conn.execute(Q["apply_status"], st.device_id, st.battery_pct, st.supply_v, st.solar_v, st.signal_strength,
                           st.temp_c, st.humidity_pct, st.sw_version, json.dumps(st.raw), st.at)
        if st.sensor_state:
            await conn.execute(Q["apply_sensor_states"], st.device_id, list(st.sensor_state),
                               list(st.sensor_state.values()), st.at)
    return rejected


def _text(value: str) -> str:
    """Text PostgreSQL accepts: devices send NULs and lone surrogates, which a text column refuses."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def stored_notices(rows: Rows | None, cleared: list[tuple[str, str, datetime]] = ()) -> list[str]:
    """The NOTIFY payloads for a stored batch: each device's earliest reading in it, or earliest reading whose
    spike flag it took back (a gateway emptying its buffer sends readings older than the engine has seen)."""
    earliest = dict(rows.earliest) if rows is not None else {}
    for device_id, _, ts in cleared:
        known = earliest.get(device_id)
        if known is None or ts < known:
            earliest[device_id] = ts
    return notices_of(earliest)


def _count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "INSERT 0 42".
    return int(status.rsplit(" ", 1)[-1])
