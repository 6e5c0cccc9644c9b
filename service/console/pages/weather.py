"""Meteorological risk warnings: the list, a duty officer's form to post one for counties or for the polygon of a
GeoJSON file, and each warning's page with the rain patrol tasks it created and the device broadcasts it made.

Posting goes through service.weather.create_warning exactly as POST /api/v1/weather-warnings does (the body
validated by the same WeatherWarningCreate, the broadcast sent in the officer's name), so its effects are the
API's: the warning, its points and their rain tasks in one transaction, then the broadcast. A form that does not
validate is shown again with what is wrong, in the reader's language, and nothing is written.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from sensors.commands import MAX_EFFECTIVE_TIME_S
from service.auth.scope import scoped_person
from service.console import words
from service.console.web import CONSOLE_PREFIX, DUTY_TIME_ZONE, Officer, User, checked_form, redirect, render, translate
from service.deps import BrokerDep, ConnDep
from service.errors import Invalid
from service.patrols.router import MAX_ID
from service.weather import service as weather_service
from service.weather.schemas import WeatherWarningCreate, WeatherWarningQuery

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/weather", include_in_schema=False)
# The warnings listed, newest first.
WARNING_ROWS = 100
# A warning over a whole county makes thousands of tasks: its page lists the first of them and says how many.
EFFECT_ROWS = 500
# A GeoJSON outline of a county traced along its border is a few hundred kilobytes; this is plenty.
MAX_POLYGON_FILE_BYTES = 4 * 1024 * 1024
# The form's default validity: from now, for a day (the meteorological service's usual 24 hours).
DEFAULT_VALIDITY = timedelta(hours=24)
# The datetime-local inputs' format: the duty room's local time, to the minute.
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
POLYGON_TYPES = ("Polygon", "MultiPolygon")


class FormProblem(Exception):
    """The form cannot make a warning; the message is in the reader's language."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@router.get("", response_class=HTMLResponse)
async def weather_page(request: Request, conn: ConnDep, user: User) -> HTMLResponse:
    return await _page(request, conn, user)


@router.post("", response_class=HTMLResponse)
async def post_warning(request: Request, conn: ConnDep, broker: BrokerDep, user: Officer) -> Response:
    form = await checked_form(request, user)
    try:
        warning_create = _validated(request, await _body(request, form))
        created = await weather_service.create_warning(
            conn=conn, send_command=broker.commands_by(user.caller.actor), warning_create=warning_create,
            author=user.caller.actor, now=datetime.now(UTC))
    except FormProblem as problem:
        return await _page(request, conn, user, error=problem.message, form=_sticky(form), status_code=422)
    except Invalid as refused:  # create_warning's own checks: over already, or too long for the devices
        return await _page(request, conn, user, error=_explain_refusal(request, refused), form=_sticky(form),
                           status_code=422)
    return redirect(f"{CONSOLE_PREFIX}/weather/{created.id}?posted=1")


@router.get("/{warning_id}", response_class=HTMLResponse)
async def warning_page(request: Request, conn: ConnDep, user: User,
                       warning_id: Annotated[int, Path(ge=1, le=MAX_ID)], posted: bool = False) -> HTMLResponse:
    now = datetime.now(UTC)
    warning = await weather_service.get_warning(conn=conn, warning_id=warning_id, now=now)
    person = scoped_person(user.caller)
    return render(request, "weather_warning.html", {
        "warning": warning, "posted": posted, "now": now,
        "tasks": await weather_service.warning_tasks(conn=conn, warning_id=warning_id, scoping_person=person,
                                                     limit=EFFECT_ROWS),
        "broadcasts": await weather_service.warning_broadcasts(conn=conn, warning_id=warning_id,
                                                               scoping_person=person, limit=EFFECT_ROWS),
        "task_states": words.TASK_STATES,
    })


async def _page(request: Request, conn, user, *, error: str | None = None, form: dict | None = None,
                status_code: int = 200) -> HTMLResponse:
    now = datetime.now(UTC)
    warnings, count = await weather_service.list_warnings(conn=conn, query=WeatherWarningQuery(limit=WARNING_ROWS),
                                                          now=now)
    starts = now.astimezone(DUTY_TIME_ZONE).replace(second=0, microsecond=0)
    return render(request, "weather.html", {
        "warnings": warnings, "count": count, "error": error, "now": now,
        "counties": await weather_service.counties(conn=conn, scoping_person=scoped_person(user.caller)),
        "form": form or {"level": "orange", "valid_from": starts.strftime(LOCAL_INPUT),
                         "valid_to": (starts + DEFAULT_VALIDITY).strftime(LOCAL_INPUT), "county_codes": [],
                         "county_list": "", "issuer": "", "note": ""},
    }, status_code=status_code)


async def _body(request: Request, form: FormData) -> dict[str, Any]:
    """The API's request body from the form: the same fields, the times read as the duty room's local time."""
    body: dict[str, Any] = {"level": _text(form, "level")}
    for field in ("valid_from", "valid_to"):
        body[field] = _local_time(request, _text(form, field))
    for field in ("issuer", "note"):
        if _text(form, field):
            body[field] = _text(form, field)
    counties = [code for code in form.getlist("county_codes") if isinstance(code, str) and code.strip()]
    counties += [code.strip() for code in (_text(form, "county_list") or "").replace("，", ",").split(",")]
    counties = list(dict.fromkeys(code.strip() for code in counties if code.strip()))
    if counties:
        body["county_codes"] = counties
    upload = form.get("polygon_file")
    if isinstance(upload, UploadFile) and upload.filename:
        body["polygon"] = await _polygon_of(request, upload)
    return body


