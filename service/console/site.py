"""Where the console hangs on the API's app: its pages, its static files and its error pages."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.console import web
from service.console.pages import ROUTERS
from service.console.pages.map import tile_source

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Mount the console on the API's app; a map tile setting it cannot use stops the app here (BadTileSetting)."""
    web.install(app)
    app.state.map_tiles = tile_source(app.state.settings)
    app.mount(f"{web.CONSOLE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
