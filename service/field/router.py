"""The phone app's routes (`/field`): activation, the monitor's pages, the outbox's report endpoint, and what makes
it an installable offline app (the manifest, the service worker, the offline page)."""

import hashlib
import json
import secrets
from contextlib import AsyncExitStack
from functools import cache
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from service.deps import BrokerDep, ConnDep, PoolDep
from service.field import phones, web
from service.field import service as field_service
from service.field.web import FIELD_PREFIX, CheckedMonitor, MaybeMonitor, Monitor, render, translate
from service.patrols import service as patrol_service
from service.patrols.router import PhotoStoreDep, photo_url, read_report

router = APIRouter(prefix=FIELD_PREFIX, include_in_schema=False)
STATIC_DIR = web.PACKAGE_DIR / "static"
TEMPLATES_DIR = web.PACKAGE_DIR / "templates"
LOCALE_DIR = web.PACKAGE_DIR / "locale"
ACTIVATE_PATH = phones.ACTIVATE_PATH
ACTIVATE_CSRF_COOKIE = "geohazard_activate_csrf"
ACTIVATE_CSRF_FIELD = "csrf_token"
# The files the service worker keeps from its installation on: the app shell. Pages are cached as they are fetched.
SHELL_FILES = ("field.css", "field.js", "outbox.js", "icon.svg", "icon-192.png", "icon-512.png",
               "vendor/idb/idb.umd.js")
OFFLINE_PATH = f"{FIELD_PREFIX}/offline"
# The person who made a report on the phone, as the outbox sends it with each report.
MAKER_HEADER = "X-Field-Person"


@router.get("", include_in_schema=False)
async def app_root() -> RedirectResponse:
    """The app lives at /field/: the service worker's scope is the folder it is served from."""
    return RedirectResponse(f"{FIELD_PREFIX}/", status_code=308)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, conn: ConnDep, user: Monitor) -> HTMLResponse:
    """My tasks (overdue first), my points' alerts, my points; the session cookie is renewed here."""
    response = render(request, "home.html", {"home": await field_service.home(conn=conn, caller=user.caller)})
    web.set_session_cookie(request, response, request.cookies[web.SESSION_COOKIE])
    return response


@router.get("/now", response_class=HTMLResponse)
async def now(request: Request, conn: ConnDep, user: Monitor) -> HTMLResponse:
    """The home page's tasks and alerts, as the app refreshes them every minute."""
    return render(request, "now.html", {"home": await field_service.home(conn=conn, caller=user.caller)})


@router.get("/points/{code}", response_class=HTMLResponse)
async def point_page(request: Request, conn: ConnDep, user: Monitor, code: str) -> HTMLResponse:
    """One of my points: its level, card, open tasks, alerts, and the dangerous button."""
    return render(request, "point.html", {"view": await field_service.point(conn=conn, caller=user.caller, code=code)})


@router.get("/points/{code}/report", response_class=HTMLResponse)
async def report_form(request: Request, conn: ConnDep, user: Monitor, code: str) -> HTMLResponse:
    """The report form of a point; the task comes from `?task=` (read by the page's script, so that one cached copy
    serves every task of the point offline)."""
    return render(request, "report.html", {
        "view": await field_service.point(conn=conn, caller=user.caller, code=code),
        "photo_max_px": request.app.state.settings.field_photo_max_px,
        "photos_per_report": request.app.state.settings.patrol_photos_per_report,
    })


@router.get("/outbox", response_class=HTMLResponse)
async def outbox(request: Request, user: MaybeMonitor) -> HTMLResponse:
    """The reports waiting on this phone (the page's script reads them from IndexedDB); shown to a phone whose
    session ended too, so that the monitor sees what waits for the phone to be activated again."""
    return render(request, "outbox.html")


@router.post("/reports", status_code=status.HTTP_201_CREATED)
async def send_report(request: Request, pool: PoolDep, broker: BrokerDep, store: PhotoStoreDep,
                      user: CheckedMonitor) -> JSONResponse:
    """A report from the outbox, as the API's POST /patrol-reports takes it, filed for the phone's person. A report
    whose client id is stored already is answered 200 with that report: the outbox may send one many times.
    A report made on this phone by another person (X-Field-Person, the phone activated since for someone else) is
    refused with 409 and `held`: the outbox keeps it, and it is never filed in this person's name."""
    maker = request.headers.get(MAKER_HEADER)
    if maker and maker != str(user.person_id):
        return JSONResponse({"detail": translate(request, "This report was made on this phone by another person: it "
                                                          "is kept on the phone, not filed in your name."),
                             "held": True}, status_code=status.HTTP_409_CONFLICT)
    async with AsyncExitStack() as stack:
        report, uploads = await read_report(request, stack)
        created = await patrol_service.create_report(
            pool=pool, broker=broker, store=store, settings=request.app.state.settings, reporter=user.caller,
            report=report, uploads=uploads, photo_url=photo_url(request))
    return JSONResponse(created.model_dump(mode="json"),
                        status_code=status.HTTP_200_OK if created.duplicate else status.HTTP_201_CREATED)


