"""The grid monitor's phone app in a phone's browser (360x740, touch, geolocation): activation, offline use through
the service worker, the outbox, and what the server stores from it."""

import re
import time
from pathlib import Path

from service.field import phones
from tests.console.support import insert_alert, make_login, screenshot, sign_in
from tests.field.support import (
    FAR,
    activate,
    issue_code,
    jpeg_size,
    make_monitor,
    png,
    run_async,
    wait_until_offline_ready,
)

PHOTO_MAX_PX = 1600  # the default field_photo_max_px


def test_a_report_made_offline_is_stored_once_with_its_photo_when_the_phone_is_online_again(
        db, database_url, console, phone, phone_context, settings, tmp_path):
    monitor = make_monitor(db)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    assert phone.locator("#tasks").inner_text().count("滑坡") == 1

    manifest = phone.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert manifest["start_url"] == "/field/" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    assert phone.evaluate("navigator.serviceWorker.ready.then(r => r.active.scriptURL)").endswith("/field/sw.js")
    wait_until_offline_ready(phone)
    screenshot(phone, "field-home")

    phone_context.set_offline(True)
    reloaded = phone.reload()
    assert reloaded.ok and reloaded.from_service_worker
    assert phone.locator("#network").inner_text() == "无信号"
    assert phone.locator("#tasks").inner_text().count("滑坡") == 1
    phone.click(f"#tasks a[href*='task={monitor['task_id']}']")
    phone.wait_for_selector("#position[data-state=found]")  # the page's script has run
    assert phone.locator("#task").input_value() == str(monitor["task_id"])
    phone.check("input[name=findings][value=new_cracks]")
    phone.fill("input[name=crack][data-sensor=M1]", "12.5")
    phone.check("input[name=judgement][value=suspicious]")
    phone.fill("textarea[name=note]", "坡顶新裂缝约 2 米")
    photo = tmp_path / "IMG_0001.png"
    photo.write_bytes(png(3000, 2000))
    phone.set_input_files("#photos", str(photo))
    phone.wait_for_function("document.getElementById('photo-status').textContent.includes('KB')")
    screenshot(phone, "field-report")
    phone.click("#send")
    phone.wait_for_url(f"{console.url}/field/outbox")
    phone.wait_for_selector("#outbox-list[data-count='1']")
    screenshot(phone, "field-outbox-offline")
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0

    phone_context.set_offline(False)
    phone.wait_for_selector("#outbox-list[data-count='0']", timeout=20_000)
    phone.wait_for_selector("#sent-list li.sent")
    reports = db.execute("SELECT reporter_id, task_id, findings, judgement, far_from_point, client_id, photos"
                         " FROM patrol_report").fetchall()
    assert len(reports) == 1
    reporter, task, findings, judgement, far, client_id, photos = reports[0]
    assert (reporter, task, findings, judgement, far) == (
        monitor["person_id"], monitor["task_id"], ["new_cracks"], "suspicious", False)
    assert client_id is not None
    assert [p["media_type"] for p in photos] == ["image/jpeg"]
    key = photos[0]["key"]
    stored = (Path(settings.patrol_photo_dir) / key[:2] / key).read_bytes()
    # Shrunk on the phone to the configured size, the proportions kept.
    assert jpeg_size(stored) == (PHOTO_MAX_PX, round(PHOTO_MAX_PX * 2000 / 3000))
    assert db.execute("SELECT value FROM reading WHERE device_id = 'MAN-0042' AND sensor_code = 'M1'"
                      ).fetchone()[0] == 12.5
    assert db.execute("SELECT state FROM patrol_task WHERE id = %s", (monitor["task_id"],)).fetchone()[0] == "done"


