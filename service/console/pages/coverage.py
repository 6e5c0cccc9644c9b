"""The coverage gaps of SPEC 5, per county (service.coverage, as GET /api/v1/reports/coverage), and the same CSV
as the API's for download, both in the signed-in person's scope (a grid monitor's: its own points)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from service.console.web import CONSOLE_PREFIX, User, render, translate
from service.coverage import service as coverage_service
from service.coverage.router import CSV_MEDIA_TYPE
from service.coverage.schemas import GAP_KINDS, CoverageQuery
from service.deps import ConnDep

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/coverage", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def coverage_page(request: Request, conn: ConnDep, user: User, county: str = "") -> HTMLResponse:
    query, error = _query(request, county)
    report = await coverage_service.coverage_report(conn=conn, query=query, token=user.caller)
    return render(request, "coverage.html", {"report": report, "gap_kinds": GAP_KINDS, "county": query.county_code,
                                             "error": error}, status_code=422 if error else 200)


@router.get("/csv", response_class=Response)
async def coverage_csv(request: Request, conn: ConnDep, user: User, county: str = "") -> Response:
    """The API's CSV (GET /api/v1/reports/coverage?format=csv): one row per gap, with its file name."""
    query, error = _query(request, county)
    if error:
        return render(request, "error.html", {"message": error}, status_code=422)
    query = query.model_copy(update={"format": "csv"})
    report = await coverage_service.coverage_report(conn=conn, query=query, token=user.caller)
    return Response(coverage_service.to_csv(report), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="{coverage_service.csv_filename(query, report)}"'})


def _query(request: Request, county: str) -> tuple[CoverageQuery, str | None]:
    try:
        return CoverageQuery(county_code=county.strip() or None), None
    except ValidationError:
        return CoverageQuery(), translate(request, "A county code is six digits, such as 500113.")
