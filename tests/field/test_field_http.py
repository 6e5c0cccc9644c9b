"""The phone app's server side over HTTP: who gets in, what a phone sees, and how its reports are taken."""

import re
import uuid

import httpx

from service.field import web
from tests.console.support import make_point
from tests.field.support import OTHER, activate_session, issue_code, make_monitor


def _phone(console, database_url, person_id) -> httpx.Client:
    """An HTTP client holding a phone's session of this person."""
    session = activate_session(database_url, person_id)
    return httpx.Client(base_url=console.url, cookies={"geohazard_phone": session}, follow_redirects=False)


def _csrf(client: httpx.Client) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/field/").text).group(1)


def _report(point: str, client_id: str, **fields) -> dict:
    return {"point": point, "reported_at": "2026-07-01T08:00:00Z", "lon": "106.52", "lat": "29.40",
            "findings": "nothing_abnormal", "judgement": "normal", "client_id": client_id, **fields}


def test_without_a_session_the_app_asks_for_activation_and_refuses_reports(db, console):
    make_monitor(db)
    with httpx.Client(base_url=console.url) as client:
        home = client.get("/field/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/field/activate")
        refused = client.post("/field/reports", data=_report("500113-HP-0042", str(uuid.uuid4())))
        assert refused.status_code == 401 and "未激活" in refused.json()["detail"]
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0


def test_a_wrong_code_binds_nothing_and_a_form_from_elsewhere_uses_no_code(db, database_url, console):
    monitor = make_monitor(db)
    issued = issue_code(database_url, monitor["person_id"])
    with httpx.Client(base_url=console.url) as client:
        form = client.get("/field/activate?code=ab12-cd34")
        assert 'value="AB12CD34"' in form.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = client.post("/field/activate", data={"code": "AB12CD34", "csrf_token": token})
        assert answer.status_code == 422 and "激活码错误" in answer.text
        assert "geohazard_phone" not in client.cookies
    # A form on another site carries no cookie of ours: the right code is refused and stays unused.
    with httpx.Client(base_url=console.url) as elsewhere:
        answer = elsewhere.post("/field/activate", data={"code": issued.code, "csrf_token": token})
        assert answer.status_code == 403 and "geohazard_phone" not in elsewhere.cookies
    assert db.execute("SELECT count(*) FROM field_phone").fetchone()[0] == 0


def test_a_phone_sees_only_its_persons_points(db, database_url, console):
    monitor = make_monitor(db)
    make_point(db, OTHER, name="别人的 滑坡")
    with _phone(console, database_url, monitor["person_id"]) as client:
        home = client.get("/field/").text
        assert monitor["point"] in home and OTHER not in home
        assert client.get(f"/field/points/{OTHER}").status_code == 404
        assert client.get(f"/field/points/{OTHER}/report").status_code == 404
        answer = client.post("/field/reports", data=_report(OTHER, str(uuid.uuid4())),
                             headers={"X-CSRF-Token": _csrf(client)})
        assert answer.status_code == 404 and OTHER in answer.json()["detail"]
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0


def test_a_report_without_the_phones_token_is_refused_and_a_resent_one_is_stored_once(db, database_url, console):
    monitor = make_monitor(db, task=False)
    client_id = str(uuid.uuid4())
    with _phone(console, database_url, monitor["person_id"]) as client:
        refused = client.post("/field/reports", data=_report(monitor["point"], client_id))
        assert refused.status_code == 403
        assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0
        headers = {"X-CSRF-Token": _csrf(client)}
        first = client.post("/field/reports", data=_report(monitor["point"], client_id), headers=headers)
        again = client.post("/field/reports", data=_report(monitor["point"], client_id), headers=headers)
        invalid = client.post("/field/reports", data=_report(monitor["point"], str(uuid.uuid4()), judgement="bad"),
                              headers=headers)
    assert (first.status_code, first.json()["duplicate"]) == (201, False)
    assert (again.status_code, again.json()["duplicate"], again.json()["id"]) == (200, True, first.json()["id"])
    assert invalid.status_code == 422 and invalid.json()["detail"][0]["loc"] == ["body", "judgement"]
    assert db.execute("SELECT reporter_id FROM patrol_report").fetchall() == [(monitor["person_id"],)]


def test_the_app_is_installable_and_its_service_worker_precaches_the_shell(console):
    with httpx.Client(base_url=console.url) as client:
        manifest = client.get("/field/manifest.webmanifest")
        worker = client.get("/field/sw.js")
        for icon in manifest.json()["icons"]:
            assert client.get(icon["src"]).status_code == 200
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.json()["scope"] == "/field/" and manifest.json()["name"] == "地灾群测群防"
    assert worker.headers["cache-control"] == "no-cache"
    shell = re.search(r"precacheAndRoute\((\[.*?\])\)", worker.text)
    assert shell, "the shell's files were not written into the service worker"
    assert "/field/offline" in shell.group(1) and "/field/static/outbox.js" in shell.group(1)


def test_every_message_of_the_app_has_a_chinese_translation():
    assert web.untranslated("zh") == []


def test_a_report_made_by_another_person_on_the_phone_is_held_not_filed(db, database_url, console):
    monitor = make_monitor(db, task=False)
    with _phone(console, database_url, monitor["person_id"]) as client:
        answer = client.post("/field/reports", data=_report(monitor["point"], str(uuid.uuid4())),
                             headers={"X-CSRF-Token": _csrf(client), "X-Field-Person": "999999"})
    assert answer.status_code == 409 and answer.json()["held"] is True
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0


def test_activating_a_phone_again_ends_the_session_it_held(db, database_url, console):
    monitor = make_monitor(db)
    with _phone(console, database_url, monitor["person_id"]) as client:
        form = client.get("/field/activate")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        issued = issue_code(database_url, monitor["person_id"])
        answer = client.post("/field/activate", data={"code": issued.code, "csrf_token": token})
        assert answer.status_code == 303
    phones = db.execute("SELECT revoked_at IS NOT NULL, revoked_by FROM field_phone ORDER BY id").fetchall()
    assert [revoked for revoked, _ in phones] == [True, False]
    assert phones[0][1].startswith("activated again")
