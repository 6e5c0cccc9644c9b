"""The patrols page: the patrol tasks the person may see, overdue ones first, and the patrol reports to review,
newest first, with the far-from-point and dangerous ones marked.

Both lists are service.patrols', the same functions as GET /api/v1/patrol-tasks and /patrol-reports, in the
signed-in person's name: a grid monitor sees the tasks and reports of its own points only.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from alerting.scheduled import GRID_CHAIN
from service.auth.scope import scoped_person
from service.console import words
from service.console.web import CONSOLE_PREFIX, User, render, translate
from service.deps import ConnDep
from service.patrols import service as patrol_service
from service.patrols.router import MAX_ID, PhotoStoreDep
from service.patrols.schemas import PatrolReportQuery, PatrolTaskQuery
from service.weather import service as weather_service

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/patrols", include_in_schema=False)
# At most this many tasks on the page (overdue ones first), and this many reports; the page says how many more.
TASK_ROWS = 300
REPORT_ROWS = 100
# The state filter's choices; "open" is what a duty room works from, so it is the default.
STATE_CHOICES = ("open", "done", "cancelled", "all")
DEFAULT_STATE = "open"


@router.get("", response_class=HTMLResponse)
async def patrols_page(request: Request, conn: ConnDep, user: User, state: str = DEFAULT_STATE,
                       overdue: str = "", county: str = "") -> HTMLResponse:
    filters = {"state": state if state in STATE_CHOICES else DEFAULT_STATE, "overdue": overdue, "county": county}
    error = None
    try:
        tasks_query = PatrolTaskQuery.model_validate({
            "state": None if filters["state"] == "all" else [filters["state"]],
            "overdue": {"yes": True, "no": False}.get(overdue),
            "county_code": county.strip() or None,
        })
    except ValidationError:
        error = translate(request, "A county code is six digits, such as 500113.")
        filters["county"] = ""
        tasks_query = PatrolTaskQuery(state=None if filters["state"] == "all" else [filters["state"]])
    now = datetime.now(UTC)
    tasks, task_count = await _urgent_first(conn, user, tasks_query, now)
    reports, report_count = await patrol_service.list_reports(
        conn=conn, caller=user.caller, query=PatrolReportQuery(limit=REPORT_ROWS, county_code=tasks_query.county_code),
        photo_url=_photo_path)
    return render(request, "patrols.html", {
        "tasks": tasks, "task_count": task_count, "reports": reports, "report_count": report_count,
        "filters": filters, "state_choices": STATE_CHOICES, "error": error, "now": now,
        "counties": await weather_service.counties(conn=conn, scoping_person=scoped_person(user.caller)),
        "task_states": words.TASK_STATES, "grid_chain": GRID_CHAIN,
    }, status_code=422 if error else 200)


@router.get("/reports/{report_id}/photos/{n}", response_class=Response)
async def report_photo(conn: ConnDep, user: User, store: PhotoStoreDep,
                       report_id: Annotated[int, Path(ge=1, le=MAX_ID)],
                       n: Annotated[int, Path(ge=1, le=1000)]) -> Response:
    """A report's photo for the signed-in person, as GET /api/v1/patrol-reports/{id}/photos/{n} answers it."""
    content, media_type = await patrol_service.load_photo(conn=conn, store=store, caller=user.caller,
                                                          report_id=report_id, n=n)
    return Response(content, media_type=media_type,
                    headers={"Cache-Control": "private, max-age=31536000, immutable",
                             "X-Content-Type-Options": "nosniff"})


async def _urgent_first(conn, user, query: PatrolTaskQuery, now: datetime) -> tuple[list, int]:
    """The overdue tasks first, then the others, each by due time (the API's order within each): the same
    listing asked twice, unless the filter asks for only one of the two. Among open tasks the due time alone
    would do; with done and cancelled tasks shown, one done long ago would come before every overdue one."""
    kinds = [query.overdue] if query.overdue is not None else [True, False]
    tasks, count = [], 0
    for overdue in kinds:
        room = max(TASK_ROWS - len(tasks), 1)
        page, matching = await patrol_service.list_tasks(
            conn=conn, caller=user.caller, query=query.model_copy(update={"overdue": overdue, "limit": room}), now=now)
        tasks.extend(page[:TASK_ROWS - len(tasks)])
        count += matching
    return tasks, count


def _photo_path(report_id: int, n: int) -> str:
    return f"{CONSOLE_PREFIX}/patrols/reports/{report_id}/photos/{n}"
