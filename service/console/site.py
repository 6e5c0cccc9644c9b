"""Where the console hangs on the API's app: its pages, its static files and its error pages."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

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


class CompressedPages:
    """ASGI middleware: gzip for the console's pages and data (the map's points are 1.9 MB of JSON at 20,000 points,
    a county's link to the duty room may be slow), never for its event stream, which must not wait in a buffer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Level 1: the map's 1.2-1.9 MB of points to a quarter in about 7 ms; level 5 saves 10% more in three times
        # the CPU, and level 9 (Starlette's default) 15% more in twenty times.
        self.compressed = GZipMiddleware(app, minimum_size=1024, compresslevel=1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(web.CONSOLE_PREFIX + "/") and not path.endswith("/stream"):
            await self.compressed(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def mount(app: FastAPI) -> None:
    """Mount the console on the API's app; a map tile setting it cannot use stops the app here (BadTileSetting)."""
    web.install(app)
    app.add_middleware(CompressedPages)
    app.state.map_tiles = tile_source(app.state.settings)
    app.mount(f"{web.CONSOLE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