@router.get("/activate", response_class=HTMLResponse)
async def activate_form(request: Request, code: str = "") -> HTMLResponse:
    """The activation page: the code from the QR code's link filled in, or typed; nothing happens until the
    monitor presses the button (a link preview must not use up the code)."""
    token = secrets.token_urlsafe(32)
    response = render(request, "activate.html", {"code": phones.normalise_code(code)[:phones.CODE_LENGTH],
                                                 "csrf_token": token})
    response.set_cookie(ACTIVATE_CSRF_COOKIE, token, path=ACTIVATE_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.post("/activate", response_class=HTMLResponse)
async def activate(request: Request, conn: ConnDep) -> Response:
    """Bind this phone with the code, and open the app."""
    form = await request.form(max_fields=4, max_files=0, max_part_size=1024)
    expected = request.cookies.get(ACTIVATE_CSRF_COOKIE)
    sent = form.get(ACTIVATE_CSRF_FIELD)
    code = form.get("code")
    code = code if isinstance(code, str) else ""
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return render(request, "activate.html", {"code": code, "csrf_token": expected or "", "error": translate(
            request, "This page has expired. Open the activation link again.")}, status_code=403)
    try:
        session_id = await phones.activate(conn, code=code, label=request.headers.get("user-agent"),
                                           address=request.client.host if request.client else None,
                                           replacing=request.cookies.get(web.SESSION_COOKIE))
    except phones.CodeRefused:
        return render(request, "activate.html", {"code": code, "csrf_token": expected, "error": translate(
            request, "This code is wrong, already used, withdrawn or expired. Check it, or ask your county's "
                     "administrator for a new one.")}, status_code=422)
    except phones.CodeLocked as exc:
        return render(request, "activate.html", {"code": code, "csrf_token": expected, "error": translate(
            request, "Too many wrong codes from this connection. Wait %(seconds)s seconds and try again.")
            % {"seconds": exc.wait_s}}, status_code=429)
    response = RedirectResponse(f"{FIELD_PREFIX}/", status_code=303)
    web.set_session_cookie(request, response, session_id)
    response.delete_cookie(ACTIVATE_CSRF_COOKIE, path=ACTIVATE_PATH)
    return response


@router.get("/offline", response_class=HTMLResponse)
async def offline_page(request: Request) -> HTMLResponse:
    """What the service worker shows for a page it never cached while there is no signal."""
    return render(request, "offline.html")


@router.get("/manifest.webmanifest")
async def manifest(request: Request) -> Response:
    """The web app manifest: installable from the browser's menu, opening full screen at the monitor's home."""
    body = {
        "name": translate(request, "Geohazard patrol"),
        "short_name": translate(request, "Patrol"),
        "description": translate(request, "My hazard points, tasks and reports, also without signal."),
        "lang": "zh-CN" if web.request_locale(request) == "zh" else "en",
        "start_url": f"{FIELD_PREFIX}/",
        "scope": f"{FIELD_PREFIX}/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f8f9fa",
        "theme_color": "#1b2a3a",
        "icons": [
            {"src": f"{FIELD_PREFIX}/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": f"{FIELD_PREFIX}/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {"src": f"{FIELD_PREFIX}/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/manifest+json")


@router.get("/sw.js")
async def service_worker() -> Response:
    """The service worker, with the app shell's files and their content hashes: a new release changes a hash, so
    phones fetch the new shell the next time they are online. Never cached by HTTP, so that check is always made."""
    return Response(_service_worker_source(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@cache
def _service_worker_source() -> str:
    shell = [{"url": f"{FIELD_PREFIX}/static/{name}", "revision": _file_hash(name)} for name in SHELL_FILES]
    # The offline page is rendered: its revision follows its templates and its translations.
    offline = hashlib.sha256()
    for path in (TEMPLATES_DIR / "base.html", TEMPLATES_DIR / "offline.html", *sorted(LOCALE_DIR.glob("*/*.po"))):
        offline.update(path.read_bytes())
    shell.append({"url": OFFLINE_PATH, "revision": offline.hexdigest()[:16]})
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    return source.replace("self.__SHELL", json.dumps(shell), 1)


def _file_hash(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:16]


@router.get("/language/{locale}")
async def choose_language(request: Request, locale: str,
                          next: Annotated[str, Query(max_length=2000)] = f"{FIELD_PREFIX}/") -> RedirectResponse:
    """Keep the monitor's language and go back to the app's page they were on."""
    target = urlsplit(next)
    if target.scheme or target.netloc or not target.path.startswith(FIELD_PREFIX + "/"):
        next = f"{FIELD_PREFIX}/"
    response = RedirectResponse(next, status_code=303)
    web.set_language_cookie(request, response, locale)
    return response
