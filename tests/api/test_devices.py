"""Devices over HTTP (SPEC 5 and 6): registration, health, commands and readings, against the real database."""

import json
from datetime import datetime, timedelta

import pytest

from alerting.rules import DEFAULT_RESOLUTION_MM
from service.auth import create_token
from tests.api.support import T0, bearer, post_point
from tests.support import fetch

POINT = "500113-HP-0042"
# The body field clients send (SPEC 6).
SPEC_DEVICE = {
    "id": "DEV-0001",
    "hazard_point": POINT,
    "protocol": "universal",
    "sensors": [
        {
            "code": "L1_LF_1",
            "kind": "crack",
            "reporting_interval_s": 600,
            "v0_mm_per_day": 2.0,
            "thresholds": {
                "velocity_mm_per_day": {"blue": 5, "yellow": 10, "orange": 20, "red": 50},
                "displacement_mm": {"blue": 50, "yellow": 100, "orange": 200, "red": 400},
            },
        }
    ],
}
RAIN_GAUGE = {"code": "RG_1", "kind": "rain", "reporting_interval_s": 300}
# The marked cracks a grid monitor measures with a tape every three days.
MANUAL_DEVICE = {
    "id": "MAN-0042",
    "hazard_point": POINT,
    "protocol": "manual",
    "sensors": [{"code": "M1", "kind": "crack", "reporting_interval_s": 259200},
                {"code": "M2", "kind": "crack", "reporting_interval_s": 259200, "resolution_mm": 1.0}],
}


@pytest.fixture
def point(client, admin):  # noqa: F811
    return post_point(client, admin)["code"]


def post_device(client, headers, **changes):  # noqa: F811
    return client.post("/api/v1/devices", json={**SPEC_DEVICE, **changes}, headers=headers)


@pytest.fixture
def device(client, admin, point):  # noqa: F811
    response = post_device(client, admin, sensors=[*SPEC_DEVICE["sensors"], RAIN_GAUGE])
    assert response.status_code == 201, response.text
    return response.json()


def count_rows(db, table: str) -> int:
    return fetch(db.info.dsn, f"SELECT count(*) FROM {table}")[0][0]


def insert_reading(db, sensor, ts, value, quality="{}", kind="crack"):
    db.execute("INSERT INTO reading (device_id, sensor_code, ts, kind, value, quality) VALUES ('DEV-0001', %s, %s,"
               " %s, %s, %s)", (sensor, ts, kind, value, quality))


# --- register -----------------------------------------------------------------------------------


def test_admin_registers_a_device_from_the_spec_body(client, admin, point):  # noqa: F811
    response = post_device(client, admin)
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/devices/DEV-0001"
    device = response.json()
    assert (device["id"], device["hazard_point"], device["protocol"], device["accel_unit"]) == (
        "DEV-0001", POINT, "universal", "mg")
    [sensor] = device["sensors"]
    assert {key: sensor[key] for key in SPEC_DEVICE["sensors"][0]} == SPEC_DEVICE["sensors"][0]
    assert (sensor["state"], sensor["offline"], sensor["last_reading_at"]) == (0, False, None)
    assert device["commands"] == []


def test_registered_sensors_show_on_their_hazard_point(client, admin, device):  # noqa: F811
    sensors = client.get(f"/api/v1/hazard-points/{POINT}", headers=admin).json()["sensors"]
    assert [(s["device_id"], s["code"], s["kind"]) for s in sensors] == [
        ("DEV-0001", "L1_LF_1", "crack"), ("DEV-0001", "RG_1", "rain")]


