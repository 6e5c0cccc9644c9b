"""Patrol tasks and reports for the API: the lists, and filing a report with its photos, task and alert."""

import json
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

import sql
from alerting import flows
from alerting.effects import apply_effects
from alerting.kernels import LEVEL_NAMES, haversine_m
from service.auth.schemas import ApiToken
from service.auth.scope import ensure_point_visible, scoped_person
from service.broker import Broker
from service.errors import Invalid, NotFound
from service.pagination import split_page
from service.patrols import photos as patrol_photos
from service.patrols.photos import PhotoStore, PhotoUpload, StoredPhoto
from service.patrols.schemas import (
    PatrolReportCreate,
    PatrolReportCreated,
    PatrolReportPublic,
    PatrolReportQuery,
    PatrolTaskPublic,
    PatrolTaskQuery,
    PhotoPublic,
)
from service.settings import Settings

_SQL = sql.queries("patrols")
# The path of photo n of a report, as the router names it.
PhotoUrl = Callable[[int, int], str]
# A person who sees the slope moving saw macroscopic deformation: orange, which only a duty officer lowers.
DANGEROUS_LEVEL = "orange"
# --- tasks ---------------------------------------------------------------------------------------


async def list_tasks(
    *, conn: asyncpg.Connection, caller: ApiToken, query: PatrolTaskQuery, now: datetime | None = None
) -> tuple[list[PatrolTaskPublic], int]:
    """One page of the tasks the caller may see, most urgent first, and how many match in all."""
    if query.mine and caller.person_id is None:
        raise Invalid("this token has no person, so no task is assigned to it", loc=("query", "mine"))
    rows = await conn.fetch(
        _SQL["patrol_tasks"],
        scoped_person(caller),
        caller.person_id if query.mine else None,
        query.point,
        query.state,
        query.regime,
        query.overdue,
        now or datetime.now(UTC),
        query.limit,
        query.offset,
    )
    rows, count = split_page(rows, "id")
    return [PatrolTaskPublic.model_validate(dict(row)) for row in rows], count


# --- reports -------------------------------------------------------------------------------------


def _public(row: asyncpg.Record, photo_url: PhotoUrl) -> PatrolReportPublic:
    photos = [
        PhotoPublic(
            n=n, media_type=p["media_type"], size_bytes=p["size_bytes"], sha256=p["sha256"], url=photo_url(row["id"], n)
        )
        for n, p in enumerate(row["photos"], start=1)
    ]
    return PatrolReportPublic.model_validate({**dict(row), "photos": photos})


async def _select(
    conn: asyncpg.Connection, caller: ApiToken, query: PatrolReportQuery, report_id: int | None = None
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        _SQL["patrol_reports"],
        report_id,
        scoped_person(caller),
        query.point,
        query.task,
        query.judgement,
        query.since,
        query.far,
        query.limit,
        query.offset,
    )
    return split_page(rows, "id")


async def list_reports(
    *, conn: asyncpg.Connection, caller: ApiToken, query: PatrolReportQuery, photo_url: PhotoUrl
) -> tuple[list[PatrolReportPublic], int]:
    """One page of the reports the caller may see, newest first, and how many match in all."""
    rows, count = await _select(conn, caller, query)
    return [_public(row, photo_url) for row in rows], count


async def get_report(
    *, conn: asyncpg.Connection, caller: ApiToken, report_id: int, photo_url: PhotoUrl
) -> PatrolReportPublic:
    """One report; 404 when there is none, or it is of a point the caller does not see."""
    rows, _ = await _select(conn, caller, PatrolReportQuery(limit=1), report_id)
    if not rows:
        raise NotFound(f"Patrol report {report_id} not found")
    return _public(rows[0], photo_url)


async def load_photo(
    *, conn: asyncpg.Connection, store: PhotoStore, caller: ApiToken, report_id: int, n: int
) -> tuple[bytes, str]:
    """Photo n (from 1) of a report the caller may see: its bytes and media type."""
    photos = await conn.fetchval(_SQL["report_photos"], report_id, scoped_person(caller))
    if photos is None:
        raise NotFound(f"Patrol report {report_id} not found")
    if not 1 <= n <= len(photos):
        raise NotFound(f"Patrol report {report_id} has no photo {n}; it has {len(photos)}")
    photo = photos[n - 1]
    return await store.load(photo["key"]), photo["media_type"]


