"""Patrol tasks and patrol reports over HTTP (SPEC 5 and 6), on the real database and broker."""

import json
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from alerting.kernels import haversine_m as distance_m
from runtime.notices import READINGS_CHANNEL, parse_stored_notice
from service.auth import create_token
from tests.api.support import bearer, insert_alert, post_point
from tests.support import Subscriber, fetch, wait_until

POINT = "500113-HP-0042"  # at 106.52, 29.40 (tests.api.support.SPEC_POINT)
OTHER = "500113-HP-0001"
MAX_PHOTO_BYTES = 64 * 1024
NOW = datetime.now(UTC).replace(microsecond=0)


def png(width: int = 1, height: int = 1) -> bytes:
    """A real PNG image of grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# The start of a JFIF file (what a phone camera writes) and some bytes: only the content's first bytes are judged.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


@pytest.fixture
def settings(settings, tmp_path):
    """This test's settings, with its own photo directory and a small photo limit."""
    return settings.model_copy(
        update={"patrol_photo_dir": str(tmp_path / "photos"), "patrol_photo_max_bytes": MAX_PHOTO_BYTES}
    )


@pytest.fixture
def photo_files(settings):
    """Every file under the photo directory (partial files included), as it is now."""
    root = Path(settings.patrol_photo_dir)
    return lambda: sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def points(client, admin):  # noqa: F811
    post_point(client, admin)
    post_point(client, admin, code=OTHER, lon=106.60, lat=29.50)


def person(db, name: str) -> int:
    return db.execute("INSERT INTO person (name, phone) VALUES (%s, '13800000000') RETURNING id", (name,)).fetchone()[0]


@pytest.fixture
def monitor(db, points):
    """Li Wei, the monitor of POINT only, with the phone's token."""
    person_id = person(db, "Li Wei")
    db.execute(
        "INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)", (POINT, person_id)
    )
    return bearer(create_token(db, name="phone:li-wei", role="grid_monitor", person_id=person_id)), person_id


@pytest.fixture
def officer(db):
    return bearer(create_token(db, name="duty:zhang", role="duty_officer"))


def task(db, point=POINT, *, regime="routine", state="open", assignee=None, due_in=timedelta(hours=2)) -> int:
    return db.execute(
        "INSERT INTO patrol_task (hazard_point, regime, state, assignee_id, due_at) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id",
        (point, regime, state, assignee, NOW + due_in),
    ).fetchone()[0]


def body(**changes) -> dict:
    """A report as SPEC 6's example sends it, made 11 m north of the point."""
    return {
        "point": POINT,
        "reported_at": "2026-07-01T08:42:10+08:00",
        "lon": 106.52,
        "lat": 29.4001,
        "accuracy_m": 8,
        "findings": ["new_cracks"],
        "judgement": "suspicious",
        "note": "new crack above the road",
        **changes,
    }


def report(client, headers, **changes):  # noqa: F811
    return client.post("/api/v1/patrol-reports", json=body(**changes), headers=headers)


def form(**changes) -> dict[str, str | list[str]]:
    """The same report as multipart form fields; a list (findings) is sent as the field repeated."""
    return {
        name: value if isinstance(value, list) else str(value)
        for name, value in body(**changes).items()
        if value is not None
    }


def count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


# --- filing a report ----------------------------------------------------------------------------


def test_a_json_report_is_filed_with_its_reporter_and_both_times(client, monitor):  # noqa: F811
    headers, person_id = monitor
    before = datetime.now(UTC)
    response = report(client, headers)
    assert response.status_code == 201, response.text
    filed = response.json()
    assert response.headers["Location"] == f"/api/v1/patrol-reports/{filed['id']}"
    assert (filed["point"], filed["findings"], filed["judgement"]) == (POINT, ["new_cracks"], "suspicious")
    assert (filed["reporter_id"], filed["reporter_name"]) == (person_id, "Li Wei")
    assert filed["recorded_by"] == f"phone:li-wei (person {person_id})"
    assert datetime.fromisoformat(filed["reported_at"]) == datetime(2026, 7, 1, 0, 42, 10, tzinfo=UTC)
    assert datetime.fromisoformat(filed["received_at"]) >= before
    assert filed["distance_m"] == pytest.approx(11.1, abs=0.2)
    assert filed["far_from_point"] is False
    assert (filed["task"], filed["alert_id"], filed["photos"], filed["task_marked_done"]) == (None, None, [], False)
    listed = client.get("/api/v1/patrol-reports", headers=headers).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == filed["id"]


def test_a_console_token_without_a_person_reports_as_itself(client, officer, points):  # noqa: F811
    response = report(client, officer)
    assert response.status_code == 201, response.text
    assert (response.json()["reporter_id"], response.json()["recorded_by"]) == (None, "duty:zhang")


