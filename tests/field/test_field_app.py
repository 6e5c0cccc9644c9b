"""The grid monitor's phone app in a phone's browser (360x740, touch, geolocation): activation, offline use through
the service worker, the outbox, and what the server stores from it."""

from pathlib import Path

from tests.field.support import activate, issue_code, jpeg_size, make_monitor, png, wait_until_offline_ready

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

    phone_context.set_offline(True)
    reloaded = phone.reload()
    assert reloaded.ok and reloaded.from_service_worker
    assert phone.locator("#network").inner_text() == "无信号"
    assert phone.locator("#tasks").inner_text().count("滑坡") == 1
    phone.click(f"#tasks a[href*='task={monitor['task_id']}']")
    phone.wait_for_selector("#report-form")
    assert phone.locator("#task").input_value() == str(monitor["task_id"])
    phone.wait_for_selector("#position[data-state=found]")
    phone.check("input[name=findings][value=new_cracks]")
    phone.fill("input[name=crack][data-sensor=M1]", "12.5")
    phone.check("input[name=judgement][value=suspicious]")
    phone.fill("textarea[name=note]", "坡顶新裂缝约 2 米")
    photo = tmp_path / "IMG_0001.png"
    photo.write_bytes(png(3000, 2000))
    phone.set_input_files("#photos", str(photo))
    phone.wait_for_function("document.getElementById('photo-status').textContent.includes('KB')")
    phone.click("#send")
    phone.wait_for_url(f"{console.url}/field/outbox")
    phone.wait_for_selector("#outbox-list[data-count='1']")
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