async def create_report(
    *,
    pool: asyncpg.Pool,
    broker: Broker,
    store: PhotoStore,
    settings: Settings,
    reporter: ApiToken,
    report: PatrolReportCreate,
    uploads: list[PhotoUpload],
    photo_url: PhotoUrl,
) -> PatrolReportCreated:
    """File a report: its photos, its row, its task marked done and, when dangerous, the point's alert; or none of it.

    Photos are checked before anything is written, stored before the transaction and removed again if it
    does not commit. A dangerous report's alert commits with the report; the point's MQTT topic and the
    alert's effects (verification task, accelerated sampling) follow, the way every alert change does.
    """
    checked = patrol_photos.check(
        uploads, max_bytes=settings.patrol_photo_max_bytes, max_count=settings.patrol_photos_per_report
    )
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        stored: list[StoredPhoto] = []
        try:
            for photo in checked:
                stored.append(await store.save(photo))
            async with conn.transaction():
                report_id, task_marked_done, change = await _file(conn, reporter, report, stored, now, settings)
        except BaseException:
            for photo in stored:  # the report is not there, so neither may its photos be
                await store.delete(photo.key)
            raise
        if change is not None:
            await broker.publish_point(conn, change.hazard_point)
            await apply_effects(
                conn, change, now=now, send_command=broker.commands_by(reporter.actor), actor=reporter.actor
            )
        filed = await get_report(conn=conn, caller=reporter, report_id=report_id, photo_url=photo_url)
    return PatrolReportCreated(**filed.model_dump(), task_marked_done=task_marked_done)


async def _file(
    conn: asyncpg.Connection,
    reporter: ApiToken,
    r: PatrolReportCreate,
    stored: list[StoredPhoto],
    now: datetime,
    settings: Settings,
) -> tuple[int, bool, flows.Change | None]:
    """The report's writes, inside the caller's transaction: (report id, task marked done, alert change)."""
    await ensure_point_visible(conn, reporter, r.point)
    point = await conn.fetchrow(_SQL["report_point"], r.point)
    if point is None:
        raise NotFound(f"Hazard point {r.point} not found")
    task_marked_done = False
    if r.task is not None:
        task = await conn.fetchrow(_SQL["task_for_update"], r.task)
        if task is None:
            raise NotFound(f"Patrol task {r.task} not found")
        if task["hazard_point"] != r.point:
            raise Invalid(f"patrol task {r.task} is not a task of hazard point {r.point}", loc=("body", "task"))
        if task["state"] == "open":
            # The patrol happened at the phone's time, but a phone clock running fast cannot date it ahead.
            await conn.execute(_SQL["mark_task_done"], r.task, min(r.reported_at, now))
            task_marked_done = True
    distance = round(float(haversine_m(r.lon, r.lat, point["lon"], point["lat"])), 1)
    far = distance > settings.patrol_far_from_point_m
    report_id = await conn.fetchval(
        _SQL["insert_report"],
        r.task,
        r.point,
        reporter.person_id,
        reporter.actor,
        r.reported_at,
        now,
        r.lon,
        r.lat,
        r.accuracy_m,
        r.findings,
        r.judgement,
        r.note,
        json.dumps([photo.as_json() for photo in stored]),
        distance,
        far,
    )
    change = None
    if r.judgement == "dangerous":
        reporter_name = (
            await conn.fetchval(_SQL["reporter_name"], reporter.person_id) if reporter.person_id is not None else None
        )
        evidence = {
            "patrol_report_id": report_id,
            "findings": r.findings,
            "judgement": r.judgement,
            "note": r.note,
            "reporter": {"person_id": reporter.person_id, "name": reporter_name, "recorded_by": reporter.actor},
            "reported_at": r.reported_at.isoformat(),
            "lon": r.lon,
            "lat": r.lat,
            "accuracy_m": r.accuracy_m,
            "distance_m": distance,
            "far_from_point": far,
            "photos": len(stored),
        }
        who = reporter_name or reporter.actor
        reason = f"patrol report {report_id} by {who}: dangerous ({', '.join(r.findings)})"
        if far:
            reason += f", made {distance:.0f} m from the point"
        assessment = flows.Assessment(
            r.point,
            point["county_code"],
            "deformation",
            LEVEL_NAMES.index(DANGEROUS_LEVEL),
            [reason],
            evidence,
            {"dangerous_report_level": DANGEROUS_LEVEL},
        )
        change = await flows.raise_from_patrol_report(conn, assessment, now, actor=reporter.actor)
        await conn.execute(_SQL["set_report_alert"], report_id, change.alert_id)
    return report_id, task_marked_done, change
