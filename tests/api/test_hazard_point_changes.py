"""Changing a hazard point through the API (PATCH) and cancelling it (DELETE): what changes, who signed it, what is
refused."""

import pytest

from service.auth import create_token
from tests.api.support import T0, bearer, codes, fetch_one, insert_alert, post_point


# --- hazard points: change (PATCH) ---------------------------------------------------------------


def patch_point(client, headers, body, code="500113-HP-0042"):
    return client.patch(f"/api/v1/hazard-points/{code}", json=body, headers=headers)


def test_admin_changes_fields_and_the_change_is_signed(client, admin, db, viewer):
    created = post_point(client, admin)
    editor = bearer(create_token(db, name="county editor", role="admin"))
    response = patch_point(client, editor, {"name": "黄桷垭滑坡", "threatened_people": 55, "status": "under_treatment"})
    assert response.status_code == 200
    point = response.json()
    assert (point["code"], point["name"], point["threatened_people"], point["status"]) == (
        "500113-HP-0042", "黄桷垭滑坡", 55, "under_treatment")
    assert point["threatened_households"] == created["threatened_households"]  # left out: unchanged
    assert (point["created_by"], point["updated_by"]) == ("test admin", "county editor")
    assert point["updated_at"] > created["updated_at"] and point["created_at"] == created["created_at"]
    assert client.get("/api/v1/hazard-points/500113-HP-0042", headers=viewer).json() == point


def test_patch_sets_thresholds_and_monitoring_plan_as_the_engine_reads_them(client, admin, db):
    post_point(client, admin)
    body = {"thresholds": {"rain_24h_mm": {"blue": 40, "yellow": 60, "orange": 90, "red": 120}},
            "monitoring_plan": {"rainfall_may_exceed_orange": True}}
    point = patch_point(client, admin, body).json()
    assert (point["thresholds"], point["monitoring_plan"]) == (body["thresholds"], body["monitoring_plan"])
    assert fetch_one(db, "SELECT thresholds, monitoring_plan FROM hazard_point") == (
        body["thresholds"], body["monitoring_plan"])


def test_patch_moves_a_point_between_villages(client, admin):
    post_point(client, admin)
    point = patch_point(client, admin, {"township_code": "500113002", "village_code": "500113002007"}).json()
    assert (point["county_code"], point["township_code"], point["village_code"]) == (
        "500113", "500113002", "500113002007")


def test_patch_to_null_clears_an_optional_field(client, admin):
    post_point(client, admin, threatened_property_wan_yuan=350.5)
    point = patch_point(client, admin, {"threatened_property_wan_yuan": None, "village_code": None}).json()
    assert (point["threatened_property_wan_yuan"], point["village_code"]) == (None, None)


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        ({"code": "500113-HP-0043"}, ["body", "code"], "Extra inputs are not permitted"),
        ({"lat": 95}, ["body", "lat"], "less than or equal to 90"),
        ({"type": "volcano"}, ["body", "type"], "landslide"),
        ({"name": None}, ["body", "name"], "valid string"),
        ({"county_code": "5001"}, ["body", "county_code"], "should match pattern"),
        # Checked against the stored point: the township stays 500113001, which is not in county 500114.
        ({"county_code": "500114"}, ["body", "township_code"], "township 500113001 is not in county 500114"),
        ({"village_code": "500113002001"}, ["body", "village_code"], "village 500113002001 is not in 500113001"),
        ({"thresholds": {"rain_24h_mm": {"yellow": 80, "orange": 60}}}, ["body", "thresholds", "rain_24h_mm"],
         "orange (60) must be above yellow (80)"),
        ({"thresholds": {"rain_24h": {"red": 150}}}, ["body", "thresholds", "rain_24h"], "Extra inputs"),
        ({"monitoring_plan": {"rainfall_may_exceed_orange": "sometimes"}},
         ["body", "monitoring_plan", "rainfall_may_exceed_orange"], "valid boolean"),
    ],
    ids=["code", "lat", "type", "null-name", "county-pattern", "county-leaves-township", "village-outside-township",
         "falling-thresholds", "misspelt-threshold", "plan-switch"],
)
def test_invalid_patch_is_422_naming_the_field_and_changes_nothing(client, admin, db, body, loc, message):
    post_point(client, admin)
    before = fetch_one(db, "SELECT * FROM hazard_point")
    response = patch_point(client, admin, body)
    assert response.status_code == 422
    error = response.json()["detail"][0]  # moving the county also leaves the village out: reported second
    assert error["loc"] == loc
    assert message in error["msg"]
    assert fetch_one(db, "SELECT * FROM hazard_point") == before


def test_patching_an_unknown_point_is_404_naming_it(client, admin):
    response = patch_point(client, admin, {"name": "x"}, code="500113-HP-9999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point 500113-HP-9999 not found"}


def test_viewer_cannot_patch_a_point(client, admin, viewer, db):
    post_point(client, admin)
    response = patch_point(client, viewer, {"name": "x"})
    assert response.status_code == 403
    assert fetch_one(db, "SELECT name, updated_by FROM hazard_point") == ("Huangjueya landslide", "test admin")


