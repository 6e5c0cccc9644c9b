"""Liveness and readiness probes, outside /api/v1 and without authentication."""

import asyncpg
from fastapi import APIRouter

from service.deps import PoolDep
from service.errors import DatabaseUnreachable, ErrorBody

# A probe must answer quickly: an orchestrator waiting on it is waiting on nothing else.
READY_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Answers while the process runs; touches nothing else."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers",
    responses={503: {"model": ErrorBody, "description": "Database unreachable"}},
)
async def readyz(pool: PoolDep) -> dict[str, str]:
    """Answers once `SELECT 1` succeeds on the pool; 503 while the database is unreachable."""
    try:
        async with pool.acquire(timeout=READY_TIMEOUT_S) as conn:
            await conn.fetchval("SELECT 1", timeout=READY_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnreachable(f"Database unreachable: {type(exc).__name__}: {exc}") from exc
    return {"status": "ready"}
