"""The alert listing and an alert's detail through the API (SPEC 6), against a real database."""

from datetime import timedelta

import pytest

from tests.api.support import T0, insert_alert


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