def test_a_multipart_report_keeps_two_photos_and_serves_them(client, monitor, db, photo_files):  # noqa: F811
    headers, _ = monitor
    image = png(4, 3)
    response = client.post(
        "/api/v1/patrol-reports",
        data=form(findings=["new_cracks", "bulging"], task=None),
        # The client's names and content types are not trusted: the PNG says it is text.
        files=[("photos", ("IMG_0001.jpg", JPEG, "image/jpeg")), ("photos", ("notes.txt", image, "text/plain"))],
        headers=headers,
    )
    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["findings"] == ["new_cracks", "bulging"]
    assert [(p["n"], p["media_type"], p["size_bytes"]) for p in filed["photos"]] == [
        (1, "image/jpeg", len(JPEG)),
        (2, "image/png", len(image)),
    ]
    assert len(photo_files()) == 2
    assert not any("IMG_0001" in path.name or "notes" in path.name for path in photo_files())
    for photo, content in zip(filed["photos"], (JPEG, image), strict=True):
        fetched = client.get(photo["url"], headers=headers)
        assert fetched.status_code == 200
        assert fetched.content == content
        assert fetched.headers["content-type"] == photo["media_type"]
    assert client.get(f"/api/v1/patrol-reports/{filed['id']}/photos/3", headers=headers).status_code == 404


def test_a_photo_that_is_not_an_image_is_422_and_nothing_is_kept(client, monitor, db, photo_files):  # noqa: F811
    response = client.post(
        "/api/v1/patrol-reports",
        data=form(),
        files=[
            ("photos", ("a.jpg", JPEG, "image/jpeg")),
            ("photos", ("b.jpg", b"<html>not a photo</html>", "image/jpeg")),
        ],
        headers=monitor[0],
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "photos", 1]
    assert "not a JPEG, PNG or WebP image" in error["msg"]
    assert count(db, "patrol_report") == 0
    assert photo_files() == []


def test_an_oversize_photo_is_413_and_nothing_is_kept(client, monitor, db, photo_files):  # noqa: F811
    too_big = png() + bytes(MAX_PHOTO_BYTES)
    response = client.post(
        "/api/v1/patrol-reports", data=form(), files=[("photos", ("big.png", too_big, "image/png"))], headers=monitor[0]
    )
    assert response.status_code == 413
    assert response.json() == {"detail": f"photos[0] is {len(too_big)} bytes; a photo may be at most 65536 bytes"}
    assert count(db, "patrol_report") == 0
    assert photo_files() == []


def test_photos_written_before_a_later_refusal_are_removed(client, monitor, db, photo_files):  # noqa: F811
    elsewhere = task(db, OTHER)  # the photo is fine; the task is refused after the photo is on disk
    response = client.post(
        "/api/v1/patrol-reports",
        data=form(task=elsewhere),
        files=[("photos", ("a.png", png(), "image/png"))],
        headers=monitor[0],
    )
    assert response.status_code == 422
    assert count(db, "patrol_report") == 0
    assert photo_files() == []


def test_photos_in_a_json_body_are_refused_naming_the_field(client, monitor):  # noqa: F811
    response = report(client, monitor[0], photos=["aGVsbG8="])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "photos"]


def test_a_body_that_is_neither_json_nor_a_form_is_415(client, monitor):  # noqa: F811
    response = client.post(
        "/api/v1/patrol-reports", content=b"point=x", headers={**monitor[0], "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert "application/json or multipart/form-data" in response.json()["detail"]


def test_an_unknown_finding_is_422_naming_findings(client, monitor, db):  # noqa: F811
    response = report(client, monitor[0], findings=["new_cracks", "ufo"])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "findings", 1]
    assert count(db, "patrol_report") == 0


def test_nothing_abnormal_with_another_finding_is_422_as_a_contradiction(client, monitor):  # noqa: F811
    response = report(client, monitor[0], findings=["nothing_abnormal", "rockfall"])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "findings"]
    assert "nothing_abnormal contradicts rockfall" in error["msg"]


def test_a_multipart_field_error_names_the_field(client, monitor):  # noqa: F811
    response = client.post("/api/v1/patrol-reports", data=form(lat="north"), headers=monitor[0])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lat"]


def test_a_form_may_send_findings_comma_separated_and_leave_fields_empty(client, monitor):  # noqa: F811
    response = client.post(
        "/api/v1/patrol-reports", data=form(findings="new_cracks, bulging", task="", note=""), headers=monitor[0]
    )
    assert response.status_code == 201, response.text
    filed = response.json()
    assert (filed["findings"], filed["task"], filed["note"]) == (["new_cracks", "bulging"], None, None)


def test_openapi_documents_the_json_and_the_multipart_report(client):  # noqa: F811
    post = client.get("/openapi.json").json()["paths"]["/api/v1/patrol-reports"]["post"]
    content = post["requestBody"]["content"]
    assert content["application/json"]["example"]["findings"] == ["new_cracks", "crack_widening"]
    form_schema = content["multipart/form-data"]["schema"]
    assert form_schema["properties"]["photos"]["items"]["format"] == "binary"
    assert content["multipart/form-data"]["encoding"]["findings"] == {"style": "form", "explode": True}
    undocumented = [name for name, field in form_schema["properties"].items() if not field.get("description")]
    assert undocumented == []


