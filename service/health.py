"""What operators and orchestrators ask, outside /api/v1 and without authentication: liveness and readiness
probes, and the Prometheus metrics of the API's requests."""

import os
import time

import asyncpg
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.deps import PoolDep
from service.errors import DatabaseUnreachable, ErrorBody
from sql import queries

# A probe must answer quickly: an orchestrator waiting on it is waiting on nothing else.
SERVER_Q = queries("server")
READY_TIMEOUT_S = 2.0

# Label values stay few: the route template (never the raw path, which carries codes and ids), the
# methods HTTP defines (a client may send any word), and the status code.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
# From a cached lookup to a slow export; SPEC 8 wants listings under 50 ms at p99, so that edge is a bucket.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "geohazard_api_requests_total", "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "geohazard_api_request_duration_seconds",
    "Time from a request's arrival to the end of its response (a server-sent-events stream: its whole life)",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS_S,
)

router = APIRouter(tags=["health"])


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (method, route_template(scope), str(status))
            REQUESTS.labels(*labels).inc()
            REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)


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
            await conn.fetchval(SERVER_Q["ready"], timeout=READY_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnreachable(f"Database unreachable: {type(exc).__name__}: {exc}") from exc
    return {"status": "ready"}


def route_template(scope: Scope) -> str:
    """The path template of the route that answered, router prefixes included, e.g. /api/v1/alerts/{alert_id}."""
    path_format = getattr(scope.get("route"), "path_format", None)
    if path_format is None:
        return UNMATCHED_ROUTE
    # Newer FastAPI leaves an included router's prefix out of the route's own path; the prefix is then what
    # the request path holds before the part the route matched.
    path = scope["path"]
    try:
        matched = path_format.format_map({name: str(value) for name, value in scope.get("path_params", {}).items()})
    except (KeyError, ValueError):  # a route whose parameters did not all make it into the scope
        return path_format
    return path.removesuffix(matched) + path_format if path.endswith(matched) else path_format


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The Prometheus text format"}},
)
async def metrics() -> Response:
    """Requests by method, route template and status, their latency, and the process's own metrics; with several
    workers, the requests of every worker, summed, and no per-process metrics (prometheus-client cannot sum them)."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


def _registry() -> CollectorRegistry:
    """This process's registry, or with several workers (`geohazard serve` sets PROMETHEUS_MULTIPROC_DIR, where
    each worker keeps its figures) one that reads every worker's files."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry
