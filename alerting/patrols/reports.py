"""Patrol reports (SPEC 6): filing one, with its task, its tape measurements and its alert; and reading them back.

A report is stored once per client id (a UUID the phone makes): a second with the same id writes nothing.
A report answering an open task of its point marks the task done; its measurements are stored as readings of
the point's manual sensors and the engine is told, as after ingest; a `dangerous` judgement raises the point's
deformation alert to orange in the same transaction. Who may file, the photos, and what the alert change owes
after it commits are the caller's (service.patrols).
"""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

import asyncpg

from alerting import flows
from alerting.kernels import haversine_m
from alerting.levels import LEVEL_NAMES
from runtime.notices import notices_of
from sensors.kinds import MANUAL_KIND
from sensors.readings import Reading, build_reading
from runtime.settings import Settings
from sql import queries

Q = queries("patrols")
# A report's measurements are readings: stored, and announced to the engine, as ingest does it.
INGEST_Q = queries("ingest")
# A person who sees the slope moving saw macroscopic deformation: orange, which only a duty officer lowers.
DANGEROUS_LEVEL = "orange"


class ReportRefused(Exception):
    """The report cannot be filed."""

    def __init__(self, detail: str | None = None, *, field: tuple[str | int, ...] = ()) -> None:
        super().__init__(detail or self.__doc__)
        self.field = field  # the report's field at fault, e.g. ("measurements", 0, "sensor")

    @property
    def detail(self) -> str:
        return self.args[0]


class ReportTargetNotFound(ReportRefused, LookupError):
    """The report's point or task does not exist."""


class InvalidReport(ReportRefused, ValueError):
    """The report is not valid."""


class ReportAlreadyFiled(Exception):
    """A report with this client id is already stored; nothing of this one was written."""

    def __init__(self, client_id: UUID) -> None:
        super().__init__(f"a patrol report with client id {client_id} is already stored")
        self.client_id = client_id


class MeasurementFields(Protocol):
    """A tape reading as a report carries it."""

    sensor: str
    device: str | None
    value_mm: float


class ReportFields(Protocol):
    """What a report says (service.patrols.schemas.PatrolReportCreate)."""

    point: str
    task: int | None
    reported_at: datetime
    lon: float
    lat: float
    accuracy_m: float | None
    findings: list[str]
    judgement: str
    note: str | None
    measurements: Sequence[MeasurementFields]
    client_id: UUID | None


@dataclass(frozen=True)
class Measured:
    """A tape reading with the manual device of its sensor."""

    device: str
    sensor: str
    value_mm: float


# --- filing --------------------------------------------------------------------------------------


async def file_report(conn: asyncpg.Connection, r: ReportFields, *, reporter_id: int | None, actor: str,
                      photos: list[dict], now: datetime, settings: Settings) -> tuple[int, bool, flows.Change | None]:
    """The report's writes, inside the caller's transaction: (report id, task marked done, alert change).

    ReportAlreadyFiled when a report with its client id is stored (or is being stored and then commits): the row
    is written before anything else, so that nothing is.
    """
    point = await conn.fetchrow(Q["report_point"], r.point)
    if point is None:
        raise ReportTargetNotFound(f"Hazard point {r.point} not found")
    measured = await _resolve_measurements(conn, r.point, r.measurements)
    task_marked_done = await _task_open(conn, r) if r.task is not None else False
    distance = round(float(haversine_m(r.lon, r.lat, point["lon"], point["lat"])), 1)
    far = distance > settings.patrol_far_from_point_m
    measurements = [asdict(m) for m in measured]
    report_id = await conn.fetchval(Q["insert_report"], r.task, r.point, reporter_id, actor, r.reported_at, now, r.lon,
                                    r.lat, r.accuracy_m, r.findings, r.judgement, r.note, json.dumps(photos), distance,
                                    far, json.dumps(measurements), r.client_id, task_marked_done)
    if report_id is None:
        raise ReportAlreadyFiled(r.client_id)
    if task_marked_done:
        # The patrol happened at the phone's time, but a phone clock running fast cannot date it ahead.
        await conn.execute(Q["mark_task_done"], r.task, min(r.reported_at, now))
    if measured:
        await _store_readings(conn, measured, r.reported_at, now, settings)
    if r.judgement != "dangerous":
        return report_id, task_marked_done, None
    reporter_name = await conn.fetchval(Q["reporter_name"], reporter_id) if reporter_id is not None else None
    evidence = {
        "patrol_report_id": report_id,
        "findings": r.findings,
        "judgement": r.judgement,
        "note": r.note,
        "reporter": {"person_id": reporter_id, "name": reporter_name, "recorded_by": actor},
        "reported_at": r.reported_at.isoformat(),
        "lon": r.lon,
        "lat": r.lat,
        "accuracy_m": r.accuracy_m,
        "distance_m": distance,
        "far_from_point": far,
        "photos": len(photos),
        "measurements": measurements,
    }
    reason = f"patrol report {report_id} by {reporter_name or actor}: dangerous ({', '.join(r.findings)})"
    if far:
        reason += f", made {distance:.0f} m from the point"
    assessment = flows.Assessment(r.point, point["county_code"], "deformation", LEVEL_NAMES.index(DANGEROUS_LEVEL),
                                  [reason], evidence, {"dangerous_report_level": DANGEROUS_LEVEL})
    change = await flows.raise_from_patrol_report(conn, assessment, now, actor=actor)
    await conn.execute(Q["set_report_alert"], report_id, change.alert_id)
    return report_id, task_marked_done, change


