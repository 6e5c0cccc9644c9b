"""Issue 13, item 5: large messages cannot make ingest hold more than its byte window, are dead-lettered with
their size, hash and a bounded beginning, and the readings sent beside them are all stored.

`geohazard ingest` runs as a process against private servers (tests/servers.py) with a 1 MB window. Its queue
is built while it is stopped, so that the broker sends it all at once when it starts; what it held is read
from its own Prometheus metrics.
"""

import hashlib
import random
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingest.writer import KEPT_PAYLOAD_BYTES
from tests.fault import IngestProcess, SessionPublisher, crack_reading, migrate, native_message, wait_for
from tests.servers import TempMosquitto, TempPostgres, free_port
from tests.support import register

GATEWAY = "GW-500113-0001"
TOPIC_ROOT = "geohazard/v1"
SENSORS = 20
WINDOW_BYTES = 1_000_000  # GEOHAZARD_INGEST_WINDOW_BYTES: batches are cut at a quarter, 250,000 bytes
MAX_MESSAGE_BYTES = 200_000  # GEOHAZARD_INGEST_MAX_MESSAGE_BYTES
BATCH_BUCKET = 262_144  # the histogram bucket just above a quarter of the window
LARGE_MESSAGES = 20
LARGE_BYTES = 300_000
READINGS_MESSAGES = 40
READINGS_PER_MESSAGE = 1500  # about 110 kB a message: several fill the window
SINGLE_READINGS = 100
TIMEOUT_S = 120.0
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)


def reading(i: int) -> dict:
    return crack_reading(f"CR-{i % SENSORS + 1:02d}", T0 + timedelta(seconds=i // SENSORS), value=i % 1000 / 100)


@pytest.fixture
def servers():
    with TempPostgres() as postgres, TempMosquitto() as mosquitto:
        yield postgres, mosquitto


def metrics(port: int) -> dict[str, float]:
    """The ingest process's metrics, sample name (with its labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {name + "".join(f"{{{k}={v}}}" for k, v in sorted(labels.items())): value
            for family in text_string_to_metric_families(text) for name, labels, value, *_ in family.samples}


def test_large_messages_stay_within_the_byte_window_are_dead_lettered_cut_and_the_readings_beside_them_stored(
        servers, tmp_path):
    postgres, mosquitto = servers
    url = postgres.url(f"large_{uuid.uuid4().hex[:10]}")
    migrate(url)
    register(url, gateway=GATEWAY, sensors=[(f"CR-{n + 1:02d}", "crack", {}) for n in range(SENSORS)])
    metrics_port = free_port()
    ingest = IngestProcess(tmp_path / "ingest.log", database_url=url, mqtt_url=mosquitto.url, topic_root=TOPIC_ROOT,
                           client_id=f"ingest-{uuid.uuid4().hex[:8]}", ingest_window_bytes=WINDOW_BYTES,
                           ingest_max_message_bytes=MAX_MESSAGE_BYTES, ingest_metrics_port=metrics_port)
    publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
    topic = f"{TOPIC_ROOT}/gateways/{GATEWAY}/readings"

    def count(table: str) -> int:
        with psycopg.connect(url) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    try:
        # Subscribe ingest's session (a probe stored), then stop it: the broker queues what follows.
        ingest.start()

        def probe_stored():
            publisher.publish(topic, native_message(GATEWAY, [reading(-SENSORS)]))
            return count("reading")

        wait_for(probe_stored, what="the probe reading", timeout_s=TIMEOUT_S, ingest=ingest)
        ingest.stop()

        rng = random.Random(13)
        large, n = [], 0
        for m in range(READINGS_MESSAGES):
            publisher.publish(topic, native_message(GATEWAY, [reading(n + i) for i in range(READINGS_PER_MESSAGE)]))
            n += READINGS_PER_MESSAGE
            if m % 2:
                large.append(rng.randbytes(LARGE_BYTES))
                publisher.publish(topic, large[-1])
        for i in range(SINGLE_READINGS):
            publisher.publish(topic, native_message(GATEWAY, [reading(n + i)]))
        publisher.wait_acknowledged(TIMEOUT_S)
        expected_readings = n + SINGLE_READINGS + 1  # and the probe

        ingest.start()
        wait_for(lambda: count("reading") == expected_readings and count("dead_letter") == LARGE_MESSAGES,
                 what=f"{expected_readings} readings and {LARGE_MESSAGES} dead letters", timeout_s=TIMEOUT_S,
                 ingest=ingest)
        seen = metrics(metrics_port)
        with psycopg.connect(url) as conn:
            letters = conn.execute("SELECT payload, payload_bytes, payload_sha256, reason FROM dead_letter").fetchall()
    finally:
        publisher.close()
        ingest.close()

    print(f"ingest held at most {seen['geohazard_ingest_held_bytes_max']:,.0f} bytes (window {WINDOW_BYTES:,}); "
          f"{seen['geohazard_ingest_batch_bytes_count']:.0f} batches")
    # Every message was received and none held beyond the window; the window did fill.
    assert seen["geohazard_ingest_messages_total"] == READINGS_MESSAGES + LARGE_MESSAGES + SINGLE_READINGS
    assert WINDOW_BYTES / 2 < seen["geohazard_ingest_held_bytes_max"] <= WINDOW_BYTES, ingest.evidence()
    # No batch over a quarter of the window.
    batches = seen["geohazard_ingest_batch_bytes_count"]
    assert seen[f"geohazard_ingest_batch_bytes_bucket{{le={float(BATCH_BUCKET)}}}"] == batches
    # Each large message a dead letter of its beginning, with its whole size and hash.
    assert seen["geohazard_ingest_oversized_messages_total"] == LARGE_MESSAGES
    by_hash = {hashlib.sha256(p).digest(): p for p in large}
    for payload, size, sha256, reason in letters:
        whole = by_hash.pop(bytes(sha256))
        assert (bytes(payload), size) == (whole[:KEPT_PAYLOAD_BYTES], LARGE_BYTES)
        assert "GEOHAZARD_INGEST_MAX_MESSAGE_BYTES" in reason
    assert not by_hash
