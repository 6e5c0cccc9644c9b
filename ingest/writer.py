"""Commit a batch of decoded messages in one transaction: readings by COPY, the rest beside them."""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import asyncpg

from sensors.readings import Reading
from sql import queries

log = logging.getLogger(__name__)
Q = queries("ingest")
_STAGE_COLUMNS = ["device_id", "sensor_code", "ts", "kind", "value", "fields", "quality", "server_timed", "topic"]


@dataclass(slots=True)
class DeadLetter:
    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    client_id: str | None = None


@dataclass
class Batch:
    """What one commit writes; built by the consumer, written here."""

    readings: list[tuple[str, Reading]] = field(default_factory=list)  # (topic, reading)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    devices_seen: dict[str, datetime] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.readings) + len(self.dead_letters)


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
    records = [
        (r.device_id, r.sensor_code, r.ts, r.kind, r.value,
         json.dumps(r.fields) if r.fields is not None else None, r.quality, r.server_timed, topic)
        for topic, r in batch.readings
    ]
    async with conn.transaction():
        stored = quarantined = 0
        if records:
            await conn.copy_records_to_table("reading_stage", records=records, columns=_STAGE_COLUMNS)
            stored = _count(await conn.execute(Q["store_registered"]))
            quarantined = _count(await conn.execute(Q["quarantine_unregistered"]))
            await conn.execute(Q["touch_sensors"])
        if batch.devices_seen:
            await conn.execute(Q["touch_devices"], list(batch.devices_seen), list(batch.devices_seen.values()))
        if batch.dead_letters:
            await conn.executemany(
                Q["insert_dead_letter"],
                [(d.received_at, d.topic, d.client_id, d.payload, d.reason) for d in batch.dead_letters],
            )
    return Written(stored, quarantined, len(batch.dead_letters))


def _count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "INSERT 0 42".
    return int(status.rsplit(" ", 1)[-1])
