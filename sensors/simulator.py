"""Simulated field devices: the demo registry, slope and rain scenarios, faults, and both protocols.

Time is real: readings are stamped with wall-clock UTC (plus a device's clock skew, if it has one),
history is backfilled up to now, and the live phase publishes as time passes. Scenarios are functions
of time relative to the simulator's start. Each device has its own MQTT connection, as in the field:
a universal device connects with its id as client id and publishes `$dp` frames; a native gateway
publishes JSON on its own topics, with a retained online flag and a last will of `0`.
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
from sensors.universal import DP_TOPIC, FRAME_DATA, FRAME_STATUS, encode_frame
from sql import queries

log = logging.getLogger(__name__)
Q = queries("simulator")

# A native message carries at most this many readings (SPEC 8 benchmarks batches of 50).
READINGS_PER_MESSAGE = 50
# A universal frame's JSON must fit the 16-bit length field; 40 readings stay well inside it.
READINGS_PER_FRAME = 40
# Displacement noise in sensor units: real crack gauges resolve about 0.01 mm.
NOISE = 0.01
# Devices report their status every this many live publications.
STATUS_EVERY = 6
SPIKE_SIZE = 50.0  # how far a faulty reading jumps, in sensor units


def demo_registry() -> dict:
    """The demo registry shipped beside this module."""
    return json.loads(resources.files(__package__).joinpath("demo_registry.json").read_text(encoding="utf-8"))


def synthetic_gateways(registry: dict, count: int, sensors_per_gateway: int = 10) -> dict:
    """The registry plus `count` load-test gateways of steady crack gauges, one hazard point each."""
    points = list(registry["points"])
    for g in range(count):
        code = f"500113-HP-L{g:04d}"
        points.append({
            "code": code, "name": f"load point {g}", "type": "landslide", "scale": "small",
            "lon": 106.3 + (g % 100) * 0.005, "lat": 29.2 + (g // 100) * 0.005, "county_code": "500113",
            "township_code": "500113009", "village_code": "500113009001", "threatened_households": 1,
            "threatened_people": 3, "grid": {},
            "devices": [{"id": f"GW-LOAD-{g:04d}", "protocol": "native", "sensors": [
                {"code": f"CR-{s:02d}", "kind": "crack", "v0_mm_per_day": 1.0,
                 "scenario": {"creep": {"rate_per_day": 0.5, "start": 10.0 + s}}}
                for s in range(sensors_per_gateway)]}],
        })
    return registry | {"points": points}


def seed_registry(database_url: str, registry: dict | None = None, *, author: str) -> None:
    """Insert the registry's points, devices, sensors, people and grid, each recording `author` as who wrote it;
    existing rows are left alone."""
    registry = registry or demo_registry()
    with psycopg.connect(database_url) as conn, conn.transaction(), psycopg.RawCursor(conn) as cur:
        person_ids = {}
        for person in registry["people"]:
            row = cur.execute(Q["person_by_phone"], (person["phone"],)).fetchone()
            if row is None:
                row = cur.execute(Q["insert_person"],
                                  (person["name"], person["phone"], person["roles"], author)).fetchone()
            person_ids[person["key"]] = row[0]
        for p in registry["points"]:
            cur.execute(
                Q["insert_hazard_point"],
                (p["code"], p["name"], p["type"], p["scale"], p["lon"], p["lat"], p["county_code"],
                 p["township_code"], p["village_code"], p["threatened_households"], p["threatened_people"],
                 json.dumps(p.get("monitoring_plan", {})), author),
            )
            for d in p["devices"]:
                cur.execute(Q["insert_device"], (d["id"], p["code"], d["protocol"], author))
                for s in d["sensors"]:
                    cur.execute(Q["insert_sensor"], (d["id"], s["code"], s["kind"], p["code"], s.get("v0_mm_per_day"),
                                                     json.dumps(s.get("thresholds", {}))))
            for role, key in p.get("grid", {}).items():
                cur.execute(Q["insert_grid_assignment"], (p["code"], role, person_ids[key], author))


@dataclass
class Scenario:
    """How one sensor's readings evolve: `fields(t0_h, t1_h)` is the reading at t1_h (hours from start)."""

    kind: str
    params: dict
    failure_in_h: float
    faults: dict

    def fields(self, t0_h: float, t1_h: float, count: int) -> dict:
        if self.kind == "rain":
            p = self.params["storm"]
            overlap = max(0.0, min(t1_h, p.get("to_h", math.inf)) - max(t0_h, p.get("from_h", -math.inf)))
            total = p.get("rate_mm_per_h", 0.0) * overlap
            return {"value": round(total, 2)}
        stuck_from = self.faults.get("stuck_from_h")
        if stuck_from is not None and t1_h >= stuck_from:
            t1_h, noise = stuck_from, 0.0  # the sensor repeats the last value it measured
        else:
            noise = random.gauss(0, NOISE)
        value = self._series(t1_h) + noise
        spike_every = self.faults.get("spike_every")
        if spike_every and count % spike_every == spike_every - 1:
            value += SPIKE_SIZE
        return self._shape(value)

    def _series(self, t_h: float) -> float:
        name, p = next(iter(self.params.items()))
        if name == "level":
            return p["value"]
        if name == "creep":
            return p["start"] + p["rate_per_day"] * (t_h / 24 + 3)
        return self._accelerating(p, t_h)

    def _shape(self, value: float) -> dict:
        if self.kind == "gnss":
            # Most of the movement downslope (east), a little north, some settlement.
            return {"e": round(value * 0.8, 3), "n": round(value * 0.6, 3), "u": round(-value * 0.2, 3)}
        if self.kind == "tilt":
            return {"X": round(value * 0.6, 3), "Y": round(value * 0.8, 3), "Z": 89.9, "angle": round(value, 3),
                    "AZI": 135.0}
        return {"value": round(value, 3)}

    def _accelerating(self, p: dict, t_h: float) -> float:
        """Displacement of a slope creeping at v0 until 36 h before now, then accelerating to failure.

        After the onset the inverse velocity falls linearly to zero at the failure time (Fukuzono 1985):
        v = v0 (tf - t_on) / (tf - t), so S = S_on + v0 (tf - t_on) ln((tf - t_on) / (tf - t)).
        """
        v0_h = p["v0_mm_per_day"] / 24
        onset_h, failure_h = -36.0, self.failure_in_h
        # Stop just short of the failure time: the series keeps its last velocity instead of diverging.
        t_h = min(t_h, failure_h - 1 / 12)
        if t_h <= onset_h:
            return p["start"] + v0_h * (t_h + 72)
        span = failure_h - onset_h
        return p["start"] + v0_h * (onset_h + 72) + v0_h * span * math.log(span / (failure_h - t_h))


