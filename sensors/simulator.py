"""Simulated field gateways: the demo registry, slope and rain scenarios, and a native-protocol publisher.

Time is real: readings are stamped with wall-clock UTC, history is backfilled up to now, and the live
phase publishes as time passes. Scenarios are functions of time relative to the simulator's start.
"""

import json
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources

import paho.mqtt.client as mqtt
import psycopg

from sensors.native import gateway_topic
from sensors.timestamps import format_utc

log = logging.getLogger(__name__)

# A native message carries at most this many readings (SPEC 8 benchmarks batches of 50).
READINGS_PER_MESSAGE = 50
# Displacement noise, mm: real crack gauges resolve about 0.01 mm.
NOISE_MM = 0.01


def demo_registry() -> dict:
    """The demo registry shipped beside this module."""
    return json.loads(resources.files(__package__).joinpath("demo_registry.json").read_text(encoding="utf-8"))


def seed_registry(database_url: str, registry: dict | None = None) -> None:
    """Insert the registry's points, devices, sensors, people and grid; existing rows are left alone."""
    registry = registry or demo_registry()
    with psycopg.connect(database_url) as conn, conn.transaction():
        person_ids = {}
        for person in registry["people"]:
            row = conn.execute("SELECT id FROM person WHERE phone = %s", (person["phone"],)).fetchone()
            if row is None:
                row = conn.execute(
                    "INSERT INTO person (name, phone, roles, county_code) VALUES (%s, %s, %s, '500113') RETURNING id",
                    (person["name"], person["phone"], person["roles"]),
                ).fetchone()
            person_ids[person["key"]] = row[0]
        for p in registry["points"]:
            conn.execute(
                "INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, township_code,"
                " village_code, threatened_households, threatened_people, monitoring_plan)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING",
                (p["code"], p["name"], p["type"], p["scale"], p["lon"], p["lat"], p["county_code"],
                 p["township_code"], p["village_code"], p["threatened_households"], p["threatened_people"],
                 json.dumps(p.get("monitoring_plan", {}))),
            )
            conn.execute(
                "INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'native') ON CONFLICT (id) DO NOTHING",
                (p["gateway"], p["code"]),
            )
            for s in p["sensors"]:
                conn.execute(
                    "INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s, v0_mm_per_day,"
                    " thresholds) VALUES (%s, %s, %s, %s, 600, %s, %s) ON CONFLICT DO NOTHING",
                    (p["gateway"], s["code"], s["kind"], p["code"], s.get("v0_mm_per_day"),
                     json.dumps(s.get("thresholds", {}))),
                )
            for role, key in p["grid"].items():
                conn.execute(
                    "INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (p["code"], role, person_ids[key]),
                )


@dataclass
class Scenario:
    """How one sensor's readings evolve; `fields(t_h0, t_h1)` gives the reading at t_h1 (hours from start)."""

    kind: str
    params: dict
    failure_in_h: float

    def fields(self, t0_h: float, t1_h: float) -> dict:
        name, p = next(iter(self.params.items()))
        if self.kind == "rain":
            rate = p.get("rate_mm_per_h", 0.0)
            overlap = max(0.0, min(t1_h, p.get("to_h", math.inf)) - max(t0_h, p.get("from_h", -math.inf)))
            return {"value": round(rate * overlap, 2)}
        if name == "creep":
            s = p["start_mm"] + p["rate_mm_per_day"] * (t1_h / 24 + 3)
        else:
            s = self._accelerating(p, t1_h)
        s += random.gauss(0, NOISE_MM)
        if self.kind == "gnss":
            # Most of the movement downslope (east), a little north, some settlement.
            return {"e": round(s * 0.8, 3), "n": round(s * 0.6, 3), "u": round(-s * 0.2, 3)}
        return {"value": round(s, 3)}

    def _accelerating(self, p: dict, t_h: float) -> float:
        """Displacement of a slope creeping at v0 until 36 h before now, then accelerating to failure.

        After the onset the inverse velocity falls linearly to zero at the failure time (Fukuzono 1985):
        v = v0 (tf - t_on) / (tf - t), so S = S_on + v0 (tf - t_on) ln((tf - t_on) / (tf - t)).
        """
        v0_h = p["v0_mm_per_day"] / 24
        onset_h, failure_h = -36.0, self.failure_in_h
        # Stop just short of the failure time: the series keeps its last velocity instead of diverging.
        t_h = min(t_h, failure_h - 1 / 12)
        s_onset = p["start_mm"] + v0_h * (onset_h + 72)
        if t_h <= onset_h:
            return p["start_mm"] + v0_h * (t_h + 72)
        span = failure_h - onset_h
        return s_onset + v0_h * span * math.log(span / (failure_h - t_h))


