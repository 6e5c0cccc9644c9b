"""A hazard point's page: its registry data, grid, devices, card, patrols, alerts and a chart per sensor; the charts'
data; the printable card; and the photos of patrol reports.

Everything goes through the domain services the API's routes call, in the signed-in person's name: a grid monitor
opens only its own points, and gets 404 for any other point, its charts and its reports' photos, as the API answers.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from service.console import charts
from service.console.accounts import Q
from service.console.pages.devices import device_health
from service.console.web import CONSOLE_PREFIX, User, render
from service.deps import ConnDep
from service.devices import service as device_service
from service.devices.schemas import MAX_READINGS, ReadingsQuery
from service.errors import NotFound
from service.hazard_points import service as hazard_point_service
from service.hazard_points.card import render_card_html
from service.hazard_points.schemas import GRID_ROLES
from service.patrols import service as patrol_service
from service.patrols.router import PhotoNumber, PhotoStoreDep, ReportId, photo_response
from service.patrols.schemas import PatrolReportQuery, PatrolTaskQuery

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
# The page shows the newest of each; the API's lists (filter point=) have the rest.
ALERT_ROWS = 50
TASK_ROWS = 20
REPORT_ROWS = 20


def photo_url(report_id: int, n: int) -> str:
    """Where the console serves photo n of a report (the API's URL needs a bearer token a browser does not have)."""
    return f"{CONSOLE_PREFIX}/patrol-reports/{report_id}/photos/{n}"


@router.get("/points/{code}", response_class=HTMLResponse)
async def point_page(request: Request, conn: ConnDep, user: User, code: str) -> HTMLResponse:
    caller = user.caller
    point = await hazard_point_service.get_hazard_point(conn=conn, code=code, token=caller)
    devices = await device_health(conn, caller, point=code)
    details = {d["id"]: await device_service.get_device(conn=conn, device_id=d["id"], token=caller) for d in devices}
    tasks, task_count = await patrol_service.list_tasks(
        conn=conn, caller=caller, query=PatrolTaskQuery(point=code, limit=TASK_ROWS))
    reports, report_count = await patrol_service.list_reports(
        conn=conn, caller=caller, query=PatrolReportQuery(point=code, limit=REPORT_ROWS), photo_url=photo_url)
    alerts = await conn.fetch(Q["point_alerts"], code, ALERT_ROWS)
    return render(request, "point.html", {
        "point": point,
        "card": await hazard_point_service.get_card(conn=conn, code=code, token=caller),
        "grid_roles": GRID_ROLES,
        "devices": devices, "details": details,
        "tasks": tasks, "task_count": task_count,
        "reports": reports, "report_count": report_count,
        "alerts": alerts, "alert_count": alerts[0]["total_count"] if alerts else 0,
        "periods": list(charts.PERIODS), "default_period": charts.DEFAULT_PERIOD,
        "now": datetime.now(UTC),
    })


@router.get("/points/{code}/card", response_class=HTMLResponse)
async def printable_card(conn: ConnDep, user: User, code: str) -> HTMLResponse:
    """The disaster-avoidance card as the API prints it: one self-contained A5 page."""
    return HTMLResponse(render_card_html(await hazard_point_service.get_card(conn=conn, code=code, token=user.caller)))


@router.get("/points/{code}/sensors/{device_id}/{sensor}.json")
async def sensor_chart(conn: ConnDep, user: User, code: str, device_id: str, sensor: str,
                       period: Annotated[charts.Period, Query()] = charts.DEFAULT_PERIOD) -> Response:
    """One sensor's chart data over the period, from the readings endpoint's buckets (see service.console.charts)."""
    point = await hazard_point_service.get_hazard_point(conn=conn, code=code, token=user.caller)
    registered = next((s for s in point.sensors if s.device_id == device_id and s.code == sensor), None)
    if registered is None:
        raise NotFound(f"Sensor {sensor} of device {device_id} is not on hazard point {code}")
    span, bucket = charts.PERIODS[period]
    to = datetime.now(UTC)
    readings = await device_service.sensor_readings(
        conn=conn, device_id=device_id, sensor=sensor, token=user.caller,
        query=ReadingsQuery(from_=to - span, to=to, bucket=bucket, limit=MAX_READINGS))
    chart = charts.sensor_chart(kind=registered.kind, buckets=readings.data, thresholds=registered.thresholds,
                                alerts=await conn.fetch(Q["point_alert_periods"], code, readings.from_, to),
                                from_=readings.from_, to=to)
    return JSONResponse({**chart, "device": device_id, "sensor": sensor, "period": period, "bucket": bucket,
                         "truncated": readings.count > len(readings.data)})


@router.get("/patrol-reports/{report_id}/photos/{n}")
async def report_photo(conn: ConnDep, user: User, store: PhotoStoreDep, report_id: ReportId,
                       n: PhotoNumber) -> Response:
    """A report's photo for a person who may see its point (404 otherwise), as the API serves it."""
    content, media_type = await patrol_service.load_photo(conn=conn, store=store, caller=user.caller,
                                                          report_id=report_id, n=n)
    return photo_response(content, media_type)