async def _task_open(conn: asyncpg.Connection, r: ReportFields) -> bool:
    """Whether the report's task is open, locked until the report commits; the task must be one of the report's
    point."""
    task = await conn.fetchrow(Q["task_for_update"], r.task)
    if task is None:
        raise ReportTargetNotFound(f"Patrol task {r.task} not found")
    if task["hazard_point"] != r.point:
        raise InvalidReport(f"patrol task {r.task} is not a task of hazard point {r.point}", field=("task",))
    return task["state"] == "open"


async def _resolve_measurements(conn: asyncpg.Connection, point: str,
                                measurements: Sequence[MeasurementFields]) -> list[Measured]:
    """Each measurement with the manual device of its sensor; InvalidReport naming the first that is not one of the
    point's manual sensors, or that measures a sensor twice."""
    if not measurements:
        return []
    devices_of: dict[str, list[str]] = defaultdict(list)
    for row in await conn.fetch(Q["manual_sensors"], point):
        devices_of[row["code"]].append(row["device_id"])
    known = f"its manual sensors are {', '.join(devices_of)}" if devices_of else "it has no manual device"
    resolved: list[Measured] = []
    for i, m in enumerate(measurements):
        devices = [d for d in devices_of.get(m.sensor, []) if m.device in (None, d)]
        if not devices:
            on = f" of device {m.device}" if m.device is not None else ""
            raise InvalidReport(f"{m.sensor}{on} is not a manual sensor of hazard point {point}; {known}",
                                field=("measurements", i, "sensor"))
        if len(devices) > 1:
            raise InvalidReport(f"{m.sensor} is a sensor of manual devices {', '.join(devices)} of hazard point "
                                f"{point}; say which in device", field=("measurements", i, "device"))
        measurement = Measured(device=devices[0], sensor=m.sensor, value_mm=m.value_mm)
        if any((earlier.device, earlier.sensor) == (measurement.device, m.sensor) for earlier in resolved):
            raise InvalidReport(f"{m.sensor} is measured twice in this report", field=("measurements", i, "sensor"))
        resolved.append(measurement)
    return resolved


async def _store_readings(conn: asyncpg.Connection, measured: list[Measured], reported_at: datetime,
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
    await conn.executemany(Q["insert_measured_reading"],
                           [(r.device_id, r.sensor_code, r.ts, r.kind, r.value, r.quality) for r in readings])
    await conn.execute(INGEST_Q["touch_sensors_latest"], [r.device_id for r in readings],
                       [r.sensor_code for r in readings], [r.ts for r in readings])
    # Delivered at commit: the engine evaluates the point again within a second.
    for notice in notices_of(dict.fromkeys((r.device_id for r in readings), reported_at)):
        await conn.execute(INGEST_Q["notify_readings_stored"], notice)


# --- reading back --------------------------------------------------------------------------------


async def select_reports(conn: asyncpg.Connection, *, report_id: int | None, scoping_person: int | None,
                         point: str | None, task: int | None, judgements: list[str] | None, since: datetime | None,
                         far: bool | None, limit: int, offset: int,
                         county: str | None = None) -> list[asyncpg.Record]:
    """One page of the matching reports, newest first, each row carrying the total count (sql/patrols.sql)."""
    return await conn.fetch(Q["patrol_reports"], report_id, scoping_person, point, task, judgements, since, far,
                            limit, offset, county)


async def report_by_client_id(conn: asyncpg.Connection, client_id: UUID) -> asyncpg.Record | None:
    """The stored report of a client id (id, reporter_id, recorded_by, task_marked_done); None when there is none."""
    return await conn.fetchrow(Q["report_by_client_id"], client_id)


async def report_photos(conn: asyncpg.Connection, report_id: int, scoping_person: int | None) -> list[dict] | None:
    """The stored photos of a report the scoping person may see; None when there is no such report."""
    return await conn.fetchval(Q["report_photos"], report_id, scoping_person)
