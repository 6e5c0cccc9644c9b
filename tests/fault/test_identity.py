"""Issue 13, item 2: a device with valid credentials that asks for ingest's client id cannot take ingest's session.

The broker runs the shipped mosquitto.conf with what `geohazard acl --config-dir` wrote as its conf.d
(tests/servers.py), ingest runs as `geohazard ingest` with its own account, and a device with valid
credentials connects again and again with ingest's client id (it is documented: GEOHAZARD_INGEST_CLIENT_ID)
while a gateway publishes 100 readings, each acknowledged by the broker. Before, each of those connections
closed ingest's and, being a clean session, threw away ingest's session with the readings queued in it.
"""

import csv
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest

from tests.fault import COMMAND_TIMEOUT_S, IngestProcess, crack_reading, native_message, wait_for
from tests.servers import ROOT, TempMosquitto, free_port
from tests.support import fetch, register

READINGS = 100
TOPIC_ROOT = "geohazard/v1"
GATEWAY = "GW-500113-0001"
ROGUE = "DEV-500113-0666"  # a universal device at another point, with its own valid credentials
INGEST_CLIENT_ID = "geohazard-ingest"  # the documented default
SERVICE_USER, SERVICE_PASSWORD = "geohazard", "service-password-for-the-fault-test"
INGEST_USER, INGEST_PASSWORD = "geohazard-ingest", "ingest-password-for-the-fault-test"
# The device in the issue came back every second; ten times a second, it strikes between most readings.
ATTACK_EVERY_S = 0.1
PUBLISH_EVERY_S = 0.05
DRAIN_TIMEOUT_S = 60.0
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
PROBE_AT = T0 - timedelta(hours=1)


@dataclass
class Broker:
    mosquitto: TempMosquitto
    device_port: int
    service_url: str
    ingest_url: str
    passwords: dict[str, str]  # device id -> password, from `geohazard acl --credentials-out`


@pytest.fixture
def broker(database_url, tmp_path):
    """A private Mosquitto with the listeners, accounts and ACL `geohazard acl` generated for a gateway and a device."""
    register(database_url, gateway=GATEWAY, sensors=(("CR-01", "crack", {}),))
    register(database_url, point="500113-HP-0666", gateway=ROGUE, protocol="universal",
             sensors=(("L1_LF_1", "crack", {}),))
    device_port, service_port = free_port(), free_port()
    service_url = f"mqtt://{SERVICE_USER}:{SERVICE_PASSWORD}@127.0.0.1:{service_port}"
    ingest_url = f"mqtt://{INGEST_USER}:{INGEST_PASSWORD}@127.0.0.1:{service_port}"
    config_dir, credentials = tmp_path / "conf.d", tmp_path / "credentials.csv"
    config_dir.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "acl", "--config-dir", str(config_dir), "--device-port", str(device_port),
         "--credentials-out", str(credentials)], cwd=ROOT, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
        env=dict(os.environ, GEOHAZARD_DATABASE_URL=database_url, GEOHAZARD_MQTT_URL=service_url,
                 GEOHAZARD_INGEST_MQTT_URL=ingest_url, GEOHAZARD_INGEST_CLIENT_ID=INGEST_CLIENT_ID,
                 GEOHAZARD_TOPIC_ROOT=TOPIC_ROOT))
    assert done.returncode == 0, f"geohazard acl failed:\n{done.stdout}{done.stderr}"
    with credentials.open(newline="") as f:
        passwords = {row["device_id"]: row["mqtt_password"] for row in csv.DictReader(f)}
    with TempMosquitto(include_dir=config_dir) as mosquitto:
        yield Broker(mosquitto, device_port, service_url, ingest_url, passwords)


@dataclass
class Takeover:
    stored: int  # of the READINGS readings the gateway published, each acknowledged by the broker
    acknowledged: int
    rogue_connections: int  # accepted by the broker, each asking for ingest's client id
    ingest_connections: int  # "connected to MQTT" lines in ingest's log: 1 if it was never thrown off


