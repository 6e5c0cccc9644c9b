"""People and the four-role grid over HTTP (SPEC 5 and 6), against the real database."""

import pytest

from service.auth import create_token
from tests.api.support import bearer, post_point
from tests.support import fetch

POINT = "500113-HP-0042"
LI_WEI = {"name": "Li Wei", "phone": "13800000000", "roles": ["monitor"], "county_code": "500113"}


def post_person(client, headers, **changes):  # noqa: F811
    return client.post("/api/v1/people", json={**LI_WEI, **changes}, headers=headers)


def person_id(client, headers, **changes):  # noqa: F811
    response = post_person(client, headers, **changes)
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def point(client, admin):  # noqa: F811
    return post_point(client, admin)["code"]


@pytest.fixture
def four_people(client, admin):  # noqa: F811
    """One person per grid role, their ids by role."""
    return {role: person_id(client, admin, name=f"{role} person", roles=[role])
            for role in ("monitor", "area_lead", "resident_geologist", "county_admin")}


def grid_of(db):
    return fetch(db.info.dsn, "SELECT role, person_id FROM grid_assignment ORDER BY role")


# --- people -------------------------------------------------------------------------------------


def test_admin_registers_a_person_with_phone_and_roles(client, admin):  # noqa: F811
    response = post_person(client, admin)
    assert response.status_code == 201
    person = response.json()
    assert {key: person[key] for key in LI_WEI} == LI_WEI
    assert isinstance(person["id"], int) and person["created_at"]


def test_people_list_in_name_order_filtered_by_role_and_county(client, admin, viewer):  # noqa: F811
    person_id(client, admin, name="Zhou Jie", roles=["area_lead"], county_code="500114")
    person_id(client, admin)
    body = client.get("/api/v1/people", headers=viewer).json()
    assert ([p["name"] for p in body["data"]], body["count"]) == (["Li Wei", "Zhou Jie"], 2)
    assert [p["name"] for p in client.get("/api/v1/people?role=area_lead", headers=viewer).json()["data"]] == [
        "Zhou Jie"]
    assert [p["name"] for p in client.get("/api/v1/people?county_code=500113", headers=viewer).json()["data"]] == [
        "Li Wei"]


def test_a_role_given_twice_is_kept_once(client, admin):  # noqa: F811
    response = post_person(client, admin, roles=["monitor", "duty_officer", "monitor"])
    assert response.json()["roles"] == ["monitor", "duty_officer"]


def test_viewer_cannot_register_a_person(client, viewer, db):  # noqa: F811
    response = post_person(client, viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs admin."}
    assert fetch(db.info.dsn, "SELECT count(*) FROM person") == [(0,)]


def test_unknown_role_is_422_naming_it(client, admin):  # noqa: F811
    response = post_person(client, admin, roles=["monitor", "mayor"])
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "roles", 1]


def test_missing_name_is_422(client, admin):  # noqa: F811
    response = client.post("/api/v1/people", json={"phone": "13800000000"}, headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "name"], "missing")


def test_malformed_phone_is_422(client, admin):  # noqa: F811
    response = post_person(client, admin, phone="call me")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "phone"]


# --- grid ---------------------------------------------------------------------------------------


def test_a_new_point_has_an_empty_grid(client, viewer, point):  # noqa: F811
    response = client.get(f"/api/v1/hazard-points/{POINT}/grid", headers=viewer)
    assert response.status_code == 200
    assert response.json() == {"monitor": None, "area_lead": None, "resident_geologist": None, "county_admin": None}


