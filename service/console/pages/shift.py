"""The shift log: the handover note an officer writes at the end of a shift, and for the next officer what changed
since the latest note was written: alerts raised, escalated and resolved, patrol reports filed, devices gone
offline (as the device health pages judge it), each counted and listed. Earlier notes follow.

The notes are the duty room's, free text about any point: duty officers, administrators and viewers read them, and
grid monitors, who see only their own points everywhere else, do not open the shift log at all.
"""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

import sql
from service.console.web import CONSOLE_PREFIX, DutyRoom, Officer, checked_form, redirect, render, translate
from service.deps import ConnDep

Q = sql.queries("console")
router = APIRouter(prefix=f"{CONSOLE_PREFIX}/shift", include_in_schema=False)
# Before the first note there is nothing to count from: the summary covers the last shift's length.
WITHOUT_NOTE = timedelta(hours=12)
# The notes listed (the latest and those before it), and the rows of each summary list; the counts are whole.
NOTE_ROWS = 30
SUMMARY_ROWS = 100
MAX_NOTE_CHARS = 4000
# alert_event kinds: what the summary calls raised, escalated and resolved.
RAISED = ["raised"]
ESCALATED = ["escalated", "notified", "level_raised"]
RESOLVED = ["resolved"]


@router.get("", response_class=HTMLResponse)
async def shift_page(request: Request, conn: ConnDep, user: DutyRoom) -> HTMLResponse:
    return await _page(request, conn, user)


@router.post("", response_class=HTMLResponse)
async def write_note(request: Request, conn: ConnDep, user: Officer) -> Response:
    form = await checked_form(request, user)
    note = form.get("note")
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        return await _page(request, conn, user, error=translate(request, "Write the note before handing over."),
                           status_code=422)
    if len(note) > MAX_NOTE_CHARS or "\x00" in note:
        return await _page(request, conn, user, draft=note[:MAX_NOTE_CHARS], status_code=422,
                           error=translate(request, "A note holds at most %(count)d characters.") % {
                               "count": MAX_NOTE_CHARS})
    await conn.execute(Q["insert_shift_note"], user.person_id, user.caller.actor, note)
    return redirect(f"{CONSOLE_PREFIX}/shift")


async def _page(request: Request, conn, user, *, error: str | None = None, draft: str = "",
                status_code: int = 200) -> HTMLResponse:
    now = datetime.now(UTC)
    notes = await conn.fetch(Q["shift_notes"], NOTE_ROWS)
    latest = notes[0] if notes else None
    since = latest["written_at"] if latest else now - WITHOUT_NOTE
    person = None  # the duty room's pages see every point (grid monitors do not open them)

    async def listed(name: str, *extra) -> dict:
        rows = await conn.fetch(Q[name], since, person, SUMMARY_ROWS, *extra)
        return {"rows": rows, "count": rows[0]["total_count"] if rows else 0}

    summary = {
        "raised": await listed("alert_events_since", RAISED),
        "escalated": await listed("alert_events_since", ESCALATED),
        "resolved": await listed("alert_events_since", RESOLVED),
        "reports": await listed("patrol_reports_since"),
        "offline": await listed("devices_offline_since"),
    }
    return render(request, "shift.html", {
        "latest": latest, "earlier": notes[1:], "since": since, "summary": summary, "now": now, "error": error,
        "draft": draft, "without_note_hours": int(WITHOUT_NOTE / timedelta(hours=1)),
    }, status_code=status_code)