def test_viewer_cannot_register_a_device(client, viewer, point, db):  # noqa: F811
    response = post_device(client, viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs admin."}
    assert count_rows(db, "device") == 0


def test_duplicate_device_id_is_409_and_keeps_the_first(client, admin, device, db):  # noqa: F811
    response = post_device(client, admin, protocol="native", sensors=[RAIN_GAUGE])
    assert response.status_code == 409
    assert response.json() == {"detail": "Device DEV-0001 already exists"}
    assert fetch(db.info.dsn, "SELECT protocol FROM device") == [("universal",)]
    assert count_rows(db, "sensor") == 2


def test_device_on_an_unknown_point_is_404_naming_the_point(client, admin, db):  # noqa: F811
    response = post_device(client, admin, hazard_point="500113-HP-9999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point 500113-HP-9999 not found"}
    assert count_rows(db, "device") == 0


def test_a_sensor_code_given_twice_is_422_and_nothing_is_registered(client, admin, point, db):  # noqa: F811
    response = post_device(client, admin, sensors=[RAIN_GAUGE, RAIN_GAUGE])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors"]
    assert "sensor code RG_1 is given twice" in error["msg"]
    assert count_rows(db, "device") == 0


def test_unknown_sensor_kind_is_422_naming_it(client, admin, point):  # noqa: F811
    response = post_device(client, admin, sensors=[{**RAIN_GAUGE, "kind": "seismometer"}])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sensors", 0, "kind"]


def test_thresholds_that_fall_with_the_level_are_422(client, admin, point):  # noqa: F811
    sensor = {**SPEC_DEVICE["sensors"][0], "thresholds": {"velocity_mm_per_day": {"yellow": 10, "orange": 8}}}
    response = post_device(client, admin, sensors=[sensor])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors", 0, "thresholds", "velocity_mm_per_day"]
    assert "orange (8) must be above yellow (10)" in error["msg"]


def test_a_misspelt_threshold_key_is_422(client, admin, point):  # noqa: F811
    sensor = {**SPEC_DEVICE["sensors"][0], "thresholds": {"velocity": {"red": 50}}}
    response = post_device(client, admin, sensors=[sensor])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sensors", 0, "thresholds", "velocity"]


def test_unknown_protocol_is_422(client, admin, point):  # noqa: F811
    response = post_device(client, admin, protocol="modbus")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "protocol"]


# --- resolution ---------------------------------------------------------------------------------

RESOLUTION_KEYS = ("resolution_mm", "resolution_mm_effective", "resolution_source")


def resolutions(sensors) -> dict[str, tuple]:
    return {s["code"]: tuple(s[key] for key in RESOLUTION_KEYS) for s in sensors}


def test_a_sensor_shows_its_resolution_and_the_one_in_use(client, admin, point):  # noqa: F811
    crack = {**SPEC_DEVICE["sensors"][0], "resolution_mm": 1.0}  # a gauge that reports whole millimetres
    response = post_device(client, admin, sensors=[crack, {"code": "L1_GP_1", "kind": "gnss"}, RAIN_GAUGE])
    assert response.status_code == 201, response.text
    expected = {
        "L1_LF_1": (1.0, 1.0, "configured"),
        "L1_GP_1": (None, DEFAULT_RESOLUTION_MM["gnss"], "default"),
        "RG_1": (None, None, None),
    }
    assert resolutions(response.json()["sensors"]) == expected
    assert resolutions(client.get("/api/v1/devices/DEV-0001", headers=admin).json()["sensors"]) == expected
    assert resolutions(client.get(f"/api/v1/hazard-points/{POINT}", headers=admin).json()["sensors"]) == expected


