"""Where the console hangs on the API's app: its pages, its static files and its error pages."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.console import web
from service.console.pages import ROUTERS

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Mount the console on the API's app."""
    web.install(app)
    app.mount(f"{web.CONSOLE_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