@pytest.mark.parametrize("status", ["cancelled", "treated", "relocated"])
def test_taking_a_point_out_of_monitoring_is_refused_while_an_alert_is_open(client, admin, db, status):
    post_point(client, admin)
    alert_id = insert_alert(db, "500113-HP-0042", level="orange")
    response = patch_point(client, admin, {"status": status, "name": "x"})
    assert response.status_code == 409
    assert response.json() == {"detail": f"Hazard point 500113-HP-0042 has open alerts (deformation alert {alert_id});"
                                         f" resolve them before marking the point {status}"}
    assert fetch_one(db, "SELECT name, status FROM hazard_point") == ("Huangjueya landslide", "active")
    # Under treatment the point is still watched by the engine: its alerts go on as before.
    assert patch_point(client, admin, {"status": "under_treatment"}).status_code == 200


# --- hazard points: cancel (DELETE) --------------------------------------------------------------


def delete_point(client, headers, code="500113-HP-0042"):
    return client.delete(f"/api/v1/hazard-points/{code}", headers=headers)


def test_deleting_a_point_with_open_alerts_is_409_naming_them(client, admin, db):
    post_point(client, admin)
    rain = insert_alert(db, "500113-HP-0042", type="rainfall", level="yellow", state="acknowledged")
    deformation = insert_alert(db, "500113-HP-0042", level="red")
    insert_alert(db, "500113-HP-0042", type="device", state="resolved")
    response = delete_point(client, admin)
    assert response.status_code == 409
    assert response.json() == {"detail": f"Hazard point 500113-HP-0042 has open alerts (rainfall alert {rain}, "
                                         f"deformation alert {deformation}); resolve them before marking the point cancelled"}
    assert fetch_one(db, "SELECT status FROM hazard_point") == ("active",)


def test_deleting_a_point_cancels_it_and_keeps_its_history(client, admin, db):
    post_point(client, admin)
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('DEV-0001', '500113-HP-0042', 'native')")
    db.execute("INSERT INTO sensor (device_id, code, kind, hazard_point) VALUES ('DEV-0001', 'CR-01', 'crack',"
               " '500113-HP-0042')")
    db.execute("INSERT INTO reading (device_id, sensor_code, ts, kind, value) VALUES ('DEV-0001', 'CR-01', %s,"
               " 'crack', 1.0)", (T0,))
    insert_alert(db, "500113-HP-0042", state="resolved")
    remover = bearer(create_token(db, name="county remover", role="admin"))
    response = delete_point(client, remover)
    assert response.status_code == 200
    point = response.json()
    assert (point["status"], point["updated_by"]) == ("cancelled", "county remover")
    assert [sensor["code"] for sensor in point["sensors"]] == ["CR-01"]
    counts = fetch_one(db, "SELECT (SELECT count(*) FROM device), (SELECT count(*) FROM reading),"
                           " (SELECT count(*) FROM alert)")
    assert counts == (1, 1, 1)


def test_a_cancelled_point_leaves_the_active_listing_and_stops_being_evaluated(client, admin, viewer, db,
                                                                               three_points):
    assert delete_point(client, admin, "500113-HP-0002").status_code == 200
    assert codes(client.get("/api/v1/hazard-points?status=active", headers=viewer)) == [
        "500113-HP-0001", "500114-HP-0001"]
    assert codes(client.get("/api/v1/hazard-points?status=cancelled", headers=viewer)) == ["500113-HP-0002"]
    # The engine evaluates active points only (sql/engine.sql active_points).
    assert [row[0] for row in db.execute("SELECT code FROM hazard_point WHERE status = 'active' ORDER BY code")] == [
        "500113-HP-0001", "500114-HP-0001"]


def test_deleting_a_cancelled_point_again_changes_nothing(client, admin, db):
    post_point(client, admin)
    first = delete_point(client, admin).json()
    other_admin = bearer(create_token(db, name="second admin", role="admin"))
    again = delete_point(client, other_admin)
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["updated_by"], again.json()["updated_at"]) == (
        "cancelled", "test admin", first["updated_at"])


def test_deleting_an_unknown_point_is_404_naming_it(client, admin):
    response = delete_point(client, admin, "500113-HP-9999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point 500113-HP-9999 not found"}


def test_viewer_cannot_delete_a_point(client, admin, viewer, db):
    post_point(client, admin)
    assert delete_point(client, viewer).status_code == 403
    assert fetch_one(db, "SELECT status FROM hazard_point") == ("active",)


def test_openapi_documents_what_delete_does(client):
    delete = client.get("/openapi.json").json()["paths"]["/api/v1/hazard-points/{code}"]["delete"]
    assert "cancelled" in delete["description"] and "open alerts" in delete["description"]
    assert {"200", "403", "404", "409"} <= set(delete["responses"])


def test_the_monitoring_plan_sets_the_routine_patrol_rate(client, admin):
    post_point(client, admin)
    response = client.patch("/api/v1/hazard-points/500113-HP-0042",
                             json={"monitoring_plan": {"routine_patrols_per_week": 3}}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["monitoring_plan"]["routine_patrols_per_week"] == 3
    response = client.patch("/api/v1/hazard-points/500113-HP-0042",
                            json={"monitoring_plan": {"routine_patrols_per_week": 0}}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "routine_patrols_per_week"
