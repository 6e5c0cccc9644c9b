"""Hazard points through the API (SPEC 6): register, read back, current level, list and filter, who registered
them."""

import pytest

from alerting.rules import DEFAULT_RESOLUTION_MM
from service.auth import create_token
from tests.api.support import SPEC_POINT, T0, bearer, codes, fetch_one, insert_alert, post_point


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


# --- authorship ----------------------------------------------------------------------------------


def test_a_registered_point_records_who_registered_it(client, admin, db):
    point = post_point(client, admin)
    assert (point["created_by"], point["updated_by"]) == ("test admin", "test admin")
    assert fetch_one(db, "SELECT created_by, updated_by FROM hazard_point") == ("test admin", "test admin")


def test_an_admin_with_a_person_is_recorded_with_that_person(client, db):
    person_id = db.execute("INSERT INTO person (name) VALUES ('Zhou Jie') RETURNING id").fetchone()[0]
    zhou = bearer(create_token(db, name="zhou", role="admin", person_id=person_id))
    assert post_point(client, zhou)["created_by"] == f"zhou (person {person_id})"
