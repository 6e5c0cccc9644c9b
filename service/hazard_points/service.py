"""Hazard-point queries for the API; a grid monitor's view is bounded to its own points in the SQL."""

import asyncpg
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

import sql
from service.auth.schemas import ApiToken
from service.auth.scope import ensure_point_visible, scoped_person
from service.errors import Conflict, NotFound
from service.hazard_points.schemas import (
    GRID_ROLES,
    CardLocation,
    Grid,
    GridAssignment,
    GridMember,
    HazardPointCardPublic,
    HazardPointCreate,
    HazardPointDetail,
    HazardPointPublic,
    HazardPointQuery,
    HazardPointUpdate,
    SensorPublic,
)
from service.pagination import split_page

Q = sql.queries("hazard_points")


def _not_found(code: str) -> NotFound:
    return NotFound(f"Hazard point {code} not found")


async def _select(
    conn: asyncpg.Connection, query: HazardPointQuery, person: int | None, code: str | None = None
) -> tuple[list[HazardPointPublic], int]:
    min_lon, min_lat, max_lon, max_lat = query.bounds or (None, None, None, None)
    rows = await conn.fetch(
        Q["hazard_points"],
        code,
        query.county_code,
        query.township_code,
        query.village_code,
        query.type,
        query.level,
        min_lon,
        min_lat,
        max_lon,
        max_lat,
        query.limit,
        query.offset,
        person,
        query.status,
    )
    rows, count = split_page(rows, "code")
    return [HazardPointPublic.model_validate(dict(row)) for row in rows], count


async def list_hazard_points(
    *, conn: asyncpg.Connection, query: HazardPointQuery, token: ApiToken
) -> tuple[list[HazardPointPublic], int]:
    """One page of the matching points the caller may see, in code order, and how many match in all."""
    return await _select(conn, query, scoped_person(token))


async def get_hazard_point(*, conn: asyncpg.Connection, code: str, token: ApiToken) -> HazardPointDetail:
    """The point with its current level, its plan and card, its sensors and its grid."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _detail(conn, code, scoped_person(token))


async def get_hazard_point_summary(*, conn: asyncpg.Connection, code: str, token: ApiToken) -> HazardPointPublic:
    """The point as lists show it, with its current level: without its plan, sensors and grid."""
    return await _one(conn, code, scoped_person(token))


async def _one(conn: asyncpg.Connection, code: str, person: int | None) -> HazardPointPublic:
    points, _ = await _select(conn, HazardPointQuery(limit=1), person, code)
    if not points:
        raise _not_found(code)
    return points[0]


async def _detail(conn: asyncpg.Connection, code: str, person: int | None = None) -> HazardPointDetail:
    point = await _one(conn, code, person)
    documents = await conn.fetchrow(Q["hazard_point_documents"], code)
    sensors = await conn.fetch(Q["hazard_point_sensors"], code)
    return HazardPointDetail(
        **point.model_dump(),
        **dict(documents),
        sensors=[SensorPublic.model_validate(dict(sensor)) for sensor in sensors],
        grid=await _grid(conn, code),
    )


async def _grid(conn: asyncpg.Connection, code: str) -> Grid:
    grid: Grid = dict.fromkeys(GRID_ROLES)
    for member in await conn.fetch(Q["hazard_point_grid"], code):
        grid[member["role"]] = GridMember.model_validate(dict(member))
    return grid


async def get_grid(*, conn: asyncpg.Connection, code: str, token: ApiToken) -> Grid:
    """Who holds each of the point's four roles; a vacant role is None."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if await conn.fetchval(Q["hazard_point_county"], code) is None:
            raise _not_found(code)
        await ensure_point_visible(conn, token, code)
        return await _grid(conn, code)