def test_a_report_far_from_its_point_is_kept_and_flagged(client, monitor):  # noqa: F811
    headers, _ = monitor
    near = report(client, headers).json()
    far = report(client, headers, lat=29.405).json()  # 556 m north
    assert far["far_from_point"] is True
    assert far["distance_m"] == pytest.approx(556, abs=1)
    assert ids(client.get("/api/v1/patrol-reports", params={"far": "true"}, headers=headers)) == [far["id"]]
    assert ids(client.get("/api/v1/patrol-reports", params={"far": "false"}, headers=headers)) == [near["id"]]


def test_haversine_distance_matches_a_degree_of_latitude():
    assert distance_m(106.52, 29.0, 106.52, 30.0) == pytest.approx(111_195, abs=1)
    assert distance_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, abs=1)
    assert distance_m(106.52, 29.4, 106.52, 29.4) == 0


# --- tasks and reports ----------------------------------------------------------------------------


def test_a_report_on_an_open_task_of_its_point_marks_the_task_done(client, monitor, db):  # noqa: F811
    headers, person_id = monitor
    task_id = task(db, assignee=person_id)
    response = report(client, headers, task=task_id, reported_at=(NOW - timedelta(minutes=5)).isoformat())
    assert response.status_code == 201, response.text
    assert (response.json()["task"], response.json()["task_marked_done"]) == (task_id, True)
    [done] = client.get("/api/v1/patrol-tasks", params={"point": POINT}, headers=headers).json()["data"]
    assert done["state"] == "done"
    assert datetime.fromisoformat(done["done_at"]) == NOW - timedelta(minutes=5)
    assert ids(client.get("/api/v1/patrol-reports", params={"task": task_id}, headers=headers)) == [
        response.json()["id"]
    ]


def test_a_report_on_a_cancelled_task_is_kept_and_the_task_left_alone(client, monitor, db):  # noqa: F811
    task_id = task(db, state="cancelled")
    response = report(client, monitor[0], task=task_id)
    assert response.status_code == 201, response.text
    assert response.json()["task_marked_done"] is False
    assert fetch(db.info.dsn, "SELECT state, done_at FROM patrol_task WHERE id = %s", task_id) == [("cancelled", None)]


def test_a_task_of_another_point_is_422_naming_task(client, officer, points, db):  # noqa: F811
    elsewhere = task(db, OTHER)
    response = report(client, officer, task=elsewhere)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "task"],
            "msg": f"patrol task {elsewhere} is not a task of hazard point {POINT}",
            "type": "value_error",
        }
    ]
    assert count(db, "patrol_report") == 0
    assert fetch(db.info.dsn, "SELECT state FROM patrol_task WHERE id = %s", elsewhere) == [("open",)]


def test_an_unknown_task_is_404_naming_it(client, officer, points):  # noqa: F811
    response = report(client, officer, task=999)
    assert response.status_code == 404
    assert response.json() == {"detail": "Patrol task 999 not found"}


# --- dangerous reports raise an alert -------------------------------------------------------------


def alert(client, headers, alert_id):  # noqa: F811
    response = client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
    assert response.status_code == 200
    return response.json()


def test_a_dangerous_report_raises_an_orange_deformation_alert_at_once(client, monitor, admin, settings, alert_topic):  # noqa: F811
    headers, person_id = monitor
    response = report(client, headers, judgement="dangerous", findings=["bulging", "abnormal_sound"])
    assert response.status_code == 201, response.text
    filed = response.json()
    raised = alert(client, admin, filed["alert_id"])
    assert (raised["point"], raised["type"], raised["level"], raised["state"]) == (
        POINT,
        "deformation",
        "orange",
        "open",
    )
    assert raised["evidence"]["patrol_report_id"] == filed["id"]
    assert raised["reasons"] == [f"patrol report {filed['id']} by Li Wei: dangerous (bulging, abnormal_sound)"]
    first = raised["events"][0]
    assert (first["kind"], first["from_level"], first["to_level"]) == ("raised", None, "orange")
    assert first["actor"] == f"phone:li-wei (person {person_id})"
    assert first["rule_version"] == raised["rule_version"]
    assert first["inputs"]["findings"] == ["bulging", "abnormal_sound"]
    assert first["inputs"]["reporter"]["person_id"] == person_id
    assert first["inputs"]["distance_m"] == filed["distance_m"]
    # The usual effects of an orange alert: a verification task for the point's monitor...
    assert [e["kind"] for e in raised["events"]][1:] == ["verification_requested"]
    [verification] = client.get(
        "/api/v1/patrol-tasks", params={"regime": "verification", "mine": "true"}, headers=headers
    ).json()["data"]
    assert verification["alert_id"] == raised["id"]
    # ...and the point's retained alert topic.
    subscriber = Subscriber(settings, alert_topic)
    try:
        [message] = wait_until(lambda: subscriber.messages, what="the retained alert")
        assert (json.loads(message.payload)["id"], json.loads(message.payload)["level"]) == (raised["id"], "orange")
    finally:
        subscriber.close()