@pytest.mark.parametrize("resolution", [0, -0.1, float("inf"), float("nan"), "fine"])
def test_a_resolution_that_is_not_a_positive_number_is_422_naming_it(client, admin, point, db, resolution):  # noqa: F811
    body = {**SPEC_DEVICE, "sensors": [{**SPEC_DEVICE["sensors"][0], "resolution_mm": resolution}]}
    # Python's JSON writes inf and nan as Infinity and NaN, which the API's JSON parser reads.
    response = client.post("/api/v1/devices", content=json.dumps(body),
                           headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors", 0, "resolution_mm"]
    assert count_rows(db, "device") == 0


def test_a_rain_gauge_has_no_resolution(client, admin, point):  # noqa: F811
    response = post_device(client, admin, sensors=[{**RAIN_GAUGE, "resolution_mm": 0.2}])
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors", 0, "resolution_mm"]
    assert "a rain sensor has no resolution; only crack, deep, gnss, tilt sensors do" in error["msg"]


def patch_sensors(client, headers, *sensors, **changes):  # noqa: F811
    return client.patch("/api/v1/devices/DEV-0001", json={"sensors": list(sensors), **changes}, headers=headers)


def test_admin_sets_a_resolution_and_sets_it_back_to_the_default(client, admin, device):  # noqa: F811
    response = patch_sensors(client, admin, {"code": "L1_LF_1", "resolution_mm": 0.5})
    assert response.status_code == 200, response.text
    assert resolutions(response.json()["sensors"])["L1_LF_1"] == (0.5, 0.5, "configured")
    response = patch_sensors(client, admin, {"code": "L1_LF_1", "resolution_mm": None})
    assert resolutions(response.json()["sensors"])["L1_LF_1"] == (None, DEFAULT_RESOLUTION_MM["crack"], "default")


def test_a_resolution_for_an_unknown_sensor_is_404_and_changes_nothing(client, admin, device, db):  # noqa: F811
    response = patch_sensors(client, admin, {"code": "L1_LF_1", "resolution_mm": 0.5},
                             {"code": "NOPE", "resolution_mm": 0.5})
    assert response.status_code == 404
    assert response.json() == {"detail": "Sensor NOPE of device DEV-0001 not found"}
    assert fetch(db.info.dsn, "SELECT resolution_mm FROM sensor WHERE code = 'L1_LF_1'") == [(None,)]


def test_a_bad_resolution_in_a_change_is_422_and_changes_nothing(client, admin, device, db):  # noqa: F811
    response = patch_sensors(client, admin, {"code": "RG_1", "resolution_mm": 0.2}, accel_unit="g")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors", 0, "resolution_mm"]
    assert "a rain sensor has no resolution" in error["msg"]
    response = patch_sensors(client, admin, {"code": "L1_LF_1", "resolution_mm": -1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sensors", 0, "resolution_mm"]
    assert fetch(db.info.dsn, "SELECT accel_unit FROM device") == [("mg",)]
    assert fetch(db.info.dsn, "SELECT resolution_mm FROM sensor") == [(None,), (None,)]


# --- manual devices -------------------------------------------------------------------------------


def test_admin_registers_a_manual_device_of_marked_cracks(client, admin, point):  # noqa: F811
    response = client.post("/api/v1/devices", json=MANUAL_DEVICE, headers=admin)
    assert response.status_code == 201, response.text
    device = response.json()
    assert (device["protocol"], device["online"], device["last_seen"]) == ("manual", None, None)
    assert [(s["code"], s["kind"], s["reporting_interval_s"]) for s in device["sensors"]] == [
        ("M1", "crack", 259200), ("M2", "crack", 259200)]
    assert resolutions(device["sensors"])["M2"] == (1.0, 1.0, "configured")
    listed = client.get(f"/api/v1/devices?hazard_point={POINT}", headers=admin).json()["data"]
    assert [(d["id"], d["protocol"]) for d in listed] == [("MAN-0042", "manual")]


def test_a_manual_device_measures_only_cracks(client, admin, point, db):  # noqa: F811
    sensors = [*MANUAL_DEVICE["sensors"], {"code": "M3", "kind": "gnss", "reporting_interval_s": 259200}]
    response = client.post("/api/v1/devices", json={**MANUAL_DEVICE, "sensors": sensors}, headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors"]
    assert "sensor M3 is gnss; a manual device's sensors are marked cracks measured with a tape" in error["msg"]
    assert count_rows(db, "device") == 0


def test_a_manual_sensor_needs_its_reporting_interval(client, admin, point, db):  # noqa: F811
    response = client.post("/api/v1/devices", json={**MANUAL_DEVICE, "sensors": [{"code": "M1", "kind": "crack"}]},
                           headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sensors"]
    assert "sensor M1 needs reporting_interval_s: how often the grid monitor measures it" in error["msg"]
    assert count_rows(db, "device") == 0


# --- list and health ------------------------------------------------------------------------------


def test_devices_list_in_id_order_filtered_by_point(client, admin, viewer, device, db):  # noqa: F811
    post_point(client, admin, code="500113-HP-0043")
    assert post_device(client, admin, id="DEV-0000", hazard_point="500113-HP-0043", sensors=[]).status_code == 201
    body = client.get("/api/v1/devices", headers=viewer).json()
    assert ([d["id"] for d in body["data"]], body["count"]) == (["DEV-0000", "DEV-0001"], 2)
    body = client.get(f"/api/v1/devices?hazard_point={POINT}", headers=viewer).json()
    assert [d["id"] for d in body["data"]] == ["DEV-0001"]


def test_device_health_shows_power_signal_and_offline_sensors(client, viewer, device, db):  # noqa: F811
    db.execute("UPDATE device SET last_seen = %s, online = true, battery_pct = 87.5, supply_v = 12.1, signal = -71,"
               " temp_c = 24.0 WHERE id = 'DEV-0001'", (T0,))
    db.execute("UPDATE sensor SET offline = true, state = -3 WHERE code = 'RG_1'")
    health = client.get("/api/v1/devices/DEV-0001", headers=viewer).json()
    assert {key: health[key] for key in ("last_seen", "online", "battery_pct", "supply_v", "signal", "temp_c")} == {
        "last_seen": "2026-07-01T08:00:00Z", "online": True, "battery_pct": 87.5, "supply_v": 12.1, "signal": -71.0,
        "temp_c": 24.0}
    assert [(s["code"], s["state"], s["offline"]) for s in health["sensors"]] == [
        ("L1_LF_1", 0, False), ("RG_1", -3, True)]


def test_device_health_lists_commands_newest_first_pending_or_answered(client, viewer, device, db):  # noqa: F811
    for i, answered in enumerate([True, False]):
        db.execute(
            "INSERT INTO device_command (device_id, command_id, name, params, payload, topic, sent_at, sent_by,"
            " answer, result, answered_at) VALUES ('DEV-0001', %s, 'getstatus', '{}', 'p', 't', %s, 'cli', %s, %s, %s)",
            (f"c{i}", T0 + timedelta(minutes=i), "ok" if answered else None, "succ" if answered else None,
             T0 + timedelta(minutes=i, seconds=5) if answered else None))
    commands = client.get("/api/v1/devices/DEV-0001", headers=viewer).json()["commands"]
    assert [(c["command_id"], c["state"], c["result"]) for c in commands] == [
        ("c1", "pending", None), ("c0", "answered", "succ")]


def test_device_health_shows_only_the_last_20_commands(client, viewer, device, db):  # noqa: F811
    for i in range(25):
        db.execute("INSERT INTO device_command (device_id, command_id, name, payload, topic, sent_at, sent_by)"
                   " VALUES ('DEV-0001', %s, 'getstatus', 'p', 't', %s, 'cli')",
                   (f"c{i:02}", T0 + timedelta(minutes=i)))
    commands = client.get("/api/v1/devices/DEV-0001", headers=viewer).json()["commands"]
    assert [c["command_id"] for c in commands] == [f"c{i:02}" for i in range(24, 4, -1)]


def test_unknown_device_is_404_naming_it(client, viewer):  # noqa: F811
    response = client.get("/api/v1/devices/DEV-9999", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Device DEV-9999 not found"}


# --- change -------------------------------------------------------------------------------------


def test_admin_sets_the_acceleration_unit(client, admin, device):  # noqa: F811
    response = client.patch("/api/v1/devices/DEV-0001", json={"accel_unit": "g"}, headers=admin)
    assert response.status_code == 200
    assert (response.json()["accel_unit"], response.json()["hazard_point"]) == ("g", POINT)


def test_moving_a_device_moves_its_sensors(client, admin, device, db):  # noqa: F811
    post_point(client, admin, code="500113-HP-0043")
    response = client.patch("/api/v1/devices/DEV-0001", json={"hazard_point": "500113-HP-0043"}, headers=admin)
    assert response.status_code == 200
    assert response.json()["hazard_point"] == "500113-HP-0043"
    assert fetch(db.info.dsn, "SELECT DISTINCT hazard_point FROM sensor") == [("500113-HP-0043",)]


def test_moving_a_device_to_an_unknown_point_is_404_and_changes_nothing(client, admin, device, db):  # noqa: F811
    response = client.patch("/api/v1/devices/DEV-0001", json={"hazard_point": "X-1", "accel_unit": "g"},
                            headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point X-1 not found"}
    assert fetch(db.info.dsn, "SELECT hazard_point, accel_unit FROM device") == [(POINT, "mg")]


def test_viewer_cannot_change_a_device(client, viewer, device, db):  # noqa: F811
    response = client.patch("/api/v1/devices/DEV-0001", json={"accel_unit": "g"}, headers=viewer)
    assert response.status_code == 403
    assert fetch(db.info.dsn, "SELECT accel_unit FROM device") == [("mg",)]


def test_changing_an_unknown_device_is_404(client, admin):  # noqa: F811
    response = client.patch("/api/v1/devices/DEV-9999", json={"accel_unit": "g"}, headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Device DEV-9999 not found"}


def test_unknown_accel_unit_is_422(client, admin, device):  # noqa: F811
    response = client.patch("/api/v1/devices/DEV-0001", json={"accel_unit": "m/s2"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "accel_unit"]


# --- readings -----------------------------------------------------------------------------------

RANGE = "from=2026-07-01T08:00:00Z&to=2026-07-01T10:00:00Z"


def readings(client, headers, sensor, query):  # noqa: F811
    return client.get(f"/api/v1/devices/DEV-0001/sensors/{sensor}/readings?{query}", headers=headers)


def test_raw_readings_in_the_range_with_their_quality_flags(client, viewer, device, db):  # noqa: F811
    insert_reading(db, "L1_LF_1", T0 - timedelta(minutes=1), 1.0)  # before the range
    insert_reading(db, "L1_LF_1", T0, 2.0)
    insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=10), 65535.0, "{out_of_range}")
    insert_reading(db, "L1_LF_1", T0 + timedelta(hours=2), 3.0)  # at `to`: outside
    response = readings(client, viewer, "L1_LF_1", RANGE)
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["bucket"], body["from"], body["to"], body["count"]) == (
        "crack", "raw", "2026-07-01T08:00:00Z", "2026-07-01T10:00:00Z", 2)
    assert [(r["ts"], r["value"], r["quality"]) for r in body["data"]] == [
        ("2026-07-01T08:00:00Z", 2.0, []), ("2026-07-01T08:10:00Z", 65535.0, ["out_of_range"])]


def test_raw_readings_stop_at_the_limit_and_count_the_range(client, viewer, device, db):  # noqa: F811
    for i in range(5):
        insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=10 * i), float(i))
    body = readings(client, viewer, "L1_LF_1", f"{RANGE}&limit=2").json()
    assert ([r["value"] for r in body["data"]], body["count"]) == ([0.0, 1.0], 5)


def test_hourly_buckets_of_a_crack_give_the_last_unflagged_value(client, viewer, device, db):  # noqa: F811
    insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=10), 1.0)
    insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=20), 1.5)
    insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=30), 999.0, "{spike}")
    insert_reading(db, "L1_LF_1", T0 + timedelta(minutes=70), 2.0)
    body = readings(client, viewer, "L1_LF_1", f"{RANGE}&bucket=1h").json()
    assert body["data"] == [
        {"bucket": "2026-07-01T08:00:00Z", "value": 1.5, "readings": 3, "flagged": 1},
        {"bucket": "2026-07-01T09:00:00Z", "value": 2.0, "readings": 1, "flagged": 0},
    ]


