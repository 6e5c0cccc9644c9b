"""The alert queue (live over server-sent events, with the shift's alarm sound) and one alert's page with its
lifecycle: acknowledge, verify (confirmed or false alarm, a confirmed red's evacuation), resolve or confirm lowering.

Every transition goes through service.alerts, the same code as the API's, in the signed-in person's name.
"""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from alerting import flows
from alerting.channels.stream import AlertEventHub, alert_event_stream
from service.alerts import service as alert_service
from service.alerts.router import AlertId, event_hub
from service.alerts.schemas import AlertAcknowledge, AlertResolve, AlertVerify
from service.auth.scope import scoped_person
from service.console import accounts
from service.console.accounts import Q
from service.console.web import (
    CONSOLE_PREFIX, SESSION_COOKIE, Officer, User, checked_form, redirect, render, translate,
)
from service.deps import BrokerDep, ConnDep, PoolDep
from service.patrols.router import PhotoStoreDep, photo_response
from service.public import reports as public_reports

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/alerts", include_in_schema=False)
# The queue shows this many alerts, highest level first (a screen holds about twenty); past them the page says how
# many more there are and offers them all, up to QUEUE_MAX_ROWS. Rendering is most of a queue's time: 500 rows took
# about 80 ms.
QUEUE_ROWS = 100
QUEUE_MAX_ROWS = 2000
# How often an open stream checks that its session still lives (and keeps it alive while it does).
SESSION_CHECK_S = 60.0


@router.get("", response_class=HTMLResponse)
async def queue_page(request: Request, conn: ConnDep, user: User) -> HTMLResponse:
    return render(request, "alerts.html", await _queue(conn, user, _rows(request)))


@router.get("/queue", response_class=HTMLResponse)
async def queue_fragment(request: Request, conn: ConnDep, user: User) -> HTMLResponse:
    """The queue's table alone: what the page swaps in when an alert event arrives."""
    return render(request, "alert_queue.html", await _queue(conn, user, _rows(request)))


