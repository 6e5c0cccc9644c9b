"""A grid monitor sees only the points it is assigned to (SPEC 6), over every read endpoint, on the real database.

Two villages' points: OWN is assigned to the monitor, OTHER to someone else. Whatever belongs to OTHER
(the point, its grid and card, its alerts, devices and readings) answers 404 to the monitor, as if it did
not exist, and is left out of every list; writing the registry is refused (403).
"""

import pytest

from service.auth import create_token
from tests.api.support import T0, bearer, insert_alert, post_point
from tests.support import fetch
from tests.engine.test_channels import insert_event, quick_heartbeat, read_events  # noqa: F401 (fixture)

OWN, OTHER = "500113-HP-0001", "500113-HP-0002"
OWN_DEVICE, OTHER_DEVICE = "DEV-OWN", "DEV-OTHER"


def person(db, name: str) -> int:
    return db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, '13800000000', '{monitor}') RETURNING id",
                      (name,)).fetchone()[0]


@pytest.fixture
def villages(client, admin, db):  # noqa: F811
    """OWN in village 500113001001 watched by Li Wei, OTHER in village 500113002001 watched by Wang Fang.

    Each point has a device with a crack sensor holding one reading, and an open alert.
    """
    li_wei, wang_fang = person(db, "Li Wei"), person(db, "Wang Fang")
    post_point(client, admin, code=OWN)
    post_point(client, admin, code=OTHER, township_code="500113002", village_code="500113002001")
    for code, monitor, device in ((OWN, li_wei, OWN_DEVICE), (OTHER, wang_fang, OTHER_DEVICE)):
        assert client.put(f"/api/v1/hazard-points/{code}/grid", json={"monitor": monitor},
                          headers=admin).status_code == 200
        response = client.post("/api/v1/devices", headers=admin, json={
            "id": device, "hazard_point": code, "protocol": "universal",
            "sensors": [{"code": "L1_LF_1", "kind": "crack"}]})
        assert response.status_code == 201, response.text
        db.execute("INSERT INTO reading (device_id, sensor_code, ts, kind, value) VALUES (%s, 'L1_LF_1', %s,"
                   " 'crack', 1.5)", (device, T0))
    return {"li_wei": li_wei, "wang_fang": wang_fang,
            "own_alert": insert_alert(db, OWN), "other_alert": insert_alert(db, OTHER, type="rainfall")}


@pytest.fixture
def monitor(db, villages):
    """Li Wei's phone: a grid_monitor token, assigned to OWN only."""
    return bearer(create_token(db, name="li wei phone", role="grid_monitor", person_id=villages["li_wei"]))


def get(client, path, headers, **kwargs):  # noqa: F811
    return client.get(f"/api/v1{path}", headers=headers, **kwargs)


# --- hazard points ------------------------------------------------------------------------------------


def test_monitor_lists_only_its_own_points(client, monitor, viewer):  # noqa: F811
    body = get(client, "/hazard-points", monitor).json()
    assert ([p["code"] for p in body["data"]], body["count"]) == ([OWN], 1)
    assert get(client, "/hazard-points", viewer).json()["count"] == 2


def test_monitor_geojson_holds_only_its_own_points(client, monitor):  # noqa: F811
    collection = get(client, "/hazard-points?format=geojson", monitor).json()
    assert ([f["id"] for f in collection["features"]], collection["count"]) == ([OWN], 1)


def test_monitor_filtering_for_another_point_finds_nothing(client, monitor):  # noqa: F811
    assert get(client, "/hazard-points?village_code=500113002001", monitor).json() == {"data": [], "count": 0}


@pytest.mark.parametrize("suffix", ["", "/grid", "/card"], ids=["detail", "grid", "card"])
def test_monitor_reading_another_villages_point_is_404_naming_it(client, monitor, suffix):  # noqa: F811
    response = get(client, f"/hazard-points/{OTHER}{suffix}", monitor)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Hazard point {OTHER} not found"}


