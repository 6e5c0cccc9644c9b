"""The map of hazard points: each point the person may see, coloured by its current level, clustered at low zoom.

The page loads its points from `points.json`: parallel arrays built by PostgreSQL in one statement (20,000 points,
1.9 MB, in about 30 ms on an idle 2-core machine; the same rows fetched and dumped by Python took half as long
again, and GeoJSON would be twice the size). The base layer is the setting
map_tiles: an XYZ URL template the browser fetches, a directory of tiles this app serves itself to signed-in
people (a licensed tile set must not be public), or none, a plain background with a coordinate grid.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from alerting.levels import LEVEL_NAMES
from runtime.settings import Settings
from service.auth.scope import scoped_person
from service.console import words
from service.console.accounts import Q
from service.console.web import CONSOLE_PREFIX, User, render, translate
from service.deps import ConnDep

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/map", include_in_schema=False)
TILE_PATH = f"{CONSOLE_PREFIX}/map/tiles/{{z}}/{{x}}/{{y}}.png"
# Deeper than any tile set one would keep on disk (zoom 22 is a few centimetres per pixel).
MAX_TILE_ZOOM = 24
# Where the map looks when the person may see no point: mainland China.
EMPTY_VIEW = {"center": [35.0, 105.0], "zoom": 4}
# Tiles of a local set change only when the operator replaces the set: a day in the browser's cache.
TILE_CACHE = "private, max-age=86400"


class BadTileSetting(ValueError):
    """GEOHAZARD_MAP_TILES names no usable tile source."""


@dataclass(frozen=True)
class TileSource:
    """The map's base layer as the page needs it: what kind, the URL template, and for a directory its zoom levels."""

    kind: Literal["none", "url", "directory"]
    url: str | None = None
    directory: Path | None = None
    max_native_zoom: int | None = None
    attribution: str = ""


def tile_source(settings: Settings) -> TileSource:
    """The base layer the setting names; BadTileSetting, saying what is wrong, when the directory is not usable."""
    value, attribution = settings.map_tiles, settings.map_tiles_attribution
    if value == "none":
        return TileSource("none", attribution=attribution)
    if "://" in value:  # Settings has checked the template: http(s), a host, {z}, {x} and {y}
        return TileSource("url", url=value, attribution=attribution)
    directory = Path(value).expanduser().resolve()
    if not directory.is_dir():
        raise BadTileSetting(f"the map's tile directory {directory} does not exist or is not a directory (set "
                             f"GEOHAZARD_MAP_TILES to a directory of {{z}}/{{x}}/{{y}}.png tiles, an http(s) XYZ "
                             f"template, or none)")
    zooms = [int(child.name) for child in directory.iterdir()
             if child.is_dir() and child.name.isdecimal() and int(child.name) <= MAX_TILE_ZOOM]
    if not zooms:
        raise BadTileSetting(f"the map's tile directory {directory} holds no zoom level: it should hold "
                             f"{{z}}/{{x}}/{{y}}.png tiles, e.g. {directory}/0/0/0.png")
    return TileSource("directory", url=TILE_PATH, directory=directory, max_native_zoom=max(zooms),
                      attribution=attribution)


@router.get("", response_class=HTMLResponse)
async def map_page(request: Request, user: User) -> HTMLResponse:
    tiles: TileSource = request.app.state.map_tiles
    config = {
        "points": f"{CONSOLE_PREFIX}/map/points.json",
        "pointPage": f"{CONSOLE_PREFIX}/points/",
        "tiles": {"kind": tiles.kind, "url": tiles.url, "maxNativeZoom": tiles.max_native_zoom,
                  "attribution": tiles.attribution},
        "levels": LEVEL_NAMES,
        "emptyView": EMPTY_VIEW,
        "labels": {
            **{name: translate(request, name) for name in (*LEVEL_NAMES, *words.HAZARD_TYPES)},
            "level": translate(request, "Level"),
            "open": translate(request, "Open the point's page"),
            "count": translate(request, "%(shown)s of %(total)s points shown") % {"shown": "{shown}",
                                                                                  "total": "{total}"},
            "failed": translate(request, "The points could not be loaded; reload the page."),
        },
    }
    return render(request, "map.html", {"config": config, "levels": LEVEL_NAMES,
                                        "hazard_types": words.HAZARD_TYPES})


@router.get("/points.json")
async def points(conn: ConnDep, user: User) -> Response:
    """Every point the person may see as parallel arrays (code, name, type, lon, lat, county, township, level):
    level is the rank in LEVEL_NAMES of the highest level among the point's unresolved alerts."""
    body = await conn.fetchval(Q["map_points"], scoped_person(user.caller))
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/tiles/{z:int}/{x:int}/{y:int}.png")
async def tile(request: Request, user: User, z: int, x: int, y: int) -> Response:
    """One tile of the local tile directory. The path is built from three bounded integers only, so no request
    can name a file outside the directory."""
    tiles: TileSource = request.app.state.map_tiles
    if tiles.directory is None or z > MAX_TILE_ZOOM or x >= 2**z or y >= 2**z:
        return Response(status_code=404)
    path = tiles.directory / str(z) / str(x) / f"{y}.png"
    if not path.is_file():  # beyond the set's extent: the map shows the background there
        return Response(status_code=404)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": TILE_CACHE})
