"""Meteorological risk warnings over HTTP (SPEC 5 and 6): the area's points get rain patrol tasks and their
devices the `meteorologicalearlywarning` broadcast, on the real database and the real broker."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import create_token
from tests.api.support import bearer, post_point
from tests.servers import free_port
from tests.support import Subscriber, fetch, wait_until

# Two active points in county 500113, one in 500114, and a cancelled one in 500113.
IN_COUNTY = ("500113-HP-0001", "500113-HP-0002")
OTHER_COUNTY = "500114-HP-0001"
CANCELLED = "500113-HP-0009"
RAIN_REGIMES = ["rain_after", "rain_before", "rain_during"]
# A square around the first two points with a hole around the second.
OUTER = [[106.0, 29.0], [107.0, 29.0], [107.0, 30.0], [106.0, 30.0], [106.0, 29.0]]
HOLE = [[106.4, 29.3], [106.4, 29.6], [106.7, 29.6], [106.7, 29.3], [106.4, 29.3]]


@pytest.fixture
def officer(db):
    person_id = db.execute("INSERT INTO person (name, roles) VALUES ('Zhang Min', '{duty_officer}') RETURNING id"
                           ).fetchone()[0]
    return bearer(create_token(db, name="duty:zhang", role="duty_officer", person_id=person_id))


@pytest.fixture
def points(client, admin, db):  # noqa: F811
    """The four points; Li Wei is the monitor of the first."""
    post_point(client, admin, code=IN_COUNTY[0], lon=106.2, lat=29.2)
    post_point(client, admin, code=IN_COUNTY[1], lon=106.52, lat=29.40, township_code="500113002",
               village_code="500113002001")
    post_point(client, admin, code=OTHER_COUNTY, lon=108.0, lat=30.0, county_code="500114",
               township_code="500114001", village_code=None)
    post_point(client, admin, code=CANCELLED, lon=106.21, lat=29.21, status="cancelled")
    monitor = db.execute("INSERT INTO person (name, roles) VALUES ('Li Wei', '{grid_monitor}') RETURNING id"
                         ).fetchone()[0]
    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
               (IN_COUNTY[0], monitor))
    return monitor


def validity(start_in=timedelta(hours=6), length=timedelta(hours=24)) -> dict[str, str]:
    valid_from = datetime.now(UTC).replace(microsecond=0) + start_in
    return {"valid_from": valid_from.isoformat(), "valid_to": (valid_from + length).isoformat()}


def warn(client, headers, **body):  # noqa: F811
    return client.post("/api/v1/weather-warnings", json={"level": "orange", **validity(), **body}, headers=headers)


def rain_tasks(db) -> dict[str, list[str]]:
    """Each point's rain task regimes, sorted."""
    tasks: dict[str, list[str]] = {}
    for point, regime in fetch(db.info.dsn, "SELECT hazard_point, regime FROM patrol_task "
                                            "WHERE regime = ANY (%s) ORDER BY hazard_point, regime", RAIN_REGIMES):
        tasks.setdefault(point, []).append(regime)
    return tasks