def test_a_dangerous_report_raises_an_open_yellow_alert_to_orange(client, monitor, admin, db):  # noqa: F811
    yellow = insert_alert(db, POINT, level="yellow")
    filed = report(client, monitor[0], judgement="dangerous").json()
    assert filed["alert_id"] == yellow
    raised = alert(client, admin, yellow)
    assert raised["level"] == "orange"
    assert raised["evidence"]["patrol_report_id"] == filed["id"]
    assert [(e["kind"], e["from_level"], e["to_level"]) for e in raised["events"]][0] == (
        "level_raised",
        "yellow",
        "orange",
    )
    assert count(db, "alert") == 1


def test_a_dangerous_report_on_a_red_alert_is_recorded_on_it(client, monitor, admin, db):  # noqa: F811
    red = insert_alert(db, POINT, level="red")
    filed = report(client, monitor[0], judgement="dangerous", findings=["rockfall"]).json()
    assert filed["alert_id"] == red
    kept = alert(client, admin, red)
    assert (kept["level"], kept["evidence"]) == ("red", {"v_mm_per_day": 3.0})
    [event] = kept["events"]
    assert (event["kind"], event["from_level"], event["to_level"]) == ("patrol_reported", None, None)
    assert event["inputs"]["patrol_report_id"] == filed["id"]
    assert "dangerous (rockfall)" in event["note"]


def test_a_suspicious_report_raises_no_alert(client, monitor, db):  # noqa: F811
    assert report(client, monitor[0]).json()["alert_id"] is None
    assert count(db, "alert") == 0


# --- tape measurements at marked cracks -----------------------------------------------------------

REPORTED_AT = datetime(2026, 7, 1, 0, 42, 10, tzinfo=UTC)  # body()'s reported_at
DAY = {"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}


@pytest.fixture
def marked_cracks(client, admin, points):  # noqa: F811
    """POINT's marked cracks M1 and M2 (manual device MAN-0042) beside its crack gauge CR-01 (GW-0042), and OTHER's
    marked crack M9 (MAN-0001)."""
    devices = [
        ("MAN-0042", POINT, "manual", ["M1", "M2"]),
        ("GW-0042", POINT, "native", ["CR-01"]),
        ("MAN-0001", OTHER, "manual", ["M9"]),
    ]
    for device_id, point, protocol, codes in devices:
        sensors = [{"code": code, "kind": "crack", "reporting_interval_s": 259200} for code in codes]
        response = client.post("/api/v1/devices", headers=admin, json={
            "id": device_id, "hazard_point": point, "protocol": protocol, "sensors": sensors})
        assert response.status_code == 201, response.text


def measured(client, headers, sensor, device="MAN-0042"):  # noqa: F811
    """The sensor's readings on body()'s day, as (ts, value, quality flags)."""
    response = client.get(f"/api/v1/devices/{device}/sensors/{sensor}/readings", params=DAY, headers=headers)
    assert response.status_code == 200, response.text
    return [(r["ts"], r["value"], r["quality"]) for r in response.json()["data"]]


@pytest.fixture
def readings_notices(database_url):
    """The payloads of the NOTIFYs that tell the engine of stored readings, from now on."""
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(READINGS_CHANNEL)))
    yield lambda: [parse_stored_notice(n.payload) for n in conn.notifies(timeout=5, stop_after=1)]
    conn.close()


def test_a_reports_measurements_are_readings_of_the_points_marked_cracks(  # noqa: F811
    client, monitor, marked_cracks, readings_notices
):
    headers, _ = monitor
    two = [{"sensor": "M1", "value_mm": 12.5}, {"sensor": "M2", "value_mm": 3}]
    response = report(client, headers, measurements=two)
    assert response.status_code == 201, response.text
    filed = response.json()
    assert filed["measurements"] == [
        {"device": "MAN-0042", "sensor": "M1", "value_mm": 12.5},
        {"device": "MAN-0042", "sensor": "M2", "value_mm": 3.0},
    ]
    assert client.get(f"/api/v1/patrol-reports/{filed['id']}", headers=headers).json()["measurements"] == (
        filed["measurements"])
    assert measured(client, headers, "M1") == [("2026-07-01T00:42:10Z", 12.5, [])]
    assert measured(client, headers, "M2") == [("2026-07-01T00:42:10Z", 3.0, [])]
    sensors = client.get("/api/v1/devices/MAN-0042", headers=headers).json()["sensors"]
    assert [(s["code"], s["last_reading_at"], s["offline"]) for s in sensors] == [
        ("M1", "2026-07-01T00:42:10Z", False), ("M2", "2026-07-01T00:42:10Z", False)]
    # The engine hears of them as of readings from ingest, and evaluates the point again at once.
    assert readings_notices() == [{"MAN-0042": REPORTED_AT}]