async def get_card(*, conn: asyncpg.Connection, code: str, token: ApiToken) -> HazardPointCardPublic:
    """The point's disaster-avoidance card with its grid people and their phones."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        row = await conn.fetchrow(Q["hazard_point_card"], code, scoped_person(token))
        if row is None:
            raise _not_found(code)
        grid = await _grid(conn, code)
    point = dict(row)
    card = point.pop("card")
    location = CardLocation(**{field: point.pop(field) for field in CardLocation.model_fields})
    return HazardPointCardPublic.model_validate({**card, **point, "location": location, "grid": grid})


async def replace_grid(
    *, conn: asyncpg.Connection, code: str, assignment: GridAssignment, author: ApiToken
) -> Grid:
    """Replace all four roles of the point's grid at once, or none when a person or the point is missing.

    A role that keeps its person keeps when and by whom it was assigned.
    """
    roles = [role for role in GRID_ROLES if getattr(assignment, role) is not None]
    person_ids = [getattr(assignment, role) for role in roles]
    async with conn.transaction():
        if await conn.fetchval(Q["lock_hazard_point"], code) is None:
            raise _not_found(code)
        missing = [row["id"] for row in await conn.fetch(Q["people_missing"], sorted(set(person_ids)))]
        if missing:
            names = ", ".join(map(str, missing))
            raise NotFound(f"Person {names} not found" if len(missing) == 1 else f"People {names} not found")
        await conn.execute(Q["vacate_grid_roles"], code, roles)
        await conn.execute(Q["assign_grid"], code, roles, person_ids, author.actor)
        return await _grid(conn, code)


def _registry_values(p: HazardPointCreate) -> tuple:
    """The point's registry fields in the order of create_hazard_point's and update_hazard_point's $2..$13."""
    return (p.name, p.type, p.scale, p.lon, p.lat, p.county_code, p.township_code, p.village_code,
            p.threatened_households, p.threatened_people, p.threatened_property_wan_yuan, p.status)


async def create_hazard_point(
    *, conn: asyncpg.Connection, point_create: HazardPointCreate, author: ApiToken
) -> HazardPointDetail:
    """Register a new point; Conflict when its code is taken."""
    p = point_create
    async with conn.transaction():
        created = await conn.fetchval(
            Q["create_hazard_point"], p.code, *_registry_values(p), *p.documents(), author.actor
        )
        if created is None:
            raise Conflict(f"Hazard point {p.code} already exists")
        return await _detail(conn, p.code)


async def update_hazard_point(
    *, conn: asyncpg.Connection, code: str, point_update: HazardPointUpdate, author: ApiToken
) -> HazardPointDetail:
    """Change any field but the code, validated over the stored point as a new point would be; all or nothing."""
    async with conn.transaction():
        current = await conn.fetchrow(Q["hazard_point_for_update"], code)
        if current is None:
            raise _not_found(code)
        try:
            merged = point_update.merged_over(current)
        except ValidationError as exc:
            # Answered like FastAPI's own 422: each invalid field with its path in the body.
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
            ) from None
        if merged.status in UNWATCHED and current["status"] not in UNWATCHED:
            await _refuse_cancelling_with_open_alerts(conn, code, merged.status)
        await conn.execute(
            Q["update_hazard_point"], code, *_registry_values(merged), *point_update.documents(), author.actor
        )
        return await _detail(conn, code)


async def cancel_hazard_point(*, conn: asyncpg.Connection, code: str, author: ApiToken) -> HazardPointDetail:
    """Take the point out of service (销号) keeping its history; Conflict while it has open alerts."""
    async with conn.transaction():
        if await conn.fetchrow(Q["hazard_point_for_update"], code) is None:
            raise _not_found(code)
        await _refuse_cancelling_with_open_alerts(conn, code, "cancelled")
        await conn.execute(Q["cancel_hazard_point"], code, author.actor)
        return await _detail(conn, code)


# Statuses the engine no longer evaluates (sql/engine.sql active_points): open alerts there would never close.
UNWATCHED = frozenset({"treated", "relocated", "cancelled"})


async def _refuse_cancelling_with_open_alerts(conn: asyncpg.Connection, code: str, status: str) -> None:
    """Conflict naming the point's open alerts: a point taken out of monitoring is no longer evaluated, so
    they would never close."""
    open_alerts = await conn.fetch(Q["open_alerts_of_point"], code)
    if open_alerts:
        held_by = ", ".join(f"{row['type']} alert {row['id']}" for row in open_alerts)
        raise Conflict(f"Hazard point {code} has open alerts ({held_by}); resolve them before marking the point "
                       f"{status}")
