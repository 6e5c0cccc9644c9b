"""Patrol tasks and reports for the API: the lists, and filing a report with its photos, task and alert."""

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

import sql
from alerting import flows
from alerting.kernels import LEVEL_NAMES, haversine_m
from runtime.notices import notices_of
from runtime.settings import Settings
from sensors.readings import Reading, build_reading
from service.auth.schemas import ApiToken
from service.auth.scope import ensure_point_visible, scoped_person
from service.broker import Broker
from service.devices.schemas import MANUAL_KIND
from service.errors import Invalid, NotFound
from service.pagination import split_page
from service.patrols import photos as patrol_photos
from service.patrols.photos import PhotoStore, PhotoUpload, StoredPhoto
from service.patrols.schemas import (
    Measurement,
    MeasurementPublic,
    PatrolReportCreate,
    PatrolReportCreated,
    PatrolReportPublic,
    PatrolReportQuery,
    PatrolTaskPublic,
    PatrolTaskQuery,
    PhotoPublic,
)

_SQL = sql.queries("patrols")
# A report's measurements are readings: stored, and announced to the engine, as ingest does it.
_INGEST = sql.queries("ingest")
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
            await broker.carry_out(conn, change.alert_id)
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
    measured = await _resolve_measurements(conn, r.point, r.measurements)
    measurements = [m.model_dump() for m in measured]
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
        json.dumps(measurements),
    )
    if measured:
        await _store_readings(conn, measured, r.reported_at, now, settings)
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
            "measurements": measurements,
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


async def _resolve_measurements(
    conn: asyncpg.Connection, point: str, measurements: list[Measurement]
) -> list[MeasurementPublic]:
    """Each measurement with the manual device of its sensor; Invalid naming the first that is not one of the point's
    manual sensors, or that measures a sensor twice."""
    if not measurements:
        return []
    devices_of: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch(_SQL["manual_sensors"], point):
        devices_of[row["code"]].append(row["device_id"])
    known = f"its manual sensors are {', '.join(devices_of)}" if devices_of else "it has no manual device"
    resolved: list[MeasurementPublic] = []
    for i, m in enumerate(measurements):
        devices = [d for d in devices_of.get(m.sensor, []) if m.device in (None, d)]
        if not devices:
            on = f" of device {m.device}" if m.device is not None else ""
            raise Invalid(f"{m.sensor}{on} is not a manual sensor of hazard point {point}; {known}",
                          loc=("body", "measurements", i, "sensor"))
        if len(devices) > 1:
            raise Invalid(f"{m.sensor} is a sensor of manual devices {', '.join(devices)} of hazard point {point}; "
                          "say which in device", loc=("body", "measurements", i, "device"))
        measurement = MeasurementPublic(device=devices[0], sensor=m.sensor, value_mm=m.value_mm)
        if any((earlier.device, earlier.sensor) == (measurement.device, m.sensor) for earlier in resolved):
            raise Invalid(f"{m.sensor} is measured twice in this report", loc=("body", "measurements", i, "sensor"))
        resolved.append(measurement)
    return resolved


async def _store_readings(conn: asyncpg.Connection, measured: list[MeasurementPublic], reported_at: datetime,
                          now: datetime, settings: Settings) -> None:
    """The measurements as readings at the report's time, flagged as ingest would flag them; the sensors' last
    reading times moved and the engine told, as after ingest stores readings."""
    readings: list[Reading] = [
        build_reading(device_id=m.device, sensor_code=m.sensor, ts=reported_at, kind=MANUAL_KIND,
                      raw_fields={"value": m.value_mm}, received_at=now,
                      future_tolerance=timedelta(seconds=settings.future_tolerance_s),
                      retention=timedelta(days=settings.retention_days))
        for m in measured
    ]
    await conn.executemany(_SQL["insert_measured_reading"],
                           [(r.device_id, r.sensor_code, r.ts, r.kind, r.value, r.quality) for r in readings])
    await conn.execute(_INGEST["touch_sensors_latest"], [r.device_id for r in readings],
                       [r.sensor_code for r in readings], [r.ts for r in readings])
    # Delivered at commit: the engine evaluates the point again within a second.
    for notice in notices_of(dict.fromkeys((r.device_id for r in readings), reported_at)):
        await conn.execute(_INGEST["notify_readings_stored"], notice)
