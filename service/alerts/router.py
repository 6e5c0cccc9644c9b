"""HTTP routes of /alerts."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from service.alerts import service as alert_service
from service.alerts.schemas import AlertDetail, AlertQuery, AlertsPublic
from service.deps import ConnDep
from service.errors import ErrorBody

# Alert ids are bigint: a larger number cannot name one.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=AlertsPublic, summary="List alerts")
async def list_alerts(conn: ConnDep, query: Annotated[AlertQuery, Query()]) -> AlertsPublic:
    """Alerts matching every given filter, newest first."""
    alerts, count = await alert_service.list_alerts(conn=conn, query=query)
    return AlertsPublic(data=alerts, count=count)


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with its events",
    responses={404: {"model": ErrorBody, "description": "No such alert"}},
)
async def get_alert(conn: ConnDep, alert_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> AlertDetail:
    """The alert, who moved it through its lifecycle, and every event with its inputs and thresholds."""
    return await alert_service.get_alert(conn=conn, alert_id=alert_id)