class SimDevice:
    """One field device with its own MQTT connection."""

    def __init__(self, spec: dict, *, topic_root: str, failure_in_h: float, host: str, port: int,
                 username: str | None, password: str | None):
        self.id = spec["id"]
        self.protocol = spec["protocol"]
        self.faults = spec.get("faults", {})
        self.topic_root = topic_root
        self.sensors = {s["code"]: Scenario(s["kind"], s["scenario"], failure_in_h, s.get("faults", {}))
                        for s in spec["sensors"]}
        self.seq = 0
        self.count = 0
        native = self.protocol == "native"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=self.id if not native else f"{self.id}-{random.getrandbits(24):06x}")
        if username:
            self.client.username_pw_set(username, password)
        if native:
            self.client.will_set(gateway_topic(topic_root, "online", self.id), b"0", qos=1, retain=True)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if native:
            self.client.publish(gateway_topic(topic_root, "online", self.id), b"1", qos=1, retain=True)

    def close(self, *, clean: bool = True) -> None:
        if clean and self.protocol == "native":
            self.client.publish(gateway_topic(self.topic_root, "online", self.id), b"0", qos=1,
                                retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()

    def readings(self, start: datetime, hours_of, frm: datetime, to: datetime, step: timedelta) -> list[tuple]:
        """(sensor code, device-clock time, fields) for every step in (frm, to]."""
        skew = timedelta(seconds=self.faults.get("clock_skew_s", 0))
        out = []
        t = frm + step
        while t <= to:
            for code, scenario in self.sensors.items():
                out.append((code, t + skew, scenario.kind, scenario.fields(hours_of(t - step), hours_of(t), self.count)))
            self.count += 1
            t += step
        return out

    def publish_readings(self, readings: list[tuple]) -> list[mqtt.MQTTMessageInfo]:
        if self.protocol == "native":
            return [self._native(readings[i:i + READINGS_PER_MESSAGE])
                    for i in range(0, len(readings), READINGS_PER_MESSAGE)]
        return [self._frame(readings[i:i + READINGS_PER_FRAME]) for i in range(0, len(readings), READINGS_PER_FRAME)]

    def _native(self, chunk) -> mqtt.MQTTMessageInfo:
        self.seq += 1
        body = {"gateway": self.id, "seq": self.seq,
                "readings": [{"sensor": code, "ts": format_utc(ts), "kind": kind, **fields}
                             for code, ts, kind, fields in chunk]}
        return self.client.publish(gateway_topic(self.topic_root, "readings", self.id), json.dumps(body), qos=1)

    def _frame(self, chunk) -> mqtt.MQTTMessageInfo:
        by_sensor: dict[str, dict] = {}
        for code, ts, kind, fields in chunk:
            # Real firmware prints the fields as a comma-separated string in the table's order.
            value = fields["value"] if list(fields) == ["value"] else ",".join(f"{v:.3f}" for v in fields.values())
            by_sensor.setdefault(code, {})[format_utc(ts)] = value
        return self.client.publish(DP_TOPIC, encode_frame(FRAME_DATA, {self.id: by_sensor}), qos=1)

    def publish_status(self, hours: float) -> mqtt.MQTTMessageInfo:
        battery = max(0.0, 95.0 - self.faults.get("battery_drain_pct_per_h", 0.0) * max(hours, 0.0))
        states = {code: 0 for code in self.sensors}
        if battery < 10:
            states = {code: -1 for code in self.sensors}  # a flat battery: power errors everywhere
        if self.protocol == "native":
            body = {"battery_pct": round(battery, 1), "supply_v": 12.4, "signal": -75, "temp_c": 18.5,
                    "sensor_state": states}
            return self.client.publish(gateway_topic(self.topic_root, "status", self.id), json.dumps(body), qos=1)
        status = {"ext_power_volt": "12.40", "solar_volt": "17.80", "battery_dump_energy": f"{battery:.0f}",
                  "temp": "18.50", "humidity": "71", "lon": "106.530000", "lat": "29.410000", "signal_4g": -79,
                  "sw_version": "V2.3.1", "sensor_state": states}
        return self.client.publish(DP_TOPIC, encode_frame(FRAME_STATUS, {self.id: {"S1_ZT_1": status}}), qos=1)


class Simulator:
    """Publishes every device's readings: the backfilled history first, then live every `period_s`."""

    def __init__(self, *, mqtt_host: str, mqtt_port: int, topic_root: str, registry: dict | None = None,
                 failure_in_minutes: float = 120.0, username: str | None = None, password: str | None = None):
        registry = registry or demo_registry()
        self.started = datetime.now(timezone.utc)
        self.devices = [
            SimDevice(d, topic_root=topic_root, failure_in_h=failure_in_minutes / 60, host=mqtt_host,
                      port=mqtt_port, username=username, password=password)
            for p in registry["points"] for d in p["devices"]
        ]
        self.published_readings = 0

    def close(self) -> None:
        for device in self.devices:
            device.close()

    def _hours(self, ts: datetime) -> float:
        return (ts - self.started).total_seconds() / 3600

    def publish_span(self, frm: datetime, to: datetime, step: timedelta) -> int:
        """Publish every device's readings at every `step` in (frm, to]; wait for the broker's PUBACKs."""
        pending, count = [], 0
        for device in self.devices:
            readings = device.readings(self.started, self._hours, frm, to, step)
            count += len(readings)
            pending += device.publish_readings(readings)
        for info in pending:
            info.wait_for_publish(timeout=60)
        self.published_readings += count
        return count

    def publish_status(self, now: datetime) -> None:
        for info in [device.publish_status(self._hours(now)) for device in self.devices]:
            info.wait_for_publish(timeout=30)

    def run(self, *, backfill_hours: float, interval_s: float, period_s: float,
            stop: threading.Event, duration_s: float | None = None) -> None:
        """Backfill `backfill_hours` at `interval_s`, then publish live every `period_s` until stopped."""
        now = self.started
        if backfill_hours > 0:
            count = self.publish_span(now - timedelta(hours=backfill_hours), now, timedelta(seconds=interval_s))
            log.info("backfilled %d readings of %d devices covering the last %.0f h", count, len(self.devices),
                     backfill_hours)
        self.publish_status(now)
        last, ticks = now, 0
        deadline = time.monotonic() + duration_s if duration_s else None
        while not stop.wait(period_s):
            current = datetime.now(timezone.utc)
            count = self.publish_span(last, current, current - last)
            last, ticks = current, ticks + 1
            if ticks % STATUS_EVERY == 0:
                self.publish_status(current)
            log.debug("published %d live readings", count)
            if deadline and time.monotonic() >= deadline:
                break