def test_a_report_whose_answer_was_lost_is_sent_again_and_stored_once(db, database_url, console, phone, phone_context):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    answers = []

    def lose_the_first_answer(route):
        # The server takes the report, and the phone never hears back (the signal went): the outbox must send it
        # again (its Background Sync, or the next try), and the server must store it once.
        response = route.fetch()
        answers.append(response.status)
        if len(answers) == 1:
            route.abort()
        else:
            route.fulfill(response=response)

    phone_context.route("**/field/reports", lose_the_first_answer)
    phone.goto(f"{console.url}/field/points/{monitor['point']}/report")
    phone.check("input[name=findings][value=nothing_abnormal]")
    phone.click("#send")
    phone.wait_for_url(f"{console.url}/field/outbox")
    phone.wait_for_function("document.getElementById('outbox-list').dataset.count !== undefined")
    if phone.locator("#outbox-list").get_attribute("data-count") == "1":
        phone.click("#send-now")
    phone.wait_for_selector("#outbox-list[data-count='0']")
    phone.wait_for_selector("#sent-list li.sent")
    assert answers[:2] == [201, 200]
    reports = db.execute("SELECT id, reporter_id FROM patrol_report").fetchall()
    assert reports == [(reports[0][0], monitor["person_id"])]
    assert phone.locator("#sent-list li.sent").get_attribute("data-report-id") == str(reports[0][0])


def test_a_report_made_3_km_from_the_point_is_flagged(db, database_url, console, phone, phone_context):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    phone_context.set_geolocation(FAR)
    phone.goto(f"{console.url}/field/points/{monitor['point']}/report")
    phone.wait_for_selector("#position[data-state=found]")
    assert re.search(r"距隐患点 30\d\d 米", phone.locator("#position-status").inner_text())
    phone.check("input[name=findings][value=nothing_abnormal]")
    phone.click("#send")
    phone.wait_for_selector("#sent-list li.sent.far")
    far, distance = db.execute("SELECT far_from_point, distance_m FROM patrol_report").fetchone()
    assert far and 2900 < distance < 3100


def test_the_danger_button_opens_an_orange_alert_that_the_duty_console_shows(db, database_url, console, phone, page):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    phone.goto(f"{console.url}/field/points/{monitor['point']}")
    phone.click("#danger-open")
    phone.click("#danger-send")
    assert phone.locator("#danger-error").is_visible(), "a danger report without a finding was sent"
    phone.check("#danger-form input[name=findings][value=new_cracks]")
    screenshot(phone, "field-danger")
    phone.click("#danger-send")
    phone.wait_for_selector("#sent-list li.sent")
    level, state, alert_id = db.execute("SELECT level, state, id FROM alert WHERE hazard_point = %s",
                                        (monitor["point"],)).fetchone()
    assert (level, state) == ("orange", "open")
    judgement, reporter = db.execute("SELECT judgement, reporter_id FROM patrol_report").fetchone()
    assert (judgement, reporter) == ("dangerous", monitor["person_id"])

    sign_in(page, console.url, make_login(db, role="duty_officer"))
    row = page.wait_for_selector("tr.alert[data-level=orange][data-state=open]")
    assert monitor["point"] in row.inner_text() or "滑坡" in row.inner_text()
    assert page.locator(f"a[href*='/alerts/{alert_id}']").count() >= 1


def test_a_revoked_phone_keeps_its_report_in_the_outbox_and_asks_for_a_new_code(
        db, database_url, console, phone):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    phone.goto(f"{console.url}/field/points/{monitor['point']}/report")
    phone.wait_for_selector("#report-form")
    phone_id = db.execute("SELECT id FROM field_phone").fetchone()[0]
    run_async(database_url, lambda conn: phones.revoke_phone(conn, phone_id=phone_id, revoked_by="admin"))

    phone.check("input[name=findings][value=bulging]")
    phone.click("#send")
    phone.wait_for_url(f"{console.url}/field/outbox")
    phone.wait_for_function("document.querySelector('#outbox-list li.waiting small')?.textContent.includes('未激活')")
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0
    assert phone.locator("#not-activated").is_visible()
    phone.goto(f"{console.url}/field/")
    assert phone.url == f"{console.url}/field/activate"
    phone.wait_for_selector("#waiting-note:not([hidden])")
    assert "有 1 份报告" in phone.locator("#waiting-note").inner_text()

    # A new code for the same person: the waiting report goes, in that person's name.
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    phone.goto(f"{console.url}/field/outbox")
    phone.wait_for_selector("#outbox-list[data-count='0']")
    assert db.execute("SELECT reporter_id FROM patrol_report").fetchall() == [(monitor["person_id"],)]