@router.get("/stream", response_class=StreamingResponse)
async def stream(request: Request, pool: PoolDep, user: User, hub: Annotated[AlertEventHub, Depends(event_hub)],
                 last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None) -> Response:
    """The API's alert event stream, for a signed-in person (EventSource cannot send a bearer token). It ends when
    the session does (checked every SESSION_CHECK_S; the stream's heartbeat comes every 15 s), and keeps a console
    that is open on the duty room's screen signed in through a quiet night."""
    events = alert_event_stream(hub, last_event_id=last_event_id,
                                visible=alert_service.event_visibility(pool, user.caller))
    return StreamingResponse(
        _while_signed_in(events, pool, request.cookies[SESSION_COOKIE], request.app.state.settings),
        media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/{alert_id}", response_class=HTMLResponse)
async def alert_page(request: Request, conn: ConnDep, user: User, alert_id: AlertId) -> HTMLResponse:
    return await _alert(request, conn, user, alert_id)


@router.post("/{alert_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(request: Request, conn: ConnDep, broker: BrokerDep, user: Officer, alert_id: AlertId) -> Response:
    form = await checked_form(request, user)
    return await _transition(request, conn, user, alert_id, alert_service.acknowledge(
        conn=conn, broker=broker, alert_id=alert_id, officer=user.caller,
        acknowledgement=AlertAcknowledge(note=_text(form, "note"))))


@router.post("/{alert_id}/verify", response_class=HTMLResponse)
async def verify(request: Request, conn: ConnDep, broker: BrokerDep, user: Officer, alert_id: AlertId) -> Response:
    form = await checked_form(request, user)
    try:
        verification = AlertVerify.model_validate(
            {"verdict": form.get("verdict"), "note": _text(form, "note"),
             "evacuation": _evacuation(form) if form.get("verdict") == "confirmed" else None})
    except ValidationError as e:
        return await _alert(request, conn, user, alert_id, error=_first_error(request, e), status_code=422)
    return await _transition(request, conn, user, alert_id, alert_service.verify(
        conn=conn, broker=broker, alert_id=alert_id, officer=user.caller, verification=verification))


@router.post("/{alert_id}/resolve", response_class=HTMLResponse)
async def resolve(request: Request, conn: ConnDep, broker: BrokerDep, user: Officer, alert_id: AlertId) -> Response:
    form = await checked_form(request, user)
    return await _transition(request, conn, user, alert_id, alert_service.resolve(
        conn=conn, broker=broker, alert_id=alert_id, officer=user.caller,
        resolution=AlertResolve(note=_text(form, "note"))))


@router.get("/public-reports/{report_id}/photo", response_class=Response)
async def public_report_photo(conn: ConnDep, user: User, store: PhotoStoreDep, report_id: int) -> Response:
    """A public report's photo, for the signed-in people who may see the report."""
    return photo_response(*await public_reports.load_photo(conn=conn, store=store, caller=user.caller,
                                                           report_id=report_id))


@router.post("/public-reports/{report_id}/close", response_class=HTMLResponse)
async def close_public_report(request: Request, conn: ConnDep, user: Officer, report_id: int) -> Response:
    """Mark a public report checked or dismissed, with a note; the queue as it now stands."""
    form = await checked_form(request, user)
    await public_reports.close(conn=conn, caller=user.caller, report_id=report_id, state=str(form.get("state", "")),
                               note=_text(form, "note"), now=datetime.now(UTC))
    return render(request, "alert_queue.html", await _queue(conn, user, _rows(request)))


async def _while_signed_in(events: AsyncIterator[str], pool, session_id: str, settings) -> AsyncIterator[str]:
    """The stream's events while its session lives: signed out, reset or disabled, the stream ends and the page's
    EventSource, refused on reconnecting, tells the officer."""
    checked = time.monotonic()
    try:
        async for chunk in events:
            yield chunk
            if time.monotonic() - checked >= SESSION_CHECK_S:
                checked = time.monotonic()
                if await accounts.session_user(pool, session_id, idle_hours=settings.console_session_idle_h) is None:
                    return
    finally:
        await events.aclose()


async def _queue(conn, user, limit: int = QUEUE_ROWS) -> dict:
    rows = await conn.fetch(Q["alert_queue"], scoped_person(user.caller), limit)
    total = rows[0]["total_count"] if rows else 0
    return {"alerts": rows, "total": total, "hidden": total - len(rows), "rows": limit,
            "public_reports": await public_reports.unverified(conn=conn, caller=user.caller),
            "all_rows": min(total, QUEUE_MAX_ROWS), "now": datetime.now(UTC)}


async def _alert(request: Request, conn, user, alert_id: int, *, error: str | None = None,
                 status_code: int = 200) -> HTMLResponse:
    alert = await alert_service.get_alert(conn=conn, alert_id=alert_id, token=user.caller)
    context = {
        "alert": alert,
        "point": await conn.fetchrow(Q["alert_point"], alert_id),
        "escalation": await conn.fetchrow(Q["alert_escalation"], alert_id),
        "evacuations": await conn.fetch(Q["alert_evacuations"], alert_id),
        "now": datetime.now(UTC),
        "error": error,
    }
    return render(request, "alert.html", context, status_code=status_code)


async def _transition(request: Request, conn, user, alert_id: int, change) -> Response:
    """Run a lifecycle transition; its refusal (the state moved on, say) shows on the alert's page."""
    from_queue = bool(request.headers.get("HX-Request"))
    try:
        await change
    except flows.LifecycleError as e:
        refusal = _refusal(request, e)
        if from_queue:  # another officer was quicker, say: the queue shows why, as it now stands
            return render(request, "alert_queue.html", {**await _queue(conn, user, _rows(request)), "error": refusal})
        return await _alert(request, conn, user, alert_id, error=refusal, status_code=409)
    if from_queue:
        # The row changes in place; the stream's event refreshes every other console.
        return render(request, "alert_queue.html", await _queue(conn, user, _rows(request)))
    return redirect(f"{CONSOLE_PREFIX}/alerts/{alert_id}")


def _refusal(request: Request, error: flows.LifecycleError) -> str:
    """Why the lifecycle refused, in the reader's language, with the lifecycle's own words (ids, states) after it."""
    if isinstance(error, flows.LoweringNotDue):
        reason = translate(request, "The engine does not see a lower level held long enough: there is no lowering "
                                    "to confirm.")
    elif isinstance(error, flows.EvacuationNotAllowed):
        reason = translate(request, "An evacuation is recorded only for a red alert verified as confirmed.")
    elif isinstance(error, flows.InvalidEvacuation):
        reason = translate(request, "The evacuation needs the number of people moved and the shelter.")
    elif isinstance(error, flows.InvalidTransition):
        reason = translate(request, "The alert's state no longer allows this: another officer may have acted first.")
    else:
        reason = translate(request, "The alert cannot make this change.")
    return f"{reason} ({error.detail})"


def _rows(request: Request) -> int:
    """How many rows the queue shows (?rows=), within bounds: a page, not the API's 422, for a bad number."""
    rows = request.query_params.get("rows", "")
    return min(int(rows), QUEUE_MAX_ROWS) if rows.isdigit() and int(rows) > 0 else QUEUE_ROWS


def _text(form: FormData, field: str) -> str | None:
    value = form.get(field)
    return value.strip() or None if isinstance(value, str) else None


def _evacuation(form: FormData) -> dict | None:
    """The evacuation fields of the verify form, when the officer filled any of them in."""
    fields = {name: _text(form, f"evacuation_{name}") for name in ("people_moved", "households_moved", "shelter",
                                                                    "note")}
    return {k: v for k, v in fields.items() if v is not None} or None


def _first_error(request: Request, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{translate(request, 'Check the form')}: {where}: {first['msg']}"
