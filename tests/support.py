"""Helpers the integration tests share: background services, a publisher, and bounded waiting."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager

import paho.mqtt.client as mqtt
import psycopg

# Every wait in the tests is bounded; this is long enough for a loaded CI machine.
WAIT_S = 20.0


def wait_until(predicate, timeout_s: float = WAIT_S, what: str | Callable[[], str] = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout_s`, saying `what` was
    awaited (a callable is asked then, to describe the state the test found)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            awaited = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout_s}s waiting for {awaited}; last value {value!r}")
        time.sleep(0.05)


@contextmanager
def running(service_run):
    """Run an async `run(stop)` service on its own thread and event loop for the duration of the block."""
    started = threading.Event()
    state = {}

    def target():
        async def main():
            state["loop"] = asyncio.get_running_loop()
            state["stop"] = asyncio.Event()
            started.set()
            await service_run(state["stop"])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the test below, not swallowed
            state["error"] = exc
            started.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield
    finally:
        if thread.is_alive():
            state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(15)
        if "error" in state:
            raise state["error"]
        assert not thread.is_alive(), "service did not stop within 15s"


def forget_session(settings, client_id: str) -> None:
    """Remove a persistent session from the broker, so it stops queueing messages for a finished test."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.disconnect()


class Publisher:
    """A plain MQTT client publishing what a gateway would, QoS 1, waiting for each PUBACK."""

    def __init__(self, settings):
        self.settings = settings
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
        self.client.loop_start()

    def raw(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def readings(self, gateway: str, readings: list[dict], *, topic_gateway: str | None = None) -> None:
        body = {"gateway": gateway, "seq": 1, "readings": readings}
        self.raw(f"{self.settings.topic_root}/gateways/{topic_gateway or gateway}/readings", json.dumps(body))

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber:
    """Collects the messages arriving on one topic filter."""

    def __init__(self, settings, topic_filter: str):
        self.messages: list[mqtt.MQTTMessage] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
        self.client.loop_start()
        assert self._subscribed.wait(10), f"could not subscribe to {topic_filter}"

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def fetch(database_url: str, query: str, *params):
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def register(database_url: str, *, point: str = "500113-HP-0042", gateway: str = "GW-500113-0001",
             sensors=(("CR-01", "crack", {}),), lon: float = 106.52, lat: float = 29.40,
             protocol: str = "native", accel_unit: str = "mg") -> None:
    """Register one hazard point with one gateway and the given (code, kind, thresholds) sensors."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code) "
            "VALUES (%s, 'test slope', 'landslide', 'medium', %s, %s, '500113') ON CONFLICT DO NOTHING",
            (point, lon, lat))
        conn.execute("INSERT INTO device (id, hazard_point, protocol, accel_unit) VALUES (%s, %s, %s, %s)",
                     (gateway, point, protocol, accel_unit))
        for code, kind, thresholds in sensors:
            conn.execute(
                "INSERT INTO sensor (device_id, code, kind, hazard_point, v0_mm_per_day, thresholds) "
                "VALUES (%s, %s, %s, %s, 2.0, %s)", (gateway, code, kind, point, json.dumps(thresholds)))