def test_a_multipart_report_carries_measurements_as_json_text(client, monitor, marked_cracks):  # noqa: F811
    headers, _ = monitor
    response = client.post(
        "/api/v1/patrol-reports",
        data=form(measurements=json.dumps([{"sensor": "M1", "value_mm": 12.5}])),
        files=[("photos", ("a.png", png(), "image/png"))],
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["measurements"] == [{"device": "MAN-0042", "sensor": "M1", "value_mm": 12.5}]
    assert measured(client, headers, "M1") == [("2026-07-01T00:42:10Z", 12.5, [])]


def test_a_multipart_measurements_field_that_is_not_json_is_422(client, monitor, marked_cracks, db):  # noqa: F811
    response = client.post("/api/v1/patrol-reports", data=form(measurements="M1=12.5"), headers=monitor[0])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measurements"]
    assert "measurements is JSON text" in error["msg"]
    assert count(db, "patrol_report") == 0


@pytest.mark.parametrize("sensor", ["M7", "M9", "CR-01"], ids=["unknown", "another point's", "not manual"])
def test_a_measurement_of_no_marked_crack_of_the_point_is_422_and_nothing_is_stored(  # noqa: F811
    client, monitor, marked_cracks, db, sensor
):
    measurements = [{"sensor": "M1", "value_mm": 12.5}, {"sensor": sensor, "value_mm": 4.0}]
    response = report(client, monitor[0], measurements=measurements)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measurements", 1, "sensor"]
    assert error["msg"] == f"{sensor} is not a manual sensor of hazard point {POINT}; its manual sensors are M1, M2"
    assert (count(db, "patrol_report"), count(db, "reading")) == (0, 0)


def test_a_measurement_that_is_not_a_finite_number_is_422(client, monitor, marked_cracks, db):  # noqa: F811
    # Python's JSON writes nan as NaN, which the API's JSON parser reads.
    content = json.dumps(body(measurements=[{"sensor": "M1", "value_mm": float("nan")}]))
    response = client.post("/api/v1/patrol-reports", content=content,
                           headers={**monitor[0], "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "measurements", 0, "value_mm"]
    assert (count(db, "patrol_report"), count(db, "reading")) == (0, 0)


def test_a_crack_measured_twice_in_one_report_is_422(client, monitor, marked_cracks, db):  # noqa: F811
    twice = [{"sensor": "M1", "value_mm": 12.5}, {"sensor": "M1", "value_mm": 12.7}]
    response = report(client, monitor[0], measurements=twice)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "measurements", 1, "sensor"]
    assert error["msg"] == "M1 is measured twice in this report"
    assert (count(db, "patrol_report"), count(db, "reading")) == (0, 0)


def test_a_resent_report_stores_its_measurement_once(client, monitor, marked_cracks, db):  # noqa: F811
    headers, _ = monitor
    for _ in range(2):  # the phone's outbox sends again when it did not hear the answer
        assert report(client, headers, measurements=[{"sensor": "M1", "value_mm": 12.5}]).status_code == 201
    assert measured(client, headers, "M1") == [("2026-07-01T00:42:10Z", 12.5, [])]


def test_a_measurement_stamped_ahead_of_the_server_is_flagged_like_a_device_reading(  # noqa: F811
    client, monitor, marked_cracks
):
    ahead = NOW + timedelta(hours=1)
    response = report(client, monitor[0], reported_at=ahead.isoformat(),
                      measurements=[{"sensor": "M1", "value_mm": 12.5}])
    assert response.status_code == 201, response.text
    readings = client.get("/api/v1/devices/MAN-0042/sensors/M1/readings", headers=monitor[0],
                          params={"from": NOW.isoformat(), "to": (NOW + timedelta(days=1)).isoformat()}).json()["data"]
    assert [(r["value"], r["quality"]) for r in readings] == [(12.5, ["future"])]


def test_a_grid_monitor_measures_only_the_marked_cracks_of_its_own_points(client, monitor, marked_cracks, db):  # noqa: F811
    headers, _ = monitor
    response = report(client, headers, point=OTHER, lon=106.6, lat=29.5, measurements=[{"sensor": "M9", "value_mm": 1}])
    assert response.status_code == 404
    assert response.json() == {"detail": f"Hazard point {OTHER} not found"}
    response = report(client, headers, measurements=[{"sensor": "M9", "value_mm": 1}])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "measurements", 0, "sensor"]
    assert (count(db, "patrol_report"), count(db, "reading")) == (0, 0)


# --- who may report and see what ------------------------------------------------------------------


def test_a_viewer_cannot_report(client, viewer, points, db):  # noqa: F811
    response = report(client, viewer)
    assert response.status_code == 403
    assert count(db, "patrol_report") == 0


def test_a_grid_monitor_cannot_report_another_point(client, monitor, db):  # noqa: F811
    response = report(client, monitor[0], point=OTHER)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Hazard point {OTHER} not found"}
    assert count(db, "patrol_report") == 0


def test_a_grid_monitor_sees_only_its_points_tasks_and_reports(client, monitor, officer, db):  # noqa: F811
    headers, _ = monitor
    own_task, other_task = task(db, POINT), task(db, OTHER)
    own = report(client, officer).json()
    other = report(client, officer, point=OTHER, lat=29.5, lon=106.6).json()
    assert ids(client.get("/api/v1/patrol-tasks", headers=headers)) == [own_task]
    assert ids(client.get("/api/v1/patrol-tasks", params={"point": OTHER}, headers=headers)) == []
    assert ids(client.get("/api/v1/patrol-reports", headers=headers)) == [own["id"]]
    assert client.get(f"/api/v1/patrol-reports/{other['id']}", headers=headers).status_code == 404
    assert sorted(ids(client.get("/api/v1/patrol-tasks", headers=officer))) == sorted([own_task, other_task])
    assert client.get(f"/api/v1/patrol-reports/{other['id']}", headers=officer).status_code == 200


def test_a_grid_monitor_cannot_fetch_another_points_photos(client, monitor, officer, db):  # noqa: F811
    response = client.post(
        "/api/v1/patrol-reports",
        data=form(point=OTHER, lat=29.5, lon=106.6),
        files=[("photos", ("a.png", png(), "image/png"))],
        headers=officer,
    )
    assert response.status_code == 201, response.text
    url = response.json()["photos"][0]["url"]
    assert client.get(url, headers=officer).status_code == 200
    assert client.get(url, headers=monitor[0]).status_code == 404


# --- task filters ---------------------------------------------------------------------------------


def test_mine_lists_the_tasks_assigned_to_the_callers_person(client, monitor, db):  # noqa: F811
    headers, person_id = monitor
    mine = task(db, assignee=person_id)
    task(db, assignee=person(db, "Wang Fang"))
    task(db)
    assert ids(client.get("/api/v1/patrol-tasks", params={"mine": "true"}, headers=headers)) == [mine]
    assert len(ids(client.get("/api/v1/patrol-tasks", headers=headers))) == 3


def test_mine_with_a_token_without_a_person_is_422(client, officer, points):  # noqa: F811
    response = client.get("/api/v1/patrol-tasks", params={"mine": "true"}, headers=officer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "mine"]


def test_overdue_lists_open_tasks_past_their_due_time(client, officer, points, db):  # noqa: F811
    late = task(db, due_in=-timedelta(hours=1))
    on_time = task(db, due_in=timedelta(hours=1))
    task(db, state="done", due_in=-timedelta(hours=1))
    overdue = client.get("/api/v1/patrol-tasks", params={"overdue": "true"}, headers=officer).json()
    assert [(t["id"], t["overdue"]) for t in overdue["data"]] == [(late, True)]
    assert overdue["count"] == 1
    not_overdue = ids(client.get("/api/v1/patrol-tasks", params={"overdue": "false", "state": "open"}, headers=officer))
    assert not_overdue == [on_time]


def test_tasks_filter_by_state_and_regime_and_page(client, officer, points, db):  # noqa: F811
    rain = task(db, regime="rain_during", due_in=timedelta(hours=1))
    routine = task(db, regime="routine", due_in=timedelta(hours=2))
    task(db, regime="routine", state="cancelled")
    assert ids(client.get("/api/v1/patrol-tasks", params={"regime": "rain_during"}, headers=officer)) == [rain]
    page = client.get("/api/v1/patrol-tasks", params={"state": "open", "limit": 1, "offset": 1}, headers=officer)
    assert (ids(page), page.json()["count"]) == ([routine], 2)


def test_tasks_and_reports_filter_by_county_and_tasks_say_how_far_they_were_escalated(
        client, officer, admin, points, db):  # noqa: F811
    post_point(client, admin, code="500114-HP-0001", lon=108.0, lat=30.0, county_code="500114",
               township_code="500114001", village_code=None)
    here, there = task(db, due_in=-timedelta(hours=30)), task(db, "500114-HP-0001")
    db.execute("UPDATE patrol_task SET escalation_step = 2, escalate_at = %s WHERE id = %s",
               (NOW + timedelta(hours=6), here))
    listed = client.get("/api/v1/patrol-tasks", params={"county_code": "500113"}, headers=officer).json()
    assert [(t["id"], t["escalation_step"], t["escalate_at"]) for t in listed["data"]] == [
        (here, 2, (NOW + timedelta(hours=6)).isoformat().replace("+00:00", "Z"))]
    [other] = client.get("/api/v1/patrol-tasks", params={"county_code": "500114"}, headers=officer).json()["data"]
    assert (other["id"], other["escalation_step"], other["escalate_at"]) == (there, None, other["due_at"])
    filed = report(client, officer, point="500114-HP-0001", lon=108.0, lat=30.0).json()
    assert filed["point_name"]
    assert ids(client.get("/api/v1/patrol-reports", params={"county_code": "500114"}, headers=officer)) == [filed["id"]]
    assert ids(client.get("/api/v1/patrol-reports", params={"county_code": "500113"}, headers=officer)) == []
    response = client.get("/api/v1/patrol-tasks", params={"county_code": "5001"}, headers=officer)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "county_code"]


