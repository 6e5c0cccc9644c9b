"""The console's operational pages (issue 15): patrol tasks overdue first and the reports to review, the coverage
gaps with the API's CSV, and what ingest could not take, with an administrator replaying the quarantine."""

import hashlib
import random
import re

import httpx
import pytest

from service.auth import create_token
from tests.console.support import csrf_of, make_login, make_point, sign_in, signed_in_client
from tests.ingest.test_ingest import crack, ingest  # noqa: F401 (fixture)
from tests.support import fetch, wait_until

POINT, OTHER, ELSEWHERE = "500113-HP-0001", "500113-HP-0002", "500114-HP-0001"
NOT_JSON = b"\x02\x00\x05{not json"


def task(db, point: str, due_in_hours: float, *, regime: str = "routine", state: str = "open") -> int:
    return db.execute("INSERT INTO patrol_task (hazard_point, regime, state, due_at)"
                      " VALUES (%s, %s, %s, now() + make_interval(secs => %s)) RETURNING id",
                      (point, regime, state, due_in_hours * 3600)).fetchone()[0]


def report(db, point: str, *, minutes_ago: int, judgement: str = "normal", far: bool = False,
           note: str | None = None) -> int:
    return db.execute(
        "INSERT INTO patrol_report (hazard_point, reported_at, findings, judgement, recorded_by, far_from_point,"
        " distance_m, note) VALUES (%s, now() - make_interval(mins => %s), %s, %s, 'phone', %s, %s, %s)"
        " RETURNING id", (point, minutes_ago, ["new_cracks"] if judgement != "normal" else ["nothing_abnormal"],
                          judgement, far, 1250.0 if far else 12.0, note)).fetchone()[0]


def shown_ids(page, selector: str, attribute: str) -> list[int]:
    rows = page.locator(selector)
    return [int(rows.nth(i).get_attribute(attribute)) for i in range(rows.count())]


@pytest.fixture
def points(db):
    make_point(db, POINT, name="黄桷垭滑坡")
    make_point(db, OTHER, name="石板坡崩塌", lon=106.6, lat=29.5)
    make_point(db, ELSEWHERE, name="龙洞沟泥石流", county="500114", lon=108.0, lat=30.0)


# --- patrols ---------------------------------------------------------------------------------------


def test_overdue_tasks_come_first_on_the_patrols_page_and_the_filters_narrow_it(page, console, db, points):
    later = task(db, POINT, due_in_hours=2)
    soonest = task(db, OTHER, due_in_hours=0.5, regime="rain_before")
    overdue_long = task(db, OTHER, due_in_hours=-30, regime="flood_during")
    overdue_just = task(db, POINT, due_in_hours=-1, regime="verification")
    elsewhere = task(db, ELSEWHERE, due_in_hours=-5)
    done_long_ago = task(db, POINT, due_in_hours=-50, state="done")
    db.execute("UPDATE patrol_task SET escalation_step = 2, escalate_at = now() + interval '1 day' WHERE id = %s",
               (overdue_long,))
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.click("header nav >> text=巡查")
    page.wait_for_url(re.compile(r".*/console/patrols$"))

    # Open tasks by default, the overdue ones first (by due time), then the others by due time.
    assert shown_ids(page, "tr.task", "data-task-id") == [overdue_long, elsewhere, overdue_just, soonest, later]
    assert [page.locator("tr.task").nth(i).get_attribute("data-overdue") for i in range(5)] == [
        "true", "true", "true", "false", "false"]
    escalated = page.locator(f"tr.task[data-task-id='{overdue_long}']").inner_text()
    assert "第 2 级" in escalated and "已通知片区负责人" in escalated
    assert page.locator(f"tr.task[data-task-id='{later}'] a[href='/console/points/{POINT}']").count() == 1

    # Every state: a task done long ago was due before all of them, yet the overdue ones still come first.
    page.select_option("select[name=state]", "all")
    page.click("#patrol-filters button")
    page.wait_for_url(re.compile(r".*state=all.*"))
    assert shown_ids(page, "tr.task", "data-task-id") == [overdue_long, elsewhere, overdue_just, done_long_ago,
                                                          soonest, later]

    page.select_option("select[name=overdue]", "no")
    page.click("#patrol-filters button")
    page.wait_for_url(re.compile(r".*overdue=no.*"))
    assert shown_ids(page, "tr.task", "data-task-id") == [done_long_ago, soonest, later]

    page.select_option("select[name=state]", "open")
    page.select_option("select[name=overdue]", "")
    page.fill("input[name=county]", "500114")
    page.click("#patrol-filters button")
    page.wait_for_url(re.compile(r".*county=500114.*"))
    assert shown_ids(page, "tr.task", "data-task-id") == [elsewhere]


