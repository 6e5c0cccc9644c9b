"""The whole path: readings published on MQTT are stored, a threshold crossing opens an alert, and the
alert is on its retained MQTT topic and in the HTTP API."""

import json
import time
from datetime import datetime, timedelta, timezone

import psycopg
from fastapi.testclient import TestClient

from alerting.engine import Engine
from ingest.consumer import Consumer
from sensors.timestamps import format_utc
from service.app import create_app
from service.auth.service import create_token
from tests.support import Publisher, Subscriber, fetch, forget_session, register, running, wait_until

POINT = "500113-HP-0042"
THRESHOLDS = {"displacement_mm": {"blue": 80, "yellow": 100, "orange": 200, "red": 400}}


def creep_readings(now: datetime, *, hours: int, rate_mm_per_day: float, end_mm: float) -> list[dict]:
    """A crack gauge creeping steadily, one reading every 10 minutes, ending at `end_mm` now."""
    steps = hours * 6
    return [
        {"sensor": "CR-01", "kind": "crack", "ts": format_utc(now - timedelta(minutes=10 * k)),
         "value": round(end_mm - rate_mm_per_day * k / 144, 3)}
        for k in range(steps)
    ]


def test_a_displacement_threshold_crossing_reaches_the_alert_topic_and_the_api(settings):
    register(settings.database_url, point=POINT, sensors=(("CR-01", "crack", THRESHOLDS),))
    alerts = Subscriber(settings, f"{settings.topic_root}/alerts/#")
    publisher = Publisher(settings)
    consumer = Consumer(settings)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    readings = creep_readings(now, hours=24, rate_mm_per_day=2.0, end_mm=101.0)

    with running(consumer.run), running(Engine(settings).run):
        assert consumer.subscribed.wait(10)
        for i in range(0, len(readings), 50):
            publisher.readings("GW-500113-0001", readings[i:i + 50])
        wait_until(lambda: fetch(settings.database_url, "SELECT count(*) FROM reading")[0][0] == len(readings),
                   what="every reading stored")
        # Until the readings are stored the engine may first see a silent sensor (a device alert).
        message = wait_until(lambda: [m for m in alerts.messages
                                      if m.payload and json.loads(m.payload)["type"] == "deformation"],
                             what="a deformation alert on MQTT")[0]

    assert message.topic == f"{settings.topic_root}/alerts/500113/{POINT}"
    assert message.retain or message.qos == 1
    alert = json.loads(message.payload)
    assert (alert["point"], alert["type"], alert["level"], alert["state"]) == (POINT, "deformation", "yellow", "open")
    assert "displacement 101.0 mm (yellow)" in alert["reasons"][0]

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        token = create_token(conn, name="duty", role="viewer")
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/alerts?type=deformation", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["data"][0]["id"] == alert["id"]
    assert body["data"][0]["level"] == "yellow"
    publisher.close()
    alerts.close()
    forget_session(settings, settings.ingest_client_id)


def test_a_crossing_reading_is_acted_on_by_the_event_path_not_the_next_cycle(settings):
    slow = settings.model_copy(update={"engine_interval_s": 3600})  # only the start-up cycle runs
    register(settings.database_url, point=POINT, sensors=(("CR-01", "crack", THRESHOLDS),))
    alerts = Subscriber(settings, f"{settings.topic_root}/alerts/#")
    publisher = Publisher(settings)
    consumer = Consumer(settings)
    engine = Engine(slow)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # Only the newest reading reaches the 100 mm threshold.
    readings = creep_readings(now, hours=24, rate_mm_per_day=2.0, end_mm=100.005)
    with running(consumer.run), running(engine.run):
        assert consumer.subscribed.wait(10)
        wait_until(engine.listening.is_set, what="the engine listening")
        time.sleep(1.0)  # the start-up evaluation is over: what follows comes from the event path
        publisher.readings("GW-500113-0001", readings[1:50])
        publisher.readings("GW-500113-0001", readings[50:])
        wait_until(lambda: fetch(settings.database_url, "SELECT count(*) FROM reading")[0][0] == len(readings) - 1,
                   what="the history stored")
        # The history is past the blue threshold (80 mm) only.
        wait_until(lambda: fetch(settings.database_url, "SELECT level FROM alert WHERE type = 'deformation'"),
                   what="the blue alert from the history")
        assert fetch(settings.database_url, "SELECT level FROM alert WHERE type = 'deformation'") == [("blue",)]
        sent = time.monotonic()
        publisher.readings("GW-500113-0001", readings[:1])  # the newest reading crosses 100 mm: yellow
        wait_until(lambda: [m for m in alerts.messages if m.payload and json.loads(m.payload)["level"] == "yellow"],
                   timeout_s=10, what="the yellow alert")
        reaction_s = time.monotonic() - sent
    assert reaction_s < 5, f"the alert came {reaction_s:.1f}s after the reading, not from the event path"
    publisher.close()
    alerts.close()
    forget_session(settings, settings.ingest_client_id)