def test_a_page_never_saved_shows_the_offline_page_without_signal(db, database_url, console, phone, phone_context):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    wait_until_offline_ready(phone)
    phone_context.set_offline(True)
    # A point of the monitor's is there; a page never fetched is not, and says so instead of the browser's error.
    phone.goto(f"{console.url}/field/points/{monitor['point']}")
    assert phone.locator("h1").inner_text().endswith("滑坡")
    phone.goto(f"{console.url}/field/points/{monitor['point']}?never-fetched")
    assert phone.locator("h1").inner_text() == "无信号"


def test_my_tasks_and_warnings_refresh_every_minute_while_the_app_is_open(db, database_url, console, phone):
    monitor = make_monitor(db)
    phone.clock.install()
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    assert phone.locator("#tasks li.task").count() == 1 and phone.locator("#alerts li").count() == 0
    db.execute("INSERT INTO patrol_task (hazard_point, regime, assignee_id, due_at)"
               " VALUES (%s, 'verification', %s, now() - interval '1 hour')", (monitor["point"], monitor["person_id"]))
    insert_alert(db, monitor["point"], level="orange")

    phone.clock.run_for(61_000)
    phone.wait_for_function("document.querySelectorAll('#tasks li.task').length === 2")
    # Overdue first: the verification task was due an hour ago.
    assert "overdue" in phone.locator("#tasks li.task").first.get_attribute("class")
    assert phone.locator("#alerts li.alert.level-orange").count() == 1


def test_an_administrator_prints_a_code_that_the_monitor_types_on_the_phone(db, console, page, phone):
    monitor = make_monitor(db)
    sign_in(page, console.url, make_login(db, role="admin", name="管理员 赵"))
    page.goto(f"{console.url}/console/phones")
    page.select_option("select[name=person_id]", str(monitor["person_id"]))
    page.click("#issue")
    code = page.locator("#code").inner_text()
    assert page.locator("#sheet svg").count() == 1

    phone.goto(f"{console.url}/field/activate")
    phone.fill("#code", code.lower())
    phone.tap("button[type=submit]")
    phone.wait_for_url(f"{console.url}/field/")
    assert monitor["name"] in phone.locator("header .who").inner_text()
    assert phone.locator("#points li.point").count() == 1

    page.goto(f"{console.url}/console/phones")
    assert monitor["name"] in page.locator("body").inner_text()


def test_a_report_waiting_on_a_phone_activated_again_for_someone_else_is_not_filed_in_their_name(
        db, database_url, console, phone, phone_context):
    first = make_monitor(db, task=False)
    second = db.execute("INSERT INTO person (name, phone, roles) VALUES ('村监测员 王芳', '13900000002', '{monitor}')"
                        " RETURNING id").fetchone()[0]
    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'area_lead', %s)",
               (first["point"], second))
    activate(phone, console.url, issue_code(database_url, first["person_id"]).code)
    phone_context.route("**/field/reports", lambda route: route.abort())  # no signal for reports
    phone.goto(f"{console.url}/field/points/{first['point']}/report")
    phone.check("input[name=findings][value=nothing_abnormal]")
    phone.click("#send")
    phone.wait_for_selector("#outbox-list[data-count='1']")

    activate(phone, console.url, issue_code(database_url, second).code)
    phone_context.unroute("**/field/reports")
    phone.goto(f"{console.url}/field/outbox")
    phone.click("#send-now")
    phone.wait_for_function("document.querySelector('#outbox-list li.waiting small')?.textContent.includes('由"
                            + first["name"] + "填写')")
    assert db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0


