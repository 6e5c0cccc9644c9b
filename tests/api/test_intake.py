"""Dead letters and quarantine over HTTP (SPEC 2.4, 3 and 6), fed by the real ingest through the real broker."""

import base64
import hashlib
import random
from datetime import UTC, datetime, timedelta

import pytest

from service.auth import create_token
from tests.api.support import bearer
from tests.support import fetch, wait_until
from tests.ingest.test_ingest import crack, ingest  # noqa: F401 (fixture)

NOT_JSON = b"\x02\x00\x05{not json"
NOT_UTF8 = b"\xff\xfe\x00\x81 binary"


@pytest.fixture
def officer(db):
    return bearer(create_token(db, name="duty officer", role="duty_officer"))


def listed(client, path, headers, **params) -> dict:  # noqa: F811
    response = client.get(f"/api/v1/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def dead_letters(settings, ingest, client, officer):  # noqa: F811
    """Three dead letters from the running ingest: not JSON, not UTF-8, and a reading with a bad timestamp."""
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/readings"
    ingest.raw(topic, NOT_JSON)
    ingest.raw(f"{settings.topic_root}/gateways/GW-500113-0002/readings", NOT_UTF8)
    ingest.readings("GW-500113-0001", [crack(), {"sensor": "CR-01", "ts": "yesterday", "kind": "crack", "value": 2}])
    wait_until(lambda: listed(client, "dead-letters", officer)["count"] == 3, what="3 dead letters over HTTP")
    return topic


def test_dead_letters_show_raw_bytes_as_base64_and_a_safe_preview(client, officer, dead_letters):  # noqa: F811
    letters = {base64.b64decode(d["payload_base64"]): d for d in listed(client, "dead-letters", officer)["data"]}
    assert NOT_JSON in letters and NOT_UTF8 in letters
    not_json = letters[NOT_JSON]
    assert not_json["topic"] == dead_letters
    assert not_json["reason"].startswith("payload is not JSON")
    assert not_json["payload_bytes"] == len(NOT_JSON)
    assert not_json["payload_preview"] == "\\x02\\x00\\x05{not json"
    assert letters[NOT_UTF8]["payload_preview"] is None


def test_dead_letters_are_newest_first_and_paged(client, officer, dead_letters):  # noqa: F811
    everything = listed(client, "dead-letters", officer)["data"]
    assert [d["received_at"] for d in everything] == sorted((d["received_at"] for d in everything), reverse=True)
    page = listed(client, "dead-letters", officer, limit=1, offset=1)
    assert page["count"] == 3
    assert [d["id"] for d in page["data"]] == [everything[1]["id"]]


def test_dead_letters_filter_by_reason_topic_prefix_and_time(client, officer, settings, dead_letters):  # noqa: F811
    by_reason = listed(client, "dead-letters", officer, reason="TIMESTAMP")
    assert by_reason["count"] == 1
    assert by_reason["data"][0]["reason"].startswith("readings[1]: timestamp 'yesterday'")
    by_topic = listed(client, "dead-letters", officer, topic=f"{settings.topic_root}/gateways/GW-500113-0002/")
    assert [base64.b64decode(d["payload_base64"]) for d in by_topic["data"]] == [NOT_UTF8]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert listed(client, "dead-letters", officer, since=later)["count"] == 0
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    assert listed(client, "dead-letters", officer, since=earlier)["count"] == 3


def test_a_long_dead_letter_shows_its_size_and_hash_and_says_its_payload_was_cut(
        settings, ingest, client, officer):  # noqa: F811
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/readings"
    long = b"not json: " + random.Random(1).randbytes(100_000)
    ingest.raw(topic, long)
    ingest.raw(topic, NOT_JSON)
    wait_until(lambda: listed(client, "dead-letters", officer)["count"] == 2, what="2 dead letters over HTTP")
    sha256 = hashlib.sha256(long).hexdigest()
    [letter] = listed(client, "dead-letters", officer, payload_sha256=sha256.upper())["data"]
    assert letter["reason"].startswith("payload is not JSON")
    assert (letter["payload_bytes"], letter["payload_sha256"]) == (len(long), sha256)
    assert (letter["payload_cut"], letter["payload_kept_bytes"]) == (True, 65_538)
    assert base64.b64decode(letter["payload_base64"]) == long[:65_538]
    [short] = listed(client, "dead-letters", officer, payload_sha256=hashlib.sha256(NOT_JSON).hexdigest())["data"]
    assert (short["payload_bytes"], short["payload_cut"]) == (len(NOT_JSON), False)
    assert short["payload_kept_bytes"] == len(NOT_JSON)


def test_a_page_of_dead_letters_holds_at_most_200(client, officer):  # noqa: F811
    response = client.get("/api/v1/dead-letters", params={"limit": 201}, headers=officer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]
    assert client.get("/api/v1/dead-letters", params={"limit": 200}, headers=officer).status_code == 200


def test_a_since_without_a_zone_is_422_naming_it(client, officer):  # noqa: F811
    response = client.get("/api/v1/dead-letters", params={"since": "2026-07-01T08:00:00"}, headers=officer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


def test_quarantined_readings_replay_once_their_device_is_registered(settings, ingest, client, admin):  # noqa: F811
    ingest.readings("GW-NEW", [crack(minutes_ago=10, value=1.0), crack(value=2.0)])
    wait_until(lambda: listed(client, "quarantine", admin)["count"] == 2, what="2 quarantined readings over HTTP")
    quarantined = listed(client, "quarantine", admin, device_id="GW-NEW")["data"]
    assert {q["reason"] for q in quarantined} == {"device GW-NEW is not registered"}
    assert sorted(q["value"] for q in quarantined) == [1.0, 2.0]

    # Nothing moves while the device is unknown.
    response = client.post("/api/v1/quarantine/replay", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"device_id": None, "stored": 0, "remaining": 2}

    device = {
        "id": "GW-NEW",
        "hazard_point": "500113-HP-0042",
        "protocol": "native",
        "sensors": [{"code": "CR-01", "kind": "crack"}],
    }
    assert client.post("/api/v1/devices", json=device, headers=admin).status_code == 201
    response = client.post("/api/v1/quarantine/replay", json={"device_id": "GW-NEW"}, headers=admin)
    assert response.json() == {"device_id": "GW-NEW", "stored": 2, "remaining": 0}

    assert listed(client, "quarantine", admin)["count"] == 0
    assert listed(client, "quarantine", admin, include_replayed=True)["count"] == 2
    readings = listed(client, "devices/GW-NEW/sensors/CR-01/readings", admin)
    assert [r["value"] for r in readings["data"]] == [1.0, 2.0]


def test_replay_leaves_readings_whose_sensor_is_still_unknown(settings, ingest, client, admin):  # noqa: F811
    ingest.readings("GW-500113-0001", [crack(sensor="CR-02"), crack(sensor="CR-03")])
    wait_until(lambda: listed(client, "quarantine", admin)["count"] == 2, what="2 quarantined readings")
    with_sensor = fetch(
        settings.database_url,
        "INSERT INTO sensor (device_id, code, kind, hazard_point) "
        "VALUES ('GW-500113-0001', 'CR-02', 'crack', '500113-HP-0042') RETURNING code",
    )
    assert with_sensor == [("CR-02",)]
    response = client.post("/api/v1/quarantine/replay", json={}, headers=admin)
    assert response.json() == {"device_id": None, "stored": 1, "remaining": 1}
    [left] = listed(client, "quarantine", admin)["data"]
    assert left["sensor_code"] == "CR-03"
    assert listed(client, "quarantine", admin, reason="CR-03 is NOT registered")["count"] == 1


def test_replaying_an_unknown_device_is_404_naming_it(client, admin):  # noqa: F811
    response = client.post("/api/v1/quarantine/replay", json={"device_id": "GW-NOPE"}, headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Device GW-NOPE not found"}


def test_a_replay_body_with_an_unknown_field_is_422(client, admin):  # noqa: F811
    response = client.post("/api/v1/quarantine/replay", json={"device": "GW-1"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "device"]


def test_a_viewer_sees_neither_dead_letters_nor_quarantine_and_cannot_replay(client, viewer):  # noqa: F811
    for response in (
        client.get("/api/v1/dead-letters", headers=viewer),
        client.get("/api/v1/quarantine", headers=viewer),
        client.post("/api/v1/quarantine/replay", headers=viewer),
    ):
        assert response.status_code == 403, response.request.url
    assert client.post("/api/v1/quarantine/replay", headers=viewer).json() == {
        "detail": "Role viewer may not do this; it needs admin."
    }


def test_a_duty_officer_reads_both_lists_but_only_an_admin_replays(client, officer):  # noqa: F811
    assert listed(client, "dead-letters", officer) == {"data": [], "count": 0}
    assert listed(client, "quarantine", officer) == {"data": [], "count": 0}
    assert client.post("/api/v1/quarantine/replay", headers=officer).status_code == 403


def test_a_grid_monitor_cannot_see_dead_letters(client, db):  # noqa: F811
    person = db.execute("INSERT INTO person (name) VALUES ('Li Wei') RETURNING id").fetchone()[0]
    monitor = bearer(create_token(db, name="monitor", role="grid_monitor", person_id=person))
    assert client.get("/api/v1/dead-letters", headers=monitor).status_code == 403
