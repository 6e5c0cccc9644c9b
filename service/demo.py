"""`geohazard demo`: every process of the service at once, against the configured database and broker."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import asyncpg
import paho.mqtt.client as mqtt
import psycopg

import sql
from runtime.mqtt import new_client, service_client_id
from runtime.settings import Settings
from sensors.native import alert_topic
from sensors.simulator import demo_registry, seed_registry
from sql.migrate import migrate

# How long the API gets to answer /readyz before the demo gives up and says so.
API_START_TIMEOUT_S = 30
# The simulator publishes 72 h of history first; this is ample for it on a loaded machine.
BACKFILL_TIMEOUT_S = 60
# The seeded county technical admin (赵伟, demo_registry.json) signs in to the console as its administrator.
CONSOLE_PHONE = "13800000030"
# Who the records say wrote what the demo seeds and issues.
DEMO_AUTHOR = "geohazard demo"
LEVEL_MARK = {"blue": "BLUE  ", "yellow": "YELLOW", "orange": "ORANGE", "red": "RED   "}
Q = sql.queries("demo")


def _relay(name: str, stream, watch: tuple[str, threading.Event] | None) -> None:
    """Print a child's output line by line, prefixed with its name; set the event when a line has the text."""
    for line in iter(stream.readline, ""):
        print(f"[{name:8}] {line.rstrip()}", flush=True)
        if watch and watch[0] in line:
            watch[1].set()