@dataclass
class SimSensor:
    gateway: str
    code: str
    scenario: Scenario


class Simulator:
    """Publishes every gateway's readings: the backfilled history first, then live every `period_s`."""

    def __init__(self, *, mqtt_host: str, mqtt_port: int, topic_root: str, registry: dict | None = None,
                 failure_in_minutes: float = 120.0, username: str | None = None, password: str | None = None):
        registry = registry or demo_registry()
        self.topic_root = topic_root
        self.started = datetime.now(timezone.utc)
        self.sensors = [
            SimSensor(p["gateway"], s["code"], Scenario(s["kind"], s["scenario"], failure_in_minutes / 60))
            for p in registry["points"] for s in p["sensors"]
        ]
        self._seq: dict[str, int] = {}
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"geohazard-sim-{random.getrandbits(32):08x}",
                                   protocol=mqtt.MQTTv311)
        if username:
            self._client.username_pw_set(username, password)
        self._client.connect(mqtt_host, mqtt_port, keepalive=30)
        self._client.loop_start()
        self.published_readings = 0

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _hours(self, ts: datetime) -> float:
        return (ts - self.started).total_seconds() / 3600

    def publish_span(self, frm: datetime, to: datetime, step: timedelta) -> int:
        """Publish readings at every `step` in (frm, to], grouped per gateway in messages of up to 50."""
        per_gateway: dict[str, list[dict]] = {}
        t = frm + step
        while t <= to:
            for s in self.sensors:
                fields = s.scenario.fields(self._hours(t - step), self._hours(t))
                kind = s.scenario.kind
                per_gateway.setdefault(s.gateway, []).append({"sensor": s.code, "ts": format_utc(t), "kind": kind, **fields})
            t += step
        pending = []
        for gateway, readings in per_gateway.items():
            for i in range(0, len(readings), READINGS_PER_MESSAGE):
                pending.append(self._publish(gateway, readings[i:i + READINGS_PER_MESSAGE]))
        for info in pending:
            info.wait_for_publish(timeout=30)
        return sum(len(r) for r in per_gateway.values())

    def _publish(self, gateway: str, readings: list[dict]) -> mqtt.MQTTMessageInfo:
        seq = self._seq[gateway] = self._seq.get(gateway, 0) + 1
        body = {"gateway": gateway, "seq": seq, "readings": readings}
        self.published_readings += len(readings)
        return self._client.publish(gateway_topic(self.topic_root, "readings", gateway), json.dumps(body), qos=1)

    def run(self, *, backfill_hours: float, interval_s: float, period_s: float,
            stop: threading.Event, duration_s: float | None = None) -> None:
        """Backfill `backfill_hours` at `interval_s`, then publish live every `period_s` until stopped."""
        now = self.started
        if backfill_hours > 0:
            # Align to the interval so that history and live readings never share a timestamp.
            frm = now - timedelta(hours=backfill_hours)
            count = self.publish_span(frm, now, timedelta(seconds=interval_s))
            log.info("backfilled %d readings covering the last %.0f h", count, backfill_hours)
        last = now
        deadline = time.monotonic() + duration_s if duration_s else None
        while not stop.wait(period_s):
            current = datetime.now(timezone.utc)
            count = self.publish_span(last, current, current - last)
            last = current
            log.debug("published %d live readings", count)
            if deadline and time.monotonic() >= deadline:
                break
