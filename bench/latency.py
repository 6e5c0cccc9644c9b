"""Reading-to-alert latency under background load (SPEC 8: p99 under 1 s with 5,000 readings/s).

Starts a private PostgreSQL and Mosquitto (tests/servers.py), `geohazard ingest` and `geohazard engine`
as real processes (the engine's schedule set to an hour, so only its event path can react), and a
background publisher of steady creep at --rate readings per second. Then, one at a time, it publishes a
reading that takes a fresh probe point from blue to yellow (a displacement threshold) and times how
long the yellow alert takes to appear on the point's retained MQTT alert topic. The baseline, measured
in the same run on the same broker, is the bare MQTT round trip of a message from a publisher to a
subscriber.

    .venv/bin/python bench/latency.py [--rate 5000] [--probes 60] [--background-gateways 100]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sensors.timestamps import format_utc  # noqa: E402
from tests.fault import IngestProcess, geohazard_env, migrate  # noqa: E402
from tests.servers import ROOT, TempMosquitto, TempPostgres, log_tail  # noqa: E402

TOPIC_ROOT = "bench/geohazard/v1"
SENSORS_PER_GATEWAY = 50
PROBE_THRESHOLDS = {"displacement_mm": {"blue": 50, "yellow": 100, "orange": 200, "red": 400}}
TIMEOUT_S = 10.0

def register(url: str, gateways: int, probes: int) -> None:
    """Background gateways (one point each, 50 crack gauges) and probe points (one gauge, history at 90 mm)."""
    now = datetime.now(timezone.utc)
    with psycopg.connect(url) as conn, conn.transaction():
        def point(code, lon, lat):
            conn.execute("INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code) "
                         "VALUES (%s, %s, 'landslide', 'small', %s, %s, '500113')", (code, code, lon, lat))

        for g in range(gateways):
            point(f"BG-{g:04d}", 106.0 + g * 0.01, 29.0)
            conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'native')",
                         (f"GW-BG-{g:04d}", f"BG-{g:04d}"))
            for s in range(SENSORS_PER_GATEWAY):
                conn.execute("INSERT INTO sensor (device_id, code, kind, hazard_point, v0_mm_per_day, "
                             "reporting_interval_s) VALUES (%s, %s, 'crack', %s, 1.0, 60)",
                             (f"GW-BG-{g:04d}", f"CR-{s:02d}", f"BG-{g:04d}"))
        codes = [f"PR-{p:04d}" for p in range(probes)]
        for p, code in enumerate(codes):
            point(code, 107.0 + p * 0.01, 30.0)
            conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'native')",
                         (f"GW-{code}", code))
            conn.execute("INSERT INTO sensor (device_id, code, kind, hazard_point, v0_mm_per_day, thresholds) "
                         "VALUES (%s, 'CR-01', 'crack', %s, 2.0, %s)", (f"GW-{code}", code,
                                                                       json.dumps(PROBE_THRESHOLDS)))
        # No other statement may run on the connection while a COPY is open.
        with conn.cursor().copy("COPY reading (device_id, sensor_code, ts, kind, value) FROM STDIN") as copy:
            for code in codes:
                for k in range(1, 145):  # 24 h of 10-minute readings creeping at 2 mm/d up to 99.99 mm
                    copy.write_row((f"GW-{code}", "CR-01", now - timedelta(minutes=10 * k), "crack",
                                    100.0 - 2.0 * k / 144))

class Background(threading.Thread):
    """Publishes `rate` readings per second: each background gateway in turn sends its 50 gauges."""

    def __init__(self, mqtt_port: int, gateways: int, rate: int):
        super().__init__(daemon=True)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-bg-{uuid.uuid4().hex[:6]}")
        self.client.max_inflight_messages_set(1000)
        self.client.connect("127.0.0.1", mqtt_port)
        self.client.loop_start()
        self.gateways, self.messages_per_s = gateways, rate / SENSORS_PER_GATEWAY
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        start, i = time.monotonic(), 0
        while not self.stop.is_set():
            g = i % self.gateways
            ts = format_utc(datetime.now(timezone.utc).replace(microsecond=(i // self.gateways) % 1000 * 1000))
            body = {"gateway": f"GW-BG-{g:04d}", "seq": i, "readings": [
                {"sensor": f"CR-{s:02d}", "ts": ts, "kind": "crack", "value": 10.0 + s + i * 1e-6}
                for s in range(SENSORS_PER_GATEWAY)]}
            self.client.publish(f"{TOPIC_ROOT}/gateways/GW-BG-{g:04d}/readings", json.dumps(body), qos=1)
            self.sent += SENSORS_PER_GATEWAY
            i += 1
            delay = start + i / self.messages_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

def mqtt_round_trips(port: int, count: int) -> list[float]:
    """Publish-to-receive times of a bare MQTT message on the same broker (QoS 1)."""
    received: dict[int, float] = {}
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-rtt-s-{uuid.uuid4().hex[:6]}")
    sub.on_message = lambda c, u, m: received.setdefault(int(m.payload), time.perf_counter())
    ready = threading.Event()
    sub.on_subscribe = lambda *a: ready.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("bench/rtt", qos=1)
    ready.wait(10)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-rtt-p-{uuid.uuid4().hex[:6]}")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    sent = {}
    for i in range(count):
        sent[i] = time.perf_counter()
        pub.publish("bench/rtt", str(i), qos=1)
        deadline = time.monotonic() + TIMEOUT_S
        while i not in received and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(0.05)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return [received[i] - sent[i] for i in sent if i in received]

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000, help="background readings per second (default 5000)")
    parser.add_argument("--probes", type=int, default=60, help="threshold-crossing probes (default 60)")
    parser.add_argument("--background-gateways", type=int, default=100, help="gateways of 50 gauges (default 100)")
    parser.add_argument("--warm-up-s", type=float, default=10.0, help="background load before the first probe")
    args = parser.parse_args()

    with TempPostgres() as pg, TempMosquitto() as broker, tempfile.TemporaryDirectory() as tmp:
        print("private PostgreSQL and Mosquitto up; registering", flush=True)
        url = pg.url("geohazard")
        migrate(url)
        register(url, args.background_gateways, args.probes)
        print("registry and probe histories in; starting ingest and engine", flush=True)
        env = dict(database_url=url, mqtt_url=broker.url, topic_root=TOPIC_ROOT)
        ingest = IngestProcess(Path(tmp) / "ingest.log", client_id="bench-ingest", **env).start()
        engine_log = (Path(tmp) / "engine.log").open("wb")

        engine = subprocess.Popen([sys.executable, "-m", "service.cli", "engine"], cwd=ROOT, stdout=engine_log,
                                  stderr=subprocess.STDOUT,
                                  env=geohazard_env(client_id="bench-engine", engine_interval_s=3600, **env))
        if os.environ.get("BENCH_PROFILE_ENGINE"):  # py-spy on the engine, raw stacks to the given file
            subprocess.Popen(["py-spy", "record", "--pid", str(engine.pid), "-r", "100", "--format", "raw",
                              "--nonblocking", "-o", os.environ["BENCH_PROFILE_ENGINE"]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        alerts: dict[str, float] = {}
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{uuid.uuid4().hex[:6]}")

        def on_alert(client, userdata, message):
            if message.payload and json.loads(message.payload)["level"] == "yellow":
                alerts.setdefault(message.topic.rsplit("/", 1)[-1], time.perf_counter())

        watcher.on_message = on_alert
        watcher.connect("127.0.0.1", broker.port)
        watcher.loop_start()
        watcher.subscribe(f"{TOPIC_ROOT}/alerts/#", qos=1)
        probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{uuid.uuid4().hex[:6]}")
        probe.connect("127.0.0.1", broker.port)
        probe.loop_start()
        background = Background(broker.port, args.background_gateways, args.rate)
        time.sleep(5)  # ingest subscribed, the engine's start-up evaluation done
        background.start()
        time.sleep(args.warm_up_s)
        print(f"background load running; {args.probes} probes, one at a time", flush=True)
        latencies, missed = [], 0
        for p in range(args.probes):
            code = f"PR-{p:04d}"
            body = {"gateway": f"GW-{code}", "seq": 1, "readings": [
                {"sensor": "CR-01", "ts": format_utc(datetime.now(timezone.utc)), "kind": "crack", "value": 100.001}]}
            sent = time.perf_counter()
            probe.publish(f"{TOPIC_ROOT}/gateways/GW-{code}/readings", json.dumps(body), qos=1)
            deadline = time.monotonic() + TIMEOUT_S
            while code not in alerts and time.monotonic() < deadline:
                time.sleep(0.001)
            if code in alerts:
                latencies.append(alerts[code] - sent)
            else:
                missed += 1
        background.stop.set()
        if missed:
            print(f"--- engine log ---\n{log_tail(Path(tmp) / 'engine.log')}\n--- ingest ---\n{ingest.evidence(30)}")
        load_s = args.warm_up_s + sum(latencies)
        rtt = mqtt_round_trips(broker.port, 50)
        ingest.stop()
        engine.terminate()
        engine.wait(30)
        for c in (watcher, probe, background.client):
            c.disconnect()
            c.loop_stop()

    print(f"background: {background.sent:,} readings published at a target of {args.rate:,}/s "
          f"over about {load_s:.0f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not latencies:
        print(f"no probe produced an alert within {TIMEOUT_S:.0f} s")
        return 1
    print(f"{'':28}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}   n")
    for name, values in (("publish -> alert on MQTT", latencies), ("bare MQTT round trip", rtt)):
        print(f"{name:28}" + "".join(f"{percentile(values, q) * 1000:8.0f}ms" for q in (0.5, 0.95, 0.99, 1.0))
              + f"   {len(values)}")
    p99 = percentile(latencies, 0.99)
    print(f"p99 reading-to-alert {p99 * 1000:.0f} ms = {p99 / max(percentile(rtt, 0.99), 1e-6):.0f}x the bare "
          f"MQTT round trip; target < 1000 ms: {'met' if p99 < 1.0 and not missed else 'NOT met'}"
          + (f"; {missed} probes got no alert within {TIMEOUT_S:.0f} s" if missed else ""))
    return 0 if p99 < 1.0 and not missed else 1

if __name__ == "__main__":
    sys.exit(main())
