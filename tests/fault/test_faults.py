"""SPEC 3 and 8 "Faults": kill -9 of ingest, a database restart and a broker restart in the middle of a
100,000-reading stream each end with exactly those 100,000 readings stored, none lost, none doubled.

Everything runs on private servers (tests/servers.py) on loopback: the faults stop and start them.
"""

import os
import signal
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.fault import (IngestProcess, SessionPublisher, crack_reading, migrate, native_message, process_gone,
                         wait_for)
from tests.servers import TempMosquitto, TempPostgres, log_tail
from tests.support import register

READINGS = 100_000
PER_MESSAGE = 50
MESSAGES = READINGS // PER_MESSAGE
SENSORS = 20
GATEWAY = "GW-500113-0001"
TOPIC_ROOT = "geohazard/v1"
# The stream is paced to last about five seconds, so that each fault lands in its middle, with messages
# still being published while ingest, the database or the broker is down.
STREAM_READINGS_PER_S = 20_000
# Bounds: subscription (the probe), the whole stream stored after the fault.
SUBSCRIBE_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 90.0
# Readings are stamped in the past so none is flagged `future`; one second apart per sensor.
T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)


def sensor_code(n: int) -> str:
    return f"CR-{n + 1:02d}"


def reading_key(i: int) -> tuple[str, datetime]:
    """Reading i of the stream: (sensor, time), distinct for every i."""
    return sensor_code(i % SENSORS), T0 + timedelta(seconds=i // SENSORS)


PROBE = (sensor_code(0), T0 - timedelta(hours=1))


@pytest.fixture(scope="module")
def postgres():
    with TempPostgres() as pg:
        yield pg


@pytest.fixture
def mosquitto():
    with TempMosquitto() as broker:
        yield broker


class Stream:
    """One gateway with SENSORS crack gauges streaming READINGS readings through a running ingest."""

    def __init__(self, postgres: TempPostgres, mosquitto: TempMosquitto, tmp_path):
        self.postgres, self.mosquitto = postgres, mosquitto
        self.url = postgres.url(f"fault_{uuid.uuid4().hex[:10]}")
        self.topic = f"{TOPIC_ROOT}/gateways/{GATEWAY}/readings"
        migrate(self.url)
        register(self.url, gateway=GATEWAY, sensors=[(sensor_code(n), "crack", {}) for n in range(SENSORS)])
        self.ingest = IngestProcess(tmp_path / "ingest.log", database_url=self.url, mqtt_url=mosquitto.url,
                                    topic_root=TOPIC_ROOT, client_id=f"ingest-{uuid.uuid4().hex[:8]}")
        self.publisher = SessionPublisher(mosquitto.port, f"gateway-{uuid.uuid4().hex[:8]}")
        self._thread = threading.Thread(target=self._publish_stream, daemon=True)
        self._error: BaseException | None = None
        self.stream_published = 0

    def evidence(self) -> str:
        return (f"{self.ingest.evidence()}\n--- {self.mosquitto.log} ---\n{log_tail(self.mosquitto.log, 20)}\n"
                f"--- {self.postgres.log} ---\n{log_tail(self.postgres.log, 20)}")

    def stored(self) -> int:
        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                return conn.execute("SELECT count(*) FROM reading").fetchone()[0]
        except psycopg.OperationalError:
            return -1  # the database is restarting

    def wait_stored(self, at_least: int, timeout_s: float) -> int:
        """Wait until `at_least` readings are stored; fail early, with the logs, if ingest or the publisher died."""

        def enough():
            assert self._error is None, f"the publisher failed: {self._error!r}"
            stored = self.stored()
            return stored if stored >= at_least else False

        return wait_for(enough, what=f"{at_least} stored readings", timeout_s=timeout_s, ingest=self.ingest,
                        evidence=lambda: f"({self.publisher.acknowledged}/{self.publisher.published} messages "
                                         f"acknowledged by the broker)\n{self.evidence()}")

    def subscribe(self) -> None:
        """Start ingest and wait until a probe reading is stored: from then on its session queues everything."""
        self.ingest.start()
        probe = native_message(GATEWAY, [crack_reading(*PROBE, value=0.0)])

        def probe_stored():
            # Published again until stored: before ingest subscribes, the broker has nobody to keep it for.
            self.publisher.publish(self.topic, probe)
            return self.stored() >= 1

        wait_for(probe_stored, what="the probe reading", timeout_s=SUBSCRIBE_TIMEOUT_S, ingest=self.ingest,
                 evidence=self.evidence)

    def _publish_stream(self) -> None:
        try:
            started = time.monotonic()
            for m in range(MESSAGES):
                first = m * PER_MESSAGE
                readings = [crack_reading(*reading_key(i), value=i / 100) for i in range(first, first + PER_MESSAGE)]
                self.publisher.publish(self.topic, native_message(GATEWAY, readings, seq=m))
                self.stream_published = m + 1
                ahead_s = started + first / STREAM_READINGS_PER_S - time.monotonic()
                if ahead_s > 0:
                    time.sleep(ahead_s)
        except BaseException as exc:
            self._error = exc

    def start_stream(self) -> None:
        self._thread.start()

    def ingest_in_transaction(self) -> bool:
        """Whether ingest has a transaction (or a single statement) open in the database right now."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL)").fetchone()[0]

    def strike_mid_stream(self, fault, *, in_transaction: bool = False) -> None:
        """Run `fault()` once half the stream is published and part of it stored: in the middle of the stream.

        With `in_transaction`, also wait until ingest is writing a batch, the moment a commit can be cut.
        """

        def midway():
            assert self._error is None, f"the publisher failed: {self._error!r}"
            return (self.stream_published >= MESSAGES // 2 and self.stored() > 1
                    and (not in_transaction or self.ingest_in_transaction()))

        wait_for(midway, what="half the stream published and part of it stored", timeout_s=DRAIN_TIMEOUT_S,
                 ingest=self.ingest, evidence=self.evidence, poll_s=0.005)
        stored, published = self.stored(), self.stream_published
        assert stored < READINGS + 1, f"the whole stream was already stored ({stored}) before the fault"
        fault()
        print(f"fault struck with {stored - 1} of {READINGS} readings stored and {published} of {MESSAGES} "
              "messages published")

    def assert_exactly_the_stream_is_stored(self) -> None:
        self._thread.join(DRAIN_TIMEOUT_S)
        assert not self._thread.is_alive() and self._error is None, f"the publisher failed: {self._error!r}"
        self.publisher.wait_acknowledged(DRAIN_TIMEOUT_S)
        try:
            self.wait_stored(READINGS + 1, DRAIN_TIMEOUT_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.missing_readings()}") from None
        with psycopg.connect(self.url) as conn:
            (count,) = conn.execute("SELECT count(*) FROM reading").fetchone()
            stored = set(conn.execute("SELECT sensor_code, ts FROM reading WHERE device_id = %s", (GATEWAY,)))
            (dead,) = conn.execute("SELECT count(*) FROM dead_letter").fetchone()
            (quarantined,) = conn.execute("SELECT count(*) FROM quarantine").fetchone()
        expected = {reading_key(i) for i in range(READINGS)} | {PROBE}
        assert count == READINGS + 1, f"{count} rows stored, expected {READINGS + 1}\n{self.evidence()}"
        assert stored == expected, (f"missing {sorted(expected - stored)[:10]}, unexpected "
                                    f"{sorted(stored - expected)[:10]}\n{self.evidence()}")
        assert (dead, quarantined) == (0, 0), f"{dead} dead letters, {quarantined} quarantined\n{self.evidence()}"
        assert self.ingest.alive, f"ingest died after storing everything\n{self.evidence()}"

    def missing_readings(self) -> str:
        """Which readings are missing, by message, to tell a lost message from a slow one."""
        with psycopg.connect(self.url) as conn:
            stored = set(conn.execute("SELECT sensor_code, ts FROM reading"))
        missing = sorted({i // PER_MESSAGE for i in range(READINGS) if reading_key(i) not in stored})
        return f"{len(missing)} messages have missing readings: seq {missing[:20]}{'...' if len(missing) > 20 else ''}"

    def close(self) -> None:
        if self._thread.is_alive():
            self._thread.join(DRAIN_TIMEOUT_S)
        self.publisher.close()
        self.ingest.close()


@pytest.fixture
def stream(postgres, mosquitto, tmp_path):
    s = Stream(postgres, mosquitto, tmp_path)
    try:
        s.subscribe()
        yield s
    finally:
        s.close()


def test_killing_ingest_mid_stream_loses_and_duplicates_no_reading(stream):
    stream.start_stream()

    def kill_and_restart():
        stream.ingest.kill()
        stream.ingest.start()

    stream.strike_mid_stream(kill_and_restart)
    stream.assert_exactly_the_stream_is_stored()


def test_killing_ingest_takes_its_mqtt_receiver_with_it(stream):
    # A receiver left behind would hold ingest's client id and fight the restarted ingest for its session.
    receiver = stream.ingest.receiver_pid()
    stream.ingest.kill()
    deadline = time.monotonic() + 10
    while not process_gone(receiver):
        assert time.monotonic() < deadline, f"the MQTT receiver {receiver} outlived the ingest process it served"
        time.sleep(0.05)


def test_ingest_exits_when_its_mqtt_receiver_dies_and_the_restart_loses_and_duplicates_no_reading(stream):
    stream.start_stream()

    def kill_receiver_and_restart():
        os.kill(stream.ingest.receiver_pid(), signal.SIGKILL)
        stream.ingest.process.wait(10)
        assert stream.ingest.process.returncode != 0, "ingest carried on without its MQTT receiver"
        assert "The MQTT receiver process exited" in stream.ingest.log.read_text(), stream.evidence()
        stream.ingest.start()

    stream.strike_mid_stream(kill_receiver_and_restart)
    stream.assert_exactly_the_stream_is_stored()


def test_restarting_the_database_mid_stream_loses_and_duplicates_no_reading(stream, postgres):
    stream.start_stream()
    # First while a batch's transaction is open (its commit is cut), then twice more as soon as ingest has
    # written again, whatever it is doing at that moment (a query, a commit, or Python between the two).
    stream.strike_mid_stream(postgres.restart, in_transaction=True)
    for _ in range(2):
        stream.wait_stored(stream.stored() + 1, DRAIN_TIMEOUT_S)
        postgres.restart()
    stream.assert_exactly_the_stream_is_stored()


def test_restarting_the_broker_mid_stream_loses_and_duplicates_no_reading(stream, mosquitto):
    stream.start_stream()
    stream.strike_mid_stream(mosquitto.restart)
    stream.assert_exactly_the_stream_is_stored()