def test_minute_buckets_of_rain_are_summed(client, viewer, device, db):  # noqa: F811
    for minute, mm in [(0, 0.5), (10, 1.0), (29, 0.5), (30, 2.0)]:
        insert_reading(db, "RG_1", T0 + timedelta(minutes=minute), mm, kind="rain")
    body = readings(client, viewer, "RG_1", f"{RANGE}&bucket=30m").json()
    assert [(b["bucket"], b["value"], b["readings"]) for b in body["data"]] == [
        ("2026-07-01T08:00:00Z", 2.0, 3), ("2026-07-01T08:30:00Z", 2.0, 1)]


def test_a_bucket_of_flagged_readings_only_has_no_value(client, viewer, device, db):  # noqa: F811
    insert_reading(db, "RG_1", T0, 400.0, "{out_of_range}", kind="rain")
    [bucket] = readings(client, viewer, "RG_1", f"{RANGE}&bucket=1h").json()["data"]
    assert (bucket["value"], bucket["readings"], bucket["flagged"]) == (None, 1, 1)


def test_readings_default_to_the_last_24_hours(client, viewer, device):  # noqa: F811
    body = readings(client, viewer, "L1_LF_1", "").json()
    assert body["data"] == [] and body["count"] == 0
    span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
    assert span == timedelta(hours=24)


