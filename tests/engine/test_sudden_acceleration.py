"""Issue 12 end to end: a crack gauge whose rate jumps from 2 to 30 mm/d, published reading by reading through
the broker, is ground movement to ingest (SPEC 3) and a red deformation alert to the engine (SPEC 4.1)."""

from datetime import datetime, timedelta, timezone

import pytest

from alerting.engine import Engine
from ingest.consumer import Consumer
from sensors.timestamps import format_utc
from tests.support import Publisher, fetch, forget_session, register, running, wait_until
from tests.unit.test_quality import FIRST_FAST, crack_from_2_to_30_mm_per_day

POINT, GATEWAY = "500113-HP-0042", "GW-500113-0001"


def hourly_crack(*, now_at: int | None = None) -> list[dict]:
    """The readings of the issue, one an hour, the one at index `now_at` (else the last) stamped now."""
    values = crack_from_2_to_30_mm_per_day()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(hours=len(values) - 1 if now_at is None else now_at)
    return [{"sensor": "CR-01", "kind": "crack", "ts": format_utc(start + timedelta(hours=k)), "value": value}
            for k, value in enumerate(values)]


def stored_flags(database_url: str) -> list[list[str]]:
    return [q for (q,) in fetch(database_url, "SELECT quality FROM reading ORDER BY ts")]


@pytest.fixture
def gauge(settings, db):
    """An hourly crack gauge (v0 2 mm/d) on the point, and ingest running; yields a publisher that waits
    until each message's readings are stored."""
    register(settings.database_url, point=POINT, gateway=GATEWAY, sensors=(("CR-01", "crack", {}),))
    db.execute("UPDATE sensor SET reporting_interval_s = 3600")
    publisher = Publisher(settings)
    consumer = Consumer(settings)

    def publish(readings: list[dict]) -> None:
        expected = len(stored_flags(settings.database_url)) + len(readings)
        publisher.readings(GATEWAY, readings)
        wait_until(lambda: len(stored_flags(settings.database_url)) == expected, what=f"{expected} readings stored")

    with running(consumer.run):
        assert consumer.subscribed.wait(10)
        yield publish
    publisher.close()
    forget_session(settings, settings.ingest_client_id)


def test_no_reading_of_a_sudden_acceleration_keeps_its_flag_once_the_next_is_stored(settings, gauge):
    readings = hourly_crack()
    gauge(readings[:FIRST_FAST])
    for k in range(FIRST_FAST, len(readings)):
        gauge(readings[k:k + 1])
        flags = stored_flags(settings.database_url)
        assert flags[:k] == [[]] * k, f"a flag kept after reading {k} was stored"
        assert k == FIRST_FAST or flags[k] == [], f"reading {k}, of the new rate, was flagged"


def test_a_sudden_acceleration_is_a_red_deformation_alert_by_its_second_reading(settings, gauge):
    readings = hourly_crack(now_at=FIRST_FAST + 1)
    gauge(readings[:FIRST_FAST])
    engine = Engine(settings)
    with running(engine.run):
        wait_until(engine.listening.is_set, what="the engine listening")
        gauge(readings[FIRST_FAST:FIRST_FAST + 1])
        gauge(readings[FIRST_FAST + 1:FIRST_FAST + 2])
        wait_until(lambda: fetch(settings.database_url, "SELECT level FROM alert WHERE hazard_point = %s AND "
                                 "type = 'deformation' AND level = 'red'", POINT),
                   timeout_s=10, what="the point's deformation alert red")
