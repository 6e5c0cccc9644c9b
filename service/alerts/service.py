"""Alert queries for the API; a grid monitor's view is bounded to its own points in the SQL."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

import sql
from alerting import flows
from alerting.channels.cap import alert_to_cap
from service.alerts.schemas import (
    AlertAcknowledge,
    AlertDetail,
    AlertEventPublic,
    AlertPublic,
    AlertQuery,
    AlertResolve,
    AlertVerify,
)
from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.broker import Broker
from service.errors import NotFound
from service.pagination import split_page

Q = sql.queries("alerts")
CHANNELS_Q = sql.queries("channels")
# The first line of a server-sent event carrying an alert event (alerting.channels.stream.sse_event).


async def _select(
    conn: asyncpg.Connection, query: AlertQuery, person: int | None, alert_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        Q["alerts"],
        alert_id,
        query.state,
        query.level,
        query.type,
        query.point,
        query.county_code,
        query.since,
        query.limit,
        query.offset,
        person,
    )
    return split_page(rows, "id")


async def list_alerts(
    *, conn: asyncpg.Connection, query: AlertQuery, token: ApiToken
) -> tuple[list[AlertPublic], int]:
    """One page of the matching alerts the caller may see, newest first, and how many match in all."""
    rows, count = await _select(conn, query, scoped_person(token))
    return [AlertPublic.model_validate(dict(row)) for row in rows], count


async def get_alert(*, conn: asyncpg.Connection, alert_id: int, token: ApiToken | None = None) -> AlertDetail:
    """One alert with its events, oldest first; `token` bounds what a grid monitor may see (None: anything)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows, _ = await _select(conn, AlertQuery(limit=1), scoped_person(token) if token else None, alert_id)
        if not rows:
            raise NotFound(f"Alert {alert_id} not found")
        events = await conn.fetch(Q["alert_events"], alert_id)
    return AlertDetail.model_validate(
        {**dict(rows[0]), "events": [AlertEventPublic.model_validate(dict(event)) for event in events]}
    )


async def get_alert_cap(*, conn: asyncpg.Connection, alert_id: int, sender: str, token: ApiToken) -> bytes:
    """The alert's current version as a CAP 1.2 message."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        visible = await conn.fetchval(Q["alert_visible"], alert_id, scoped_person(token))
        body = await alert_cap(conn=conn, alert_id=alert_id, sender=sender) if visible else None
    if body is None:
        raise NotFound(f"Alert {alert_id} not found")
    return body


async def alert_cap(*, conn: asyncpg.Connection, alert_id: int, sender: str) -> bytes | None:
    """The alert's current version as a CAP 1.2 message, whoever asks (None when there is no such alert): the
    caller decides who may see it (get_alert_cap: the token's scope; the public feed: its public alerts)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow(CHANNELS_Q["cap_alert"], alert_id)
        if row is None:
            return None
        events = await conn.fetch(CHANNELS_Q["cap_alert_events"], alert_id)
    alert = {**dict(row), "events": [dict(event) for event in events]}
    point = {"code": row["point_code"], "name": row["point_name"], "type": row["point_type"],
             "scale": row["point_scale"], "lon": row["lon"], "lat": row["lat"], "county_code": row["county_code"],
             "card": row["card"]}
    return alert_to_cap(alert, point, sender=sender)


def event_visibility(pool: asyncpg.Pool, token: ApiToken) -> Callable[[int], Awaitable[bool]] | None:
    """For the SSE stream: whether this caller may see an alert event; None when it sees them all. A grid
    monitor sees the events of its own points, checked as each goes out, so a grid assignment made or
    taken away while the stream is open counts from the next event on."""
    person = scoped_person(token)
    if person is None:
        return None

    async def visible(event_id: int) -> bool:
        return bool(await pool.fetchval(Q["alert_event_visible"], event_id, person))

    return visible


async def acknowledge(*, conn: asyncpg.Connection, broker: Broker, alert_id: int, officer: ApiToken,
                      acknowledgement: AlertAcknowledge) -> AlertDetail:
    """Open -> acknowledged, by this officer, now."""
    await flows.acknowledge(conn, alert_id=alert_id, actor=officer.actor, now=datetime.now(UTC),
                            note=acknowledgement.note)
    return await _after_transition(conn, broker, alert_id)


async def verify(*, conn: asyncpg.Connection, broker: Broker, alert_id: int, officer: ApiToken,
                 verification: AlertVerify) -> AlertDetail:
    """Acknowledged -> verified with the field verdict, and the evacuation of a confirmed red if given."""
    evacuation = verification.evacuation.model_dump(exclude_none=True) if verification.evacuation else None
    await flows.verify(conn, alert_id=alert_id, actor=officer.actor, now=datetime.now(UTC),
                       verdict=verification.verdict, note=verification.note, evacuation=evacuation)
    return await _after_transition(conn, broker, alert_id)


async def resolve(*, conn: asyncpg.Connection, broker: Broker, alert_id: int, officer: ApiToken,
                  resolution: AlertResolve) -> AlertDetail:
    """Resolved (or lowered, for a held-lower orange or red) at the officer's word; sampling restored."""
    await flows.resolve(conn, alert_id=alert_id, actor=officer.actor, now=datetime.now(UTC), note=resolution.note)
    return await _after_transition(conn, broker, alert_id)


async def _after_transition(conn: asyncpg.Connection, broker: Broker, alert_id: int) -> AlertDetail:
    """Carry out what the transition owes (the retained topic; a resolve's task and sampling), and answer the alert
    as it now stands."""
    await broker.carry_out(conn, alert_id)
    return await get_alert(conn=conn, alert_id=alert_id)
