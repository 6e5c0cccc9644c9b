"""HTTP routes of /alerts."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from alerting.channels.cap import MEDIA_TYPE as CAP_MEDIA_TYPE
from alerting.channels.stream import AlertEventHub, alert_event_stream
from service.alerts import service as alert_service
from service.alerts.schemas import AlertAcknowledge, AlertDetail, AlertQuery, AlertResolve, AlertsPublic, AlertVerify
from service.deps import BrokerDep, ConnDep, CurrentToken, OfficerToken, PoolDep
from service.errors import ErrorBody
from service.pagination import json_page

# Alert ids are bigint: a larger number cannot name one.
MAX_ID = 2**63 - 1

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = Annotated[int, Path(ge=1, le=MAX_ID)]
# What every lifecycle transition may answer besides the alert.
TRANSITION_RESPONSES = {
    403: {"model": ErrorBody, "description": "Only duty officers and administrators move alerts"},
    404: {"model": ErrorBody, "description": "No such alert"},
    409: {"model": ErrorBody, "description": "The alert's state does not allow this transition"},
}


async def event_hub(request: Request, pool: PoolDep) -> AlertEventHub:
    """The app's alert event hub, made on first use: one LISTEN connection for every stream of this process."""
    hub = getattr(request.app.state, "alert_event_hub", None)
    if hub is None or hub.pool is not pool:
        hub = request.app.state.alert_event_hub = AlertEventHub(pool)
    return hub


# A grid monitor gets 404 for an alert of a point outside its grid, as for one that does not exist.
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such alert (or not on one of a grid monitor's points)"}}


@router.get("", response_model=AlertsPublic, summary="List alerts")
async def list_alerts(conn: ConnDep, token: CurrentToken, query: Annotated[AlertQuery, Query()]) -> Response:
    """Alerts matching every given filter, newest first; a grid monitor sees those of its own points."""
    alerts, count = await alert_service.list_alerts(conn=conn, query=query, token=token)
    return json_page(AlertsPublic(data=alerts, count=count))


# Declared before /{alert_id}, which would otherwise take "stream" for an id.
@router.get(
    "/stream",
    response_class=StreamingResponse,
    summary="Alert events as server-sent events",
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "Each event: `id:` the alert event id, `data:` one line of JSON "
                                    '`{"event": {...}, "alert": {...}}`; a comment line every 15 s.'}},
)
async def stream_alert_events(
    pool: PoolDep,
    token: CurrentToken,
    hub: Annotated[AlertEventHub, Depends(event_hub)],
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0,
                                                description="Resend every event after this id first.")] = None,
) -> StreamingResponse:
    """Every alert event as it is committed; with Last-Event-ID, the ones missed since that id first.
    A grid monitor gets the events of its own points only."""
    return StreamingResponse(
        alert_event_stream(hub, last_event_id=last_event_id, visible=alert_service.event_visibility(pool, token)),
        media_type="text/event-stream",
        # No caching, and no buffering by a reverse proxy (nginx honours X-Accel-Buffering).
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with its events",
    responses=NOT_FOUND,
)
async def get_alert(conn: ConnDep, token: CurrentToken, alert_id: AlertId) -> AlertDetail:
    """The alert, who moved it through its lifecycle, and every event with its inputs and thresholds."""
    return await alert_service.get_alert(conn=conn, alert_id=alert_id, token=token)


@router.get(
    "/{alert_id}/cap",
    response_class=Response,
    summary="One alert as CAP 1.2 XML",
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "OASIS Common Alerting Protocol 1.2"},
               **NOT_FOUND},
)
async def get_alert_cap(request: Request, conn: ConnDep, token: CurrentToken, alert_id: AlertId) -> Response:
    """The alert's current version: Alert when raised, Update after a change, Cancel once resolved."""
    sender = f"geohazard@{request.url.hostname or 'localhost'}"
    body = await alert_service.get_alert_cap(conn=conn, alert_id=alert_id, sender=sender, token=token)
    return Response(body, media_type=CAP_MEDIA_TYPE)


@router.post("/{alert_id}/acknowledge", response_model=AlertDetail, summary="Acknowledge an open alert (duty officer)",
             responses=TRANSITION_RESPONSES)
async def acknowledge_alert(conn: ConnDep, broker: BrokerDep, officer: OfficerToken, alert_id: AlertId,
                            acknowledgement: AlertAcknowledge | None = None) -> AlertDetail:
    """Open -> acknowledged: the officer has it in hand, and escalation up the grid stops."""
    return await alert_service.acknowledge(conn=conn, broker=broker, alert_id=alert_id, officer=officer,
                                           acknowledgement=acknowledgement or AlertAcknowledge())


@router.post("/{alert_id}/verify", response_model=AlertDetail, summary="Record the field verdict (duty officer)",
             responses=TRANSITION_RESPONSES)
async def verify_alert(conn: ConnDep, broker: BrokerDep, officer: OfficerToken, alert_id: AlertId,
                       verification: AlertVerify) -> AlertDetail:
    """Acknowledged -> verified, confirmed or false alarm; a confirmed red may record its evacuation."""
    return await alert_service.verify(conn=conn, broker=broker, alert_id=alert_id, officer=officer,
                                      verification=verification)


@router.post("/{alert_id}/resolve", response_model=AlertDetail, summary="Resolve an alert (duty officer)",
             responses=TRANSITION_RESPONSES)
async def resolve_alert(conn: ConnDep, broker: BrokerDep, officer: OfficerToken, alert_id: AlertId,
                        resolution: AlertResolve | None = None) -> AlertDetail:
    """Closes the alert, or lowers a held-lower orange or red one; accelerated sensors get their interval back."""
    return await alert_service.resolve(conn=conn, broker=broker, alert_id=alert_id, officer=officer,
                                       resolution=resolution or AlertResolve())
