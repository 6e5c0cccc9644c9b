"""Issue 16, the public part: a resident reports a sign of danger from a phone; it reaches the duty console's queue as
an unverified public report, and the nearest point's monitor gets a verification task. Refused reports leave nothing."""

import struct
import zlib
from pathlib import Path

import httpx

from tests.console.support import csrf_of, make_login, sign_in, signed_in_client
from tests.public.support import point_at

REPORTER_PHONE = "13611112222"


def _png() -> bytes:
    """A real 2x2 PNG, so the console's thumbnail renders."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xe0\x31\x31" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _send(client: httpx.Client, *, address: str = "203.0.113.5", lon: float = 106.52, lat: float = 29.40,
          photo: tuple | None = None, phone: str = "") -> httpx.Response:
    """A report sent as the form sends it, from `address` (the app trusts X-Forwarded-For from 127.0.0.1)."""
    token = csrf_of(client.get("/public/report").text)
    files = {"photo": photo} if photo else {"photo": ("", b"", "application/octet-stream")}
    return client.post("/public/report", headers={"X-Forwarded-For": address}, files=files,
                       data={"csrf_token": token, "lon": str(lon), "lat": str(lat), "description": "山坡上出现裂缝",
                             "phone": phone})


def _photo_files(settings) -> list[Path]:
    root = Path(settings.patrol_photo_dir)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_phones_report_reaches_the_nearest_monitor_and_the_duty_console_where_an_officer_marks_it_checked(
        db, console, phone, page, settings):
    point_at(db, "HP-NEAR-05", north_km=0.5)
    point_at(db, "HP-MID-15", north_km=1.5)
    monitor = db.execute("SELECT person_id FROM grid_assignment WHERE hazard_point = 'HP-NEAR-05'").fetchone()[0]

    phone.goto(f"{console.url}/public/report")
    phone.tap("#report-locate")
    phone.wait_for_function("document.getElementById('lon').value !== ''")
    assert phone.input_value("#lat") == "29.400000"
    phone.fill("#description", "屋后山坡出现新裂缝，约两米长")
    phone.set_input_files("#photo", files=[{"name": "crack.png", "mimeType": "image/png", "buffer": _png()}])
    phone.fill("#phone", REPORTER_PHONE)
    phone.tap("#send-report")
    phone.wait_for_selector("#report-sent")
    assert REPORTER_PHONE not in phone.content()
    assert phone.locator("#report-sent a").get_attribute("href") == "/public/points/HP-NEAR-05"

    report = db.execute("SELECT state, hazard_point, round(distance_m), phone, photo_media_type, task_id"
                        " FROM public_report").fetchall()
    assert len(report) == 1
    state, point, distance, stored_phone, media_type, task_id = report[0]
    assert (state, point, distance, stored_phone, media_type) == ("unverified", "HP-NEAR-05", 500, REPORTER_PHONE,
                                                                  "image/png")
    task = db.execute("SELECT hazard_point, regime, assignee_id, state, alert_id, due_at - created_at"
                      " FROM patrol_task WHERE id = %s", (task_id,)).fetchone()
    assert task[:5] == ("HP-NEAR-05", "verification", monitor, "open", None)
    assert task[5].total_seconds() == 2 * 3600
    assert db.execute("SELECT count(*) FROM alert").fetchone()[0] == 0  # an anonymous report moves no level
    assert len(_photo_files(settings)) == 1

    officer = make_login(db, role="duty_officer")
    sign_in(page, console.url, officer)
    page.goto(f"{console.url}/console/alerts")
    row = page.locator("#public-reports tr.public-report")
    assert row.count() == 1
    assert "屋后山坡出现新裂缝" in row.inner_text()
    assert row.locator("a.phone").inner_text() == REPORTER_PHONE
    assert row.locator("a[href='/console/points/HP-NEAR-05']").count() == 1
    page.wait_for_function("document.querySelector('#public-reports img.thumb').naturalWidth === 2")
    row.locator("input[name=note]").fill("监测员已到现场，裂缝为旧缝")
    row.locator("button[value=checked]").click()
    page.wait_for_selector("#public-reports tr.public-report", state="detached")
    closed = db.execute("SELECT state, checked_by, note FROM public_report").fetchone()
    assert closed[0] == "checked" and f"(person {officer['person_id']})" in closed[1]
    assert closed[2] == "监测员已到现场，裂缝为旧缝"

    for path in ("/public", "/public/points/HP-NEAR-05", "/public/warnings", "/public/report"):
        assert REPORTER_PHONE not in httpx.get(f"{console.url}{path}").text


def test_a_photo_that_is_not_an_image_is_refused_and_nothing_is_stored(db, console, settings):
    point_at(db, "HP-NEAR-05", north_km=0.5)
    with httpx.Client(base_url=console.url) as client:
        response = _send(client, photo=("crack.jpg", b"%PDF-1.4 not a picture at all", "image/jpeg"))
    assert response.status_code == 422
    assert "JPEG、PNG 或 WebP" in response.text
    assert db.execute("SELECT count(*) FROM public_report").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM patrol_task").fetchone()[0] == 0
    assert _photo_files(settings) == []


def test_the_sixth_report_from_one_address_within_an_hour_is_refused_with_429(db, console, settings):
    with httpx.Client(base_url=console.url) as client:
        answers = [_send(client, photo=("p.png", _png(), "image/png")).status_code for _ in range(6)]
        other = _send(client, address="198.51.100.9").status_code
    assert answers == [200] * 5 + [429]
    assert other == 200
    assert db.execute("SELECT count(*) FROM public_report").fetchone()[0] == 6
    assert len(_photo_files(settings)) == 5  # the refused report's photo is not kept


def test_reports_about_one_point_share_its_open_verification_task(db, console):
    point_at(db, "HP-NEAR-05", north_km=0.5)
    with httpx.Client(base_url=console.url) as client:
        assert _send(client).status_code == 200
        assert _send(client, address="198.51.100.9").status_code == 200
        db.execute("UPDATE patrol_task SET state = 'done'")
        assert _send(client, address="198.51.100.10").status_code == 200
    tasks = [r[0] for r in db.execute("SELECT task_id FROM public_report ORDER BY id").fetchall()]
    assert tasks[0] == tasks[1] and tasks[2] not in (None, tasks[0])
    assert db.execute("SELECT count(*) FROM patrol_task").fetchone()[0] == 2


def test_a_report_far_from_any_point_is_stored_without_a_task(db, console):
    point_at(db, "HP-FAR-3", north_km=3.0)
    with httpx.Client(base_url=console.url) as client:
        response = _send(client, phone=REPORTER_PHONE)
    assert response.status_code == 200
    assert "附近没有登记的隐患点" in response.text and REPORTER_PHONE not in response.text
    assert db.execute("SELECT hazard_point, task_id, state FROM public_report").fetchall() == [
        (None, None, "unverified")]
    assert db.execute("SELECT count(*) FROM patrol_task").fetchone()[0] == 0


def test_a_grid_monitor_sees_only_the_reports_near_its_own_points_and_their_photos(db, console):
    point_at(db, "HP-NEAR-05", north_km=0.5)
    point_at(db, "HP-SOUTH-9", north_km=-9.0)
    with httpx.Client(base_url=console.url) as client:
        assert _send(client, photo=("p.png", _png(), "image/png")).status_code == 200
        assert _send(client, lat=29.40 - 9.0 * 1000 / 111_195, address="198.51.100.9").status_code == 200
    near, south = (r[0] for r in db.execute("SELECT id FROM public_report ORDER BY hazard_point").fetchall())
    monitor = make_login(db, role="grid_monitor", name="监测员 赵")
    db.execute("UPDATE grid_assignment SET person_id = %s WHERE hazard_point = 'HP-SOUTH-9'", (monitor["person_id"],))
    with signed_in_client(console.url, monitor) as client:
        queue = client.get("/console/alerts").text
        assert f'data-report-id="{south}"' in queue and f'data-report-id="{near}"' not in queue
        assert client.get(f"/console/alerts/public-reports/{near}/photo").status_code == 404


def test_a_photo_over_the_limit_is_refused_on_the_phone_before_anything_is_sent(db, console, phone, settings):
    sent = []
    phone.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    phone.goto(f"{console.url}/public/report")
    phone.fill("#lon", "106.52")
    phone.fill("#lat", "29.40")
    phone.fill("#description", "山坡上出现裂缝")
    phone.set_input_files("#photo", files=[{"name": "huge.jpg", "mimeType": "image/jpeg",
                                            "buffer": b"\xff\xd8\xff" + bytes(settings.patrol_photo_max_bytes)}])
    assert phone.locator("#photo-error").is_visible()
    phone.tap("#send-report")
    assert phone.locator("#photo-error").inner_text().startswith("照片太大")
    assert sent == [] and db.execute("SELECT count(*) FROM public_report").fetchone()[0] == 0
