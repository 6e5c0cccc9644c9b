"""HTTP routes of /reports/coverage."""

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from service.coverage import service as coverage_service
from service.coverage.schemas import CoverageQuery, CoverageReport
from service.deps import ConnDep, CurrentToken

router = APIRouter(tags=["coverage"])

CSV_MEDIA_TYPE = "text/csv"


@router.get(
    "/reports/coverage",
    response_model=CoverageReport,
    summary="Coverage gaps per county",
    responses={
        200: {
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
            "description": "JSON, or with `?format=csv` or `Accept: text/csv` a UTF-8 CSV (with a byte-order mark) "
            "of one row per gap: county_code, gap, point, name, detail.",
        }
    },
)
async def coverage_report(
    conn: ConnDep,
    token: CurrentToken,
    query: Annotated[CoverageQuery, Query()],
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
):
    """Per county: active points threatening 30 or more people without an online device (`no_online_device`),
    points with a vacant grid role (`incomplete_grid`), points without a patrol report within their routine
    interval (`patrol_overdue`: 7 days / the monitoring plan's `routine_patrols_per_week`, default 2), and devices
    offline (`device_offline`).

    A device is online when its online flag is true (ingest sets it on traffic and on the gateway's retained
    `online` topic; the last will clears it) and it was last seen within 3x the longest reporting interval of its
    sensors. The report covers points active or under treatment; a grid monitor's report only its own points.
    """
    report = await coverage_service.coverage_report(conn=conn, query=query, token=token)
    wants_csv = query.format == "csv" or (query.format is None and CSV_MEDIA_TYPE in (accept or ""))
    if wants_csv:
        filename = coverage_service.csv_filename(query, report)
        return Response(
            coverage_service.to_csv(report),
            media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return report