def test_admin_assigns_all_four_roles(client, admin, viewer, point, four_people):  # noqa: F811
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json=four_people, headers=admin)
    assert response.status_code == 200
    grid = response.json()
    assert {role: member["person_id"] for role, member in grid.items()} == four_people
    monitor = grid["monitor"]
    assert {key: monitor[key] for key in ("person_id", "name", "phone", "assigned_by")} == {
        "person_id": four_people["monitor"], "name": "monitor person", "phone": "13800000000",
        "assigned_by": "test admin"}
    assert monitor["assigned_at"]
    assert client.get(f"/api/v1/hazard-points/{POINT}/grid", headers=viewer).json() == grid
    assert client.get(f"/api/v1/hazard-points/{POINT}", headers=viewer).json()["grid"] == grid


def test_put_replaces_the_whole_grid(client, admin, point, four_people, db):  # noqa: F811
    client.put(f"/api/v1/hazard-points/{POINT}/grid", json=four_people, headers=admin)
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json={"monitor": four_people["area_lead"]},
                          headers=admin)
    assert response.status_code == 200
    assert response.json()["area_lead"] is None
    assert grid_of(db) == [("monitor", four_people["area_lead"])]


def test_a_missing_person_is_404_naming_them_and_the_grid_stays(client, admin, point, four_people, db):  # noqa: F811
    client.put(f"/api/v1/hazard-points/{POINT}/grid", json=four_people, headers=admin)
    before = grid_of(db)
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json={**four_people, "county_admin": 9999},
                          headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Person 9999 not found"}
    assert grid_of(db) == before


def test_several_missing_people_are_all_named(client, admin, point):  # noqa: F811
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json={"monitor": 9002, "area_lead": 9001},
                          headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "People 9001, 9002 not found"}


def test_grid_of_an_unknown_point_is_404_naming_it(client, admin, viewer):  # noqa: F811
    assert client.get("/api/v1/hazard-points/X-1/grid", headers=viewer).json() == {
        "detail": "Hazard point X-1 not found"}
    response = client.put("/api/v1/hazard-points/X-1/grid", json={}, headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point X-1 not found"}


def test_viewer_cannot_assign_the_grid(client, viewer, point, four_people, db):  # noqa: F811
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json=four_people, headers=viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs admin."}
    assert grid_of(db) == []


def test_an_unknown_grid_role_is_422_naming_it(client, admin, point, four_people):  # noqa: F811
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json={"mayor": four_people["monitor"]},
                          headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "mayor"]


# --- authorship ---------------------------------------------------------------------------------


def test_a_person_records_who_registered_them(client, admin, viewer, db):  # noqa: F811
    assert post_person(client, admin).json()["created_by"] == "test admin"
    assert [p["created_by"] for p in client.get("/api/v1/people", headers=viewer).json()["data"]] == ["test admin"]
    assert fetch(db.info.dsn, "SELECT created_by FROM person") == [("test admin",)]


def test_replacing_the_grid_records_who_assigned_each_role_and_keeps_unchanged_roles(
        client, admin, db, point, four_people):  # noqa: F811
    client.put(f"/api/v1/hazard-points/{POINT}/grid", json=four_people, headers=admin)
    first = fetch(db.info.dsn, "SELECT role, assigned_at, assigned_by FROM grid_assignment ORDER BY role")
    lead = bearer(create_token(db, name="area office", role="admin"))
    newcomer = person_id(client, admin, name="Zhou Jie", roles=["monitor"])
    response = client.put(f"/api/v1/hazard-points/{POINT}/grid", json={**four_people, "monitor": newcomer},
                          headers=lead)
    assert response.status_code == 200
    grid = response.json()
    assert (grid["monitor"]["person_id"], grid["monitor"]["assigned_by"]) == (newcomer, "area office")
    assert grid["area_lead"]["assigned_by"] == "test admin"
    after = {role: (at, by) for role, at, by in
             fetch(db.info.dsn, "SELECT role, assigned_at, assigned_by FROM grid_assignment ORDER BY role")}
    for role, at, by in first:
        if role != "monitor":
            assert after[role] == (at, by), role  # kept its person: kept when and by whom
    assert after["monitor"][0] > dict((role, at) for role, at, _ in first)["monitor"]
