"""Patrol tasks and reports for the API, over the patrol domain (alerting.patrols): the caller's scope, the
photos, the pages as schemas, and what a dangerous report's alert change owes once it commits."""

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from alerting import flows
from alerting.patrols import reports as patrol_reports
from alerting.patrols import tasks as patrol_tasks
from runtime.settings import Settings
from service.auth.schemas import ApiToken
from service.auth.scope import ensure_point_visible, scoped_person
from service.broker import Broker
from service.errors import Conflict, Invalid, NotFound
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

# The path of photo n of a report, as the router names it.
PhotoUrl = Callable[[int, int], str]


class ClientIdTaken(Conflict):
    """This client_id is the id of another person's patrol report; make a new UUID for this one."""


# --- tasks ---------------------------------------------------------------------------------------


async def list_tasks(
    *, conn: asyncpg.Connection, caller: ApiToken, query: PatrolTaskQuery, now: datetime | None = None
) -> tuple[list[PatrolTaskPublic], int]:
    """One page of the tasks the caller may see, most urgent first, and how many match in all."""
    if query.mine and caller.person_id is None:
        raise Invalid("this token has no person, so no task is assigned to it", loc=("query", "mine"))
    rows = await patrol_tasks.select_tasks(
        conn,
        scoping_person=scoped_person(caller),
        assignee=caller.person_id if query.mine else None,
        point=query.point,
        states=query.state,
        regimes=query.regime,
        overdue=query.overdue,
        now=now or datetime.now(UTC),
        limit=query.limit,
        offset=query.offset,
        county=query.county_code,
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
    rows = await patrol_reports.select_reports(
        conn,
        report_id=report_id,
        scoping_person=scoped_person(caller),
        point=query.point,
        task=query.task,
        judgements=query.judgement,
        since=query.since,
        far=query.far,
        limit=query.limit,
        offset=query.offset,
        county=query.county_code,
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
    photos = await patrol_reports.report_photos(conn, report_id, scoped_person(caller))
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

    A report whose client id is already stored is answered with the stored report (`duplicate`), and nothing of it
    is kept: the first copy wins, even when a resend differs (the phone's outbox may send an edited copy, but the
    server acted on the first). Another reporter's client id is refused (ClientIdTaken).
    A dangerous report's alert commits with the report; the point's MQTT topic and the alert's effects
    (verification task, accelerated sampling) follow, the way every alert change does.
    """
    async with pool.acquire() as conn:
        if report.client_id is not None:
            repeat = await _stored_copy(conn, reporter, report.client_id, photo_url)
            if repeat is not None:
                return repeat
        try:
            report_id, task_marked_done, change = await _file(
                conn, store=store, settings=settings, reporter=reporter, report=report, uploads=uploads)
        except patrol_reports.ReportAlreadyFiled as exc:
            # A copy sent at the same moment committed first; this one's photos are already removed.
            repeat = await _stored_copy(conn, reporter, exc.client_id, photo_url)
            assert repeat is not None, "the report that took the client id has committed"
            return repeat
        if change is not None:
            await broker.carry_out(conn, change.alert_id)
        filed = await get_report(conn=conn, caller=reporter, report_id=report_id, photo_url=photo_url)
    return PatrolReportCreated(**filed.model_dump(), task_marked_done=task_marked_done, duplicate=False)


async def _file(
    conn: asyncpg.Connection,
    *,
    store: PhotoStore,
    settings: Settings,
    reporter: ApiToken,
    report: PatrolReportCreate,
    uploads: list[PhotoUpload],
) -> tuple[int, bool, flows.Change | None]:
    """The report's photos and its transaction: (report id, task marked done, alert change).

    Photos are checked before anything is written, stored before the transaction and removed again if it
    does not commit (a copy with the same client id stored first included).
    """
    checked = patrol_photos.check(
        uploads, max_bytes=settings.patrol_photo_max_bytes, max_count=settings.patrol_photos_per_report
    )
    stored: list[StoredPhoto] = []
    try:
        for photo in checked:
            stored.append(await store.save(photo))
        async with conn.transaction():
            await ensure_point_visible(conn, reporter, report.point)
            return await patrol_reports.file_report(
                conn, report, reporter_id=reporter.person_id, actor=reporter.actor,
                photos=[photo.as_json() for photo in stored], now=datetime.now(UTC), settings=settings)
    except BaseException:
        for photo in stored:  # the report is not there, so neither may its photos be
            await store.delete(photo.key)
        raise


async def _stored_copy(
    conn: asyncpg.Connection, reporter: ApiToken, client_id: UUID, photo_url: PhotoUrl
) -> PatrolReportCreated | None:
    """The stored report of the client id, as the answer to a repeat; None when none is stored, ClientIdTaken when
    another reporter filed it (its content is not shown)."""
    stored = await patrol_reports.report_by_client_id(conn, client_id)
    if stored is None:
        return None
    if not _same_reporter(stored, reporter):
        raise ClientIdTaken()
    filed = await get_report(conn=conn, caller=reporter, report_id=stored["id"], photo_url=photo_url)
    return PatrolReportCreated(**filed.model_dump(), task_marked_done=bool(stored["task_marked_done"]), duplicate=True)


def _same_reporter(stored: asyncpg.Record, reporter: ApiToken) -> bool:
    """The stored report is the caller's: the same person (from any of its tokens), or, for a token without a
    person, the same token."""
    if reporter.person_id is not None:
        return stored["reporter_id"] == reporter.person_id
    return stored["reporter_id"] is None and stored["recorded_by"] == reporter.actor
