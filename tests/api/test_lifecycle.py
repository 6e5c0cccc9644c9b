"""Duty officers move alerts through their lifecycle over HTTP (SPEC 4.4 and 6), on the real database and broker."""

import json

import pytest
from fastapi.testclient import TestClient

from alerting import flows
from alerting.engine import Engine
from service.app import create_app
from service.auth import create_token
from tests.api.support import T0, bearer, insert_alert, post_point
from tests.servers import free_port
from tests.support import Subscriber, fetch, running, wait_until

POINT = "500113-HP-0042"


@pytest.fixture
def officer(db):
    person_id = db.execute("INSERT INTO person (name, roles) VALUES ('Zhang Min', '{duty_officer}') RETURNING id"
                           ).fetchone()[0]
    return bearer(create_token(db, name="duty:zhang", role="duty_officer", person_id=person_id)), person_id


@pytest.fixture
def point(client, admin):  # noqa: F811
    return post_point(client, admin)["code"]


def post(client, path, headers, body=None):  # noqa: F811
    return client.post(f"/api/v1/alerts/{path}", json=body, headers=headers)


def accelerated_sensor(db, alert_id):
    """A crack sensor of the point that `alert_id` sent into accelerated sampling."""
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('DEV-0001', %s, 'universal')", (POINT,))
    db.execute("INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s)"
               " VALUES ('DEV-0001', 'L1_LF_1', 'crack', %s, 600)", (POINT,))
    db.execute("INSERT INTO accelerated_sampling (alert_id, device_id, sensor_code, normal_interval_s,"
               " accelerated_interval_s, accelerated_at, accelerate_command_id)"
               " VALUES (%s, 'DEV-0001', 'L1_LF_1', 600, 60, %s, 'c-accel')", (alert_id, T0))


# --- acknowledge --------------------------------------------------------------------------------


def test_officer_acknowledges_an_open_alert_recording_who(client, officer, point, db):  # noqa: F811
    headers, person_id = officer
    alert_id = insert_alert(db, point)
    response = post(client, f"{alert_id}/acknowledge", headers, {"note": "on it"})
    assert response.status_code == 200
    alert = response.json()
    assert alert["state"] == "acknowledged"
    assert alert["acknowledged_by"] == f"duty:zhang (person {person_id})"
    assert alert["acknowledged_at"] is not None
    [event] = alert["events"]
    assert (event["kind"], event["actor"], event["note"]) == ("acknowledged", f"duty:zhang (person {person_id})",
                                                              "on it")


def test_acknowledge_takes_no_body(client, admin, point, db):  # noqa: F811
    alert_id = insert_alert(db, point)
    response = post(client, f"{alert_id}/acknowledge", admin)
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "test admin"


