"""What the public pages show: public points near a position or in a place, one point's card, the current warnings."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import numpy as np

import sql
from alerting.kernels import haversine_m
from service.alerts import service as alert_service
from service.auth.schemas import ApiToken
from service.errors import NotFound
from service.hazard_points import service as hazard_point_service
from service.hazard_points.schemas import CardContact, HazardPointPublic, HazardPointQuery
from service.pagination import MAX_PAGE
from service.weather import service as weather_service
from service.weather.schemas import WeatherWarningPublic, WeatherWarningQuery

Q = sql.queries("public")

# Points people live under and are warned for. Treated and relocated points no longer threaten anyone (the works
# are done, the households have moved): their cards are history, and showing them would send people to a stale
# shelter. Cancelled points are struck from the registry.
PUBLIC_STATUSES = ["active", "under_treatment"]
# The levels the public is warned of (SPEC 4.4: orange prepares to evacuate, red evacuates); blue and yellow are for
# the duty room and the monitor.
PUBLIC_LEVELS = ["orange", "red"]
NEARBY_RADIUS_M = 5_000.0
# The nearest this many within the radius: a phone's screen, not a map.
NEARBY_ROWS = 50
PLACE_ROWS = 500
WARNING_ROWS = 500
WEATHER_ROWS = 100
METRES_PER_DEGREE_LAT = 111_320.0
# The public reads as a viewer does, every point and no grid scope; what it is shown is chosen below and in the
# templates, never the whole record.
PUBLIC_READER = ApiToken(id=None, name="public pages", role="viewer", person_id=None)


@dataclass(frozen=True)
class NearbyPoint:
    point: HazardPointPublic
    distance_m: float


@dataclass(frozen=True)
class PublicCard:
    """A point's disaster-avoidance card as residents are shown it: the card's own fields and the point's level."""

    code: str
    name: str
    type: str
    county_code: str
    township_code: str | None
    village_code: str | None
    lon: float
    lat: float
    threatened_households: int
    threatened_people: int
    level: str
    warning_signal: str | None
    signal_giver: str | None
    evacuation_route: str | None
    shelter: str | None
    contacts: list[CardContact]
    updated_at: datetime


@dataclass(frozen=True)
class PublicWarning:
    """An unresolved orange or red alert as the public is told of it: where, how high, since when, what to do."""

    alert_id: int
    level: str
    raised_at: datetime
    point: str
    point_name: str
    point_type: str
    county_code: str
    township_code: str | None
    village_code: str | None
    warning_signal: str | None
    evacuation_route: str | None
    shelter: str | None


async def nearby(*, conn: asyncpg.Connection, lon: float, lat: float) -> list[NearbyPoint]:
    """The public points within NEARBY_RADIUS_M of the position, nearest first, with their level and distance."""
    dlat = NEARBY_RADIUS_M / METRES_PER_DEGREE_LAT
    dlon = dlat / max(np.cos(np.radians(lat)), 0.01)
    bbox = (f"{max(lon - dlon, -180):.6f},{max(lat - dlat, -90):.6f},"
            f"{min(lon + dlon, 180):.6f},{min(lat + dlat, 90):.6f}")
    points, _ = await hazard_point_service.list_hazard_points(
        conn=conn, query=HazardPointQuery(bbox=bbox, status=PUBLIC_STATUSES, limit=MAX_PAGE), token=PUBLIC_READER)
    if not points:
        return []
    distances = haversine_m(lon, lat, np.array([p.lon for p in points]), np.array([p.lat for p in points]))
    near = sorted((float(d), p.code, p) for d, p in zip(distances, points) if d <= NEARBY_RADIUS_M)
    return [NearbyPoint(point=p, distance_m=d) for d, _, p in near[:NEARBY_ROWS]]


async def in_place(*, conn: asyncpg.Connection, county_code: str | None, township_code: str | None,
                   village_code: str | None) -> tuple[list[HazardPointPublic], int]:
    """The public points of a county, township or village, in code order, and how many there are."""
    return await hazard_point_service.list_hazard_points(
        conn=conn, token=PUBLIC_READER,
        query=HazardPointQuery(county_code=county_code, township_code=township_code, village_code=village_code,
                               status=PUBLIC_STATUSES, limit=PLACE_ROWS))


async def divisions(*, conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """(county_code, township_code, village_code, points) of every place with public points."""
    return await conn.fetch(Q["public_divisions"], PUBLIC_STATUSES)


async def public_card(*, conn: asyncpg.Connection, code: str) -> PublicCard:
    """The card of a public point with its current level; NotFound, as for a code never registered, for any other."""
    point = await hazard_point_service.get_hazard_point(conn=conn, code=code, token=PUBLIC_READER)
    if point.status not in PUBLIC_STATUSES:
        raise NotFound(f"Hazard point {code} not found")
    card = point.card
    return PublicCard(
        code=point.code, name=point.name, type=point.type, county_code=point.county_code,
        township_code=point.township_code, village_code=point.village_code, lon=point.lon, lat=point.lat,
        threatened_households=point.threatened_households, threatened_people=point.threatened_people,
        level=point.level, **_card_text(card, "signal_giver"),
        contacts=[CardContact.model_validate(contact) for contact in card.get("contacts") or ()],
        updated_at=point.updated_at)


async def warnings(*, conn: asyncpg.Connection) -> tuple[list[PublicWarning], int]:
    """The unresolved orange and red alerts of public points, highest first, and how many there are."""
    rows = await conn.fetch(Q["public_warnings"], PUBLIC_STATUSES, PUBLIC_LEVELS, WARNING_ROWS)
    return [_warning(row) for row in rows], rows[0]["total_count"] if rows else 0


async def weather_warnings(*, conn: asyncpg.Connection, now: datetime) -> list[WeatherWarningPublic]:
    """The meteorological risk warnings valid now, newest first."""
    found, _ = await weather_service.list_warnings(
        conn=conn, query=WeatherWarningQuery(active=True, limit=WEATHER_ROWS), now=now)
    return found


async def cap_messages(*, conn: asyncpg.Connection, sender: str) -> list[tuple[PublicWarning, bytes]]:
    """Each current public warning with its alert's CAP 1.2 message, read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        current, _ = await warnings(conn=conn)
        messages = [(w, await alert_service.alert_cap(conn=conn, alert_id=w.alert_id, sender=sender))
                    for w in current]
    return [(w, message) for w, message in messages if message is not None]


def _card_text(card: dict[str, Any], *extra: str) -> dict[str, str | None]:
    """The card's free-text fields residents act on (warning signal, evacuation route, shelter) and `extra`."""
    return {field: card.get(field) for field in ("warning_signal", "evacuation_route", "shelter", *extra)}


def _warning(row: asyncpg.Record) -> PublicWarning:
    return PublicWarning(
        alert_id=row["id"], level=row["level"], raised_at=row["raised_at"], point=row["point"],
        point_name=row["point_name"], point_type=row["point_type"], county_code=row["county_code"],
        township_code=row["township_code"], village_code=row["village_code"], **_card_text(row["card"] or {}))
