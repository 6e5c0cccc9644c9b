"""`geohazard`: one command for every process of the service and its administration."""

import argparse
import asyncio
import copy
import functools
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from datetime import datetime

import psycopg
from pydantic import ValidationError

from alerting.levels import ALERT_LEVELS
from ingest import acl as acl_cli
from ingest import commands as command_cli
from service.registry_import import command as import_cli
from service.settings import Settings

log = logging.getLogger("geohazard")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# With several API workers their lines interleave; the pid says whose each is.
LOG_FORMAT_WITH_PID = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_MOSQUITTO = "mosquitto -d -c /etc/mosquitto/mosquitto.conf"


class NotReady(RuntimeError):
    """Something the command needs is not there; the message says what to do."""


def check_postgres(settings: Settings, *, need_schema: bool = True, server_only: bool = False) -> None:
    """Fail with a readable message unless the database answers (and, if asked, is migrated).

    With `server_only`, only the server must answer: the database itself may be created by migrate.
    """
    url = settings.database_url
    if server_only:
        url, need_schema = psycopg.conninfo.make_conninfo(url, dbname="postgres"), False
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            if need_schema and conn.execute("SELECT to_regclass('schema_migration')").fetchone()[0] is None:
                raise NotReady(f"the database at {settings.database_url} has no schema yet: run `geohazard migrate`")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "run `geohazard migrate` to create it" if "does not exist" in first else f"start it (here: {START_POSTGRES})"
        raise NotReady(
            f"cannot reach PostgreSQL at {settings.database_url}: {first}\n"
            f"  {hint}, or point GEOHAZARD_DATABASE_URL at a running server"
        ) from None


def check_mqtt(settings: Settings) -> None:
    """Fail with a readable message unless the broker accepts TCP connections."""
    try:
        socket.create_connection((settings.mqtt_host, settings.mqtt_port), timeout=5).close()
    except OSError as exc:
        raise NotReady(
            f"cannot reach the MQTT broker at {settings.mqtt_url}: {exc}\n"
            f"  start it (here: {START_MOSQUITTO}), or point GEOHAZARD_MQTT_URL at a running broker"
        ) from None


def run_until_signalled(main) -> None:
    """Run `main(stop)` on a fresh event loop; SIGINT or SIGTERM sets `stop` for a clean shutdown."""

    async def runner():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


# --- subcommands -------------------------------------------------------------------------------

def cmd_migrate(settings: Settings, args) -> None:
    from sql.migrate import migrate

    check_postgres(settings, server_only=True)
    for outcome in migrate(settings.database_url):
        m = outcome.migration
        print(f"{m.version:04d}_{m.name}: {outcome.status}")


def cmd_serve(settings: Settings, args) -> None:
    import uvicorn

    from service.app import MIN_WORKER_POOL, worker_pool_size

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
        limit, reserved, in_use = conn.execute(
            "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,"
            " (SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend')").fetchone()
    free = limit - reserved - in_use
    if connections > free:
        log.warning("the API's pools may open %d database connections together, but PostgreSQL has %d free "
                    "(max_connections %d, %d reserved for superusers, %d in use): under load some requests would "
                    "fail; raise max_connections, or lower GEOHAZARD_API_DB_CONNECTIONS or --workers",
                    connections, free, limit, reserved, in_use)


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


def cmd_quarantine(settings: Settings, args) -> None:
    from ingest.quarantine import replay

    check_postgres(settings)
    moved = replay(settings.database_url, device_id=args.device)
    print(f"{moved} quarantined readings moved into readings"
          + ("" if moved else " (none of the quarantined sensors is registered yet)"))


def cmd_engine(settings: Settings, args) -> None:
    from alerting.channels.webhooks import WebhookDispatcher
    from alerting.engine import Engine

    check_postgres(settings)
    check_mqtt(settings)

    async def engine_and_webhooks(stop):
        await asyncio.gather(Engine(settings).run(stop), WebhookDispatcher(settings).run(stop))

    run_until_signalled(engine_and_webhooks)