def test_reports_filter_by_judgement_and_since(client, officer, points):  # noqa: F811
    old = report(client, officer, reported_at="2026-06-01T08:00:00+08:00").json()
    new = report(
        client, officer, judgement="normal", findings=["nothing_abnormal"], reported_at="2026-07-02T08:00:00+08:00"
    ).json()
    assert ids(client.get("/api/v1/patrol-reports", params={"judgement": "normal"}, headers=officer)) == [new["id"]]
    since = client.get("/api/v1/patrol-reports", params={"since": "2026-06-15T00:00:00Z"}, headers=officer)
    assert ids(since) == [new["id"]]
    assert ids(client.get("/api/v1/patrol-reports", headers=officer)) == [new["id"], old["id"]]


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN"])
def test_a_non_finite_accuracy_is_422_naming_it_and_nothing_is_filed(client, monitor, db, value):  # noqa: F811
    headers, _ = monitor
    # As a phone's JSON may carry it (Python's JSON reader takes these words as numbers) ...
    text = json.dumps(body()).replace('"accuracy_m": 8', f'"accuracy_m": {value}')
    as_json = client.post("/api/v1/patrol-reports", content=text,
                          headers={**headers, "Content-Type": "application/json"})
    # ... and as a form field.
    as_form = client.post("/api/v1/patrol-reports", data=form(accuracy_m=value), headers=headers)
    for response in (as_json, as_form):
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "accuracy_m"] and "finite" in error["msg"]
    assert count(db, "patrol_report") == 0