def test_patrol_reports_are_newest_first_with_the_far_and_dangerous_ones_flagged(page, console, db, points):
    dangerous = report(db, POINT, minutes_ago=30, judgement="dangerous", note="坡顶新增裂缝约2米")
    far = report(db, OTHER, minutes_ago=10, far=True)
    quiet = report(db, POINT, minutes_ago=60)
    sign_in(page, console.url, make_login(db, role="viewer", name="观察员"))
    page.goto(f"{console.url}/console/patrols")

    assert shown_ids(page, "tr.report", "data-report-id") == [far, dangerous, quiet]
    flagged = {int(r): page.locator(f"tr.report[data-report-id='{r}']").get_attribute("data-flagged")
               for r in (far, dangerous, quiet)}
    assert flagged == {far: "true", dangerous: "true", quiet: "false"}
    dangerous_row = page.locator(f"tr.report[data-report-id='{dangerous}']").inner_text()
    assert "危险" in dangerous_row and "新增裂缝" in dangerous_row and "坡顶新增裂缝约2米" in dangerous_row
    assert "远离隐患点" in page.locator(f"tr.report[data-report-id='{far}']").inner_text()
    assert page.locator("tr.report.flagged").count() == 2


def test_a_grid_monitor_sees_the_tasks_and_reports_of_its_own_points_only(console, db, points):
    mine, theirs = task(db, POINT, due_in_hours=1), task(db, OTHER, due_in_hours=-1)
    mine_report = report(db, POINT, minutes_ago=5)
    report(db, OTHER, minutes_ago=1)
    monitor = make_login(db, role="grid_monitor", name="监测员 李", points=(POINT,))
    with signed_in_client(console.url, monitor) as client:
        shown = client.get("/console/patrols").text
    assert re.findall(r'data-task-id="(\d+)"', shown) == [str(mine)]
    assert re.findall(r'data-report-id="(\d+)"', shown) == [str(mine_report)]
    assert str(theirs) not in re.findall(r'data-task-id="(\d+)"', shown)


def test_a_bad_county_filter_says_so_and_lists_every_county(console, db, points):
    task(db, POINT, due_in_hours=1)
    with signed_in_client(console.url, make_login(db, role="viewer")) as client:
        response = client.get("/console/patrols", params={"county": "5001"})
    assert response.status_code == 422
    assert "县级行政区划代码为六位数字，例如 500113。" in response.text
    assert len(re.findall(r'data-task-id="(\d+)"', response.text)) == 1


# --- coverage --------------------------------------------------------------------------------------


def test_the_coverage_page_shows_each_countys_gaps_and_downloads_the_apis_csv(console, db, points):
    db.execute("INSERT INTO device (id, hazard_point, protocol, online, last_seen)"
               " VALUES ('GW-OFF', %s, 'native', false, now() - interval '2 days')", (POINT,))
    viewer = make_login(db, role="viewer")
    with signed_in_client(console.url, viewer) as client:
        shown = " ".join(client.get("/console/coverage").text.split())
        csv = client.get("/console/coverage/csv", params={"county": "500113"})
    assert re.findall(r'<tr data-county="(\d+)">', shown) == ["500113", "500114"]
    assert "设备 GW-OFF" in shown and "设备报告离线" in shown
    assert "威胁 41 人; 登记设备 1 台，均不在线" in shown

    token = create_token(db, name="api viewer", role="viewer")
    api = httpx.get(f"{console.url}/api/v1/reports/coverage", params={"county_code": "500113", "format": "csv"},
                    headers={"Authorization": f"Bearer {token}"})
    assert csv.status_code == api.status_code == 200
    assert csv.headers["content-type"] == api.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="coverage-500113-\d{8}T\d{4}Z\.csv"', csv.headers["content-disposition"])
    assert csv.content == api.content
    assert "device_offline" in csv.text and ELSEWHERE not in csv.text