def cmd_webhook(settings: Settings, args) -> None:
    import asyncpg

    from alerting.channels.webhooks import create_webhook

    check_postgres(settings)

    async def add():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await create_webhook(conn, url=args.url, min_level=args.min_level, types=args.type or None,
                                        county_codes=args.county or None, description=args.description)
        finally:
            await conn.close()

    if not args.url.startswith(("http://", "https://")):
        raise NotReady(f"webhook URL {args.url!r} must start with http:// or https://")
    webhook_id, secret = asyncio.run(add())
    print(f"webhook {webhook_id} added; its signing secret (shown only now): {secret}")


def cmd_replay(settings: Settings, args) -> None:
    import asyncpg

    from alerting.replay import other_rule_versions, parse_duration, replay
    from alerting.rules import RULE_VERSION

    check_postgres(settings)
    try:
        frm, to = _utc(args.frm, "--from"), _utc(args.to, "--to")
        step = parse_duration(args.step)
    except ValueError as exc:
        raise NotReady(str(exc)) from None

    async def run():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await replay(conn, frm=frm, to=to, step=step), await other_rule_versions(conn, frm=frm, to=to)
        finally:
            await conn.close()

    try:
        events, older = asyncio.run(run())
    except ValueError as exc:
        raise NotReady(str(exc)) from None
    if older:
        made = ", ".join(f"{n} by rule version {v}" for v, n in older.items())
        print(f"note: live events in this period were made by other rules ({made}); this replay evaluates with "
              f"rule version {RULE_VERSION} and cannot reproduce those exactly", file=sys.stderr)
    for event in events:
        print(event.line())
    print(f"{len(events)} events from {frm.isoformat()} to {to.isoformat()} every {args.step}"
          " (replayed against temporary alert tables; live alerts untouched)", file=sys.stderr)


def cmd_replay_series(settings: Settings, args) -> None:
    import json

    import asyncpg

    from alerting.replay_series import SeriesError, describe, plan_for, read_series, replay_series

    try:
        series = read_series(args.file, time_column=args.time_column, value_column=args.value_column)
        plan = plan_for(series, kind=args.kind, interval=args.interval, resolution_mm=args.resolution_mm,
                        v0_mm_per_day=args.v0, baseline_until=args.baseline_until, failure_at=args.failure_at,
                        step=args.step)
    except SeriesError as exc:
        raise NotReady(str(exc)) from None
    check_postgres(settings)
    print(f"replaying {len(series.values)} readings of {series.value_column} from {args.file} against temporary "
          "tables (nothing real is read or written)", file=sys.stderr)
    shown = {"percent": 0}

    def progress(done, total, evaluation):
        if evaluation.changed:
            print(json.dumps(evaluation.line(plan.failure_at), ensure_ascii=False), flush=True)
        percent = done * 100 // total
        if percent >= shown["percent"] + 10 or done == total:
            shown["percent"] = percent
            print(f"  {done}/{total} evaluations ({percent}%), at {evaluation.at.isoformat()}: sensor "
                  f"{evaluation.level}, alert {evaluation.alert_level}", file=sys.stderr, flush=True)

    async def run():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await replay_series(conn, series, plan, progress)
        finally:
            await conn.close()

    try:
        replayed = asyncio.run(run())
    except SeriesError as exc:
        raise NotReady(str(exc)) from None
    if args.json:
        print(json.dumps({"summary": replayed.summary()}, ensure_ascii=False))
    else:
        print("\n".join(describe(replayed)))


def _utc(text: str, option: str) -> datetime:
    from sensors.timestamps import aware_utc

    return aware_utc(text, option, "add Z for UTC or +08:00 for Beijing time")


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


def cmd_demo(settings: Settings, args) -> None:
    from service.demo import run_demo

    check_postgres(settings, server_only=True)
    check_mqtt(settings)
    run_demo(settings, port=args.port or settings.api_port, duration_s=args.duration_s,
             engine_interval_s=args.engine_interval_s)


