"""The HTTP API: the app factory, its database pool's lifespan, and where each domain's routes mount.

`geohazard serve --workers N` runs N processes, each building its own app with `create_app` (uvicorn's factory):
each has its own database pool (a share of GEOHAZARD_API_DB_CONNECTIONS), its own MQTT connection (a client id
of its own) and, while a client streams alert events, its own LISTEN connection; nothing else is kept in memory
between requests, and /metrics sums the workers' figures (service.health).
"""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.settings import Settings, get_settings
from service import db, docs, errors, health
from service.alerts.router import router as alerts_router
from service.auth.dependencies import current_token
from service.broker import Broker
from service.console import site as console_site
from service.field import site as field_site
from service.limits import BodyGuard
from service.coverage.router import router as coverage_router
from service.devices.router import router as devices_router
from service.hazard_points.router import router as hazard_points_router
from service.intake.router import router as intake_router
from service.patrols.router import router as patrols_router
from service.people.router import router as people_router
from service.public import site as public_site
from service.weather.router import router as weather_router

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# Every response names the worker process that answered, for an operator chasing one slow or failing worker.
WORKER_HEADER = "X-Geohazard-Worker"
# A worker's pool never holds fewer connections: one for requests while an alert stream's LISTEN holds the other.
MIN_WORKER_POOL = 2
DESCRIPTION = """\
Geological-hazard monitoring and early warning: the hazard-point registry with its sensors and
four-role grid, and the alerts raised from deformation, rainfall and device health.

Every `/api/v1` route needs `Authorization: Bearer <token>` (create one with `geohazard token create`).
Lists answer `{"data": [...], "count": N}`, where `count` is the total matching over all pages.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app; its lifespan opens the database pool and the MQTT connection, and closes them."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool_size = worker_pool_size(settings)
        app.state.pool = await db.create_pool(settings.database_url, max_size=pool_size)
        app.state.broker = Broker(settings)
        app.state.broker.start()
        workers = settings.api_worker_count
        log.info("API worker %d serving, with a database pool of at most %d connections (%d shared by %d worker%s)",
                 os.getpid(), pool_size, settings.api_db_connections, workers, "s" if workers > 1 else "")
        try:
            yield
        finally:
            app.state.broker.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Geohazard monitoring and early warning",
        description=DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # service.docs serves /docs from vendored files instead of a CDN
        redoc_url=None,  # ReDoc's bundle loads its logo from a CDN
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_request_body_bytes, api_prefix=API_PREFIX,
                       path_limits={**console_site.BODY_LIMITS, **public_site.BODY_LIMITS,
                                    **field_site.BODY_LIMITS})
    app.add_middleware(health.RequestMetrics)
    app.add_middleware(WorkerHeader)
    app.include_router(health.router)

    api = APIRouter(
        prefix=API_PREFIX,
        dependencies=[Depends(current_token)],
        responses={401: {"model": errors.ErrorBody, "description": "Missing, unknown or revoked bearer token"}},
    )
    api.include_router(hazard_points_router)
    api.include_router(alerts_router)
    api.include_router(devices_router)
    api.include_router(people_router)
    api.include_router(patrols_router)
    api.include_router(weather_router)
    api.include_router(coverage_router)
    api.include_router(intake_router)
    app.include_router(api)
    docs.mount(app)
    console_site.mount(app)
    public_site.mount(app)
    field_site.mount(app)
    return app


def worker_pool_size(settings: Settings) -> int:
    """Connections one worker's pool may open: its share of api_db_connections, at most db.POOL_MAX_SIZE."""
    share = settings.api_db_connections // settings.api_worker_count
    return max(MIN_WORKER_POOL, min(db.POOL_MAX_SIZE, share))


class WorkerHeader:
    """ASGI middleware adding the answering process's pid to every HTTP response as X-Geohazard-Worker."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (WORKER_HEADER.lower().encode(), str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_naming_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.header]}
            await send(message)

        await self.app(scope, receive, send_naming_worker)


def _version() -> str:
    try:
        return version("geohazard")
    except PackageNotFoundError:  # running from a source checkout that was never installed
        return "0.0.0+source"
