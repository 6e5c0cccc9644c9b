"""Meteorological risk warnings: record one with its area's points and rain tasks, broadcast it, list them.

The warning, the points it covers and their rain tasks are written in one transaction; the broadcast
to the devices comes after it commits (a command cannot be taken back) and each device's outcome is
recorded, so a device or a broker that cannot be reached never fails the warning.
"""

import asyncio
import json
import logging
import math
from datetime import datetime, timedelta

import asyncpg
import psycopg

import sql
from alerting.patrols import tasks as patrol_tasks
from runtime.commands import COMMAND_FAILURES, SendCommand
from sensors.commands import MAX_EFFECTIVE_TIME_S
from service.errors import Invalid, NotFound
from service.pagination import split_page
from service.weather import geometry
from service.weather.schemas import (
    BroadcastPublic,
    WeatherWarningCreate,
    WeatherWarningCreated,
    WeatherWarningPublic,
    WeatherWarningQuery,
)

log = logging.getLogger(__name__)

Q = sql.queries("weather")
BROADCAST_COMMAND = "meteorologicalearlywarning"
# Devices told at once: each send holds a database connection of its own and waits for the broker's PUBACK.
BROADCAST_CONCURRENCY = 8
# A warning given by admin codes is broadcast as the box of its points' positions, widened on every side:
# a point's devices stand around its registered position (a giant landslide spans kilometres), and the
# box of a single point would otherwise have no width at all, leaving out every device not exactly on it.
# 0.02 degrees is about 2.2 km of latitude (1.9 km of longitude at 30 degrees N).
CODES_BOX_MARGIN_DEG = 0.02


async def create_warning(*, conn: asyncpg.Connection, send_command: SendCommand, warning_create: WeatherWarningCreate,
                         author: str, now: datetime) -> WeatherWarningCreated:
    """Record the warning and its points' rain tasks, then broadcast it to their devices."""
    w = warning_create
    _check_in_force(w, now)
    kind, codes = w.area
    polygon = w.polygon.model_dump() if w.polygon is not None else None
    async with conn.transaction():
        points = await _points_in_area(conn, w)
        point_codes = [p["code"] for p in points]
        warning_id = await conn.fetchval(Q["insert_warning"], w.level, kind, codes,
                                         json.dumps(polygon) if polygon is not None else None, w.valid_from,
                                         w.valid_to, w.issuer, w.note, author, now)
        await conn.execute(Q["insert_warning_points"], warning_id, point_codes)
        tasks = await patrol_tasks.create_rain_tasks(conn, warning_id=warning_id, points=point_codes,
                                                     valid_from=w.valid_from, valid_to=w.valid_to, now=now)
        devices = [r["id"] for r in await conn.fetch(Q["devices_of_points"], point_codes)]
    params = _broadcast_params(w, points, now)
    commands = await _broadcast(conn, send_command, warning_id, devices, params, now)
    warnings, _ = await _select(conn, WeatherWarningQuery(limit=1), now, warning_id)
    return WeatherWarningCreated(**warnings[0].model_dump(), points=point_codes, tasks_already_open=tasks.already_open,
                                 commands=commands)


async def list_warnings(*, conn: asyncpg.Connection, query: WeatherWarningQuery,
                        now: datetime) -> tuple[list[WeatherWarningPublic], int]:
    """One page of the matching warnings, newest first, and how many match in all."""
    return await _select(conn, query, now)


async def get_warning(*, conn: asyncpg.Connection, warning_id: int, now: datetime) -> WeatherWarningPublic:
    """One warning with what it set going; NotFound when there is none."""
    warnings, _ = await _select(conn, WeatherWarningQuery(limit=1), now, warning_id)
    if not warnings:
        raise NotFound(f"Weather warning {warning_id} not found")
    return warnings[0]


async def warning_tasks(*, conn: asyncpg.Connection, warning_id: int, scoping_person: int | None,
                        limit: int) -> list[asyncpg.Record]:
    """The first `limit` rain patrol tasks the warning created (of the scoping person's points only, when there is
    one), each row with `total_count`."""
    return await conn.fetch(Q["warning_tasks"], warning_id, scoping_person, limit)


async def warning_broadcasts(*, conn: asyncpg.Connection, warning_id: int, scoping_person: int | None,
                             limit: int) -> list[asyncpg.Record]:
    """The warning's broadcast device by device, the first `limit`: the command sent and the device's answer, or why
    it was not sent; each row with `total_count`."""
    return await conn.fetch(Q["warning_broadcasts"], warning_id, scoping_person, limit)


async def counties(*, conn: asyncpg.Connection, scoping_person: int | None) -> list[asyncpg.Record]:
    """The counties with active hazard points (county_code, points): those a warning by county reaches."""
    return await conn.fetch(Q["counties"], scoping_person)