def test_monitor_printing_another_villages_card_is_404_too(client, monitor):  # noqa: F811
    response = get(client, f"/hazard-points/{OTHER}/card", {**monitor, "Accept": "text/html"})
    assert response.status_code == 404
    assert "Wang Fang" not in response.text


def test_monitor_reads_its_own_point_grid_and_card(client, monitor):  # noqa: F811
    point = get(client, f"/hazard-points/{OWN}", monitor)
    grid = get(client, f"/hazard-points/{OWN}/grid", monitor)
    card = get(client, f"/hazard-points/{OWN}/card", monitor)
    assert (point.status_code, grid.status_code, card.status_code) == (200, 200, 200)
    assert point.json()["code"] == card.json()["code"] == OWN
    assert grid.json()["monitor"]["name"] == card.json()["grid"]["monitor"]["name"] == "Li Wei"


def test_monitor_sees_a_point_once_assigned_to_it(client, admin, monitor, villages):  # noqa: F811
    assert get(client, f"/hazard-points/{OTHER}", monitor).status_code == 404
    response = client.put(f"/api/v1/hazard-points/{OTHER}/grid", json={"monitor": villages["li_wei"]}, headers=admin)
    assert response.status_code == 200
    assert get(client, f"/hazard-points/{OTHER}", monitor).status_code == 200
    assert get(client, "/hazard-points", monitor).json()["count"] == 2


def test_monitor_assigned_to_nothing_sees_nothing(client, db, villages):  # noqa: F811
    newcomer = bearer(create_token(db, name="new phone", role="grid_monitor", person_id=person(db, "Zhou Jie")))
    assert get(client, "/hazard-points", newcomer).json() == {"data": [], "count": 0}
    assert get(client, "/alerts", newcomer).json() == {"data": [], "count": 0}
    assert get(client, "/devices", newcomer).json() == {"data": [], "count": 0}


# --- alerts -------------------------------------------------------------------------------------------


def test_monitor_lists_only_the_alerts_of_its_points(client, monitor, villages):  # noqa: F811
    body = get(client, "/alerts", monitor).json()
    assert ([a["id"] for a in body["data"]], body["count"]) == ([villages["own_alert"]], 1)
    assert get(client, f"/alerts?point={OTHER}", monitor).json() == {"data": [], "count": 0}


@pytest.mark.parametrize("suffix", ["", "/cap"], ids=["detail", "cap"])
def test_monitor_reading_another_villages_alert_is_404_naming_it(client, monitor, villages, suffix):  # noqa: F811
    alert_id = villages["other_alert"]
    response = get(client, f"/alerts/{alert_id}{suffix}", monitor)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Alert {alert_id} not found"}


@pytest.mark.parametrize("suffix", ["", "/cap"], ids=["detail", "cap"])
def test_monitor_reads_the_alerts_of_its_own_point(client, monitor, villages, suffix):  # noqa: F811
    response = get(client, f"/alerts/{villages['own_alert']}{suffix}", monitor)
    assert response.status_code == 200
    assert OWN in response.text


def test_monitor_stream_carries_only_the_events_of_its_points(client, db, monitor, villages,  # noqa: F811
                                                              quick_heartbeat):  # noqa: F811
    with client.stream("GET", "/api/v1/alerts/stream", headers=monitor) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"
        insert_event(db, villages["other_alert"])  # committed first: a leaking stream would send it first
        own_event = insert_event(db, villages["own_alert"], "acknowledged", to_level=None)
        [(event_id, data)] = read_events(lines, 1)
    assert (event_id, data["alert"]["point"]) == (own_event, OWN)


def test_monitor_catching_up_gets_only_the_missed_events_of_its_points(client, db, monitor,  # noqa: F811
                                                                       villages, quick_heartbeat):  # noqa: F811
    seen = insert_event(db, villages["own_alert"])
    insert_event(db, villages["other_alert"])
    missed = insert_event(db, villages["own_alert"], "acknowledged", to_level=None)
    with client.stream("GET", "/api/v1/alerts/stream", headers={**monitor, "Last-Event-ID": str(seen)}) as response:
        [(event_id, _)] = read_events(response.iter_lines(), 1)
    assert event_id == missed