def attempt_takeover(*, database_url: str, device_port: int, passwords: dict[str, str],
                     ingest: IngestProcess) -> Takeover:
    """Start ingest; once it is subscribed, let the rogue device connect with ingest's client id over and over
    while the gateway publishes READINGS readings; wait until all are stored or none has been for a while."""
    gateway = _device(device_port, GATEWAY, passwords[GATEWAY], client_id=GATEWAY)
    topic = f"{TOPIC_ROOT}/gateways/{GATEWAY}/readings"
    ingest.start()
    try:
        def probe_stored():
            # Published again until stored: before ingest subscribes, the broker has nobody to keep it for.
            _publish(gateway, topic, native_message(GATEWAY, [crack_reading("CR-01", PROBE_AT, 0.0)]))
            return _stored(database_url, since=PROBE_AT) >= 1

        wait_for(probe_stored, what="the probe reading", timeout_s=COMMAND_TIMEOUT_S, ingest=ingest)
        stop, rogue = threading.Event(), Rogue(device_port, ROGUE, passwords[ROGUE])
        attacker = threading.Thread(target=rogue.run, args=(stop,), daemon=True)
        attacker.start()
        try:
            wait_for(lambda: rogue.accepted, what="the rogue device's first connection", timeout_s=COMMAND_TIMEOUT_S,
                     ingest=ingest)
            acknowledged = 0
            for i in range(READINGS):
                reading = crack_reading("CR-01", T0 + timedelta(minutes=i), i / 10)
                acknowledged += _publish(gateway, topic, native_message(GATEWAY, [reading], seq=i))
                stop.wait(PUBLISH_EVERY_S)
        finally:
            stop.set()
            attacker.join(COMMAND_TIMEOUT_S)
        # Bounded: with the takeover, what the broker threw away never comes, and the wait ends at the bound.
        try:
            wait_for(lambda: _stored(database_url, since=T0) >= READINGS, what=f"{READINGS} stored readings",
                     timeout_s=DRAIN_TIMEOUT_S, ingest=ingest)
        except AssertionError:
            pass  # reported below, with the counts
        log = ingest.log.read_text(errors="replace")
        return Takeover(_stored(database_url, since=T0), acknowledged, rogue.accepted, log.count("connected to MQTT"))
    finally:
        gateway.disconnect()
        gateway.loop_stop()
        ingest.close()


class Rogue:
    """A device with valid credentials connecting with ingest's client id and a clean session, again and again."""

    def __init__(self, port: int, user: str, password: str):
        self.port, self.user, self.password = port, user, password
        self.accepted = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            client = _device(self.port, self.user, self.password, client_id=INGEST_CLIENT_ID)
            self.accepted += 1
            client.disconnect()
            client.loop_stop()
            stop.wait(ATTACK_EVERY_S)


def _device(port: int, user: str, password: str, *, client_id: str) -> mqtt.Client:
    """A device's client, connected (the broker accepted its credentials) and looping."""
    connected = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=mqtt.MQTTv311)
    client.username_pw_set(user, password)
    client.on_connect = lambda c, u, flags, reason, p: None if reason.is_failure else connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(COMMAND_TIMEOUT_S), f"{user} could not log in on 127.0.0.1:{port}"
    return client


def _publish(client: mqtt.Client, topic: str, payload: bytes) -> bool:
    """Publish at QoS 1; whether the broker acknowledged it."""
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(COMMAND_TIMEOUT_S)
    return info.is_published()


def _stored(database_url: str, *, since: datetime) -> int:
    return fetch(database_url, "SELECT count(*) FROM reading WHERE ts >= %s", since)[0][0]


def test_a_device_asking_for_ingest_s_client_id_does_not_take_its_session(database_url, broker, tmp_path):
    ingest = IngestProcess(tmp_path / "ingest.log", database_url=database_url, mqtt_url=broker.service_url,
                           ingest_mqtt_url=broker.ingest_url, topic_root=TOPIC_ROOT, client_id=INGEST_CLIENT_ID)
    outcome = attempt_takeover(database_url=database_url, device_port=broker.device_port, passwords=broker.passwords,
                               ingest=ingest)
    assert outcome.acknowledged == READINGS
    assert outcome.rogue_connections >= 1
    assert (outcome.stored, outcome.ingest_connections) == (READINGS, 1), f"{outcome}\n{ingest.evidence()}"


def test_ingest_logs_in_with_its_own_account(database_url, broker, tmp_path):
    ingest = IngestProcess(tmp_path / "ingest.log", database_url=database_url, mqtt_url=broker.service_url,
                           ingest_mqtt_url=broker.ingest_url, topic_root=TOPIC_ROOT, client_id=INGEST_CLIENT_ID)
    with ingest:
        wait_for(lambda: "connected to MQTT" in ingest.log.read_text(errors="replace"), what="ingest's connection",
                 timeout_s=COMMAND_TIMEOUT_S, ingest=ingest)
    log = ingest.log.read_text(errors="replace")
    assert f"connected to MQTT mqtt://{INGEST_USER}@127.0.0.1:" in log
    assert INGEST_PASSWORD not in log and SERVICE_PASSWORD not in log