async def _select(conn: asyncpg.Connection, query: WeatherWarningQuery, now: datetime,
                  warning_id: int | None = None) -> tuple[list[WeatherWarningPublic], int]:
    rows = await conn.fetch(Q["weather_warnings"], warning_id, query.active, now, query.level, query.county_code,
                            query.limit, query.offset)
    rows, count = split_page(rows, "id")
    return [_public(row) for row in rows], count


def _public(row: asyncpg.Record) -> WeatherWarningPublic:
    fields = {key: row[key] for key in WeatherWarningPublic.model_fields if key in row.keys()}
    for kind in ("county", "township", "village"):
        fields[f"{kind}_codes"] = row["area_codes"] if row["area_kind"] == kind else None
    return WeatherWarningPublic(**fields)


def _check_in_force(w: WeatherWarningCreate, now: datetime) -> None:
    """A warning is issued to act on: it must not be over, and devices hold one for at most 30 days."""
    if w.valid_to <= now:
        raise Invalid(f"the warning is over already: valid_to {w.valid_to.isoformat()} is not after now "
                      f"({now.isoformat()})", loc=("body", "valid_to"))
    if w.valid_to - now > timedelta(seconds=MAX_EFFECTIVE_TIME_S):
        raise Invalid(f"ends more than {MAX_EFFECTIVE_TIME_S // 86_400} days from now; devices hold a warning "
                      "for at most that long", loc=("body", "valid_to"))


async def _points_in_area(conn: asyncpg.Connection, w: WeatherWarningCreate) -> list[asyncpg.Record]:
    """The active hazard points whose codes the area names, or whose lon/lat lies in its polygon."""
    kind, codes = w.area
    if codes is not None:
        return await conn.fetch(Q["points_by_codes"], kind, codes)
    polygons = w.polygon.polygons
    candidates = await conn.fetch(Q["points_in_bbox"], *geometry.bounds(polygons))
    return [p for p in candidates if geometry.contains(polygons, p["lon"], p["lat"])]


def _broadcast_params(w: WeatherWarningCreate, points: list[asyncpg.Record], now: datetime) -> dict[str, object]:
    """SPEC 2.1's area broadcast: the level, how long from now it holds, and the area's lon/lat box."""
    if w.polygon is not None:
        min_lon, min_lat, max_lon, max_lat = geometry.bounds(w.polygon.polygons)
    elif points:
        lons, lats = [p["lon"] for p in points], [p["lat"] for p in points]
        min_lon, max_lon = _widened(min(lons), max(lons), 180.0)
        min_lat, max_lat = _widened(min(lats), max(lats), 90.0)
    else:
        return {}  # no points, so no devices to tell
    # Devices take the warning as in force from when it arrives until effective_time has passed: one
    # issued ahead of its start keeps them alert from now, which errs on the side of the people below.
    return {"level": w.level, "effective_time": math.ceil((w.valid_to - now).total_seconds()),
            "lon_range": [min_lon, max_lon], "lat_range": [min_lat, max_lat]}


def _widened(low: float, high: float, limit: float) -> tuple[float, float]:
    """[low, high] widened by CODES_BOX_MARGIN_DEG on each side within [-limit, limit], to 0.0001 degree
    (about 11 m), so that the command carries no float noise such as 106.17999999999999."""
    return (round(max(low - CODES_BOX_MARGIN_DEG, -limit), 4), round(min(high + CODES_BOX_MARGIN_DEG, limit), 4))


async def _broadcast(conn: asyncpg.Connection, send_command: SendCommand, warning_id: int, devices: list[str],
                     params: dict[str, object], now: datetime) -> list[BroadcastPublic]:
    """Send the warning to every device, a few at a time, and record each one's command id or failure."""
    gate = asyncio.Semaphore(BROADCAST_CONCURRENCY)

    async def tell(device_id: str) -> BroadcastPublic:
        async with gate:
            try:
                command_id = await send_command(device_id, BROADCAST_COMMAND, params)
            except (*COMMAND_FAILURES, psycopg.Error) as exc:
                return BroadcastPublic(device_id=device_id, command_id=None, error=f"{type(exc).__name__}: {exc}")
        return BroadcastPublic(device_id=device_id, command_id=command_id, error=None)

    outcomes = await asyncio.gather(*(tell(device) for device in devices))
    try:
        async with conn.transaction():
            await conn.executemany(Q["insert_warning_command"],
                                   [(warning_id, o.device_id, o.command_id, o.error, now) for o in outcomes])
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # The warning is committed and the commands are out (each is recorded with its device); only this
        # summary is missing. Answer with it rather than a 500 that invites posting the warning again.
        log.error("weather warning %d: sent to %d devices, but could not record the summary: %s: %s",
                  warning_id, len(outcomes), type(exc).__name__, exc)
    return list(outcomes)
