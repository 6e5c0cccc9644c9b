"""Dead-letter and quarantine queries for the API, and the replay of quarantined readings."""

import logging

import asyncpg
from fastapi.concurrency import run_in_threadpool

import sql
from ingest import quarantine
from service.auth.schemas import ApiToken
from service.errors import NotFound
from service.intake.schemas import (
    DeadLetterPublic,
    DeadLetterQuery,
    QuarantinedReadingPublic,
    QuarantineQuery,
    QuarantineReplayed,
)
from service.pagination import split_page

log = logging.getLogger(__name__)

Q = sql.queries("intake")


async def list_dead_letters(*, conn: asyncpg.Connection, query: DeadLetterQuery) -> tuple[list[DeadLetterPublic], int]:
    """One page of the matching dead letters, newest first, and how many match in all."""
    sha256 = bytes.fromhex(query.payload_sha256) if query.payload_sha256 else None
    rows = await conn.fetch(
        Q["dead_letters"], query.since, query.reason, query.topic, query.limit, query.offset, sha256
    )
    rows, count = split_page(rows, "id")
    return [DeadLetterPublic.of(row) for row in rows], count


async def list_quarantine(
    *, conn: asyncpg.Connection, query: QuarantineQuery
) -> tuple[list[QuarantinedReadingPublic], int]:
    """One page of the matching quarantined readings, newest first, and how many match in all."""
    rows = await conn.fetch(
        Q["quarantine"], query.device_id, query.reason, query.include_replayed, query.limit, query.offset
    )
    rows, count = split_page(rows, "id")
    return [QuarantinedReadingPublic.model_validate(dict(row)) for row in rows], count


async def replay_quarantine(
    *, conn: asyncpg.Connection, database_url: str, device_id: str | None, admin: ApiToken
) -> QuarantineReplayed:
    """Move the quarantined readings whose sensor is now registered into the readings; NotFound for no such device.

    The move itself is ingest's replay (one transaction on its own psycopg connection), run on a worker thread so
    that the event loop keeps serving; the quarantine table has no column for who replayed, so the log says.
    """
    if device_id is not None and not await conn.fetchval(Q["device_registered"], device_id):
        raise NotFound(f"Device {device_id} not found")
    stored = await run_in_threadpool(quarantine.replay, database_url, device_id=device_id)
    remaining = await conn.fetchval(Q["quarantine_pending"], device_id)
    log.info(
        "quarantine replay by %s (device %s): %d readings stored, %d still quarantined",
        admin.actor,
        device_id or "all",
        stored,
        remaining,
    )
    return QuarantineReplayed(device_id=device_id, stored=stored, remaining=remaining)