def test_a_report_refused_by_the_server_stays_and_is_sent_when_tried_again(db, database_url, console, phone):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    phone.goto(f"{console.url}/field/points/{monitor['point']}/report")
    phone.wait_for_selector("#report-form")
    # Taken off the point's grid while the monitor was on the slope: the server refuses the report (404).
    db.execute("UPDATE grid_assignment SET role = 'area_lead' WHERE person_id = %s", (monitor["person_id"],))
    db.execute("DELETE FROM grid_assignment WHERE person_id = %s", (monitor["person_id"],))
    phone.check("input[name=findings][value=rockfall]")
    phone.click("#send")
    phone.wait_for_selector("#outbox-list li.waiting.refused")
    assert monitor["point"] in phone.locator("#outbox-list li.refused small").inner_text()

    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
               (monitor["point"], monitor["person_id"]))
    phone.click("#outbox-list li.refused button >> text=重试")
    phone.wait_for_selector("#outbox-list[data-count='0']")
    assert db.execute("SELECT findings FROM patrol_report").fetchall() == [(["rockfall"],)]


def test_the_service_worker_sends_a_waiting_danger_report_with_no_page_of_the_app_open(
        db, database_url, console, phone, phone_context):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    wait_until_offline_ready(phone)
    phone_context.set_offline(True)
    phone.goto(f"{console.url}/field/points/{monitor['point']}")
    phone.click("#danger-open")
    phone.check("#danger-form input[name=findings][value=abnormal_sound]")
    phone.click("#danger-send")
    phone.wait_for_selector("#outbox-list[data-count='1']")
    assert "outbox" in phone.evaluate("navigator.serviceWorker.ready.then(r => r.sync.getTags())")
    phone.goto(f"{console.url}/field/")
    phone.wait_for_selector("#danger-waiting:not([hidden])")
    assert phone.locator("#danger-waiting").is_visible(), "a danger report waits and the page does not say so"

    # The monitor leaves the app; the signal comes back and the browser fires the outbox's Background Sync.
    cdp = phone_context.new_cdp_session(phone)
    registrations = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    phone.goto("about:blank")
    phone_context.set_offline(False)
    registration = next(r for r in registrations if r["scopeURL"].endswith("/field/"))
    cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": console.url, "registrationId": registration["registrationId"],
                                                 "tag": "outbox", "lastChance": False})
    # Waited out in Playwright's own loop: the context's routes, which the worker's requests pass, are answered
    # from this thread.
    deadline = time.monotonic() + 15
    while db.execute("SELECT count(*) FROM patrol_report").fetchone()[0] == 0 and time.monotonic() < deadline:
        phone.wait_for_timeout(200)
    assert db.execute("SELECT judgement, reporter_id FROM patrol_report").fetchall() == [
        ("dangerous", monitor["person_id"])]
    assert db.execute("SELECT level FROM alert WHERE hazard_point = %s", (monitor["point"],)).fetchone()[0] == "orange"


def test_a_half_filled_report_survives_the_tab_being_closed(db, database_url, console, phone):
    monitor = make_monitor(db, task=False)
    activate(phone, console.url, issue_code(database_url, monitor["person_id"]).code)
    form = f"{console.url}/field/points/{monitor['point']}/report"
    phone.goto(form)
    phone.check("input[name=findings][value=bulging]")
    phone.fill("input[name=crack][data-sensor=M1]", "7.5")
    phone.fill("textarea[name=note]", "房后土坡鼓胀")
    phone.goto("about:blank")  # Android closed the tab while the camera was open

    phone.goto(form)
    assert phone.locator("input[name=findings][value=bulging]").is_checked()
    assert phone.input_value("input[name=crack][data-sensor=M1]") == "7.5"
    assert phone.input_value("textarea[name=note]") == "房后土坡鼓胀"
    phone.click("#send")
    phone.wait_for_selector("#sent-list li.sent")
    phone.goto(form)
    assert not phone.locator("input[name=findings][value=bulging]").is_checked(), "the sent report's draft came back"
