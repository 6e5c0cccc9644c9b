"""Quarantined readings: replayed into `reading` once their device and sensor are registered."""

from datetime import datetime, timezone

import psycopg

from sql import queries

Q = queries("ingest")


def replay(database_url: str, *, device_id: str | None = None) -> int:
    """Move every replayable quarantined reading (optionally of one device); returns how many were stored."""
    # The named query uses $1 placeholders, which psycopg's RawCursor takes as they are.
    with psycopg.connect(database_url) as conn, conn.transaction(), psycopg.RawCursor(conn) as cur:
        cur.execute(Q["replay_quarantine"], (datetime.now(timezone.utc), device_id))
        return cur.rowcount
