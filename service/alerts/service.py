"""Alert queries for the API."""

import asyncpg

import sql
from alerting.channels.cap import alert_to_cap
from service.alerts.schemas import AlertDetail, AlertEventPublic, AlertPublic, AlertQuery
from service.errors import NotFound
from service.pagination import split_page

_SQL = sql.queries("api")
_CHANNELS = sql.queries("channels")


async def _select(
    conn: asyncpg.Connection, query: AlertQuery, alert_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        _SQL["alerts"],
        alert_id,
        query.state,
        query.level,
        query.type,
        query.point,
        query.county_code,
        query.since,
        query.limit,
        query.offset,
    )
    return split_page(rows, "id")


async def list_alerts(*, conn: asyncpg.Connection, query: AlertQuery) -> tuple[list[AlertPublic], int]:
    """One page of the matching alerts, newest first, and how many match in all."""
    rows, count = await _select(conn, query)
    return [AlertPublic.model_validate(dict(row)) for row in rows], count


async def get_alert(*, conn: asyncpg.Connection, alert_id: int) -> AlertDetail:
    """One alert with its events, oldest first."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows, _ = await _select(conn, AlertQuery(limit=1), alert_id)
        if not rows:
            raise NotFound(f"Alert {alert_id} not found")
        events = await conn.fetch(_SQL["alert_events"], alert_id)
    return AlertDetail.model_validate(
        {**dict(rows[0]), "events": [AlertEventPublic.model_validate(dict(event)) for event in events]}
    )


async def get_alert_cap(*, conn: asyncpg.Connection, alert_id: int, sender: str) -> bytes:
    """The alert's current version as a CAP 1.2 message."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow(_CHANNELS["cap_alert"], alert_id)
        if row is None:
            raise NotFound(f"Alert {alert_id} not found")
        events = await conn.fetch(_CHANNELS["cap_alert_events"], alert_id)
    alert = {**dict(row), "events": [dict(event) for event in events]}
    point = {"code": row["point_code"], "name": row["point_name"], "type": row["point_type"],
             "scale": row["point_scale"], "lon": row["lon"], "lat": row["lat"], "county_code": row["county_code"],
             "card": row["card"]}
    return alert_to_cap(alert, point, sender=sender)
