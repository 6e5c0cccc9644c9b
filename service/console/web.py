"""What every console page shares: the signed-in person, CSRF checks, rendering in the reader's language.

The session cookie is HttpOnly and SameSite=Lax; it is Secure over HTTPS (or as console_secure_cookies says).
Every POST carries the session's CSRF token, as a form field `csrf_token` or an `X-CSRF-Token` header (htmx sends
it from the <body>'s hx-headers); a POST without the right one is refused with 403 and changes nothing.
"""

import secrets
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from service.console import accounts, i18n
from service.console.accounts import ConsoleUser
from service import errors
from service.db import get_pool

SESSION_COOKIE = "geohazard_session"
LANGUAGE_COOKIE = "geohazard_lang"
# Before sign-in there is no session to hold a CSRF token: the sign-in form uses a cookie of its own (double submit).
SIGN_IN_CSRF_COOKIE = "geohazard_signin_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
CONSOLE_PREFIX = "/console"
# A form's body: a weather warning's GeoJSON polygon is the largest thing a console form sends.
MAX_FORM_FIELD_BYTES = 4 * 1024 * 1024
OFFICER_ROLES = ("duty_officer", "admin")
DUTY_TIME_ZONE = i18n.DUTY_TIME_ZONE


class SignInRequired(Exception):
    """No live session: the page sends the browser to the sign-in form."""


class PasswordChangeRequired(Exception):
    """The password is a temporary one an administrator set: the person chooses their own first."""


class ConsoleForbidden(Exception):
    """This person's role may not do this."""


class CsrfRefused(Exception):
    """The form did not carry this session's CSRF token: it may have been sent by another site."""


@cache
def templates(locale: str) -> Jinja2Templates:
    """The console's templates with one language's translations installed (one environment per language)."""
    return Jinja2Templates(env=i18n.environment("service.console", locale))


def request_locale(request: Request) -> str:
    return i18n.pick_locale(request.cookies.get(LANGUAGE_COOKIE))


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           user: ConsoleUser | None = None) -> HTMLResponse:
    """A page in the reader's language, with the person (for the header and the CSRF token) when signed in."""
    locale = request_locale(request)
    user = user or getattr(request.state, "console_user", None)
    return templates(locale).TemplateResponse(
        request, name, {"user": user, "locale": locale, "prefix": CONSOLE_PREFIX, **(context or {})},
        status_code=status_code)


def translate(request: Request, message: str) -> str:
    """A message of the code in the reader's language."""
    return i18n.gettext(request_locale(request), message)


async def console_user(request: Request) -> ConsoleUser:
    """The signed-in person, checked on every page; SignInRequired without a live session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise SignInRequired()
    settings = request.app.state.settings
    user = await accounts.session_user(await get_pool(request), session_id,
                                       idle_hours=settings.console_session_idle_h)
    if user is None:
        raise SignInRequired()
    request.state.console_user = user
    return user


async def ready_user(user: Annotated[ConsoleUser, Depends(console_user)]) -> ConsoleUser:
    """A signed-in person who has no temporary password left to change."""
    if user.must_change:
        raise PasswordChangeRequired()
    return user


async def officer(user: Annotated[ConsoleUser, Depends(ready_user)]) -> ConsoleUser:
    """A duty officer or an administrator: the people who move alerts and post warnings."""
    if user.role not in OFFICER_ROLES:
        raise ConsoleForbidden()
    return user


async def duty_room(user: Annotated[ConsoleUser, Depends(ready_user)]) -> ConsoleUser:
    """Anyone but a grid monitor: the pages of the whole duty room, not bounded to a grid (the shift log's notes)."""
    if user.role == "grid_monitor":
        raise ConsoleForbidden()
    return user


async def admin(user: Annotated[ConsoleUser, Depends(ready_user)]) -> ConsoleUser:
    if user.role != "admin":
        raise ConsoleForbidden()
    return user


async def checked_form(request: Request, user: ConsoleUser) -> FormData:
    """The POST's form once its CSRF token matches the session's; read only after the session was checked."""
    form = await request.form(max_part_size=MAX_FORM_FIELD_BYTES)
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not secrets.compare_digest(sent, user.csrf_token):
        raise CsrfRefused()
    return form


User = Annotated[ConsoleUser, Depends(ready_user)]
Officer = Annotated[ConsoleUser, Depends(officer)]
DutyRoom = Annotated[ConsoleUser, Depends(duty_room)]
Admin = Annotated[ConsoleUser, Depends(admin)]


def set_cookie(request: Request, response: Any, name: str, value: str, *, max_age: int | None = None,
               http_only: bool = True) -> None:
    """A console cookie: HttpOnly, SameSite=Lax, path /console, Secure over HTTPS."""
    secure = request.app.state.settings.console_secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(name, value, max_age=max_age, path=CONSOLE_PREFIX, httponly=http_only, samesite="lax",
                        secure=secure)


def redirect(path: str) -> RedirectResponse:
    """After a POST, the page to show (303: the browser GETs it)."""
    return RedirectResponse(path, status_code=303)


def _sign_in_redirect(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("HX-Request"):
        # Not a redirect: htmx would follow it and swap the sign-in page into the fragment (into the alert queue,
        # which would then look empty and fall silent). console.js answers a 401: the queue says it is signed out
        # and keeps sounding, any other page goes to the sign-in form.
        return Response(status_code=401, headers={"X-Sign-In": f"{CONSOLE_PREFIX}/login?next={quote(target)}"})
    return RedirectResponse(f"{CONSOLE_PREFIX}/login?next={quote(target)}", status_code=303)


def _password_change_redirect(_request: Request, _exc: Exception) -> RedirectResponse:
    return RedirectResponse(f"{CONSOLE_PREFIX}/password", status_code=303)


def _forbidden(request: Request, _exc: Exception) -> HTMLResponse:
    return render(request, "error.html", {"message": translate(request, "Your role may not do this.")},
                  status_code=403)


def _csrf_refused(request: Request, _exc: Exception) -> HTMLResponse:
    return render(request, "error.html", {"message": translate(
        request, "The form was refused: it did not carry this session's security token. Reload the page and try "
                 "again.")}, status_code=403)


def install(app: Any) -> None:
    """The console's answers to its own exceptions: pages and redirects, not the API's JSON; and a domain error
    (a point or alert not found, say) on a console path as a page too."""
    api_answer = app.exception_handlers[errors.DomainError]

    async def domain_error(request: Request, exc: errors.DomainError) -> Response:
        if not request.url.path.startswith(CONSOLE_PREFIX + "/"):
            return await api_answer(request, exc)
        return render(request, "error.html", {"message": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(errors.DomainError, domain_error)
    app.add_exception_handler(SignInRequired, _sign_in_redirect)
    app.add_exception_handler(PasswordChangeRequired, _password_change_redirect)
    app.add_exception_handler(ConsoleForbidden, _forbidden)
    app.add_exception_handler(CsrfRefused, _csrf_refused)

