"""The administrator's page of grid monitors' phones: issuing activation codes, withdrawing them, revoking phones.

A code is stored only as its hash, so the answer to issuing one is the only time it is shown: a printable sheet with
the code as a QR code of its activation link and as a short code to type, which the administrator hands to the
monitor. The phone app (/field) reads it; this page only issues, lists and ends.
"""

import asyncpg
import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from service.console.web import CONSOLE_PREFIX, Admin, checked_form, redirect, render, translate
from service.deps import ConnDep
from service.field import phones

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


def qr_svg(url: str) -> Markup:
    """The link as an inline SVG QR code (error correction M: a crease or a smudge on the paper still reads).

    Sized by the stylesheet, not in pixels here: 6 cm square on screen and paper, which a phone's camera reads at arm's
    length (a short link is 29 to 33 modules and the quiet zone, so a module is about 1.5 mm).
    """
    return Markup(segno.make(url, error="m").svg_inline(dark="#000", light="#fff", svgclass="qr", omitsize=True))


@router.get("/phones", response_class=HTMLResponse)
async def phones_page(request: Request, conn: ConnDep, user: Admin) -> HTMLResponse:
    return await _phones(request, conn)


@router.post("/phones/codes", response_class=HTMLResponse)
async def issue_code(request: Request, conn: ConnDep, user: Admin) -> HTMLResponse:
    """The activation sheet of a new code, shown once: nothing else can show the code again."""
    form = await checked_form(request, user)
    try:
        person_id = int(str(form.get("person_id", "")))
        issued = await phones.issue_code(conn, person_id=person_id, issued_by=user.caller.actor)
    except (ValueError, phones.NotEligible):
        return await _phones(request, conn, status_code=422, error=translate(
            request, "A code can be issued only for a monitor or a person on a point's grid: choose one from the "
                     "list."))
    name = await conn.fetchval(phones.Q["person_name"], person_id)
    base = str(request.base_url).rstrip("/")
    response = render(request, "phone_sheet.html", {"name": name, "issued": issued,
                                                    "qr": qr_svg(phones.activation_url(base, issued.code)),
                                                    "activate_url": base + phones.ACTIVATE_PATH,
                                                    "valid_hours": phones.CODE_VALID_HOURS})
    # The code is a secret of one person: no copy in the browser's cache for the next one at this desk to find.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/phones/codes/{activation_id}/withdraw", response_class=HTMLResponse)
async def withdraw_code(request: Request, conn: ConnDep, user: Admin, activation_id: int) -> Response:
    await checked_form(request, user)
    if not await phones.withdraw_code(conn, activation_id=activation_id):
        return await _phones(request, conn, status_code=404, error=translate(
            request, "There is no such unused code: it was used, withdrawn or never issued."))
    return redirect(f"{CONSOLE_PREFIX}/phones")


@router.post("/phones/{phone_id}/revoke", response_class=HTMLResponse)
async def revoke_phone(request: Request, conn: ConnDep, user: Admin, phone_id: int) -> Response:
    await checked_form(request, user)
    if not await phones.revoke_phone(conn, phone_id=phone_id, revoked_by=user.caller.actor):
        return await _phones(request, conn, status_code=404, error=translate(
            request, "There is no such phone in use: it was revoked already or never activated."))
    return redirect(f"{CONSOLE_PREFIX}/phones")


async def _phones(request: Request, conn: asyncpg.Connection, *, error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    return render(request, "phones.html", {"people": await phones.eligible_people(conn),
                                           "codes": await phones.pending_codes(conn),
                                           "phones": await phones.list_phones(conn), "error": error,
                                           "valid_hours": phones.CODE_VALID_HOURS},
                  status_code=status_code)
