"""What every page of the phone app shares: the phone's session, its CSRF check, rendering in the monitor's language,
and the app's answers to its own exceptions.

The session cookie is HttpOnly, SameSite=Strict, path /field, and lasts 400 days (the most Chrome keeps a cookie),
renewed as the app is used: a monitor activates a phone once. Reports are sent from script (the outbox), so they
carry the phone's CSRF token in a header, which a form on another site cannot set.
"""

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from service import errors
from service.console import i18n
from service.db import get_pool
from service.field import phones
from service.field.phones import FieldUser

FIELD_PREFIX = "/field"
SESSION_COOKIE = "geohazard_phone"
LANGUAGE_COOKIE = "geohazard_lang"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE_AGE_S = 400 * 86_400
# What the app's script asks for: an answer in JSON, never a page (the outbox reads the server's reason).
JSON_PATHS = (f"{FIELD_PREFIX}/reports",)
PACKAGE_DIR = Path(__file__).parent


class PhoneNotActivated(Exception):
    """No live phone session: the phone was never activated here, or an administrator revoked it."""


class CsrfRefused(Exception):
    """The request did not carry the phone's CSRF token."""


PAGES = i18n.Pages("service.field", PACKAGE_DIR, FIELD_PREFIX, LANGUAGE_COOKIE)
translate = PAGES.translate
untranslated = PAGES.untranslated
request_locale = PAGES.request_locale


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """A page of the app in the monitor's language, with the phone's person when there is one."""
    return PAGES.render(request, name, {"user": getattr(request.state, "field_user", None), **(context or {})},
                        status_code=status_code)


async def field_user(request: Request) -> FieldUser:
    """The person of the phone's live session; PhoneNotActivated without one."""
    session_id = request.cookies.get(SESSION_COOKIE)
    user = await phones.phone_user(await get_pool(request), session_id) if session_id else None
    if user is None:
        raise PhoneNotActivated()
    request.state.field_user = user
    return user


async def maybe_field_user(request: Request) -> FieldUser | None:
    """The phone's person, or None: for the pages a phone without a session still needs (its outbox)."""
    try:
        return await field_user(request)
    except PhoneNotActivated:
        return None


async def checked_user(request: Request, user: Annotated[FieldUser, Depends(field_user)]) -> FieldUser:
    """The phone's person, once the request carries the phone's CSRF token in its header."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not secrets.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise CsrfRefused()
    return user


Monitor = Annotated[FieldUser, Depends(field_user)]
MaybeMonitor = Annotated[FieldUser | None, Depends(maybe_field_user)]
CheckedMonitor = Annotated[FieldUser, Depends(checked_user)]


def set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, max_age=SESSION_COOKIE_AGE_S, path=FIELD_PREFIX, httponly=True,
                        samesite="strict", secure=_secure(request))


def set_language_cookie(request: Request, response: Response, locale: str) -> None:
    response.set_cookie(LANGUAGE_COOKIE, i18n.pick_locale(locale), max_age=SESSION_COOKIE_AGE_S, path=FIELD_PREFIX,
                        httponly=True, samesite="lax", secure=_secure(request))


def _secure(request: Request) -> bool:
    secure = request.app.state.settings.console_secure_cookies
    return request.url.scheme == "https" if secure is None else secure


def _wants_json(request: Request) -> bool:
    return request.url.path in JSON_PATHS


def _not_activated(request: Request, _exc: Exception) -> Response:
    if _wants_json(request):
        # The outbox keeps the report and tells the monitor: nothing is lost while the phone is activated again.
        return JSONResponse({"detail": translate(request, "This phone is not activated: ask your county's "
                                                          "administrator for an activation code.")}, status_code=401)
    return RedirectResponse(f"{FIELD_PREFIX}/activate", status_code=303)


def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return JSONResponse({"detail": translate(request, "The report did not carry this phone's security token: "
                                                      "open the app again and send it once more.")}, status_code=403)


def install(app: Any) -> None:
    """The app's answers to its own exceptions; a domain error on a page of the app as a page, on the outbox's path
    as the API's JSON."""
    earlier = app.exception_handlers[errors.DomainError]

    async def domain_error(request: Request, exc: errors.DomainError) -> Response:
        if not request.url.path.startswith(FIELD_PREFIX + "/") or _wants_json(request):
            return await earlier(request, exc)
        return render(request, "error.html", {"message": exc.detail}, status_code=exc.status_code)

    app.add_exception_handler(errors.DomainError, domain_error)
    app.add_exception_handler(PhoneNotActivated, _not_activated)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
