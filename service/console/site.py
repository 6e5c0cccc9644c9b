"""Where the console hangs on the API's app: its pages, its static files and its error pages."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.console import web
from service.console.pages import ROUTERS
from service.console.pages.map import tile_source

STATIC_DIR = Path(__file__).parent / "static"
# What a console request may send (service.limits.BodyGuard). The sign-in and language forms are read before anyone
# is known: a few fields. Every other form is read only after its session was checked; the largest is a weather
# warning's GeoJSON polygon.
BODY_LIMITS = {
    f"{web.CONSOLE_PREFIX}/login": 16 * 1024,
    f"{web.CONSOLE_PREFIX}/language": 4 * 1024,
    f"{web.CONSOLE_PREFIX}/": 2 * web.MAX_FORM_FIELD_BYTES,
}


def mount(app: FastAPI) -> None:
    """Mount the console on the API's app; a map tile setting it cannot use stops the app here (BadTileSetting)."""
    web.install(app)
    app.state.map_tiles = tile_source(app.state.settings)
    app.mount(f"{web.CONSOLE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
