"""What ingest could not take: the dead letters and the quarantined readings (duty officers and administrators, as
GET /api/v1/dead-letters and /quarantine), and an administrator's replay of the quarantine.

The lists and the replay are service.intake's, called exactly as its router calls them.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from service.console.web import CONSOLE_PREFIX, Admin, Officer, checked_form, redirect, render, translate
from service.deps import ConnDep
from service.errors import NotFound
from service.intake import service as intake_service
from service.intake.schemas import DeadLetterQuery, QuarantineQuery, QuarantineReplay

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/intake", include_in_schema=False)
# Each dead letter may carry 64 KiB of payload (its preview is 500 characters): a page of 50 is enough to work on.
DEAD_LETTER_ROWS = 50
QUARANTINE_ROWS = 100


@router.get("", response_class=HTMLResponse)
async def intake_page(request: Request, conn: ConnDep, user: Officer, reason: str = "", topic: str = "",
                      stored: Annotated[int | None, Query(ge=0)] = None,
                      remaining: Annotated[int | None, Query(ge=0)] = None, device: str = "") -> HTMLResponse:
    return await _page(request, conn, reason=reason, topic=topic,
                       replayed={"stored": stored, "remaining": remaining, "device": device or None}
                       if stored is not None and remaining is not None else None)


@router.post("/replay", response_class=HTMLResponse)
async def replay(request: Request, conn: ConnDep, user: Admin) -> Response:
    form = await checked_form(request, user)
    device = form.get("device_id")
    try:
        which = QuarantineReplay(device_id=device.strip() or None if isinstance(device, str) else None)
    except ValidationError:
        return await _page(request, conn, error=translate(request, "That is not a device id."), status_code=422)
    try:
        done = await intake_service.replay_quarantine(conn=conn, database_url=request.app.state.settings.database_url,
                                                      device_id=which.device_id, admin=user.caller)
    except NotFound:
        return await _page(request, conn, error=translate(request, "No device %(id)s is registered.") % {
            "id": which.device_id}, status_code=404)
    target = f"{CONSOLE_PREFIX}/intake?stored={done.stored}&remaining={done.remaining}"
    return redirect(target + (f"&device={done.device_id}" if done.device_id else ""))


async def _page(request: Request, conn, *, reason: str = "", topic: str = "", replayed: dict | None = None,
                error: str | None = None, status_code: int = 200) -> HTMLResponse:
    try:
        query = DeadLetterQuery(limit=DEAD_LETTER_ROWS, reason=reason.strip() or None, topic=topic.strip() or None)
    except ValidationError:
        query, reason, topic = DeadLetterQuery(limit=DEAD_LETTER_ROWS), "", ""
    letters, letter_count = await intake_service.list_dead_letters(conn=conn, query=query)
    readings, quarantine_count = await intake_service.list_quarantine(conn=conn,
                                                                      query=QuarantineQuery(limit=QUARANTINE_ROWS))
    return render(request, "intake.html", {
        "letters": letters, "letter_count": letter_count, "readings": readings,
        "quarantine_count": quarantine_count, "reason": reason, "topic": topic, "replayed": replayed,
        "error": error,
    }, status_code=status_code)