def unique_device(prefix: str) -> str:
    """A device id no other test uses: universal command topics ($creq/<id>/...) have no per-test root."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the area and its tasks ----------------------------------------------------------------------


def test_a_county_warning_gives_exactly_its_active_points_the_three_rain_tasks(
        client, officer, points, db):  # noqa: F811
    times = validity()
    response = warn(client, officer, county_codes=["500113"], **times)
    assert response.status_code == 201, response.text
    warning = response.json()
    assert (warning["point_count"], warning["tasks_created"], warning["tasks_already_open"]) == (2, 6, 0)
    assert warning["points"] == list(IN_COUNTY)
    assert (warning["county_codes"], warning["polygon"], warning["created_by"]) == (
        ["500113"], None, "duty:zhang (person 1)")
    assert rain_tasks(db) == {IN_COUNTY[0]: RAIN_REGIMES, IN_COUNTY[1]: RAIN_REGIMES}

    valid_from, valid_to = (datetime.fromisoformat(times[k]) for k in ("valid_from", "valid_to"))
    due = dict(fetch(db.info.dsn, "SELECT regime, due_at FROM patrol_task WHERE hazard_point = %s", IN_COUNTY[0]))
    assert due == {"rain_before": valid_from, "rain_during": valid_from + (valid_to - valid_from) / 2,
                   "rain_after": valid_to + timedelta(hours=24)}
    assignees = fetch(db.info.dsn, "SELECT DISTINCT hazard_point, assignee_id, weather_warning_id FROM patrol_task "
                                   "ORDER BY hazard_point")
    assert assignees == [(IN_COUNTY[0], points, warning["id"]), (IN_COUNTY[1], None, warning["id"])]


def test_a_village_warning_covers_only_that_villages_points(client, officer, points, db):  # noqa: F811
    response = warn(client, officer, village_codes=["500113002001"])
    assert response.status_code == 201, response.text
    assert response.json()["points"] == [IN_COUNTY[1]]
    assert rain_tasks(db) == {IN_COUNTY[1]: RAIN_REGIMES}


def test_a_polygon_warning_covers_the_point_inside_but_not_one_in_its_hole_or_outside(
        client, officer, points, db):  # noqa: F811
    response = warn(client, officer, polygon={"type": "Polygon", "coordinates": [OUTER, HOLE]})
    assert response.status_code == 201, response.text
    warning = response.json()
    assert (warning["points"], warning["tasks_created"]) == ([IN_COUNTY[0]], 3)
    assert warning["polygon"] == {"type": "Polygon", "coordinates": [OUTER, HOLE]}
    assert rain_tasks(db) == {IN_COUNTY[0]: RAIN_REGIMES}


def test_a_multipolygon_warning_covers_the_points_in_any_part(client, officer, points, db):  # noqa: F811
    around_other = [[107.5, 29.5], [108.5, 29.5], [108.5, 30.5], [107.5, 30.5], [107.5, 29.5]]
    response = warn(client, officer, polygon={"type": "MultiPolygon", "coordinates": [[OUTER, HOLE], [around_other]]})
    assert response.status_code == 201, response.text
    assert response.json()["points"] == [IN_COUNTY[0], OTHER_COUNTY]
    assert rain_tasks(db) == {IN_COUNTY[0]: RAIN_REGIMES, OTHER_COUNTY: RAIN_REGIMES}


def test_an_overlapping_warning_adds_no_second_open_task_and_moves_the_after_check_past_its_end(
        client, officer, points, db):  # noqa: F811
    first = warn(client, officer, county_codes=["500113"], **validity(length=timedelta(hours=12)))
    assert first.status_code == 201, first.text
    later_end = validity(start_in=timedelta(hours=12), length=timedelta(hours=24))
    second = warn(client, officer, township_codes=["500113001"], **later_end)
    assert second.status_code == 201, second.text
    assert (second.json()["tasks_created"], second.json()["tasks_already_open"]) == (0, 3)
    assert rain_tasks(db) == {IN_COUNTY[0]: RAIN_REGIMES, IN_COUNTY[1]: RAIN_REGIMES}
    [(after_due,)] = fetch(db.info.dsn, "SELECT due_at FROM patrol_task WHERE hazard_point = %s "
                                        "AND regime = 'rain_after'", IN_COUNTY[0])
    assert after_due == datetime.fromisoformat(later_end["valid_to"]) + timedelta(hours=24)


def test_a_warning_after_the_rain_task_was_done_gives_a_new_one(client, officer, points, db):  # noqa: F811
    assert warn(client, officer, village_codes=["500113002001"]).status_code == 201
    db.execute("UPDATE patrol_task SET state = 'done', done_at = now() WHERE regime = 'rain_before'")
    again = warn(client, officer, village_codes=["500113002001"])
    assert (again.json()["tasks_created"], again.json()["tasks_already_open"]) == (1, 2)


def test_a_warning_already_in_force_has_its_pre_rain_check_due_soon(client, officer, points, db):  # noqa: F811
    before = datetime.now(UTC)
    response = warn(client, officer, village_codes=["500113002001"],
                    **validity(start_in=-timedelta(hours=1), length=timedelta(hours=6)))
    assert response.status_code == 201, response.text
    [(due,)] = fetch(db.info.dsn, "SELECT due_at FROM patrol_task WHERE regime = 'rain_before'")
    assert before + timedelta(hours=2) <= due <= datetime.now(UTC) + timedelta(hours=2)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field", "words"), [
    ({}, None, "the area is missing"),
    ({"county_codes": ["500113"], "polygon": {"type": "Polygon", "coordinates": [OUTER]}}, "polygon",
     "one way only: county_codes and polygon"),
    ({"county_codes": ["500113"], "village_codes": ["500113002001"]}, "village_codes", "one way only"),
    ({"county_codes": []}, "county_codes", "at least 1"),
    ({"county_codes": ["5001"]}, "county_codes", "pattern"),
    ({"polygon": {"type": "Polygon", "coordinates": [OUTER[:-1]]}}, "polygon", "end where it starts"),
    ({"polygon": {"type": "Polygon", "coordinates": [[[200, 29], [201, 29], [201, 30], [200, 29]]]}}, "polygon",
     "longitude 200"),
    ({"polygon": {"type": "Point", "coordinates": [106.5, 29.5]}}, "polygon", "Polygon"),
    ({"county_codes": ["500113"], "valid_to": "2026-01-01T00:00:00Z", "valid_from": "2026-01-02T00:00:00Z"},
     "valid_to", "after valid_from"),
    ({"county_codes": ["500113"], **validity(start_in=-timedelta(days=2))}, "valid_to", "over already"),
    ({"county_codes": ["500113"], **validity(length=timedelta(days=31))}, "valid_to", "30 days"),
    ({"county_codes": ["500113"], "level": "purple"}, "level", "blue"),
])
def test_a_bad_area_or_validity_is_422_naming_the_field_and_records_nothing(
        client, officer, points, db, body, field, words):  # noqa: F811
    response = warn(client, officer, **body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert all(error["loc"][:2] == (["body", field] if field else ["body"]) for error in errors), errors
    assert any(words in error["msg"] for error in errors), errors
    assert fetch(db.info.dsn, "SELECT count(*) FROM weather_warning") == [(0,)]
    assert rain_tasks(db) == {}


def test_viewer_cannot_issue_a_warning(client, viewer, points, db):  # noqa: F811
    response = warn(client, viewer, county_codes=["500113"])
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs duty_officer or admin."}
    assert fetch(db.info.dsn, "SELECT count(*) FROM weather_warning") == [(0,)]
    assert rain_tasks(db) == {}


# --- the broadcast -------------------------------------------------------------------------------


def test_the_warning_is_broadcast_to_the_devices_of_its_points_only(
        client, officer, points, db, settings):  # noqa: F811
    universal, native, elsewhere = unique_device("DEV"), unique_device("GW"), unique_device("DEV")
    for device, point, protocol in ((universal, IN_COUNTY[0], "universal"), (native, IN_COUNTY[1], "native"),
                                    (elsewhere, OTHER_COUNTY, "universal")):
        db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, %s)", (device, point, protocol))
    to_universal = Subscriber(settings, f"$creq/{universal}/+")
    to_native = Subscriber(settings, f"{settings.topic_root}/gateways/{native}/cmd")
    try:
        response = warn(client, officer, county_codes=["500113"], level="orange")
        [universal_message] = wait_until(lambda: to_universal.messages, what="the universal device's command")
        [native_message] = wait_until(lambda: to_native.messages, what="the native gateway's command")
    finally:
        to_universal.close()
        to_native.close()
    assert response.status_code == 201, response.text
    warning = response.json()
    assert (warning["commands_sent"], warning["commands_failed"]) == (2, 0)
    assert [(c["device_id"], c["error"]) for c in warning["commands"]] == sorted([(universal, None), (native, None)])

    payload = universal_message.payload.decode()
    assert payload.startswith("$cmd=meteorologicalearlywarning&level=1&effective_time=")
    # The box of the two points (106.2-106.52, 29.2-29.4), widened by 0.02 degrees on every side.
    assert payload.endswith("&lon_range=106.18,106.54&lat_range=29.18,29.42")
    recorded = fetch(db.info.dsn, "SELECT device_id, command_id, name, params, sent_by FROM device_command "
                                  "ORDER BY device_id")
    assert [(r[0], r[2], r[3]["level"], r[4]) for r in recorded] == sorted(
        [(universal, "meteorologicalearlywarning", 1, "duty:zhang (person 1)"),
         (native, "meteorologicalearlywarning", 1, "duty:zhang (person 1)")])
    command_ids = {c["device_id"]: c["command_id"] for c in warning["commands"]}
    assert {r[0]: r[1] for r in recorded} == command_ids
    assert universal_message.topic == f"$creq/{universal}/{command_ids[universal]}"
    assert command_ids[native] in native_message.payload.decode()


def test_a_warning_for_a_single_point_is_broadcast_with_an_area_around_it(
        client, officer, points, db, settings):  # noqa: F811
    device = unique_device("DEV")
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'universal')", (device, IN_COUNTY[1]))
    to_device = Subscriber(settings, f"$creq/{device}/+")
    try:
        response = warn(client, officer, village_codes=["500113002001"])
        [message] = wait_until(lambda: to_device.messages, what="the device's command")
    finally:
        to_device.close()
    assert response.status_code == 201, response.text
    # The village's one point is at 106.52, 29.40: a box of no width would leave out its devices on the slope.
    assert message.payload.decode().endswith("&lon_range=106.5,106.54&lat_range=29.38,29.42")


def test_a_broker_that_cannot_be_reached_does_not_fail_the_warning(settings, db):
    unreachable = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}"})
    device = unique_device("DEV")
    with TestClient(create_app(unreachable)) as cut_off:
        post_point(cut_off, bearer(create_token(db, name="admin", role="admin")), code=IN_COUNTY[0])
        db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'universal')",
                   (device, IN_COUNTY[0]))
        officer = bearer(create_token(db, name="duty", role="duty_officer"))
        response = warn(cut_off, officer, county_codes=["500113"])
        listed = cut_off.get("/api/v1/weather-warnings", headers=officer).json()
    assert response.status_code == 201, response.text
    warning = response.json()
    assert (warning["tasks_created"], warning["commands_sent"], warning["commands_failed"]) == (3, 0, 1)
    [failed] = warning["commands"]
    assert failed["device_id"] == device and "not connected" in failed["error"]
    assert fetch(db.info.dsn, "SELECT device_id, command_id IS NULL, error FROM weather_warning_command") == [
        (device, True, failed["error"])]
    assert fetch(db.info.dsn, "SELECT count(*) FROM device_command") == [(0,)]
    assert (listed["data"][0]["commands_sent"], listed["data"][0]["commands_failed"]) == (0, 1)


# --- listing -------------------------------------------------------------------------------------


def test_list_filters_by_active_level_and_county_newest_first(client, officer, points, db):  # noqa: F811
    in_force = warn(client, officer, level="red", village_codes=["500113002001"],
                    **validity(start_in=-timedelta(hours=1))).json()
    coming = warn(client, officer, level="yellow", county_codes=["500114"]).json()
    polygon = warn(client, officer, level="yellow", polygon={"type": "Polygon", "coordinates": [OUTER, HOLE]}).json()

    def ids(**params):
        response = client.get("/api/v1/weather-warnings", params=params, headers=officer)
        assert response.status_code == 200, response.text
        return [w["id"] for w in response.json()["data"]], response.json()["count"]

    assert ids() == ([polygon["id"], coming["id"], in_force["id"]], 3)
    assert ids(active=True) == ([in_force["id"]], 1)
    assert ids(active=False) == ([polygon["id"], coming["id"]], 2)
    assert ids(level="red") == ([in_force["id"]], 1)
    assert ids(level=["red", "yellow"], limit=1, offset=1) == ([coming["id"]], 3)
    # By its village's code, and the polygon by the point of 500113 it covered.
    assert ids(county_code="500113") == ([polygon["id"], in_force["id"]], 2)
    assert ids(county_code="500114") == ([coming["id"]], 1)
    listed = client.get("/api/v1/weather-warnings", params={"level": "red"}, headers=officer).json()["data"][0]
    assert (listed["active"], listed["point_count"], listed["tasks_created"]) == (True, 1, 3)
    assert listed["village_codes"] == ["500113002001"] and listed["county_codes"] is None


def test_list_with_a_bad_county_code_is_422_naming_it(client, officer):  # noqa: F811
    response = client.get("/api/v1/weather-warnings", params={"county_code": "5001"}, headers=officer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "county_code"]
