"""The coverage report's queries and rules: which points and devices leave a gap, per county (SPEC 5)."""

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg

import sql
from alerting.patrols.tasks import DEFAULT_ROUTINE_PATROLS_PER_WEEK
from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.coverage.schemas import (
    CSV_COLUMNS,
    GAP_KINDS,
    CountyCoverage,
    CoverageQuery,
    CoverageReport,
    DeviceOffline,
    GapCounts,
    IncompleteGrid,
    NoOnlineDevice,
    PatrolOverdue,
)

Q = sql.queries("coverage")

# The "build all that should be built" rule: an active point threatening this many people or more needs an
# online automatic device.
MIN_THREATENED_PEOPLE = 30
# Points still on the ledger as hazards; treated, relocated and cancelled points need no grid or patrols.
COVERED_STATUSES = ("active", "under_treatment")
# The device rule is for active points only (SPEC 5); a point under treatment is monitored by the works.
DEVICE_RULE_STATUSES = ("active",)
# A device is offline once silent for more than three reporting intervals, as a sensor is (SPEC 3).
OFFLINE_AFTER_INTERVALS = 3
# A device without sensors is judged against the sensor table's default interval.
DEFAULT_REPORTING_INTERVAL_S = 600
# Spreadsheet programs run a cell starting with one of these as a formula; such cells get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def coverage_report(
    *, conn: asyncpg.Connection, query: CoverageQuery, token: ApiToken, now: datetime | None = None
) -> CoverageReport:
    """The gaps of every county in scope; a grid monitor's report covers only its own points."""
    now = now or datetime.now(UTC)
    scope = (query.county_code, scoped_person(token), list(COVERED_STATUSES))
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        points = await conn.fetch(Q["coverage_points"], *scope, DEFAULT_ROUTINE_PATROLS_PER_WEEK)
        devices = await conn.fetch(
            Q["coverage_devices"], *scope, now, OFFLINE_AFTER_INTERVALS, DEFAULT_REPORTING_INTERVAL_S
        )
    devices_of: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for device in devices:
        devices_of[device["hazard_point"]].append(device)

    counties: dict[str, dict] = {}
    for point in points:
        county = counties.setdefault(
            point["county_code"], {"county_code": point["county_code"], "points": 0, **{k: [] for k in GAP_KINDS}}
        )
        county["points"] += 1
        at_point = devices_of[point["code"]]
        if _needs_online_device(point, at_point):
            county["no_online_device"].append(_no_online_device(point, at_point))
        if point["missing_roles"]:
            county["incomplete_grid"].append(_incomplete_grid(point))
        if point["last_report_at"] is None or point["last_report_at"] < now - _patrol_interval(point):
            county["patrol_overdue"].append(_patrol_overdue(point, now))
        offline = [device for device in at_point if not device["online_now"]]
        county["device_offline"].extend(_device_offline(point, device) for device in offline)

    data = [
        CountyCoverage(**county, counts=GapCounts(**{kind: len(county[kind]) for kind in GAP_KINDS}))
        for county in counties.values()
    ]
    return CoverageReport(generated_at=now, data=data, count=len(data))


def _needs_online_device(point: asyncpg.Record, devices: list[asyncpg.Record]) -> bool:
    return (
        point["status"] in DEVICE_RULE_STATUSES
        and point["threatened_people"] >= MIN_THREATENED_PEOPLE
        and not any(device["online_now"] for device in devices)
    )


def _no_online_device(point: asyncpg.Record, devices: list[asyncpg.Record]) -> NoOnlineDevice:
    people = f"{point['threatened_people']} people threatened"
    if not devices:
        detail = f"{people}; no device registered"
    else:
        detail = f"{people}; {len(devices)} device{'s' if len(devices) > 1 else ''} registered, none online"
    return NoOnlineDevice(
        point=point["code"],
        name=point["name"],
        detail=detail,
        threatened_people=point["threatened_people"],
        devices=len(devices),
    )


def _incomplete_grid(point: asyncpg.Record) -> IncompleteGrid:
    missing = list(point["missing_roles"])
    return IncompleteGrid(
        point=point["code"], name=point["name"], detail=f"missing {', '.join(missing)}", missing_roles=missing
    )


def _patrol_interval(point: asyncpg.Record) -> timedelta:
    return timedelta(days=7 / point["patrols_per_week"])


def _patrol_overdue(point: asyncpg.Record, now: datetime) -> PatrolOverdue:
    interval = _patrol_interval(point)
    interval_days = interval / timedelta(days=1)
    regime = f"routine patrols {point['patrols_per_week']:g} a week, every {interval_days:.1f} days"
    last = point["last_report_at"]
    if last is None:
        detail = f"never patrolled ({regime})"
    else:
        ago_days = (now - last) / timedelta(days=1)
        detail = f"last patrol report {_when(last)}, {ago_days:.1f} days ago ({regime})"
    return PatrolOverdue(
        point=point["code"],
        name=point["name"],
        detail=detail,
        last_report_at=last,
        patrols_per_week=point["patrols_per_week"],
        interval_days=interval_days,
    )


def _device_offline(point: asyncpg.Record, device: asyncpg.Record) -> DeviceOffline:
    if device["last_seen"] is None:
        seen = "never seen"
    else:
        seen = f"last seen {_when(device['last_seen'])}"
    if device["online"] is False:
        flag = "offline flag set"
    elif device["online"] is None:
        flag = "has not reported online"
    else:
        flag = f"silent for more than {device['silence_limit_s'] / 60:g} min"
    return DeviceOffline(
        point=point["code"],
        name=point["name"],
        detail=f"device {device['id']}: {seen}, {flag}",
        device_id=device["id"],
        online=device["online"],
        last_seen=device["last_seen"],
        silence_limit_s=device["silence_limit_s"],
    )


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def to_csv(report: CoverageReport) -> str:
    """One row per gap (county, gap kind, point code, name, detail), with a byte-order mark for spreadsheets."""
    out = io.StringIO()
    # Excel opens a UTF-8 file as the local code page (GBK in China) unless it starts with a BOM.
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for county in report.data:
        for kind in GAP_KINDS:
            for gap in getattr(county, kind):
                writer.writerow([_cell(v) for v in (county.county_code, kind, gap.point, gap.name, gap.detail)])
    return out.getvalue()


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_filename(query: CoverageQuery, report: CoverageReport) -> str:
    """coverage-<county or all>-<UTC time>.csv"""
    return f"coverage-{query.county_code or 'all'}-{report.generated_at.astimezone(UTC):%Y%m%dT%H%MZ}.csv"
