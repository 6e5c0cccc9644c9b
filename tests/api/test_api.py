"""The HTTP API of SPEC 6 against a real database: tokens and roles, hazard points (register, change, cancel, who
did it), alerts, probes and metrics."""

import json
import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql

from alerting.rules import DEFAULT_RESOLUTION_MM
from service.app import create_app
from service.auth import create_token, list_tokens, revoke_token

# The body field clients send (SPEC 6).
SPEC_POINT = {
    "code": "500113-HP-0042",
    "name": "Huangjueya landslide",
    "type": "landslide",
    "scale": "medium",
    "lon": 106.52,
    "lat": 29.40,
    "county_code": "500113",
    "township_code": "500113001",
    "village_code": "500113001001",
    "threatened_households": 12,
    "threatened_people": 41,
    "status": "active",
}
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def client(settings):
    """The app with its lifespan running (the pool is open)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(db):
    return bearer(create_token(db, name="test admin", role="admin"))


@pytest.fixture
def viewer(db):
    return bearer(create_token(db, name="test viewer", role="viewer"))


def post_point(client, headers, **changes):
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def insert_alert(db, point, *, type="deformation", level="yellow", state="open", raised_at=T0):
    return db.execute(
        "INSERT INTO alert (hazard_point, type, level, state, reasons, evidence, rule_version, raised_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'r1', %s, %s) RETURNING id",
        (point, type, level, state, '["alpha 56.3 deg > 50"]', '{"v_mm_per_day": 3.0}', raised_at, raised_at),
    ).fetchone()[0]


@pytest.fixture
def three_points(client, admin):
    """Two points in county 500113 (a landslide, a collapse) and a debris-flow gully in 500114."""
    post_point(client, admin, code="500113-HP-0001")
    post_point(
        client,
        admin,
        code="500113-HP-0002",
        type="collapse",
        lon=106.60,
        lat=29.50,
        township_code="500113002",
        village_code="500113002001",
    )
    post_point(
        client,
        admin,
        code="500114-HP-0001",
        type="debris_flow",
        lon=108.0,
        lat=30.0,
        county_code="500114",
        township_code="500114001",
        village_code=None,
    )


def codes(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [point["code"] for point in response.json()["data"]]


# --- probes -------------------------------------------------------------------------------------


def test_healthz_answers_without_a_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_when_the_database_does(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_is_503_with_a_reason_when_the_database_is_unreachable(client, database_url):
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(psycopg.conninfo.make_conninfo(database_url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Database unreachable: ")


def test_openapi_has_title_version_and_the_api_paths(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] and spec["info"]["version"] and spec["info"]["description"]
    paths = {"/api/v1/hazard-points", "/api/v1/hazard-points/{code}", "/api/v1/alerts", "/api/v1/alerts/{alert_id}"}
    assert paths <= set(spec["paths"])


# --- tokens and roles ---------------------------------------------------------------------------


def test_api_without_a_token_is_401_asking_for_bearer(client):
    response = client.get("/api/v1/hazard-points")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "A valid bearer token is required."}


def test_api_with_an_unknown_token_is_401(client):
    response = client.get("/api/v1/alerts", headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "The bearer token is unknown or revoked."}


def test_api_with_a_revoked_token_is_401(client, db):
    token = create_token(db, name="lost phone", role="viewer")
    assert client.get("/api/v1/alerts", headers=bearer(token)).status_code == 200
    [info] = [t for t in list_tokens(db) if t.name == "lost phone"]
    assert revoke_token(db, token_id=info.id) is True
    response = client.get("/api/v1/alerts", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoking_a_token_twice_reports_nothing_revoked(db):
    create_token(db, name="once", role="viewer")
    [info] = list_tokens(db)
    assert revoke_token(db, token_id=info.id) is True
    assert revoke_token(db, token_id=info.id) is False
    assert revoke_token(db, token_id=999_999) is False


def test_list_tokens_shows_role_and_state_but_no_secret(db):
    token = create_token(db, name="console", role="duty_officer")
    [info] = list_tokens(db)
    assert (info.name, info.role, info.active) == ("console", "duty_officer", True)
    assert token not in repr(info)
    assert tuple(info)[:3] == (info.id, "console", "duty_officer")


def test_create_token_refuses_an_unknown_role(db):
    with pytest.raises(ValueError, match="unknown role 'root'"):
        create_token(db, name="x", role="root")


def test_create_token_refuses_a_grid_monitor_without_a_person(db):
    with pytest.raises(ValueError, match="needs a person"):
        create_token(db, name="x", role="grid_monitor")


def test_viewer_cannot_create_a_hazard_point(client, viewer):
    response = client.post("/api/v1/hazard-points", json=SPEC_POINT, headers=viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs admin."}
    assert client.get("/api/v1/hazard-points", headers=viewer).json()["count"] == 0


# --- hazard points: create and get ---------------------------------------------------------------


def test_admin_creates_a_hazard_point_from_the_spec_body(client, admin):
    response = client.post("/api/v1/hazard-points", json=SPEC_POINT, headers=admin)
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/hazard-points/500113-HP-0042"
    point = response.json()
    assert {key: point[key] for key in SPEC_POINT} == SPEC_POINT
    assert point["level"] == "none"
    assert point["sensors"] == []
    assert point["grid"] == {"monitor": None, "area_lead": None, "resident_geologist": None, "county_admin": None}


def test_created_point_reads_back_the_same(client, admin, viewer):
    created = post_point(client, admin, threatened_property_wan_yuan=350.5)
    response = client.get("/api/v1/hazard-points/500113-HP-0042", headers=viewer)
    assert response.status_code == 200
    assert response.json() == created
    assert created["threatened_property_wan_yuan"] == 350.5


def test_duplicate_code_is_409(client, admin):
    post_point(client, admin)
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, "name": "another"}, headers=admin)
    assert response.status_code == 409
    assert response.json() == {"detail": "Hazard point 500113-HP-0042 already exists"}


def test_latitude_out_of_range_is_422_naming_lat(client, admin):
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, "lat": 95}, headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "lat"]
    assert "less than or equal to 90" in error["msg"]


def test_unknown_hazard_type_is_422_naming_type(client, admin):
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, "type": "volcano"}, headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "type"]
    assert "landslide" in error["msg"]


def test_township_outside_its_county_is_422_naming_township_code(client, admin):
    response = client.post(
        "/api/v1/hazard-points",
        json={**SPEC_POINT, "township_code": "500114001", "village_code": None},
        headers=admin,
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "township_code"]
    assert "township 500114001 is not in county 500113" in error["msg"]


def test_missing_required_field_is_422_naming_it(client, admin):
    body = {key: value for key, value in SPEC_POINT.items() if key != "county_code"}
    response = client.post("/api/v1/hazard-points", json=body, headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "county_code"], "missing")


def test_unknown_hazard_point_is_404_naming_it(client, viewer):
    response = client.get("/api/v1/hazard-points/500113-HP-9999", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point 500113-HP-9999 not found"}


def test_hazard_point_shows_its_sensors_and_grid(client, admin, db):
    post_point(client, admin)
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('DEV-0001', '500113-HP-0042', 'universal')")
    db.execute(
        "INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s, v0_mm_per_day, thresholds,"
        " last_reading_at) VALUES ('DEV-0001', 'L1_LF_1', 'crack', '500113-HP-0042', 600, 2.0,"
        " '{\"velocity_mm_per_day\": {\"red\": 50}}', %s)",
        (T0,),
    )
    person_id = db.execute(
        "INSERT INTO person (name, phone, roles) VALUES ('Li Wei', '13800000000', '{monitor}') RETURNING id"
    ).fetchone()[0]
    db.execute(
        "INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES ('500113-HP-0042', 'monitor', %s)",
        (person_id,),
    )
    point = client.get("/api/v1/hazard-points/500113-HP-0042", headers=admin).json()
    assert point["sensors"] == [
        {
            "device_id": "DEV-0001",
            "code": "L1_LF_1",
            "kind": "crack",
            "reporting_interval_s": 600,
            "v0_mm_per_day": 2.0,
            "resolution_mm": None,
            "resolution_mm_effective": DEFAULT_RESOLUTION_MM["crack"],
            "resolution_source": "default",
            "thresholds": {"velocity_mm_per_day": {"red": 50}},
            "state": 0,
            "last_reading_at": "2026-07-01T08:00:00Z",
        }
    ]
    monitor = point["grid"]["monitor"]
    assert {key: monitor[key] for key in ("person_id", "name", "phone")} == {
        "person_id": person_id, "name": "Li Wei", "phone": "13800000000"}
    assert monitor["assigned_by"] is None  # assigned in SQL, not through the API: nobody to name
    assert point["grid"]["area_lead"] is None


# --- hazard points: current level ----------------------------------------------------------------


def test_current_level_is_the_highest_among_unresolved_alerts(client, admin, db):
    post_point(client, admin)
    insert_alert(db, "500113-HP-0042", type="rainfall", level="yellow", state="open")
    insert_alert(db, "500113-HP-0042", type="deformation", level="orange", state="acknowledged")
    insert_alert(db, "500113-HP-0042", type="device", level="red", state="resolved")
    assert client.get("/api/v1/hazard-points/500113-HP-0042", headers=admin).json()["level"] == "orange"


def test_current_level_is_none_when_every_alert_is_resolved(client, admin, db):
    post_point(client, admin)
    insert_alert(db, "500113-HP-0042", level="red", state="resolved")
    assert client.get("/api/v1/hazard-points/500113-HP-0042", headers=admin).json()["level"] == "none"


# --- hazard points: list ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["500113-HP-0001", "500113-HP-0002", "500114-HP-0001"]),
        ("county_code=500113", ["500113-HP-0001", "500113-HP-0002"]),
        ("township_code=500113002", ["500113-HP-0002"]),
        ("village_code=500113001001", ["500113-HP-0001"]),
        ("type=debris_flow", ["500114-HP-0001"]),
        ("type=collapse&type=debris_flow", ["500113-HP-0002", "500114-HP-0001"]),
        ("bbox=106.5,29.3,106.55,29.45", ["500113-HP-0001"]),
        ("bbox=106,29,107,30", ["500113-HP-0001", "500113-HP-0002"]),
        ("county_code=500113&type=landslide", ["500113-HP-0001"]),
    ],
    ids=["all", "county", "township", "village", "type", "types", "small-bbox", "large-bbox", "county-and-type"],
)
def test_list_filters_hazard_points(client, viewer, three_points, query, expected):
    assert codes(client.get(f"/api/v1/hazard-points?{query}", headers=viewer)) == expected


def test_list_filters_by_current_level(client, viewer, db, three_points):
    insert_alert(db, "500113-HP-0002", level="red", state="open")
    insert_alert(db, "500114-HP-0001", level="red", state="resolved")
    assert codes(client.get("/api/v1/hazard-points?level=red", headers=viewer)) == ["500113-HP-0002"]
    assert codes(client.get("/api/v1/hazard-points?level=none", headers=viewer)) == ["500113-HP-0001", "500114-HP-0001"]


def test_list_count_is_the_total_over_all_pages(client, viewer, three_points):
    body = client.get("/api/v1/hazard-points?limit=2&offset=1", headers=viewer).json()
    assert [point["code"] for point in body["data"]] == ["500113-HP-0002", "500114-HP-0001"]
    assert body["count"] == 3


def test_list_past_the_last_page_is_empty_with_the_count(client, viewer, three_points):
    assert client.get("/api/v1/hazard-points?offset=10", headers=viewer).json() == {"data": [], "count": 3}


def test_list_as_geojson_is_a_feature_collection(client, viewer, three_points):
    response = client.get("/api/v1/hazard-points?format=geojson&county_code=500114", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    assert collection["count"] == 1
    [feature] = collection["features"]
    assert feature["type"] == "Feature"
    assert feature["id"] == "500114-HP-0001"
    assert feature["geometry"] == {"type": "Point", "coordinates": [108.0, 30.0]}
    assert feature["properties"]["type"] == "debris_flow"
    assert feature["properties"]["level"] == "none"


def test_malformed_bbox_is_422_naming_bbox(client, viewer):
    response = client.get("/api/v1/hazard-points?bbox=106,29,107", headers=viewer)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "bbox"]
    assert "minLon,minLat,maxLon,maxLat" in error["msg"]


def test_bbox_with_min_above_max_is_422(client, viewer):
    response = client.get("/api/v1/hazard-points?bbox=107,29,106,30", headers=viewer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "bbox"]


def test_unknown_level_filter_is_422_naming_level(client, viewer):
    response = client.get("/api/v1/hazard-points?level=purple", headers=viewer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "level", 0]


# --- alerts ------------------------------------------------------------------------------------------


@pytest.fixture
def four_alerts(db, three_points):
    """Alerts raised an hour apart, oldest first, their ids by a short name."""
    return {
        "old_resolved_red": insert_alert(db, "500113-HP-0001", level="red", state="resolved", raised_at=T0),
        "rain_yellow": insert_alert(
            db, "500113-HP-0001", type="rainfall", level="yellow", raised_at=T0 + timedelta(hours=1)
        ),
        "deform_orange": insert_alert(
            db, "500113-HP-0002", level="orange", state="acknowledged", raised_at=T0 + timedelta(hours=2)
        ),
        "device_blue": insert_alert(
            db, "500114-HP-0001", type="device", level="blue", raised_at=T0 + timedelta(hours=3)
        ),
    }


def alert_ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [alert["id"] for alert in response.json()["data"]]


def test_alerts_list_newest_first_with_the_spec_fields(client, viewer, four_alerts):
    body = client.get("/api/v1/alerts", headers=viewer).json()
    assert body["count"] == 4
    newest_first = ["device_blue", "deform_orange", "rain_yellow", "old_resolved_red"]
    assert [alert["id"] for alert in body["data"]] == [four_alerts[name] for name in newest_first]
    assert body["data"][0] == {
        "id": four_alerts["device_blue"],
        "point": "500114-HP-0001",
        "type": "device",
        "level": "blue",
        "state": "open",
        "reasons": ["alpha 56.3 deg > 50"],
        "evidence": {"v_mm_per_day": 3.0},
        "raised_at": "2026-07-01T11:00:00Z",
        "updated_at": "2026-07-01T11:00:00Z",
        "rule_version": "r1",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=resolved", ["old_resolved_red"]),
        ("state=open&state=acknowledged", ["device_blue", "deform_orange", "rain_yellow"]),
        ("level=orange", ["deform_orange"]),
        ("type=rainfall", ["rain_yellow"]),
        ("point=500113-HP-0001", ["rain_yellow", "old_resolved_red"]),
        ("county_code=500114", ["device_blue"]),
        ("since=2026-07-01T09:30:00Z", ["device_blue", "deform_orange"]),
        ("county_code=500113&state=open", ["rain_yellow"]),
    ],
    ids=["state", "states", "level", "type", "point", "county", "since", "county-and-state"],
)
def test_alerts_list_filters(client, viewer, four_alerts, query, expected):
    assert alert_ids(client.get(f"/api/v1/alerts?{query}", headers=viewer)) == [four_alerts[name] for name in expected]


def test_alerts_since_without_a_timezone_is_422_naming_since(client, viewer):
    response = client.get("/api/v1/alerts?since=2026-07-01T09:30:00", headers=viewer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "since"]


def test_alert_detail_has_its_events_in_time_order(client, viewer, db, four_alerts):
    alert_id = four_alerts["deform_orange"]
    # Inserted out of order: the answer is ordered by time, not by insertion.
    db.execute(
        "INSERT INTO alert_event (alert_id, at, kind, from_level, to_level, actor, inputs, thresholds, rule_version)"
        " VALUES (%s, %s, 'level_raised', 'yellow', 'orange', 'engine', '{\"alpha_deg\": 81.2}',"
        " '{\"orange_alpha_deg\": 80}', 'r1')",
        (alert_id, T0 + timedelta(hours=2, minutes=30)),
    )
    db.execute(
        "INSERT INTO alert_event (alert_id, at, kind, to_level, actor, inputs, rule_version)"
        " VALUES (%s, %s, 'raised', 'yellow', 'engine', '{\"alpha_deg\": 56.3}', 'r1')",
        (alert_id, T0 + timedelta(hours=2)),
    )
    db.execute(
        "INSERT INTO alert_event (alert_id, at, kind, actor, note)"
        " VALUES (%s, %s, 'acknowledged', 'duty:zhang', 'on it')",
        (alert_id, T0 + timedelta(hours=2, minutes=40)),
    )
    response = client.get(f"/api/v1/alerts/{alert_id}", headers=viewer)
    assert response.status_code == 200
    alert = response.json()
    assert (alert["id"], alert["point"], alert["level"], alert["state"]) == (
        alert_id, "500113-HP-0002", "orange", "acknowledged"
    )
    assert [event["kind"] for event in alert["events"]] == ["raised", "level_raised", "acknowledged"]
    assert alert["events"][1] == {
        "at": "2026-07-01T10:30:00Z",
        "kind": "level_raised",
        "from_level": "yellow",
        "to_level": "orange",
        "actor": "engine",
        "inputs": {"alpha_deg": 81.2},
        "thresholds": {"orange_alpha_deg": 80},
        "rule_version": "r1",
        "note": None,
    }
    assert alert["events"][2]["note"] == "on it"


def test_unknown_alert_is_404_naming_it(client, viewer):
    response = client.get("/api/v1/alerts/7", headers=viewer)
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert 7 not found"}


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


# --- authorship ----------------------------------------------------------------------------------


def test_a_registered_point_records_who_registered_it(client, admin, db):
    point = post_point(client, admin)
    assert (point["created_by"], point["updated_by"]) == ("test admin", "test admin")
    assert fetch_one(db, "SELECT created_by, updated_by FROM hazard_point") == ("test admin", "test admin")


def test_an_admin_with_a_person_is_recorded_with_that_person(client, db):
    person_id = db.execute("INSERT INTO person (name) VALUES ('Zhou Jie') RETURNING id").fetchone()[0]
    zhou = bearer(create_token(db, name="zhou", role="admin", person_id=person_id))
    assert post_point(client, zhou)["created_by"] == f"zhou (person {person_id})"


# --- /metrics ------------------------------------------------------------------------------------


def scrape(client) -> dict[tuple, float]:
    """The request counter's samples from /metrics, by (method, route, status)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "geohazard_api_requests_total"
    }


