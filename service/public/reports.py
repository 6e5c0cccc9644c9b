"""A resident's report of a sign of danger (issue 16): stored unverified for the duty room, and the nearest public
point's monitor sent to look at it (a verification patrol task). It never raises an alert: an anonymous report must
not move a warning level; the officer decides.

A report is refused whole, nothing written and no photo kept, when its fields are wrong, its photo is not a JPEG,
PNG or WebP image by its content or is too large, or its address has sent its hourly share already.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

import sql
from runtime.settings import Settings
from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.errors import DomainError, Invalid, NotFound
from service.patrols import photos as patrol_photos
from service.patrols.photos import PhotoStore, PhotoUpload, StoredPhoto
from service.public import service as public_service

Q = sql.queries("public")
LIFECYCLE_Q = sql.queries("lifecycle")

# The point a report is about: the nearest public point this close; farther, the report is the duty room's alone.
REPORT_RADIUS_M = 2_000.0
# Soon, not at once: a monitor on foot reaches a point within a couple of hours; an officer who judges it urgent
# raises an alert, whose own verification is due sooner.
VERIFICATION_DUE = timedelta(hours=2)
RATE_WINDOW = timedelta(hours=1)
MAX_DESCRIPTION_CHARS = 2_000
MAX_PHONE_CHARS = 32
CONSOLE_ROWS = 100
CLOSED_STATES = ("checked", "dismissed")
MAX_NOTE_CHARS = 2_000


class TooManyReports(DomainError):
    """This address has sent as many reports as an hour allows."""

    status_code = 429


@dataclass(frozen=True)
class ReportIn:
    """What the form sends, checked for shape by `report_in`."""

    lon: float
    lat: float
    accuracy_m: float | None
    description: str
    phone: str | None


@dataclass(frozen=True)
class FiledReport:
    id: int
    hazard_point: str | None
    distance_m: float | None
    task_id: int | None


def report_in(*, lon: str, lat: str, accuracy: str, description: str, phone: str) -> ReportIn:
    """The form's text fields as a report; Invalid naming the first wrong one."""
    try:
        lon_f, lat_f = float(lon), float(lat)
    except ValueError:
        raise Invalid("position", loc=("body", "lon")) from None
    if not (-180 <= lon_f <= 180 and -90 <= lat_f <= 90):
        raise Invalid("position", loc=("body", "lon"))
    try:
        accuracy_m = float(accuracy) if accuracy.strip() else None
    except ValueError:
        accuracy_m = None  # the browser's own estimate: a report is not refused for it
    if accuracy_m is not None and not accuracy_m >= 0:
        accuracy_m = None
    description = description.strip()
    if not description or len(description) > MAX_DESCRIPTION_CHARS:
        raise Invalid("description", loc=("body", "description"))
    phone = phone.strip()
    if len(phone) > MAX_PHONE_CHARS:
        raise Invalid("phone", loc=("body", "phone"))
    return ReportIn(lon_f, lat_f, accuracy_m, description, phone or None)


async def file_report(*, conn: asyncpg.Connection, store: PhotoStore, settings: Settings, report: ReportIn,
                      upload: PhotoUpload | None, address: str, now: datetime) -> FiledReport:
    """Store the report, with its photo and its point's verification task, in one transaction; or none of it.

    Reports about a point whose report verification task is still open join that task: one visit checks them all."""
    checked = patrol_photos.check([upload] if upload else [], max_bytes=settings.patrol_photo_max_bytes, max_count=1)
    stored: StoredPhoto | None = None
    try:
        async with conn.transaction():
            await conn.execute(Q["lock_report_address"], address)
            if await conn.fetchval(Q["public_reports_since"], address, now - RATE_WINDOW) \
                    >= settings.public_reports_per_hour:
                raise TooManyReports()
            near = await public_service.nearby(conn=conn, lon=report.lon, lat=report.lat)
            point = near[0] if near and near[0].distance_m <= REPORT_RADIUS_M else None
            task_id = None
            if point is not None:
                task_id = (await conn.fetchrow(Q["open_report_verification_task"], point.point.code))["id"]
            if point is not None and task_id is None:
                monitor = await conn.fetchrow(LIFECYCLE_Q["point_monitor"], point.point.code)
                # The engine's verification task, of no alert: the monitor goes to look at what a resident reported.
                task_id = await conn.fetchval(LIFECYCLE_Q["insert_verification_task"], point.point.code,
                                              monitor["id"] if monitor else None, None, now + VERIFICATION_DUE, now)
            if checked:
                stored = await store.save(checked[0])
            report_id = await conn.fetchval(
                Q["insert_public_report"], now, report.lon, report.lat, report.accuracy_m, report.description,
                report.phone, stored.key if stored else None, stored.media_type if stored else None,
                stored.size_bytes if stored else None, stored.sha256 if stored else None, address,
                point.point.code if point else None, point.distance_m if point else None, task_id)
    except BaseException:
        if stored is not None:  # the report is not there, so neither may its photo be
            await store.delete(stored.key)
        raise
    return FiledReport(report_id, point.point.code if point else None, point.distance_m if point else None, task_id)


async def unverified(*, conn: asyncpg.Connection, caller: ApiToken) -> list[asyncpg.Record]:
    """The unverified reports the caller may see, newest first: a grid monitor's only those of its points."""
    return await conn.fetch(Q["unverified_public_reports"], scoped_person(caller), CONSOLE_ROWS)


async def load_photo(*, conn: asyncpg.Connection, store: PhotoStore, caller: ApiToken,
                     report_id: int) -> tuple[bytes, str]:
    """A report's photo and its media type; NotFound when there is none or the caller may not see it."""
    row = await conn.fetchrow(Q["public_report_photo"], report_id, scoped_person(caller))
    if row is None:
        raise NotFound(f"Public report {report_id} has no photo")
    return await store.load(row["photo_key"]), row["photo_media_type"]


async def close(*, conn: asyncpg.Connection, caller: ApiToken, report_id: int, state: str, note: str | None,
                now: datetime) -> None:
    """Mark an unverified report checked or dismissed, by the caller; NotFound when it is not open to them."""
    if state not in CLOSED_STATES:
        raise Invalid("state", loc=("body", "state"))
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise Invalid("note", loc=("body", "note"))
    if await conn.fetchval(Q["close_public_report"], report_id, state, caller.actor, now, note,
                           scoped_person(caller)) is None:
        raise NotFound(f"Public report {report_id} is not waiting to be checked")
