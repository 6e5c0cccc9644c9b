"""Fault and fuzz tests: `geohazard ingest` as a real process against private servers (tests/servers.py).

The helpers here are shared with bench/ingest.py: the ingest process, `geohazard migrate`, a publisher
whose unacknowledged messages survive a broker restart, and the native readings message.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from sensors.timestamps import format_utc
from tests.servers import ROOT, log_tail

# Bounds of every wait below; generous for a loaded 2-core machine.
COMMAND_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
# Messages one publisher keeps unacknowledged at once; the rest wait in paho's queue.
PUBLISHER_INFLIGHT = 200


def geohazard_env(*, database_url: str, mqtt_url: str, topic_root: str, client_id: str, **settings) -> dict:
    """The environment of a `geohazard` command pointed at the given servers (metrics endpoint off)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", GEOHAZARD_DATABASE_URL=database_url, GEOHAZARD_MQTT_URL=mqtt_url,
               GEOHAZARD_TOPIC_ROOT=topic_root, GEOHAZARD_INGEST_CLIENT_ID=client_id,
               GEOHAZARD_INGEST_METRICS_PORT="0")
    env.update({f"GEOHAZARD_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def migrate(database_url: str) -> None:
    """`geohazard migrate` against `database_url` (creating the database)."""
    done = subprocess.run([sys.executable, "-m", "service.cli", "migrate"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, GEOHAZARD_DATABASE_URL=database_url), timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, f"geohazard migrate failed:\n{done.stdout}{done.stderr}"


class IngestProcess:
    """`geohazard ingest` as a subprocess, logging to a file; start, SIGKILL, SIGTERM, start again."""

    def __init__(self, log_path: Path, **env):
        self.env = geohazard_env(**env)
        self.log = log_path
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0  # time.time() of the last start

    def start(self) -> "IngestProcess":
        with self.log.open("ab") as log:
            log.write(f"----- geohazard ingest starting at {datetime.now().isoformat()} -----\n".encode())
            log.flush()
            self.started_at = time.time()
            self.process = subprocess.Popen([sys.executable, "-m", "service.cli", "ingest"], cwd=ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def receiver_pid(self) -> int:
        """The pid of its MQTT receiver (ingest.receiver), waiting for it to be started."""

        def child():
            for task in Path(f"/proc/{self.process.pid}/task").iterdir():
                for pid in (task / "children").read_text().split():
                    if "ingest.receiver" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                        return int(pid)
            return None

        return wait_for(child, what="the MQTT receiver process", timeout_s=COMMAND_TIMEOUT_S, ingest=self)

    def kill(self) -> None:
        """kill -9: no chance to finish a batch or to disconnect."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it: finish the batch in hand, then disconnect."""
        if not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ingest did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM\n{self.evidence()}")

    def evidence(self, lines: int = 60) -> str:
        state = "running" if self.alive else f"exited with {self.process.returncode}" if self.process else "not started"
        return f"ingest {state}; --- {self.log} ---\n{log_tail(self.log, lines)}"

    def close(self) -> None:
        """Stop it gracefully if it runs; kill it if that fails."""
        try:
            self.stop()
        finally:
            self.kill()

    def __enter__(self) -> "IngestProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class SessionPublisher:
    """A QoS 1 publisher with a fixed client id and a persistent session.

    paho keeps every message until its PUBACK and resends the unacknowledged ones after reconnecting
    (it reconnects by itself), so a broker restart loses nothing it was given; `wait_acknowledged`
    waits for every PUBACK. PUBACKs are counted in `on_publish` rather than with
    `MQTTMessageInfo.wait_for_publish`, which raises for a message queued while disconnected even though
    paho sends it after reconnecting.
    """

    def __init__(self, port: int, client_id: str, *, inflight: int = PUBLISHER_INFLIGHT):
        self.published = 0
        self.acknowledged = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(inflight)
        self.client.max_queued_messages_set(0)  # unbounded: never refuse a message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = lambda *_: self._connected.set()
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._connected.wait(COMMAND_TIMEOUT_S), f"publisher could not connect to 127.0.0.1:{port}"

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._lock:
            self.acknowledged += 1

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        # NO_CONN: queued while the broker is away, sent on reconnection; anything else is a refusal.
        refused = info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)
        assert not refused, f"publish refused: {mqtt.error_string(info.rc)}"
        self.published += 1

    def wait_acknowledged(self, timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acknowledged < self.published:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.acknowledged} of {self.published} messages acknowledged by the "
                                     f"broker after {timeout_s:.0f}s")
            time.sleep(0.01)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(predicate, *, what: str, timeout_s: float, ingest: IngestProcess, evidence=None, poll_s: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail at once, with the logs, if ingest dies."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        details = evidence() if evidence else ingest.evidence()
        assert ingest.alive, f"ingest died while waiting for {what} (last value {value!r})\n{details}"
        assert time.monotonic() < deadline, f"no {what} after {timeout_s:.0f}s (last value {value!r})\n{details}"
        time.sleep(poll_s)
    return value


def process_gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie nobody has reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def crack_reading(sensor: str, ts: datetime, value: float) -> dict:
    return {"sensor": sensor, "ts": format_utc(ts), "kind": "crack", "value": value}


def native_message(gateway: str, readings: list[dict], seq: int = 1) -> bytes:
    """A native readings message (SPEC 2.2) as a gateway sends it."""
    return json.dumps({"gateway": gateway, "seq": seq, "readings": readings}, separators=(",", ":")).encode()
