"""The alert queue as a duty officer works it: live over the stream, the alarm until acknowledged, acting from the
page in the officer's own name, and a grid monitor's view bounded to its points (issue 15)."""

import re

import pytest

from alerting.channels import stream
from alerting.engine import Engine
from ingest.consumer import Consumer
from service.console.pages import alerts as alerts_page
from tests.console.support import insert_alert, make_login, make_point, sign_in, wait_for_live_queue
from tests.engine.test_sudden_acceleration import hourly_crack
from tests.support import Publisher, fetch, forget_session, register, running, wait_until
from tests.unit.test_quality import FIRST_FAST

POINT, GATEWAY = "500113-HP-0042", "GW-500113-0001"
# Counts every tone the page starts: the browser is muted, so the test listens through this spy instead.
SOUND_SPY = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
"""
# Long enough for a loaded 2-core machine; the queue normally shows a committed alert within a second.
APPEARS_MS = 10_000


@pytest.fixture
def crack_gauge(settings, db):
    """An hourly crack gauge on the point with ingest running; yields a function publishing readings over MQTT and
    waiting until they are stored."""
    register(settings.database_url, point=POINT, gateway=GATEWAY, sensors=(("CR-01", "crack", {}),))
    db.execute("UPDATE sensor SET reporting_interval_s = 3600")
    publisher, consumer = Publisher(settings), Consumer(settings)

    def publish(readings):
        expected = fetch(settings.database_url, "SELECT count(*) FROM reading")[0][0] + len(readings)
        publisher.readings(GATEWAY, readings)
        wait_until(lambda: fetch(settings.database_url, "SELECT count(*) FROM reading")[0][0] == expected,
                   what=f"{expected} readings stored")

    with running(consumer.run):
        assert consumer.subscribed.wait(10)
        yield publish
    publisher.close()
    forget_session(settings, settings.ingest_client_id)


def test_an_alert_the_engine_raises_appears_sounds_and_stops_sounding_once_acknowledged_from_the_page(
        settings, page, console, db, crack_gauge):
    officer = make_login(db, role="duty_officer", name="值班员 孙")
    readings = hourly_crack(now_at=FIRST_FAST + 1)
    crack_gauge(readings[:FIRST_FAST])
    page.add_init_script(SOUND_SPY)
    sign_in(page, console.url, officer)
    page.click("#arm-alarm")
    wait_for_live_queue(page)
    assert page.locator("td.empty").count() == 1

    engine = Engine(settings)
    with running(engine.run):
        wait_until(engine.listening.is_set, what="the engine listening")
        crack_gauge(readings[FIRST_FAST:FIRST_FAST + 2])
        row = page.wait_for_selector("tr.alert[data-level=red][data-state=open]", timeout=APPEARS_MS)
        assert POINT in row.inner_text()
        page.wait_for_function("window.__tones > 0", timeout=APPEARS_MS)
        assert page.evaluate("document.body.classList.contains('ringing')")

        page.click("tr.alert[data-level=red] button.acknowledge")
        page.wait_for_selector("tr.alert[data-level=red][data-state=acknowledged]")
    assert page.evaluate("window.geohazardAlarm.timer") is None
    assert not page.evaluate("document.body.classList.contains('ringing')")
    (acknowledged_by,), = fetch(settings.database_url, "SELECT acknowledged_by FROM alert WHERE hazard_point = %s "
                                "AND level = 'red'", POINT)
    assert acknowledged_by == f"值班员 孙 (person {officer['person_id']})"


def test_an_armed_alarm_stays_quiet_for_blue_and_yellow(page, console, db):
    point = make_point(db, "500113-HP-0001")
    page.add_init_script(SOUND_SPY)
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.click("#arm-alarm")
    wait_for_live_queue(page)
    insert_alert(db, point, level="yellow")
    page.wait_for_selector("tr.alert[data-level=yellow]", timeout=APPEARS_MS)
    assert page.evaluate("window.__tones") == 0


def test_a_grid_monitor_sees_only_the_alerts_of_its_own_points(page, console, db):
    mine, other = make_point(db, "500113-HP-0001", name="我的滑坡"), make_point(db, "500113-HP-0002", name="别处崩塌")
    insert_alert(db, mine, level="yellow")
    hidden = insert_alert(db, other, level="red")
    sign_in(page, console.url, make_login(db, role="grid_monitor", name="监测员 周", points=(mine,)))
    rows = page.locator("tr.alert")
    assert rows.count() == 1 and "我的滑坡" in rows.first.inner_text()
    assert page.locator("button.acknowledge").count() == 0, "a grid monitor was offered to acknowledge"
    response = page.goto(f"{console.url}/console/alerts/{hidden}")
    assert response.status == 404


def test_an_officer_verifies_a_red_as_confirmed_with_the_evacuation_from_its_page(settings, page, console, db):
    point = make_point(db, "500113-HP-0001")
    alert = insert_alert(db, point, level="red", state="acknowledged")
    officer = make_login(db, role="duty_officer", name="值班员 吴")
    sign_in(page, console.url, officer)
    page.goto(f"{console.url}/console/alerts/{alert}")
    page.check("input[name=verdict][value=confirmed]")
    page.fill("input[name=note]", "现场裂缝加宽")
    page.fill("input[name=evacuation_people_moved]", "38")
    page.fill("input[name=evacuation_shelter]", "村小学")
    page.click("#verify")
    page.wait_for_url(re.compile(rf".*/console/alerts/{alert}$"))
    assert "属实" in page.locator("#alert-state").inner_text()
    assert fetch(settings.database_url, "SELECT verdict, verified_by FROM alert WHERE id = %s", alert) == [
        ("confirmed", f"值班员 吴 (person {officer['person_id']})")]
    assert fetch(settings.database_url, "SELECT people_moved, shelter FROM evacuation WHERE alert_id = %s",
                 alert) == [(38, "村小学")]


def test_acknowledging_an_alert_another_officer_already_took_says_so_in_the_queue(settings, page, console, db):
    point = make_point(db, "500113-HP-0001")
    alert = insert_alert(db, point, level="orange")
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    db.execute("UPDATE alert SET state = 'acknowledged', acknowledged_by = 'another officer', "
               "acknowledged_at = now() WHERE id = %s", (alert,))
    page.click("button.acknowledge")
    page.wait_for_selector("#queue .error")
    assert "可能已有其他值班人员先行处理" in page.inner_text("#queue .error")
    assert page.locator("tr.alert[data-state=acknowledged]").count() == 1
    assert fetch(settings.database_url, "SELECT acknowledged_by FROM alert WHERE id = %s", alert) == [
        ("another officer",)]


def test_a_red_on_a_point_whose_card_names_a_shelter_can_be_recorded_as_a_false_alarm(settings, page, console, db):
    point = make_point(db, "500113-HP-0001")
    db.execute("UPDATE hazard_point SET card = '{\"shelter\": \"村小学\"}' WHERE code = %s", (point,))
    alert = insert_alert(db, point, level="red", state="acknowledged")
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/alerts/{alert}")
    assert page.get_attribute("input[name=evacuation_shelter]", "placeholder") == "村小学"
    page.check("input[name=verdict][value=false_alarm]")
    page.click("#verify")
    page.wait_for_url(re.compile(rf".*/console/alerts/{alert}$"))
    assert fetch(settings.database_url, "SELECT verdict FROM alert WHERE id = %s", alert) == [("false_alarm",)]
    assert fetch(settings.database_url, "SELECT count(*) FROM evacuation WHERE alert_id = %s", alert) == [(0,)]


def test_an_open_queue_whose_session_ends_says_so_and_keeps_sounding(monkeypatch, page, console, db):
    monkeypatch.setattr(stream, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(alerts_page, "SESSION_CHECK_S", 0.2)
    page.add_init_script(SOUND_SPY)
    officer = make_login(db, role="duty_officer")
    sign_in(page, console.url, officer)
    page.click("#arm-alarm")
    wait_for_live_queue(page)
    assert page.evaluate("window.__tones") == 0

    db.execute("UPDATE console_session SET ended_at = now() WHERE person_id = %s", (officer["person_id"],))
    page.wait_for_selector("#live[data-state=signed-out]", timeout=APPEARS_MS)
    assert page.is_visible("#signed-out")
    page.wait_for_function("window.__tones > 0")


def test_a_queue_refreshed_after_its_session_ended_says_so_instead_of_emptying(page, console, db):
    point = make_point(db, "500113-HP-0001")
    insert_alert(db, point, level="yellow")
    officer = make_login(db, role="duty_officer")
    sign_in(page, console.url, officer)
    wait_for_live_queue(page)
    db.execute("UPDATE console_session SET ended_at = now() WHERE person_id = %s", (officer["person_id"],))
    insert_alert(db, make_point(db, "500113-HP-0002"), level="red")  # an event: the page refreshes the queue
    page.wait_for_selector("#live[data-state=signed-out]", timeout=APPEARS_MS)
    assert page.locator("tr.alert").count() == 1, "the queue was swapped for something else"
