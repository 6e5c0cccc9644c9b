"""`geohazard serve`, `ingest`, `engine`, `simulate` and `demo`: the service's long-running processes."""

import argparse
import asyncio
import copy
import functools
import logging
import os
import shutil
import signal
import tempfile
import threading

import psycopg

from runtime.checks import NotReady, check_mqtt, check_postgres
from runtime.settings import Settings
from sql import queries

log = logging.getLogger("geohazard")
SERVER_Q = queries("server")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# With several API workers their lines interleave; the pid says whose each is.
LOG_FORMAT_WITH_PID = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def run_until_signalled(main) -> None:
    """Run `main(stop)` on a fresh event loop; SIGINT or SIGTERM sets `stop` for a clean shutdown."""

    async def runner():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


def add_serve(sub) -> None:
    """Register `geohazard serve`."""
    p = sub.add_parser("serve", help="run the HTTP API (FastAPI; OpenAPI at /docs)",
                       description="Serve the HTTP API under /api/v1 with /healthz, /readyz, /metrics and /docs. "
                                   "With --workers N, N processes (uvicorn's workers) accept connections on the "
                                   "same port, each with its own share of the database connections "
                                   "(GEOHAZARD_API_DB_CONNECTIONS, 40 in all, at most 10 a worker) and its own MQTT "
                                   "connection; every response names its worker's pid in X-Geohazard-Worker, and "
                                   "/metrics sums the requests of every worker.")
    p.add_argument("--host", help="address to listen on (default GEOHAZARD_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default GEOHAZARD_API_PORT, 8000)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="worker processes (default GEOHAZARD_API_WORKERS, else one per two cores this process may "
                        "use, at least 1 and at most 8: PostgreSQL needs the other half; 1 serves from this process "
                        "alone)")
    p.set_defaults(func=cmd_serve)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def cmd_serve(settings: Settings, args) -> None:
    import uvicorn

    from service.app import MIN_WORKER_POOL, worker_pool_size
    from service.console.pages.map import BadTileSetting, tile_source

    try:
        tile_source(settings)  # each worker checks it again as it builds the app; here it is said without a traceback
    except BadTileSetting as exc:
        raise NotReady(f"GEOHAZARD_MAP_TILES: {exc}") from None
    check_postgres(settings)
    host, port = args.host or settings.api_host, args.port or settings.api_port
    workers = args.workers or settings.api_worker_count
    if workers * MIN_WORKER_POOL > settings.api_db_connections:
        raise NotReady(f"{workers} workers need at least {workers * MIN_WORKER_POOL} database connections "
                       f"({MIN_WORKER_POOL} each), but GEOHAZARD_API_DB_CONNECTIONS is {settings.api_db_connections}: "
                       f"raise it or run fewer workers")
    # The workers are new interpreters (uvicorn spawns them) that build the app from this environment.
    os.environ["GEOHAZARD_API_WORKERS"] = str(workers)
    settings = settings.model_copy(update={"api_workers": workers})
    _warn_if_postgres_lacks_connections(settings, workers * worker_pool_size(settings))
    serve = functools.partial(
        uvicorn.run, "service.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_config=_serve_log_config(settings.log_level, with_pid=workers > 1), log_level=settings.log_level.lower(),
        # Open event streams would hold a graceful shutdown forever; give them 5 s to close.
        timeout_graceful_shutdown=5)
    if workers == 1:
        serve()
        return
    # Each worker counts its requests in files of its own there, and /metrics sums them (prometheus-client's
    # multi-process mode); the directory must start empty, so every run gets a new one.
    metrics_dir = tempfile.mkdtemp(prefix="geohazard-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        serve()
    finally:
        shutil.rmtree(metrics_dir)


def _serve_log_config(level: str, *, with_pid: bool) -> dict:
    """uvicorn's logging with the root logger as main() sets it up, which each worker process applies anew."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["geohazard"] = {"format": LOG_FORMAT_WITH_PID if with_pid else LOG_FORMAT}
    config["handlers"]["geohazard"] = {"class": "logging.StreamHandler", "formatter": "geohazard",
                                       "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["geohazard"], "level": level.upper()}
    return config


def _warn_if_postgres_lacks_connections(settings: Settings, connections: int) -> None:
    """Log a warning when the API's pools, all full, would need more connections than PostgreSQL has free."""
    with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
        # In use: every client's connection but this one.
        limit, reserved, in_use = conn.execute(SERVER_Q["connection_budget"]).fetchone()
    free = limit - reserved - in_use
    if connections > free:
        log.warning("the API's pools may open %d database connections together, but PostgreSQL has %d free "
                    "(max_connections %d, %d reserved for superusers, %d in use): under load some requests would "
                    "fail; raise max_connections, or lower GEOHAZARD_API_DB_CONNECTIONS or --workers",
                    connections, free, limit, reserved, in_use)


def add_ingest(sub) -> None:
    """Register `geohazard ingest`."""
    p = sub.add_parser("ingest", help="take readings from MQTT into the database",
                       description="Subscribe to the gateways' readings topics with a persistent session and "
                                   "store every reading; malformed messages go to the dead-letter store, "
                                   "readings of unregistered sensors to quarantine. Messages are acknowledged "
                                   "only after they are committed. Each ingest runs its MQTT client in a "
                                   "child process (ingest.receiver); if either dies, both stop, and a restart "
                                   "loses nothing. With --workers N, N processes share the subscriptions "
                                   "through MQTT shared subscriptions ($share/<group>/...).")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes sharing the load (default 1; each gets client id <id>-<i>)")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(settings: Settings, args) -> None:
    from ingest.consumer import Consumer, ReceiverLost
    from ingest.workers import run_workers

    check_postgres(settings)
    check_mqtt(settings)
    if args.workers > 1:
        run_workers(settings, args.workers)
        return
    try:
        run_until_signalled(Consumer(settings).run)
    except ReceiverLost as exc:
        raise NotReady(str(exc)) from None


def add_engine(sub) -> None:
    """Register `geohazard engine`."""
    p = sub.add_parser("engine", help="evaluate every hazard point on a schedule and raise warnings",
                       description="Every GEOHAZARD_ENGINE_INTERVAL_S seconds, compute the deformation "
                                   "(tangent angle, velocity, displacement) and rainfall (24 h and 72 h totals) "
                                   "levels of every active hazard point, open, raise, lower and close alerts, "
                                   "and publish each point's alert on its retained MQTT topic.")
    p.set_defaults(func=cmd_engine)


def cmd_engine(settings: Settings, args) -> None:
    from alerting.channels.webhooks import WebhookDispatcher
    from alerting.engine import Engine

    check_postgres(settings)
    check_mqtt(settings)

    async def engine_and_webhooks(stop):
        await asyncio.gather(Engine(settings).run(stop), WebhookDispatcher(settings).run(stop))

    run_until_signalled(engine_and_webhooks)


def add_simulate(sub) -> None:
    """Register `geohazard simulate`."""
    p = sub.add_parser("simulate", help="publish readings from simulated field gateways",
                       description="Publish readings for the demo registry, each device on its own MQTT "
                                   "connection: native gateways (a steady creep, an accelerating slope heading "
                                   "for failure, a storm over a debris-flow gully, a gateway with a skewed "
                                   "clock) and a universal device sending $dp frames with faulty sensors (spikes, "
                                   "a stuck tilt meter, a draining battery). History is backfilled first, then "
                                   "readings and status are published live. --extra-gateways adds load.")
    p.add_argument("--seed-registry", action="store_true", help="insert the demo registry first")
    p.add_argument("--backfill-hours", type=float, default=72, help="history to publish at start (default 72)")
    p.add_argument("--interval-s", type=float, default=600, help="spacing of backfilled readings (default 600)")
    p.add_argument("--period-s", type=float, default=10, help="seconds between live publications (default 10)")
    p.add_argument("--failure-in-minutes", type=float, default=120,
                   help="when the accelerating slope fails, from now (default 120)")
    p.add_argument("--duration-s", type=float, help="stop after this many seconds (default: run until stopped)")
    p.add_argument("--extra-gateways", type=int, default=0,
                   help="add this many load-test gateways of 10 crack gauges each (seed them with --seed-registry)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(settings: Settings, args) -> None:
    from sensors.simulator import Simulator, demo_registry, seed_registry, synthetic_gateways

    check_mqtt(settings)
    registry = synthetic_gateways(demo_registry(), args.extra_gateways)
    if args.seed_registry:
        check_postgres(settings)
        seed_registry(settings.database_url, registry, author="geohazard simulate --seed-registry")
        print("demo registry seeded (existing rows kept)")
    sim = Simulator(mqtt_host=settings.mqtt_host, mqtt_port=settings.mqtt_port, topic_root=settings.topic_root,
                    registry=registry, failure_in_minutes=args.failure_in_minutes, username=settings.mqtt_username,
                    password=settings.mqtt_password)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        sim.run(backfill_hours=args.backfill_hours, interval_s=args.interval_s, period_s=args.period_s,
                stop=stop, duration_s=args.duration_s)
    finally:
        sim.close()
    print(f"published {sim.published_readings} readings")


def add_demo(sub) -> None:
    """Register `geohazard demo`."""
    p = sub.add_parser("demo", help="run everything at once: registry, gateways, ingest, engine, API",
                       description="Migrate the configured database, seed the demo registry, create an admin "
                                   "token, and run the API, ingest, engine and simulated gateways together, "
                                   "printing the API URL, the token and every warning as it is raised. "
                                   "Ctrl-C stops everything.")
    p.add_argument("--port", type=int, help="API port (default GEOHAZARD_API_PORT, 8000)")
    p.add_argument("--engine-interval-s", type=int, default=15, help="seconds between evaluations (default 15)")
    p.add_argument("--duration-s", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(settings: Settings, args) -> None:
    from service.demo import run_demo

    check_postgres(settings, server_only=True)
    check_mqtt(settings)
    run_demo(settings, port=args.port or settings.api_port, duration_s=args.duration_s,
             engine_interval_s=args.engine_interval_s)