def cmd_token(settings: Settings, args) -> None:
    from service.auth.service import create_token, list_tokens, revoke_token

    check_postgres(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if args.token_command == "create":
            try:
                token = create_token(conn, name=args.name, role=args.role, person_id=args.person)
            except ValueError as exc:
                raise NotReady(str(exc)) from None
            print(token)
            print(f"(a {args.role} token named {args.name!r}; it is shown only now, store it safely)", file=sys.stderr)
        elif args.token_command == "revoke":
            if not revoke_token(conn, token_id=args.id):
                raise NotReady(f"no active token with id {args.id}; `geohazard token list` shows them")
            print(f"token {args.id} revoked")
        else:
            for row in list_tokens(conn):
                print("\t".join(str(v) for v in row))


# --- argument parsing --------------------------------------------------------------------------

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geohazard",
        description="Geological-hazard monitoring and early warning. Configuration comes from GEOHAZARD_* "
                    "environment variables (see the README); GEOHAZARD_DATABASE_URL and GEOHAZARD_MQTT_URL "
                    "say where PostgreSQL and the MQTT broker are.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("migrate", help="create the database if needed and apply every pending migration",
                       description="Create the database if it does not exist and apply the forward-only "
                                   "migrations in sql/migrations, recording each. Safe to run twice and from "
                                   "two processes at once. TimescaleDB steps are skipped where the extension "
                                   "is not available.")
    p.set_defaults(func=cmd_migrate)

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

    p = sub.add_parser("quarantine", help="replay quarantined readings once their sensors are registered",
                       description="Readings from devices or sensors that were not registered when they "
                                   "arrived are kept in quarantine. `geohazard quarantine replay` moves those "
                                   "whose device and sensor (of the same kind) are registered now into the "
                                   "readings; the rest stay.")
    qsub = p.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    r = qsub.add_parser("replay", help="move now-registered quarantined readings into readings")
    r.add_argument("--device", help="only this device's readings")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("engine", help="evaluate every hazard point on a schedule and raise warnings",
                       description="Every GEOHAZARD_ENGINE_INTERVAL_S seconds, compute the deformation "
                                   "(tangent angle, velocity, displacement) and rainfall (24 h and 72 h totals) "
                                   "levels of every active hazard point, open, raise, lower and close alerts, "
                                   "and publish each point's alert on its retained MQTT topic.")
    p.set_defaults(func=cmd_engine)

    p = sub.add_parser("webhook", help="register an HTTP endpoint to receive every alert event, signed",
                       description="Register a webhook: every alert event (raised, level changes, acknowledged, "
                                   "escalated, resolved...) is POSTed to it as JSON, signed with HMAC-SHA256 "
                                   "(header X-Geohazard-Signature: sha256=<hex> over '<X-Geohazard-Timestamp>.' "
                                   "+ body), retried with backoff for 24 h and logged. The engine delivers them.")
    p.add_argument("url", help="the endpoint, http:// or https://")
    p.add_argument("--min-level", default="blue", choices=ALERT_LEVELS,
                   help="only alerts at or above this level (default blue: all)")
    p.add_argument("--type", action="append", choices=["deformation", "rainfall", "device"],
                   help="only these alert types (repeatable; default all)")
    p.add_argument("--county", action="append", help="only these county codes (repeatable; default all)")
    p.add_argument("--description", help="who receives it")
    p.set_defaults(func=cmd_webhook)

    p = sub.add_parser("replay", help="re-evaluate stored readings over a period and list the events",
                       description="Run the engine's evaluation at every --step from --from to --to over the "
                                   "stored readings, against temporary alert tables (live alerts are neither "
                                   "read nor changed, nothing is published), and print the events it records. "
                                   "Replay starts with no open alert at --from; evaluated at the live engine's "
                                   "times, it reproduces the live events.")
    p.add_argument("--from", dest="frm", required=True, help="start, ISO 8601 with zone, e.g. 2026-07-01T00:00Z")
    p.add_argument("--to", required=True, help="end, ISO 8601 with zone")
    p.add_argument("--step", default="10m", help="evaluation interval: 90s, 10m, 1h (default 10m)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("replay-series", help="replay one recorded monitoring series (CSV) through the engine",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Replay one real monitoring series, a CSV file with a header row, as the\n"
                                   "readings of one displacement sensor: each reading goes through ingest's quality\n"
                                   "filter and is evaluated by the live engine's own code (evaluate_once), with the\n"
                                   "lifecycle's hold times, against temporary tables of a transaction that is rolled\n"
                                   "back: any migrated database serves, and nothing real is read or written.\n\n"
                                   "Prints one JSON line per evaluation that changes the sensor's or the deformation\n"
                                   "alert's level, then a summary: the first yellow, orange and red with their lead\n"
                                   "time before a known failure, the episodes per level, and the failure forecast\n"
                                   "24, 12, 8, 4, 2 and 1 h before the failure. No duty officer acknowledges during\n"
                                   "a replay, so orange and red never fall.",
                       epilog="example, from the repository root (the first 6 h stand for the quiet baseline; the\n"
                              "failure is the row with landslide_flag 1):\n"
                              "  geohazard replay-series ../shared/science/dexing_gbsar.csv --resolution-mm 1 "
                              "--baseline-until 6h\n"
                              "times are epoch seconds or ISO 8601 with an offset (2018-05-05T14:54:00+08:00).")
    p.add_argument("file", metavar="FILE.csv", help="the series: a CSV file with a header row")
    p.add_argument("--time-column", help="column of the reading times, epoch seconds or ISO 8601 with an offset "
                                         "(default: the first column whose name starts with t_)")
    p.add_argument("--value-column", help="column of the displacement in mm (default: the first of displacement_mm, "
                                          "deformation_mm, value)")
    p.add_argument("--kind", default="crack", choices=["crack", "gnss", "tilt", "deep"],
                   help="the sensor kind the series is replayed as (default crack); gnss and deep take it as "
                        "their horizontal resultant's first component")
    p.add_argument("--resolution-mm", type=float, metavar="MM",
                   help="the sensor's resolution, e.g. 1 for whole-millimetre readings (default: the kind's)")
    p.add_argument("--interval", metavar="DURATION",
                   help="the sensor's reporting interval: 7m, 10m, 1h, 1d (default: the series' median spacing)")
    v0 = p.add_mutually_exclusive_group()
    v0.add_argument("--v0", type=float, metavar="MM_PER_DAY", help="a configured reference creep rate v0, mm/d")
    v0.add_argument("--baseline-until", metavar="T",
                    help="the series up to T is the sensor's quiet baseline: a time, or a duration after the first "
                         "reading such as 6h (default: neither; the engine's own v0)")
    p.add_argument("--failure-at", metavar="T",
                   help="the known failure time, lead times are reported against it (default: none, or the first "
                        "row with landslide_flag 1)")
    p.add_argument("--step", default="reading", choices=["reading", "bin"],
                   help="evaluate after every reading (default) or at the end of every bin")
    p.add_argument("--json", action="store_true", help="the summary as one JSON line too, instead of text")
    p.set_defaults(func=cmd_replay_series)

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

    p = sub.add_parser("demo", help="run everything at once: registry, gateways, ingest, engine, API",
                       description="Migrate the configured database, seed the demo registry, create an admin "
                                   "token, and run the API, ingest, engine and simulated gateways together, "
                                   "printing the API URL, the token and every warning as it is raised. "
                                   "Ctrl-C stops everything.")
    p.add_argument("--port", type=int, help="API port (default GEOHAZARD_API_PORT, 8000)")
    p.add_argument("--engine-interval-s", type=int, default=15, help="seconds between evaluations (default 15)")
    p.add_argument("--duration-s", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("token", help="create, revoke and list API tokens",
                       description="API bearer tokens. A token is shown once, at creation; only its hash is stored.")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="create a token and print it")
    c.add_argument("--role", required=True, choices=["admin", "duty_officer", "grid_monitor", "viewer"])
    c.add_argument("--name", required=True, help="who or what the token is for")
    c.add_argument("--person", type=int, help="the person (id) the token belongs to; required for grid_monitor")
    r = tsub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", type=int)
    tsub.add_parser("list", help="list tokens (id, name, role, created, revoked)")
    p.set_defaults(func=cmd_token)

    acl_cli.add_parser(sub)
    command_cli.add_parser(sub)
    import_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print("geohazard: invalid configuration:", file=sys.stderr)
        for error in exc.errors():
            print(f"  GEOHAZARD_{str(error['loc'][0]).upper()}: {error['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    # APScheduler logs every run of every job at INFO; the engine logs what a run changed instead.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        args.func(settings, args)
    except NotReady as exc:
        print(f"geohazard {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy's: other modules raise service.cli.NotReady,
    # a different class from this copy's, which main() would not catch.
    from service.cli import main as _main

    sys.exit(_main())
