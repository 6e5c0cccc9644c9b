"""/docs from files the app serves itself: a duty room without internet can still read the API.

FastAPI's own page loads Swagger UI from a CDN. This is the same page on swagger-ui-dist 5.35.0's files, vendored
under service/static with its licence; its online validator badge is turned off, as it would call
validator.swagger.io. There is no /redoc: ReDoc's standalone bundle loads its logo from cdn.redoc.ly.
"""

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static/docs"
router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url="/docs/oauth2-redirect", swagger_js_url=f"{STATIC_PATH}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_PATH}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_PATH}/swagger-ui/favicon-32x32.png", swagger_ui_parameters={"validatorUrl": None})


@router.get("/docs/oauth2-redirect", response_class=HTMLResponse)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


def mount(app: FastAPI) -> None:
    """The offline /docs; the app is made with docs_url=None (and no /redoc)."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="docs-static")
    app.include_router(router)