# --- a report sent again: client_id ---------------------------------------------------------------

CLIENT_ID = "0f8b9c1e-5d1a-4b7e-9a62-3c1f2d4e5a6b"


def test_a_report_sent_three_times_with_its_client_id_is_stored_once(client, monitor, db):  # noqa: F811
    headers, _ = monitor
    first, *again = [report(client, headers, client_id=CLIENT_ID) for _ in range(3)]
    assert first.status_code == 201, first.text
    assert (first.json()["client_id"], first.json()["duplicate"]) == (CLIENT_ID, False)
    for response in again:  # the phone did not hear the answer, and sent the report again
        assert response.status_code == 200, response.text
        assert response.json() == {**first.json(), "duplicate": True}
        assert response.headers["Location"] == first.headers["Location"]
    assert count(db, "patrol_report") == 1
    assert client.get(first.headers["Location"], headers=headers).json()["client_id"] == CLIENT_ID
    assert [r["client_id"] for r in client.get("/api/v1/patrol-reports", headers=headers).json()["data"]] == [
        CLIENT_ID]


def test_a_multipart_report_sent_three_times_keeps_one_report_and_one_photo(  # noqa: F811
    client, monitor, db, photo_files
):
    headers, _ = monitor
    responses = [
        client.post("/api/v1/patrol-reports", data=form(client_id=CLIENT_ID),
                    files=[("photos", ("a.png", png(), "image/png"))], headers=headers)
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [201, 200, 200]
    assert {r.json()["id"] for r in responses} == {responses[0].json()["id"]}
    assert [len(r.json()["photos"]) for r in responses] == [1, 1, 1]
    assert count(db, "patrol_report") == 1
    assert len(photo_files()) == 1


def test_a_dangerous_report_sent_again_opens_one_alert_with_its_events_once(client, monitor, admin, db):  # noqa: F811
    headers, _ = monitor
    first = report(client, headers, judgement="dangerous", client_id=CLIENT_ID)
    assert first.status_code == 201, first.text
    events = [e["kind"] for e in alert(client, admin, first.json()["alert_id"])["events"]]
    again = report(client, headers, judgement="dangerous", client_id=CLIENT_ID)
    assert (again.status_code, again.json()["alert_id"]) == (200, first.json()["alert_id"])
    assert [e["kind"] for e in alert(client, admin, first.json()["alert_id"])["events"]] == events
    assert (count(db, "alert"), count(db, "alert_event")) == (1, len(events))
    assert count(db, "patrol_report") == 1


def test_a_resent_measurement_is_one_reading_even_when_the_phone_stamped_it_again(  # noqa: F811
    client, monitor, marked_cracks, db
):
    headers, _ = monitor
    m1 = [{"sensor": "M1", "value_mm": 12.5}]
    assert report(client, headers, measurements=m1, client_id=CLIENT_ID).status_code == 201
    # The outbox's second copy carries the time it was sent again: only the client id says it is the same report.
    again = report(client, headers, measurements=m1, client_id=CLIENT_ID, reported_at="2026-07-01T08:43:10+08:00")
    assert again.status_code == 200, again.text
    assert measured(client, headers, "M1") == [("2026-07-01T00:42:10Z", 12.5, [])]
    assert count(db, "patrol_report") == 1


def test_a_resend_that_differs_is_answered_with_the_first_copy_and_changes_nothing(client, monitor, db):  # noqa: F811
    headers, person_id = monitor
    task_id = task(db, assignee=person_id)
    sent_at = NOW - timedelta(minutes=5)
    first = report(client, headers, task=task_id, reported_at=sent_at.isoformat(), client_id=CLIENT_ID)
    assert (first.status_code, first.json()["task_marked_done"]) == (201, True)
    edited = report(client, headers, task=task_id, reported_at=NOW.isoformat(), note="edited", judgement="dangerous",
                    client_id=CLIENT_ID)
    assert edited.status_code == 200, edited.text
    # The first copy wins: the answer is it, saying what it did to the task; the edit raised no alert.
    assert edited.json() == {**first.json(), "duplicate": True}
    assert fetch(db.info.dsn, "SELECT state, done_at FROM patrol_task WHERE id = %s", task_id) == [("done", sent_at)]
    assert (count(db, "patrol_report"), count(db, "alert")) == (1, 0)


def test_two_copies_sent_at_the_same_moment_store_one_report_and_one_photo(  # noqa: F811
    client, monitor, db, database_url, photo_files
):
    headers, person_id = monitor
    task_id = task(db, assignee=person_id)

    def post():
        return client.post("/api/v1/patrol-reports", data=form(task=task_id, client_id=CLIENT_ID),
                           files=[("photos", ("a.png", png(), "image/png"))], headers=headers)

    # Holding the task makes both copies pass the check for a stored report, save their photo and wait at the
    # task: then each inserts, the second after the first has committed.
    with psycopg.connect(database_url) as holder, ThreadPoolExecutor(2) as pool:
        holder.execute("SELECT 1 FROM patrol_task WHERE id = %s FOR UPDATE", (task_id,))
        responses = [pool.submit(post) for _ in range(2)]
        wait_until(lambda: fetch(database_url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                 " AND datname = current_database()") == [(2,)], what="both copies at the task")
        assert len(photo_files()) == 2
        holder.commit()
        responses = [r.result() for r in responses]
    assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
    assert responses[0].json()["id"] == responses[1].json()["id"]
    assert [r.json()["task_marked_done"] for r in responses] == [True, True]
    assert count(db, "patrol_report") == 1
    assert len(photo_files()) == 1  # the second copy's photo is removed
    assert client.get(responses[0].json()["photos"][0]["url"], headers=headers).status_code == 200


def test_a_client_id_that_is_not_a_uuid_is_422_naming_it(client, monitor, db):  # noqa: F811
    headers, _ = monitor
    as_json = report(client, headers, client_id="outbox-17")
    as_form = client.post("/api/v1/patrol-reports", data=form(client_id="outbox-17"), headers=headers)
    for response in (as_json, as_form):
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "client_id"] and "UUID" in error["msg"]
    assert count(db, "patrol_report") == 0


