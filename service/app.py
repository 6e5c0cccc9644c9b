"""The HTTP API: the app factory, its database pool's lifespan, and where each domain's routes mount."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, FastAPI

from service import db, errors, health
from service.alerts.router import router as alerts_router
from service.auth.dependencies import current_token
from service.broker import Broker
from service.limits import BodyGuard
from service.coverage.router import router as coverage_router
from service.devices.router import router as devices_router
from service.hazard_points.router import router as hazard_points_router
from service.intake.router import router as intake_router
from service.patrols.router import router as patrols_router
from service.people.router import router as people_router
from service.settings import Settings, get_settings
from service.weather.router import router as weather_router

API_PREFIX = "/api/v1"
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
        app.state.pool = await db.create_pool(settings.database_url)
        app.state.broker = Broker(settings)
        app.state.broker.start()
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
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_request_body_bytes, api_prefix=API_PREFIX)
    app.add_middleware(health.RequestMetrics)
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
    return app


def _version() -> str:
    try:
        return version("geohazard")
    except PackageNotFoundError:  # running from a source checkout that was never installed
        return "0.0.0+source"
