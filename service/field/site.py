"""Where the phone app hangs on the API's app: its routes, its static files and its answers to its exceptions."""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.field import web
from service.field.router import ACTIVATE_PATH, STATIC_DIR, router

# What a phone may send before anyone is known: the activation form's code. Reports are read after the phone's
# session is checked, within the app's general limit (a report with its photos).
BODY_LIMITS = {ACTIVATE_PATH: 4 * 1024}


def mount(app: FastAPI) -> None:
    """Mount the phone app on the API's app (after the console and the public pages: its error handler wraps
    theirs)."""
    web.install(app)
    app.mount(f"{web.FIELD_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="field-static")
    app.include_router(router)
