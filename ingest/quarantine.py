"""Quarantined readings: replayed into `reading` once their device and sensor are registered."""

from datetime import datetime, timezone

import psycopg

from sql import queries

Q = queries("ingest")


def replay(database_url: str, *, device_id: str | None = None) -> int:
    """Move every replayable quarantined reading (optionally of one device); returns how many were stored."""
    # The named query is written for asyncpg ($1); psycopg takes the same text with %s placeholders.
    query = Q["replay_quarantine"].replace("$1", "%(now)s").replace("$2", "%(device)s")
    with psycopg.connect(database_url) as conn, conn.transaction():
        cur = conn.execute(query, {"now": datetime.now(timezone.utc), "device": device_id})
        return cur.rowcount