def _validated(request: Request, body: dict[str, Any]) -> WeatherWarningCreate:
    try:
        return WeatherWarningCreate.model_validate(body)
    except ValidationError as e:
        raise FormProblem(_explain(request, e.errors(include_url=False)[0])) from None


async def _polygon_of(request: Request, upload: UploadFile) -> dict[str, Any]:
    """The polygon geometry of an uploaded GeoJSON file: a Feature, a FeatureCollection of one feature, or a bare
    Polygon or MultiPolygon. Its coordinates are left for WeatherWarningCreate to check, as the API's are."""
    content = await upload.read(MAX_POLYGON_FILE_BYTES + 1)
    if len(content) > MAX_POLYGON_FILE_BYTES:
        raise FormProblem(translate(request, "The polygon file is larger than %(size)d MiB.") % {
            "size": MAX_POLYGON_FILE_BYTES // (1024 * 1024)})
    if not content.strip():
        raise FormProblem(translate(request, "The polygon file is empty."))
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FormProblem(translate(request, "The polygon file is not text in UTF-8: choose a GeoJSON file.")) from None
    except ValueError as e:
        raise FormProblem(translate(request, "The polygon file is not GeoJSON: it is not valid JSON (line %(line)d).")
                          % {"line": getattr(e, "lineno", 1)}) from None
    geometry = _geometry_of(request, document)
    return {"type": geometry["type"], "coordinates": geometry.get("coordinates")}


def _geometry_of(request: Request, document: Any) -> dict[str, Any]:
    kind = document.get("type") if isinstance(document, dict) else None
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise FormProblem(translate(
                request, "The file's FeatureCollection holds %(count)d features: give exactly one, the polygon.") % {
                "count": len(features) if isinstance(features, list) else 0})
        document, kind = features[0], features[0].get("type") if isinstance(features[0], dict) else None
    if kind == "Feature":
        document = document.get("geometry")
        kind = document.get("type") if isinstance(document, dict) else None
    if kind in POLYGON_TYPES:
        return document
    if kind is None:
        raise FormProblem(translate(request, "The polygon file is not GeoJSON: it names no geometry type."))
    raise FormProblem(translate(request, "The file holds a GeoJSON %(kind)s, not a Polygon or MultiPolygon.") % {
        "kind": str(kind)[:40]})


def _local_time(request: Request, value: str | None) -> str | None:
    """A datetime-local input as an aware time in the duty room's zone (as ISO text, for the API's model)."""
    if not value:
        return None
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise FormProblem(translate(request, "Give when the warning starts and ends, as a date and a time.")) from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=DUTY_TIME_ZONE)
    return local.isoformat()


def _explain(request: Request, error: dict[str, Any]) -> str:
    """The first thing wrong with the body, worded for the officer who filled in the form."""
    field = str(error["loc"][0]) if error["loc"] else ""
    message, kind = str(error.get("msg", "")), error.get("type", "")
    if "give the area one way only" in message:
        return translate(request, "Give the area one way: counties, or a polygon file, not both.")
    if "the area is missing" in message:
        return translate(request, "Give the area: choose counties, type their codes, or choose a polygon file.")
    if field == "level":
        return translate(request, "Choose the warning's level.")
    if field == "county_codes":
        return translate(request, "A county code is six digits, such as 500113: %(code)s is not one.") % {
            "code": str(error.get("input", ""))[:40]}
    if field in ("valid_from", "valid_to"):
        if "must be after valid_from" in message:
            return translate(request, "The warning must end after it starts.")
        return translate(request, "Give when the warning starts and ends, as a date and a time.")
    if field == "polygon":
        return _explain_polygon(request, message, kind)
    if field in ("issuer", "note"):
        return translate(request, "The issuer or the note is too long, or holds a character that cannot be stored.")
    return f"{translate(request, 'Check the form')}: {field}: {message}"


def _explain_polygon(request: Request, message: str, kind: str) -> str:
    if "must end where it starts" in message:
        problem = translate(request, "a ring does not end where it starts")
    elif kind == "too_short":
        problem = translate(request, "a ring has fewer than four positions, or the polygon has no ring")
    elif "longitude" in message:
        problem = translate(request, "a longitude is not between -180 and 180")
    elif "latitude" in message:
        problem = translate(request, "a latitude is not between -90 and 90")
    elif kind == "too_long":
        problem = translate(request, "a ring has more positions than allowed")
    else:
        problem = translate(request, "its coordinates are not lists of [longitude, latitude] positions")
    return translate(request, "The polygon file is not a valid GeoJSON polygon: %(problem)s.") % {"problem": problem}


def _explain_refusal(request: Request, refused: Invalid) -> str:
    if "over already" in refused.detail:
        return translate(request, "The warning is over already: its end is not in the future.")
    if "days from now" in refused.detail:
        return translate(request, "The warning ends more than %(days)d days from now; devices hold a warning for "
                                  "at most that long.") % {"days": MAX_EFFECTIVE_TIME_S // 86_400}
    return refused.detail


def _sticky(form: FormData) -> dict[str, Any]:
    """What the officer typed, to fill the form in again (a file input cannot be refilled)."""
    return {"level": _text(form, "level") or "", "valid_from": _text(form, "valid_from") or "",
            "valid_to": _text(form, "valid_to") or "", "county_list": _text(form, "county_list") or "",
            "county_codes": [c for c in form.getlist("county_codes") if isinstance(c, str)],
            "issuer": _text(form, "issuer") or "", "note": _text(form, "note") or ""}


def _text(form: FormData, field: str) -> str | None:
    value = form.get(field)
    return value.strip() or None if isinstance(value, str) else None
