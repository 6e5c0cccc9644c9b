"""The public pages' routes (no sign-in): points near me or in a place, a point's card, the current warnings and
their Atom feed of CAP messages; and the language switch."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.console import i18n
from service.deps import ConnDep
from service.public import atom
from service.public import service as public_service
from service.public.web import LANGUAGE_COOKIE, LANGUAGE_COOKIE_AGE_S, PUBLIC_PREFIX, render

router = APIRouter(prefix=PUBLIC_PREFIX, include_in_schema=False)
# An administrative division code (GB/T 2260 and its township and village extensions): digits only; the place form
# sends a select left at "any" as an empty value.
DivisionCode = Annotated[str | None, Query(pattern=r"^(\d{6,12})?$")]


@router.get("", response_class=HTMLResponse)
async def find_points(request: Request, conn: ConnDep,
                      lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
                      lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
                      county: DivisionCode = None, township: DivisionCode = None,
                      village: DivisionCode = None) -> HTMLResponse:
    """Points near a position (the phone's, sent by the page's script), or in a chosen place."""
    near = place = None
    place_count = 0
    if lat is not None and lon is not None:
        near = await public_service.nearby(conn=conn, lon=lon, lat=lat)
    elif county or township or village:
        place, place_count = await public_service.in_place(conn=conn, county_code=county or None,
                                                           township_code=township or None, village_code=village or None)
    return render(request, "find.html", {
        "near": near, "place": place, "place_count": place_count, "radius_km": public_service.NEARBY_RADIUS_M / 1000,
        "divisions": await public_service.divisions(conn=conn),
        "chosen": {"county": county, "township": township, "village": village},
    })


@router.get("/points/{code}", response_class=HTMLResponse)
async def point_card(request: Request, conn: ConnDep, code: str) -> HTMLResponse:
    """A public point's disaster-avoidance card and its current level."""
    return render(request, "card.html", {"card": await public_service.public_card(conn=conn, code=code)})


@router.get("/warnings", response_class=HTMLResponse)
async def current_warnings(request: Request, conn: ConnDep) -> HTMLResponse:
    """The unresolved orange and red alerts of public points, and the meteorological risk warnings valid now."""
    alerts, count = await public_service.warnings(conn=conn)
    return render(request, "warnings.html", {
        "alerts": alerts, "alert_count": count,
        "weather": await public_service.weather_warnings(conn=conn, now=datetime.now(UTC)),
    })


@router.get("/cap.atom")
async def cap_feed(request: Request, conn: ConnDep) -> Response:
    """The current public warnings as an Atom feed of CAP 1.2 messages, one entry per alert."""
    # The sender the API's /alerts/{id}/cap names: the same alert is the same message, whichever way it is fetched.
    sender = f"geohazard@{request.url.hostname or 'localhost'}"
    messages = await public_service.cap_messages(conn=conn, sender=sender)
    body = atom.feed(
        messages=[(message, str(request.url_for("point_card", code=w.point))) for w, message in messages],
        feed_url=str(request.url_for("cap_feed")), page_url=str(request.url_for("current_warnings")),
        updated=datetime.now(UTC))
    return Response(body, media_type=atom.MEDIA_TYPE)


@router.get("/language/{locale}")
async def choose_language(request: Request, locale: str, next: str = PUBLIC_PREFIX) -> RedirectResponse:
    """Keep the reader's language and go back to the page they were on (a public page only)."""
    target = urlsplit(next)
    public = target.path == PUBLIC_PREFIX or target.path.startswith(PUBLIC_PREFIX + "/")
    if target.scheme or target.netloc or not public:
        next = PUBLIC_PREFIX
    response = RedirectResponse(next, status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, i18n.pick_locale(locale), max_age=LANGUAGE_COOKIE_AGE_S, path=PUBLIC_PREFIX,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response