@pytest.mark.parametrize("bucket", ["1d", "0h", "h", "raw1", "10000m"])
def test_malformed_bucket_is_422_naming_bucket(client, viewer, device, bucket):  # noqa: F811
    response = readings(client, viewer, "L1_LF_1", f"bucket={bucket}")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "bucket"]
    assert "bucket is raw or a width such as 10m or 1h" in error["msg"]


def test_range_ending_before_it_starts_is_422(client, viewer, device):  # noqa: F811
    response = readings(client, viewer, "L1_LF_1", "from=2026-07-01T10:00:00Z&to=2026-07-01T08:00:00Z")
    assert response.status_code == 422
    assert "from must be before to" in response.json()["detail"][0]["msg"]


def test_readings_of_an_unknown_sensor_are_404_naming_it(client, viewer, device):  # noqa: F811
    response = readings(client, viewer, "NOPE", "")
    assert response.status_code == 404
    assert response.json() == {"detail": "Sensor NOPE of device DEV-0001 not found"}


def test_readings_of_an_unknown_device_are_404_naming_it(client, viewer):  # noqa: F811
    response = client.get("/api/v1/devices/DEV-9/sensors/L1/readings", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Device DEV-9 not found"}


# --- authorship ---------------------------------------------------------------------------------


def test_a_device_records_who_registered_and_who_changed_it(client, admin, device, db):  # noqa: F811
    assert (device["created_by"], device["updated_by"]) == ("test admin", "test admin")
    technician = bearer(create_token(db, name="field technician", role="admin"))
    response = client.patch("/api/v1/devices/DEV-0001", json={"accel_unit": "g"}, headers=technician)
    assert response.status_code == 200
    changed = response.json()
    assert (changed["created_by"], changed["updated_by"]) == ("test admin", "field technician")
    assert changed["updated_at"] > device["updated_at"]
    assert fetch(db.info.dsn, "SELECT created_by, updated_by FROM device") == [("test admin", "field technician")]