def _spawn(name: str, args: list[str], env: dict, watch: tuple[str, threading.Event] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
    threading.Thread(target=_relay, args=(name, proc.stdout, watch), daemon=True).start()
    return proc


def _wait_ready(url: str, procs: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + API_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if procs["api"].poll() is not None:
            raise RuntimeError("the API process exited; its output is above")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.3)
    raise RuntimeError(f"the API did not become ready at {url} within {API_START_TIMEOUT_S}s")


def _watch_alerts(settings: Settings) -> mqtt.Client:
    """Print every alert the engine publishes on the retained alert topics."""

    def on_message(client, userdata, message):
        point = message.topic.rsplit("/", 1)[-1]
        if not message.payload:
            print(f">>> alert cleared at {point}", flush=True)
            return
        alert = json.loads(message.payload)
        reasons = "; ".join(alert["reasons"]) or "-"
        print(f">>> {LEVEL_MARK.get(alert['level'], alert['level'])} {alert['type']} alert #{alert['id']} at "
              f"{point} ({alert['state']}): {reasons}", flush=True)

    client = new_client(settings.mqtt_login, service_client_id("demo-watch"))
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(f"{settings.topic_root}/alerts/#", qos=1)
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    return client


def _forget_earlier_run(settings: Settings, registry: dict) -> None:
    """Clear the demo points' readings and alerts of an earlier demo, whose timeline would mix with this one."""
    gateways = [d["id"] for p in registry["points"] for d in p["devices"]]
    points = [p["code"] for p in registry["points"]]
    with psycopg.connect(settings.database_url) as conn, conn.transaction(), psycopg.RawCursor(conn) as cur:
        readings = cur.execute(Q["forget_readings"], (gateways,)).rowcount
        alerts = cur.execute(Q["forget_alerts"], (points,)).rowcount
    if readings or alerts:
        print(f"demo: cleared {readings} readings and {alerts} alerts of the demo points from an earlier run")
    client = new_client(settings.mqtt_login, service_client_id("demo-reset"))
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    for p in registry["points"]:
        # An empty retained message removes the point's retained alert of the earlier run.
        client.publish(alert_topic(settings.topic_root, p["county_code"], p["code"]), b"", qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def _console_login(settings: Settings) -> tuple[str, str, str]:
    """A console login for the demo's county admin, with a new temporary password each run: (name, phone, password)."""
    from service.console import accounts

    async def issue() -> tuple[str, str, str]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            person = await conn.fetchrow(Q["demo_person"], CONSOLE_PHONE)
            if person["has_login"]:
                return person["name"], CONSOLE_PHONE, await accounts.reset_password(conn, person_id=person["id"])
            phone, password = await accounts.create_login(conn, person_id=person["id"], role="admin", phone=None,
                                                          author=DEMO_AUTHOR)
            return person["name"], phone, password
        finally:
            await conn.close()

    return asyncio.run(issue())


def _monitor_code(settings: Settings, point: str, api_url: str) -> tuple[str, str]:
    """A new activation code for the monitor of a seeded point: (name, the link that activates a phone with it).

    The codes an earlier run issued and nobody used are withdrawn first, so runs do not pile up pending codes.
    """
    from service.field.phones import activation_url
    from service.field import phones

    async def issue() -> tuple[str, str]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            monitor = await conn.fetchrow(Q["demo_monitor"], point)
            for pending in await phones.pending_codes(conn):
                if pending["person_id"] == monitor["id"] and pending["issued_by"] == DEMO_AUTHOR:
                    await phones.withdraw_code(conn, activation_id=pending["id"])
            issued = await phones.issue_code(conn, person_id=monitor["id"], issued_by=DEMO_AUTHOR)
            return monitor["name"], activation_url(api_url, issued.code)
        finally:
            await conn.close()

    return asyncio.run(issue())


def run_demo(settings: Settings, *, port: int, duration_s: float | None, engine_interval_s: int) -> None:
    """Migrate, seed, create an admin token, start every process and print warnings until stopped."""
    from service.auth.service import create_token

    for outcome in migrate(settings.database_url):
        print(f"migration {outcome.migration.version:04d}_{outcome.migration.name}: {outcome.status}")
    registry = demo_registry()
    seed_registry(settings.database_url, registry, author=DEMO_AUTHOR)
    _forget_earlier_run(settings, registry)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        token = create_token(conn, name="demo admin", role="admin")
    console_name, console_phone, console_password = _console_login(settings)

    env = dict(os.environ, GEOHAZARD_DATABASE_URL=settings.database_url, GEOHAZARD_MQTT_URL=settings.mqtt_url,
               GEOHAZARD_TOPIC_ROOT=settings.topic_root, GEOHAZARD_ENGINE_INTERVAL_S=str(engine_interval_s),
               PYTHONUNBUFFERED="1")
    api_url = f"http://{settings.api_host}:{port}"
    monitor_name, monitor_link = _monitor_code(settings, registry["points"][0]["code"], api_url)
    procs = {
        # One worker: the demo's one visitor needs no more, and every process of the demo shares this machine.
        "api": _spawn("api", ["serve", "--workers", "1", "--port", str(port)], env),
        "ingest": _spawn("ingest", ["ingest"], env),
    }
    watcher = _watch_alerts(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        _wait_ready(api_url, procs)
        backfilled = threading.Event()
        procs["gateways"] = _spawn("gateways", ["simulate", "--backfill-hours", "72"], env, ("backfilled", backfilled))
        # The engine starts on a filled history: before it, every sensor would look silent.
        backfilled.wait(BACKFILL_TIMEOUT_S)
        time.sleep(2)  # ingest commits the tail of the backfill
        procs["engine"] = _spawn("engine", ["engine"], env)
        print(
            "\n"
            "=====================================================================\n"
            f" Geohazard demo running.\n"
            f"   Console:    {api_url}/console  (sign in as {console_name}: phone {console_phone}, temporary\n"
            f"               password {console_password}; you choose your own at the first sign-in)\n"
            f"   Phone app:  {monitor_link}\n"
            f"               (activates one phone, once, as the grid monitor {monitor_name})\n"
            f"   API:        {api_url}/api/v1  (OpenAPI docs: {api_url}/docs)\n"
            f"   Admin token: {token}\n"
            f"   Try:        curl -H 'Authorization: Bearer {token}' {api_url}/api/v1/alerts\n"
            f"   Alerts on MQTT: {settings.topic_root}/alerts/# at {settings.mqtt_url}\n"
            "   Warnings appear below (prefixed >>>) as the engine raises them.\n"
            "   Ctrl-C stops every process.\n"
            "=====================================================================\n",
            flush=True,
        )
        deadline = time.monotonic() + duration_s if duration_s else None
        while not stop.wait(1.0):
            exited = [name for name, p in procs.items() if p.poll() is not None and name != "gateways"]
            if exited:
                print(f"demo: {', '.join(exited)} exited unexpectedly; stopping (see its output above)", flush=True)
                break
            if deadline and time.monotonic() >= deadline:
                break
    finally:
        watcher.disconnect()
        watcher.loop_stop()
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                print(f"demo: {name} did not stop within 10s; killing it", flush=True)
                proc.kill()
        print("demo stopped", flush=True)
