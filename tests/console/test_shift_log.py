"""The shift log (issue 15): the latest handover note with what changed since it was written (alerts raised,
escalated and resolved, patrol reports filed, devices gone offline), earlier notes below, and the officer's own
note at the end of the shift; a grid monitor's summary covers its own points only."""

import re

import pytest

from tests.console.support import csrf_of, insert_alert, make_login, make_point, sign_in, signed_in_client
from tests.support import fetch

POINT, OTHER = "500113-HP-0001", "500113-HP-0002"


def note(db, person_id: int, text: str, hours_ago: float) -> None:
    db.execute("INSERT INTO shift_note (person_id, written_by, note, written_at)"
               " VALUES (%s, 'earlier officer', %s, now() - make_interval(secs => %s))",
               (person_id, text, hours_ago * 3600))


def event(db, alert_id: int, kind: str, hours_ago: float, *, to_level: str | None = None,
          actor: str = "engine") -> None:
    db.execute("INSERT INTO alert_event (alert_id, at, kind, to_level, actor)"
               " VALUES (%s, now() - make_interval(secs => %s), %s, %s, %s)",
               (alert_id, hours_ago * 3600, kind, to_level, actor))
    if kind == "resolved":
        db.execute("UPDATE alert SET state = 'resolved' WHERE id = %s", (alert_id,))


def raised(db, point: str, hours_ago: float, level: str = "orange") -> int:
    return insert_alert(db, point, level=level, hours_ago=hours_ago)


def report(db, point: str, hours_ago: float, judgement: str = "normal") -> None:
    db.execute("INSERT INTO patrol_report (hazard_point, reported_at, received_at, findings, judgement, recorded_by)"
               " VALUES (%s, now() - make_interval(secs => %s), now() - make_interval(secs => %s),"
               " '{nothing_abnormal}', %s, 'phone')", (point, hours_ago * 3600, hours_ago * 3600, judgement))


def silent_device(db, device: str, point: str, silent_hours: float) -> None:
    """A gateway whose one sensor (reporting every 10 min) ingest has marked offline after `silent_hours` without
    readings: it went offline half an hour after its last reading."""
    db.execute("INSERT INTO device (id, hazard_point, protocol, online, last_seen)"
               " VALUES (%s, %s, 'native', true, now() - make_interval(secs => %s))",
               (device, point, silent_hours * 3600))
    db.execute("INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s, last_reading_at,"
               " offline) VALUES (%s, 'CR-01', 'crack', %s, 600, now() - make_interval(secs => %s), true)",
               (device, point, silent_hours * 3600))


@pytest.fixture
def shift(db):
    """Two notes of the earlier officer (5 h and 3 h ago) and what happened around them."""
    make_point(db, POINT, name="黄桷垭滑坡")
    make_point(db, OTHER, name="石板坡崩塌", lon=106.6, lat=29.5)
    earlier = make_login(db, role="duty_officer", name="值班员 王")
    note(db, earlier["person_id"], "夜班平稳。", hours_ago=5)
    note(db, earlier["person_id"], "黄桷垭滑坡橙色告警已签收，待现场核实。\n石板坡雨量站信号差。", hours_ago=3)
    before = raised(db, POINT, hours_ago=4)  # before the latest note: not this shift's
    event(db, before, "resolved", hours_ago=3.5, actor="值班员 王 (person 1)")
    first = raised(db, POINT, hours_ago=2, level="red")
    second = raised(db, OTHER, hours_ago=1)
    event(db, first, "escalated", hours_ago=1.5, actor="escalation")
    for hours_ago in (1.25, 1.0, 0.75):  # nobody acknowledged: the top of the grid told again at every deadline
        event(db, first, "notified", hours_ago=hours_ago, actor="escalation")
    event(db, second, "level_raised", hours_ago=0.7, to_level="red")
    event(db, second, "resolved", hours_ago=0.5, actor="值班员 王 (person 1)")
    report(db, POINT, hours_ago=0.2, judgement="suspicious")
    report(db, OTHER, hours_ago=4)
    silent_device(db, "GW-SILENT-NOW", POINT, silent_hours=2)  # offline 1.5 h ago
    silent_device(db, "GW-SILENT-LONG", OTHER, silent_hours=8)  # offline long before the note
    return {"first": first, "second": second, "before": before}


