"""HTTP routes of /weather-warnings."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from service.deps import BrokerDep, ConnDep, OfficerToken
from service.errors import ErrorBody
from service.weather import service as weather_service
from service.weather.schemas import (
    WeatherWarningCreate,
    WeatherWarningCreated,
    WeatherWarningQuery,
    WeatherWarningsPublic,
)

router = APIRouter(prefix="/weather-warnings", tags=["weather"])


@router.get("", response_model=WeatherWarningsPublic, summary="List meteorological risk warnings")
async def list_weather_warnings(conn: ConnDep, query: Annotated[WeatherWarningQuery, Query()]) -> WeatherWarningsPublic:
    """Warnings matching every given filter, newest first, with what each set going."""
    warnings, count = await weather_service.list_warnings(conn=conn, query=query, now=datetime.now(UTC))
    return WeatherWarningsPublic(data=warnings, count=count)


@router.post(
    "",
    response_model=WeatherWarningCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Issue a meteorological risk warning for an area (duty officer)",
    responses={403: {"model": ErrorBody, "description": "Only duty officers and administrators issue warnings"}},
)
async def create_weather_warning(conn: ConnDep, broker: BrokerDep, officer: OfficerToken,
                                 warning_create: WeatherWarningCreate) -> WeatherWarningCreated:
    """Record the warning; give each active point in the area its rain_before, rain_during and rain_after
    patrol tasks (assigned to the point's monitor); broadcast `meteorologicalearlywarning` to the points'
    devices. A device that cannot be reached is recorded as such and does not fail the warning.

    A point with an open rain task of a regime from an earlier warning gets no second one: that task
    stands, due sooner if this warning needs it sooner (rain_after: later, after this warning's end).
    """
    return await weather_service.create_warning(conn=conn, send_command=broker.commands_by(officer.actor),
                                                warning_create=warning_create, author=officer.actor,
                                                now=datetime.now(UTC))
