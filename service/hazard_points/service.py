"""Hazard-point queries for the API."""

import asyncpg

import sql
from service.errors import Conflict, NotFound
from service.hazard_points.schemas import (
    GRID_ROLES,
    Grid,
    GridAssignment,
    GridMember,
    HazardPointCreate,
    HazardPointDetail,
    HazardPointPublic,
    HazardPointQuery,
    SensorPublic,
)
from service.pagination import split_page

_SQL = sql.queries("api")


async def _select(
    conn: asyncpg.Connection, query: HazardPointQuery, code: str | None = None
) -> tuple[list[HazardPointPublic], int]:
    min_lon, min_lat, max_lon, max_lat = query.bounds or (None, None, None, None)
    rows = await conn.fetch(
        _SQL["hazard_points"],
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
    )
    rows, count = split_page(rows, "code")
    return [HazardPointPublic.model_validate(dict(row)) for row in rows], count


async def list_hazard_points(
    *, conn: asyncpg.Connection, query: HazardPointQuery
) -> tuple[list[HazardPointPublic], int]:
    """One page of the matching points in code order, and how many match in all."""
    return await _select(conn, query)


async def get_hazard_point(*, conn: asyncpg.Connection, code: str) -> HazardPointDetail:
    """The point with its current level, its sensors and its grid."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _detail(conn, code)


async def _detail(conn: asyncpg.Connection, code: str) -> HazardPointDetail:
    points, _ = await _select(conn, HazardPointQuery(limit=1), code)
    if not points:
        raise NotFound(f"Hazard point {code} not found")
    sensors = await conn.fetch(_SQL["hazard_point_sensors"], code)
    return HazardPointDetail(
        **points[0].model_dump(),
        sensors=[SensorPublic.model_validate(dict(sensor)) for sensor in sensors],
        grid=await _grid(conn, code),
    )


async def _grid(conn: asyncpg.Connection, code: str) -> Grid:
    grid: Grid = dict.fromkeys(GRID_ROLES)
    for member in await conn.fetch(_SQL["hazard_point_grid"], code):
        grid[member["role"]] = GridMember(person_id=member["person_id"], name=member["name"], phone=member["phone"])
    return grid


async def get_grid(*, conn: asyncpg.Connection, code: str) -> Grid:
    """Who holds each of the point's four roles; a vacant role is None."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if await conn.fetchval(_SQL["hazard_point_county"], code) is None:
            raise NotFound(f"Hazard point {code} not found")
        return await _grid(conn, code)


async def replace_grid(*, conn: asyncpg.Connection, code: str, assignment: GridAssignment) -> Grid:
    """Replace all four roles of the point's grid at once, or none when a person or the point is missing."""
    roles = [role for role in GRID_ROLES if getattr(assignment, role) is not None]
    person_ids = [getattr(assignment, role) for role in roles]
    async with conn.transaction():
        if await conn.fetchval(_SQL["lock_hazard_point"], code) is None:
            raise NotFound(f"Hazard point {code} not found")
        missing = [row["id"] for row in await conn.fetch(_SQL["people_missing"], sorted(set(person_ids)))]
        if missing:
            names = ", ".join(map(str, missing))
            raise NotFound(f"Person {names} not found" if len(missing) == 1 else f"People {names} not found")
        await conn.execute(_SQL["clear_grid"], code)
        await conn.execute(_SQL["assign_grid"], code, roles, person_ids)
        return await _grid(conn, code)


async def create_hazard_point(*, conn: asyncpg.Connection, point_create: HazardPointCreate) -> HazardPointDetail:
    """Register a new point; Conflict when its code is taken."""
    p = point_create
    async with conn.transaction():
        created = await conn.fetchval(
            _SQL["create_hazard_point"],
            p.code,
            p.name,
            p.type,
            p.scale,
            p.lon,
            p.lat,
            p.county_code,
            p.township_code,
            p.village_code,
            p.threatened_households,
            p.threatened_people,
            p.threatened_property_wan_yuan,
            p.status,
        )
        if created is None:
            raise Conflict(f"Hazard point {p.code} already exists")
        return await _detail(conn, p.code)