def counts(page) -> dict[str, int]:
    cards = page.locator("#shift-counts [data-count]")
    return {cards.nth(i).get_attribute("data-count"): int(cards.nth(i).locator("b").inner_text())
            for i in range(cards.count())}


def test_the_shift_log_shows_the_previous_note_and_counts_the_alerts_raised_and_resolved_since_it(
        page, console, db, shift):
    officer = make_login(db, role="duty_officer", name="值班员 孙")
    sign_in(page, console.url, officer)
    page.click("header nav >> text=交接班")
    page.wait_for_url(re.compile(r".*/console/shift$"))

    latest = page.inner_text("#latest-note")
    assert "值班员 王" in latest and "黄桷垭滑坡橙色告警已签收，待现场核实。" in latest
    # Each alert once: the one escalated and notified three times, and the one raised to red.
    assert counts(page) == {"raised": 2, "escalated": 2, "resolved": 1, "reports": 1, "offline": 1}
    raised_ids = page.locator("#since-raised tr[data-alert-id]")
    assert [raised_ids.nth(i).get_attribute("data-alert-id") for i in range(raised_ids.count())] == [
        str(shift["second"]), str(shift["first"])]  # newest first
    assert page.locator(f"#since-resolved a[href='/console/alerts/{shift['second']}']").count() == 1
    assert page.locator(f"#since-raised a[href='/console/points/{POINT}']").count() == 1
    assert page.locator("#since-offline tr[data-device]").get_attribute("data-device") == "GW-SILENT-NOW"
    assert "夜班平稳。" in page.inner_text("#earlier-notes")

    # The end of this shift: the officer hands over, and the summary starts again from the new note.
    page.fill("#write-note textarea[name=note]", "红色告警已核实，人员已转移。")
    page.click("#hand-over")
    page.wait_for_selector("#latest-note >> text=红色告警已核实，人员已转移。")
    assert "值班员 孙" in page.inner_text("#latest-note")
    assert counts(page) == {"raised": 0, "escalated": 0, "resolved": 0, "reports": 0, "offline": 0}
    assert "黄桷垭滑坡橙色告警已签收" in page.inner_text("#earlier-notes")
    [(person_id, written_by)] = fetch(db.info.dsn, "SELECT person_id, written_by FROM shift_note "
                                                   "WHERE note LIKE '红色%%'")
    assert (person_id, written_by) == (officer["person_id"], f"值班员 孙 (person {officer['person_id']})")


def test_a_grid_monitor_does_not_open_the_shift_log_whose_notes_speak_of_every_point(console, db, shift):
    monitor = make_login(db, role="grid_monitor", name="监测员 李", points=(POINT,))
    with signed_in_client(console.url, monitor) as client:
        shown = client.get("/console/shift")
        assert shown.status_code == 403 and "石板坡雨量站信号差" not in shown.text
        token = csrf_of(client.get("/console/alerts").text)
        refused = client.post("/console/shift", data={"csrf_token": token, "note": "我来交班"})
    assert refused.status_code == 403
    assert fetch(db.info.dsn, "SELECT count(*) FROM shift_note") == [(2,)]


def test_before_the_first_note_the_summary_covers_the_last_twelve_hours_and_an_empty_note_is_refused(console, db):
    make_point(db, POINT)
    make_point(db, OTHER)
    raised(db, POINT, hours_ago=11)
    raised(db, OTHER, hours_ago=13)
    officer = make_login(db, role="duty_officer", name="值班员 孙")
    with signed_in_client(console.url, officer) as client:
        shown = client.get("/console/shift").text
        assert "尚无交接记录" in shown and "以下是最近 12 小时的情况。" in shown
        assert 'data-count="raised"><b>1</b>' in shown
        refused = client.post("/console/shift", data={"csrf_token": csrf_of(shown), "note": "   "})
    assert refused.status_code == 422 and "交班前请先填写交接记录。" in refused.text
    assert fetch(db.info.dsn, "SELECT count(*) FROM shift_note") == [(0,)]