def test_another_persons_client_id_is_409_and_stores_nothing(client, monitor, officer, db, photo_files):  # noqa: F811
    headers, _ = monitor
    filed = report(client, headers, client_id=CLIENT_ID).json()
    for same_content in (True, False):
        changes = {} if same_content else {"note": "phoned in"}
        response = client.post("/api/v1/patrol-reports", data=form(client_id=CLIENT_ID, **changes),
                               files=[("photos", ("a.png", png(), "image/png"))], headers=officer)
        assert response.status_code == 409
        assert response.json() == {
            "detail": "This client_id is the id of another person's patrol report; make a new UUID for this one."}
    assert count(db, "patrol_report") == 1 and photo_files() == []
    assert client.get(f"/api/v1/patrol-reports/{filed['id']}", headers=headers).json()["note"] == filed["note"]


def test_the_same_person_resending_from_a_new_phone_gets_the_stored_report(client, monitor, db):  # noqa: F811
    headers, person_id = monitor
    first = report(client, headers, client_id=CLIENT_ID).json()
    new_phone = bearer(create_token(db, name="phone:li-wei-2", role="grid_monitor", person_id=person_id))
    again = report(client, new_phone, client_id=CLIENT_ID)
    assert (again.status_code, again.json()["id"], again.json()["duplicate"]) == (200, first["id"], True)
