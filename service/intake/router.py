"""HTTP routes of /dead-letters and /quarantine."""

from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.deps import AdminToken, ConnDep, OfficerToken
from service.errors import ErrorBody
from service.intake import service as intake_service
from service.intake.schemas import (
    DeadLetterQuery,
    DeadLettersPublic,
    QuarantinePublic,
    QuarantineQuery,
    QuarantineReplay,
    QuarantineReplayed,
)

router = APIRouter(tags=["intake"])


@router.get(
    "/dead-letters",
    response_model=DeadLettersPublic,
    summary="Messages ingest could not take (duty officer)",
    responses={403: {"model": ErrorBody, "description": "Only duty officers and administrators see dead letters"}},
)
async def list_dead_letters(
    conn: ConnDep, _officer: OfficerToken, query: Annotated[DeadLetterQuery, Query()]
) -> DeadLettersPublic:
    """Malformed messages and readings, newest first, each with its topic, the reason, and the raw payload as
    base64 with a UTF-8 preview when it is text: its first 64 KiB at most, with its whole size and SHA-256."""
    letters, count = await intake_service.list_dead_letters(conn=conn, query=query)
    return DeadLettersPublic(data=letters, count=count)


@router.get(
    "/quarantine",
    response_model=QuarantinePublic,
    summary="Readings of unregistered devices or sensors (duty officer)",
    responses={403: {"model": ErrorBody, "description": "Only duty officers and administrators see the quarantine"}},
)
async def list_quarantine(
    conn: ConnDep, _officer: OfficerToken, query: Annotated[QuarantineQuery, Query()]
) -> QuarantinePublic:
    """Readings kept, never analysed, until their device and sensor are registered; newest first."""
    readings, count = await intake_service.list_quarantine(conn=conn, query=query)
    return QuarantinePublic(data=readings, count=count)


@router.post(
    "/quarantine/replay",
    response_model=QuarantineReplayed,
    summary="Replay quarantined readings whose sensor is now registered (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators replay the quarantine"},
        404: {"model": ErrorBody, "description": "No such device"},
    },
)
async def replay_quarantine(
    request: Request, conn: ConnDep, admin: AdminToken, replay: QuarantineReplay | None = None
) -> QuarantineReplayed:
    """Every quarantined reading (of one device, if given) whose device and sensor of the same kind are registered
    now moves into the readings, all in one transaction; the others stay. Answers how many moved and remain."""
    return await intake_service.replay_quarantine(
        conn=conn,
        database_url=request.app.state.settings.database_url,
        device_id=(replay or QuarantineReplay()).device_id,
        admin=admin,
    )
