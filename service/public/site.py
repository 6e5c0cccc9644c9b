"""Where the public pages hang on the API's app: their routes, their static files and their error pages."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.public import report, web
from service.public.router import router

STATIC_DIR = Path(__file__).parent / "static"
# What a public request may send (service.limits.BodyGuard): the report form, with its one photo.
BODY_LIMITS = {report.REPORT_PATH: report.BODY_LIMIT_BYTES}


def mount(app: FastAPI) -> None:
    """Mount the public pages on the API's app (after the console: its error handler wraps the console's)."""
    web.install(app)
    app.mount(f"{web.PUBLIC_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="public-static")
    app.include_router(router)
    app.include_router(report.router)
