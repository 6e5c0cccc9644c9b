"""Signing in and out, one's own password, the language, and the administrator's page of logins."""

import secrets
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.auth.schemas import ROLES
from service.console import accounts, i18n
from service.console.accounts import ConsoleUser
from service.console.web import (
    CONSOLE_PREFIX, CSRF_FIELD, LANGUAGE_COOKIE, SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, Admin, CsrfRefused, checked_form,
    console_user, redirect, render, set_cookie, translate,
)
from service.deps import ConnDep, PoolDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
HOME = f"{CONSOLE_PREFIX}/alerts"
# A year: the reader's choice of language outlives any session.
LANGUAGE_MAX_AGE_S = 365 * 24 * 3600
# The longest phone number or password the sign-in form reads (a longer one is refused, not hashed).
MAX_CREDENTIAL_CHARS = 200


@router.get("", response_class=RedirectResponse)
@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = HOME) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {"next": _safe_next(next), "csrf_token": token})
    set_cookie(request, response, SIGN_IN_CSRF_COOKIE, token)
    return response


@router.post("/login", response_class=HTMLResponse)
async def sign_in(request: Request, conn: ConnDep) -> Response:
    form = await request.form(max_part_size=4096)
    expected = request.cookies.get(SIGN_IN_CSRF_COOKIE)
    sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        raise CsrfRefused()
    phone, password = str(form.get("phone", "")), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", HOME)))
    error = None
    if not phone or not password or len(phone) > MAX_CREDENTIAL_CHARS or len(password) > MAX_CREDENTIAL_CHARS:
        error = translate(request, "Enter your phone number and your password.")
    else:
        try:
            session_id = await accounts.sign_in(conn, phone=phone, password=password,
                                                user_agent=request.headers.get("user-agent"),
                                                address=request.client.host if request.client else None)
        except accounts.SignInRefused:
            error = translate(request, "The phone number or the password is wrong.")
        except accounts.SignInLocked as locked:
            error = translate(request, "Too many wrong passwords. Try again in %(seconds)d seconds.") % {
                "seconds": locked.wait_s}
        else:
            response = redirect(target)
            set_cookie(request, response, SESSION_COOKIE, session_id)
            response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=CONSOLE_PREFIX)
            return response
    response = render(request, "login.html", {"next": target, "csrf_token": expected, "error": error,
                                              "phone": phone[:MAX_CREDENTIAL_CHARS]}, status_code=401)
    return response


@router.post("/logout")
async def sign_out(request: Request, pool: PoolDep, user: Annotated[ConsoleUser, Depends(console_user)]) -> Response:
    await checked_form(request, user)
    await accounts.sign_out(pool, request.cookies[SESSION_COOKIE])
    response = redirect(f"{CONSOLE_PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=CONSOLE_PREFIX)
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_form(request: Request, user: Annotated[ConsoleUser, Depends(console_user)]) -> HTMLResponse:
    return render(request, "password.html")


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, conn: ConnDep,
                          user: Annotated[ConsoleUser, Depends(console_user)]) -> Response:
    form = await checked_form(request, user)
    new, repeated = str(form.get("new_password", "")), str(form.get("repeat_password", ""))
    if new != repeated:
        error = translate(request, "The two new passwords differ.")
    else:
        try:
            await accounts.change_password(conn, user=user, session_id=request.cookies[SESSION_COOKIE],
                                           current=str(form.get("current_password", "")), new=new)
        except accounts.SignInRefused:
            error = translate(request, "The current password is wrong.")
        except ValueError:
            error = translate(request, "A password needs at least %(count)d characters.") % {
                "count": accounts.MIN_PASSWORD_LENGTH}
        else:
            return redirect(HOME)
    return render(request, "password.html", {"error": error}, status_code=422)


@router.post("/language")
async def choose_language(request: Request) -> Response:
    """The reader's language, kept in a cookie; no session needed (the sign-in page offers it too)."""
    form = await request.form(max_part_size=1024)
    response = redirect(_safe_next(str(form.get("next", HOME))))
    set_cookie(request, response, LANGUAGE_COOKIE, i18n.pick_locale(str(form.get("locale"))),
               max_age=LANGUAGE_MAX_AGE_S)
    return response


@router.get("/logins", response_class=HTMLResponse)
async def logins_page(request: Request, conn: ConnDep, user: Admin) -> HTMLResponse:
    return await _logins(request, conn)


@router.post("/logins", response_class=HTMLResponse)
async def create_login(request: Request, conn: ConnDep, user: Admin) -> HTMLResponse:
    form = await checked_form(request, user)
    try:
        person_id = int(str(form.get("person_id", "")))
        phone, password = await accounts.create_login(
            conn, person_id=person_id, role=str(form.get("role", "")), phone=str(form.get("phone", "")).strip(),
            author=user.caller.actor)
    except ValueError as e:
        return await _logins(request, conn, error=str(e), status_code=422)
    return await _logins(request, conn, issued={"phone": phone, "password": password})


@router.post("/logins/{person_id}/reset", response_class=HTMLResponse)
async def reset_password(request: Request, conn: ConnDep, user: Admin, person_id: int) -> HTMLResponse:
    await checked_form(request, user)
    try:
        password = await accounts.reset_password(conn, person_id=person_id)
    except ValueError as e:
        return await _logins(request, conn, error=str(e), status_code=404)
    phone = await conn.fetchval(accounts.Q["phone_of_login"], person_id)
    return await _logins(request, conn, issued={"phone": phone, "password": password})


@router.post("/logins/{person_id}/disabled", response_class=HTMLResponse)
async def set_disabled(request: Request, conn: ConnDep, user: Admin, person_id: int) -> Response:
    form = await checked_form(request, user)
    disabled = form.get("disabled") == "true"
    async with conn.transaction():
        await conn.execute(accounts.Q["set_login_disabled"], person_id, disabled)
        if disabled:
            await conn.execute(accounts.Q["end_sessions_of"], person_id, None)
    return redirect(f"{CONSOLE_PREFIX}/logins")


async def _logins(request: Request, conn: asyncpg.Connection, *, error: str | None = None,
                  issued: dict | None = None, status_code: int = 200) -> HTMLResponse:
    logins = await conn.fetch(accounts.Q["list_logins"])
    return render(request, "logins.html", {"logins": logins, "roles": ROLES, "error": error, "issued": issued},
                  status_code=status_code)


def _safe_next(target: str) -> str:
    """Only a console path: a sign-in link must not send the officer to another site."""
    return target if target.startswith(CONSOLE_PREFIX + "/") and not target.startswith("//") else HOME