def test_metrics_answer_without_a_token_in_the_prometheus_format(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "geohazard_api_request_duration_seconds_bucket" in response.text


def test_metrics_count_requests_by_route_template_not_raw_path(client, viewer):
    key = ("GET", "/api/v1/hazard-points/{code}", "404")
    before = scrape(client).get(key, 0.0)
    for code in ("500113-HP-7001", "500113-HP-7002"):
        assert client.get(f"/api/v1/hazard-points/{code}", headers=viewer).status_code == 404
    after = scrape(client)
    assert after[key] == before + 2
    assert not any("HP-700" in route for _, route, _ in after)


def test_metrics_time_requests_and_label_unknown_paths_and_methods_boundedly(client, viewer):
    client.get("/api/v1/alerts", headers=viewer)
    client.get("/no/such/path/42")
    client.request("BREW", "/healthz")
    samples = scrape(client)
    assert samples[("GET", "/api/v1/alerts", "200")] >= 1
    assert samples[("GET", "unmatched", "404")] >= 1
    assert samples[("other", "/healthz", "405")] >= 1
    histogram = client.get("/metrics").text
    assert re.search(r'geohazard_api_request_duration_seconds_count\{method="GET",route="/api/v1/alerts",'
                     r'status="200"\} [1-9]', histogram)


def fetch_one(db, query: str) -> tuple:
    return tuple(db.execute(query).fetchone())


def test_a_value_the_database_cannot_take_is_a_422_not_a_500(client, admin):
    response = client.get("/api/v1/hazard-points", params={"county_code": "5001\x0013"}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["request"]


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


@pytest.mark.parametrize("path, method, body, loc", [
    ("/api/v1/hazard-points", "post", {**SPEC_POINT, "lon": float("inf")}, ["body", "lon"]),
    ("/api/v1/hazard-points", "post", {**SPEC_POINT, "threatened_property_wan_yuan": float("nan")},
     ["body", "threatened_property_wan_yuan"]),
    ("/api/v1/weather-warnings", "post",
     {"level": "orange", "valid_from": "2026-07-01T00:00:00Z", "valid_to": "2026-07-02T00:00:00Z",
      "polygon": {"type": "Polygon", "coordinates": [[[106.0, 29.0], [float("nan"), 29.0], [107.0, 30.0],
                                                      [106.0, 29.0]]]}},
     ["body", "polygon", "Polygon", "coordinates", 0, 1, 0]),
])
def test_nan_and_infinity_are_422_naming_the_field_never_stored(client, admin, db, path, method, body, loc):
    # Python's JSON writes inf and nan as Infinity and NaN, which the API's JSON reader takes as numbers.
    response = client.request(method, path, content=json.dumps(body),
                              headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert db.execute("SELECT count(*) FROM hazard_point").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM weather_warning").fetchone()[0] == 0


def test_an_anonymous_body_is_refused_401_before_a_byte_of_it_is_read(client):
    # Straight through ASGI, to see whether the app asks for the body at all (FastAPI reads a body before it
    # checks the token: three anonymous 500 MB posts took the API to 3.4 GB before each got its 401).
    for authorization in ([], [(b"authorization", b"Bearer not-a-token")]):
        read, sent = [], []

        async def receive():
            read.append(True)
            return {"type": "http.request", "body": b'{"code": "x"}', "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/v1/hazard-points", "raw_path": b"/api/v1/hazard-points",
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"13"), *authorization]}
        client.portal.call(client.app, scope, receive, send)
        assert sent[0]["status"] == 401 and read == []


@pytest.fixture
def small_body_client(settings):
    with TestClient(create_app(settings.model_copy(update={"max_request_body_bytes": 2048}))) as test_client:
        yield test_client


def test_a_body_over_the_limit_is_413_whether_its_length_is_declared_or_streamed(small_body_client, admin, db):
    big = json.dumps({**SPEC_POINT, "name": "x" * 4096}).encode()
    declared = small_body_client.post("/api/v1/hazard-points", content=big,
                                      headers={**admin, "Content-Type": "application/json"})
    streamed = small_body_client.post("/api/v1/hazard-points", content=iter([big[:1000], big[1000:]]),
                                      headers={**admin, "Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json() == {"detail": "The request body is larger than the 2048 bytes the API takes."}
    assert db.execute("SELECT count(*) FROM hazard_point").fetchone()[0] == 0
    # A body within the limit is served as before.
    assert small_body_client.post("/api/v1/hazard-points", json=SPEC_POINT, headers=admin).status_code == 201