def test_viewer_cannot_acknowledge_and_the_alert_stays_open(client, viewer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point)
    response = post(client, f"{alert_id}/acknowledge", viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs duty_officer or admin."}
    assert fetch(db.info.dsn, "SELECT state FROM alert WHERE id = %s", alert_id) == [("open",)]


def test_grid_monitor_cannot_resolve(client, point, db):  # noqa: F811
    person_id = db.execute("INSERT INTO person (name) VALUES ('Li Wei') RETURNING id").fetchone()[0]
    monitor = bearer(create_token(db, name="monitor", role="grid_monitor", person_id=person_id))
    alert_id = insert_alert(db, point)
    response = post(client, f"{alert_id}/resolve", monitor)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role grid_monitor may not do this; it needs duty_officer or admin."}


def test_acknowledging_an_unknown_alert_is_404_naming_it(client, officer):  # noqa: F811
    response = post(client, "77/acknowledge", officer[0])
    assert response.status_code == 404
    assert response.json() == {"detail": "Alert 77 not found"}


def test_acknowledging_twice_is_409_saying_why(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point)
    assert post(client, f"{alert_id}/acknowledge", officer[0]).status_code == 200
    response = post(client, f"{alert_id}/acknowledge", officer[0])
    assert response.status_code == 409
    assert response.json() == {"detail": f"Alert {alert_id} is acknowledged; it cannot be acknowledged"}


# --- verify -------------------------------------------------------------------------------------


def test_officer_verifies_an_acknowledged_alert_with_the_verdict(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, state="acknowledged")
    response = post(client, f"{alert_id}/verify", officer[0], {"verdict": "false_alarm", "note": "a goat"})
    assert response.status_code == 200
    alert = response.json()
    assert (alert["state"], alert["verdict"]) == ("verified", "false_alarm")
    assert alert["verified_by"].startswith("duty:zhang")
    [event] = alert["events"]
    assert (event["kind"], event["inputs"], event["note"]) == ("verified", {"verdict": "false_alarm"}, "a goat")


def test_verifying_an_open_alert_is_409_until_acknowledged(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point)
    response = post(client, f"{alert_id}/verify", officer[0], {"verdict": "confirmed"})
    assert response.status_code == 409
    assert response.json() == {"detail": f"Alert {alert_id} is open; it cannot be verified before it is acknowledged"}


def test_unknown_verdict_is_422_naming_verdict(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, state="acknowledged")
    response = post(client, f"{alert_id}/verify", officer[0], {"verdict": "maybe"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "verdict"]
    assert fetch(db.info.dsn, "SELECT state FROM alert WHERE id = %s", alert_id) == [("acknowledged",)]


def test_confirmed_red_records_its_evacuation(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, level="red", state="acknowledged")
    evacuation = {"people_moved": 38, "households_moved": 11, "shelter": "Qiaokou school", "note": "by bus"}
    response = post(client, f"{alert_id}/verify", officer[0], {"verdict": "confirmed", "evacuation": evacuation})
    assert response.status_code == 200
    assert [e["kind"] for e in response.json()["events"]] == ["verified", "evacuated"]
    assert fetch(db.info.dsn, "SELECT people_moved, households_moved, threatened_people, shelter, note"
                              " FROM evacuation WHERE alert_id = %s", alert_id) == [
        (38, 11, 41, "Qiaokou school", "by bus")]


def test_evacuation_under_a_yellow_alert_is_409_and_nothing_is_recorded(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, level="yellow", state="acknowledged")
    body = {"verdict": "confirmed", "evacuation": {"people_moved": 3, "shelter": "school"}}
    response = post(client, f"{alert_id}/verify", officer[0], body)
    assert response.status_code == 409
    assert response.json() == {"detail": f"Alert {alert_id} is yellow; an evacuation is recorded only for a red "
                                         "alert verified as confirmed"}
    assert fetch(db.info.dsn, "SELECT state, verdict FROM alert WHERE id = %s", alert_id) == [("acknowledged", None)]
    assert fetch(db.info.dsn, "SELECT count(*) FROM evacuation") == [(0,)]


def test_evacuation_without_a_shelter_is_422_naming_the_field(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, level="red", state="acknowledged")
    body = {"verdict": "confirmed", "evacuation": {"people_moved": 3}}
    response = post(client, f"{alert_id}/verify", officer[0], body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", "evacuation", "shelter"], "missing")
    assert fetch(db.info.dsn, "SELECT state FROM alert WHERE id = %s", alert_id) == [("acknowledged",)]


def test_negative_people_moved_is_422_naming_the_field(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, level="red", state="acknowledged")
    body = {"verdict": "confirmed", "evacuation": {"people_moved": -1, "shelter": "school"}}
    response = post(client, f"{alert_id}/verify", officer[0], body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "evacuation", "people_moved"]


# --- resolve ------------------------------------------------------------------------------------


def test_officer_resolves_an_alert_with_a_note(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, state="verified")
    response = post(client, f"{alert_id}/resolve", officer[0], {"note": "slope drained"})
    assert response.status_code == 200
    alert = response.json()
    assert alert["state"] == "resolved"
    assert alert["resolved_by"].startswith("duty:zhang")
    assert (alert["events"][-1]["kind"], alert["events"][-1]["note"]) == ("resolved", "slope drained")


def test_resolving_a_resolved_alert_is_409(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, state="resolved")
    response = post(client, f"{alert_id}/resolve", officer[0])
    assert response.status_code == 409
    assert response.json() == {"detail": f"Alert {alert_id} is resolved; it cannot be resolved"}


def test_resolving_restores_accelerated_sampling_sent_by_the_officer(client, officer, point, db):  # noqa: F811
    alert_id = insert_alert(db, point, level="orange", state="verified")
    accelerated_sensor(db, alert_id)
    response = post(client, f"{alert_id}/resolve", officer[0])
    assert response.status_code == 200
    restored = response.json()["events"][-1]
    assert restored["kind"] == "sampling_restored"
    [sent] = restored["inputs"]["sent"]
    assert (sent["device"], sent["sensor"], sent["plus_intv_s"]) == ("DEV-0001", "L1_LF_1", 600)
    [(name, params, sent_by)] = fetch(db.info.dsn, "SELECT name, params, sent_by FROM device_command")
    assert (name, params["plus_intv"]) == ("setsensortime", 600)
    assert sent_by.startswith("duty:zhang")


def test_resolving_while_the_broker_is_unreachable_succeeds_and_the_engine_sends_what_it_owes_later(
        settings, officer, db):
    unreachable_settings = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}"})
    with TestClient(create_app(unreachable_settings)) as unreachable:
        post_point(unreachable, bearer(create_token(db, name="admin", role="admin")))
        alert_id = insert_alert(db, POINT, level="red", state="acknowledged")
        accelerated_sensor(db, alert_id)
        response = post(unreachable, f"{alert_id}/resolve", officer[0])
    assert response.status_code == 200
    assert response.json()["state"] == "resolved"
    restored = response.json()["events"][-1]
    assert restored["kind"] == "sampling_restored"
    [failed] = restored["inputs"]["failed"]
    assert failed["device"] == "DEV-0001" and "not connected" in failed["error"]
    assert fetch(db.info.dsn, "SELECT count(*) FROM device_command") == [(0,)]

    # The API process could not send it, so the engine does, once the broker is there, in the officer's name.
    with running(Engine(settings).run):
        [(name, params, sent_by)] = wait_until(
            lambda: fetch(db.info.dsn, "SELECT name, params, sent_by FROM device_command"), what="the restoring command")
    assert (name, params["plus_intv"], sent_by) == ("setsensortime", 600, f"duty:zhang (person {officer[1]})")


# --- the retained alert topic -------------------------------------------------------------------


def test_a_transition_republishes_the_points_retained_alert_topic(
        client, officer, point, db, settings, alert_topic):  # noqa: F811
    alert_id = insert_alert(db, point, level="orange")
    assert post(client, f"{alert_id}/acknowledge", officer[0]).status_code == 200
    subscriber = Subscriber(settings, alert_topic)  # subscribing after the publish: the message was retained
    try:
        [message] = wait_until(lambda: subscriber.messages, what="the retained alert")
        assert message.retain
        document = json.loads(message.payload)
        assert (document["id"], document["state"], document["level"]) == (alert_id, "acknowledged", "orange")
    finally:
        subscriber.close()


def test_resolving_the_last_open_alert_clears_the_retained_topic(
        client, officer, point, db, settings, alert_topic):  # noqa: F811
    alert_id = insert_alert(db, point, level="yellow")
    subscriber = Subscriber(settings, alert_topic)
    try:
        assert post(client, f"{alert_id}/resolve", officer[0]).status_code == 200
        [message] = wait_until(lambda: subscriber.messages, what="the cleared alert topic")
        assert message.payload == b""
    finally:
        subscriber.close()


def test_resolving_one_alert_leaves_the_points_other_open_alert_on_its_topic(
        client, officer, point, db, settings, alert_topic):  # noqa: F811
    rain = insert_alert(db, point, type="rainfall", level="blue")
    deformation = insert_alert(db, point, level="yellow")
    assert post(client, f"{deformation}/resolve", officer[0]).status_code == 200
    subscriber = Subscriber(settings, alert_topic)
    try:
        [message] = wait_until(lambda: subscriber.messages, what="the retained alert")
        assert json.loads(message.payload)["id"] == rain
    finally:
        subscriber.close()


# --- how the lifecycle's refusals map to HTTP -----------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "status", "body"),
    [
        (flows.InvalidVerdict("verdict 'maybe' is not one of confirmed, false_alarm"), 422,
         {"detail": [{"loc": ["body", "verdict"], "msg": "verdict 'maybe' is not one of confirmed, false_alarm",
                      "type": "value_error"}]}),
        (flows.InvalidEvacuation("evacuation: shelter (where the people went) is missing"), 422,
         {"detail": [{"loc": ["body", "evacuation"], "msg": "evacuation: shelter (where the people went) is missing",
                      "type": "value_error"}]}),
        (flows.LoweringNotDue("Alert 3 is yellow; only orange and red alerts wait"), 409,
         {"detail": "Alert 3 is yellow; only orange and red alerts wait"}),
        (flows.AlertNotFound("Alert 3 not found"), 404, {"detail": "Alert 3 not found"}),
    ],
    ids=["verdict", "evacuation", "lowering-not-due", "not-found"],
)
def test_lifecycle_refusals_answer_their_status_and_field(settings, refusal, status, body):
    app = create_app(settings)

    @app.get("/refuse")
    async def refuse():
        raise refusal

    with TestClient(app) as refusing:
        response = refusing.get("/refuse")
    assert (response.status_code, response.json()) == (status, body)


def test_openapi_lists_the_transitions(client):  # noqa: F811
    paths = client.get("/openapi.json").json()["paths"]
    for transition in ("acknowledge", "verify", "resolve"):
        assert set(paths[f"/api/v1/alerts/{{alert_id}}/{transition}"]) == {"post"}
