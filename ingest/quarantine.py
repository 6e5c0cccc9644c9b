"""Quarantined readings: replayed into `reading` once their device and sensor are registered."""

from datetime import datetime, timezone

import psycopg

from runtime.notices import notices_of
from sql import queries

Q = queries("ingest")


def replay(database_url: str, *, device_id: str | None = None) -> int:
    """Move every replayable quarantined reading (optionally of one device); returns how many were stored.
    Like ingest, it tells the engine (at commit) which devices got readings and from when: replayed
    readings are usually older than what the engine has seen."""
    # The named query uses $1 placeholders, which psycopg's RawCursor takes as they are.
    with psycopg.connect(database_url) as conn, conn.transaction(), psycopg.RawCursor(conn) as cur:
        cur.execute(Q["replay_quarantine"], (datetime.now(timezone.utc), device_id))
        stored = cur.fetchall()
        earliest: dict[str, datetime] = {}
        for device, ts in stored:
            if device not in earliest or ts < earliest[device]:
                earliest[device] = ts
        for notice in notices_of(earliest):
            cur.execute(Q["notify_readings_stored"], (notice,))
        return len(stored)