# --- dead letters and quarantine -------------------------------------------------------------------


def test_the_dead_letters_page_lists_a_dead_letter_and_an_admin_replays_the_quarantine(
        page, console, settings, db, ingest):  # noqa: F811
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/readings"
    long = b"not json: " + random.Random(1).randbytes(100_000)
    ingest.raw(topic, NOT_JSON)
    ingest.raw(topic, long)
    ingest.readings("GW-NEW", [crack(minutes_ago=10, value=1.0), crack(value=2.0)])
    counts = "SELECT (SELECT count(*) FROM dead_letter), (SELECT count(*) FROM quarantine)"
    # What the dead letters were, said if the counts are not right (a redelivered message dead-lettered twice?).
    letters = "SELECT topic, reason, payload_bytes, payload_sha256, received_at FROM dead_letter ORDER BY id"
    wait_until(lambda: fetch(settings.database_url, counts) == [(2, 2)],
               what=lambda: f"2 dead letters and 2 quarantined readings (dead letters: "
                            f"{fetch(settings.database_url, letters)})")
    sign_in(page, console.url, make_login(db, role="admin", name="管理员 赵"))
    page.click("header nav >> text=死信与隔离")
    page.wait_for_url(re.compile(r".*/console/intake$"))

    assert page.locator("tr.dead-letter").count() == 2, fetch(settings.database_url, letters)
    cut = page.locator("tr.dead-letter", has_text=hashlib.sha256(long).hexdigest()).inner_text()
    assert "payload is not JSON" in cut and "100,010 字节" in cut and "已截断" in cut and "前 65,538 字节" in cut
    whole = page.locator("tr.dead-letter", has_text=hashlib.sha256(NOT_JSON).hexdigest()).inner_text()
    assert topic in whole and f"{len(NOT_JSON)} 字节" in whole and "完整" in whole
    assert page.locator("tr.quarantined").count() == 2

    # Nothing moves while the device is unknown; once registered, its readings move into the readings.
    page.click("#replay")
    assert "入库 0 条，仍有 2 条等待登记。" in page.wait_for_selector("#replayed").inner_text()
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('GW-NEW', '500113-HP-0042', 'native')")
    db.execute("INSERT INTO sensor (device_id, code, kind, hazard_point)"
               " VALUES ('GW-NEW', 'CR-01', 'crack', '500113-HP-0042')")
    page.fill("#replay-form input[name=device_id]", "GW-NEW")
    page.click("#replay")
    page.wait_for_url(re.compile(r".*device=GW-NEW.*"))
    assert "设备 GW-NEW 的隔离数据已重放：" in page.inner_text("#replayed")
    assert "入库 2 条，仍有 0 条等待登记。" in page.inner_text("#replayed")
    assert page.locator("tr.quarantined").count() == 0
    assert fetch(settings.database_url, "SELECT value FROM reading WHERE device_id = 'GW-NEW' ORDER BY ts") == [
        (1.0,), (2.0,)]


def test_duty_officers_read_the_dead_letters_but_only_administrators_replay(console, settings, db):
    db.execute("INSERT INTO dead_letter (topic, payload, reason, payload_bytes, payload_sha256)"
               " VALUES ('t/readings', %s, 'payload is not JSON', %s, %s)",
               (NOT_JSON, len(NOT_JSON), hashlib.sha256(NOT_JSON).digest()))
    with signed_in_client(console.url, make_login(db, role="duty_officer")) as client:
        shown = client.get("/console/intake")
        assert shown.status_code == 200 and "payload is not JSON" in shown.text
        assert 'id="replay-form"' not in shown.text
        assert client.post("/console/intake/replay", data={"csrf_token": csrf_of(shown.text)}).status_code == 403
    with signed_in_client(console.url, make_login(db, role="viewer", name="观察员")) as client:
        assert client.get("/console/intake").status_code == 403
    with signed_in_client(console.url, make_login(db, role="admin", name="管理员")) as client:
        shown = client.get("/console/intake").text
        unknown = client.post("/console/intake/replay", data={"csrf_token": csrf_of(shown), "device_id": "GW-NOPE"})
    assert unknown.status_code == 404 and "未登记编号为 GW-NOPE 的设备。" in unknown.text