def test_viewer_stream_carries_every_point(client, db, viewer, villages, quick_heartbeat):  # noqa: F811
    with client.stream("GET", "/api/v1/alerts/stream", headers=viewer) as response:
        lines = response.iter_lines()
        assert next(lines) == "retry: 5000"
        insert_event(db, villages["other_alert"])
        [(_, data)] = read_events(lines, 1)
    assert data["alert"]["point"] == OTHER


# --- devices ------------------------------------------------------------------------------------------


def test_monitor_lists_only_the_devices_of_its_points(client, monitor):  # noqa: F811
    body = get(client, "/devices", monitor).json()
    assert ([d["id"] for d in body["data"]], body["count"]) == ([OWN_DEVICE], 1)


@pytest.mark.parametrize("suffix", ["", "/sensors/L1_LF_1/readings"], ids=["detail", "readings"])
def test_monitor_reading_another_villages_device_is_404_naming_it(client, monitor, suffix):  # noqa: F811
    response = get(client, f"/devices/{OTHER_DEVICE}{suffix}", monitor)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Device {OTHER_DEVICE} not found"}


def test_monitor_reads_its_own_devices_readings(client, monitor):  # noqa: F811
    assert get(client, f"/devices/{OWN_DEVICE}", monitor).json()["hazard_point"] == OWN
    response = get(client, f"/devices/{OWN_DEVICE}/sensors/L1_LF_1/readings",
                   monitor, params={"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"})
    assert response.status_code == 200
    assert [r["value"] for r in response.json()["data"]] == [1.5]


# --- writes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/hazard-points", {"code": "500113-HP-0009", "name": "x", "type": "landslide", "scale": "small",
                                    "lon": 106.5, "lat": 29.4, "county_code": "500113"}),
        ("PATCH", f"/hazard-points/{OWN}", {"name": "renamed"}),
        ("DELETE", f"/hazard-points/{OWN}", None),
        ("PUT", f"/hazard-points/{OWN}/grid", {}),
        ("POST", "/devices", {"id": "DEV-NEW", "hazard_point": OWN, "protocol": "native"}),
        ("PATCH", f"/devices/{OWN_DEVICE}", {"accel_unit": "g"}),
        ("POST", "/people", {"name": "Zhou Jie"}),
    ],
    ids=["create-point", "patch-point", "delete-point", "grid", "create-device", "patch-device", "create-person"],
)
def test_monitor_cannot_write_the_registry_even_for_its_own_point(client, db, monitor, method, path, body):  # noqa: F811
    before = fetch(db.info.dsn, "SELECT code, name, status FROM hazard_point ORDER BY code")
    response = client.request(method, f"/api/v1{path}", json=body, headers=monitor)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role grid_monitor may not do this; it needs admin."}
    assert fetch(db.info.dsn, "SELECT code, name, status FROM hazard_point ORDER BY code") == before
    assert fetch(db.info.dsn, "SELECT count(*) FROM device") == [(2,)]
    assert fetch(db.info.dsn, "SELECT count(*) FROM person") == [(2,)]


def test_monitor_sees_the_people_of_its_own_points_grids_not_every_phone(client, monitor, viewer, villages, admin,  # noqa: F811
                                                                         db):
    lead = person(db, "Chen Lead")
    assert client.put(f"/api/v1/hazard-points/{OWN}/grid", json={"monitor": villages["li_wei"], "area_lead": lead},
                      headers=admin).status_code == 200
    names = [p["name"] for p in get(client, "/people", monitor).json()["data"]]
    assert names == ["Chen Lead", "Li Wei"]
    assert "Wang Fang" in [p["name"] for p in get(client, "/people", viewer).json()["data"]]
