"""The devices page: every device the person may see, offline ones first, then low battery, with a link to each
one's point, filtered by county and state; a grid monitor sees only its points' devices (issue 15)."""

import pytest

from tests.console.support import make_login, make_point, sign_in

POINT, FAR = "500113-HP-0042", "500114-HP-0007"


def device(db, device_id: str, point: str, *, online: bool, seen_ago: str, battery: float | None) -> None:
    """A native gateway with one hourly crack gauge, last heard from `seen_ago` (an interval)."""
    db.execute("INSERT INTO device (id, hazard_point, protocol, online, last_seen, battery_pct, signal)"
               " VALUES (%s, %s, 'native', %s, now() - %s::interval, %s, -80)",
               (device_id, point, online, seen_ago, battery))
    db.execute("INSERT INTO sensor (device_id, hazard_point, code, kind, reporting_interval_s)"
               " VALUES (%s, %s, 'CR-01', 'crack', 3600)", (device_id, point))


@pytest.fixture
def devices(db):
    make_point(db, POINT, name="黄桷垭滑坡")
    make_point(db, FAR, name="远处崩塌", county="500114")
    device(db, "A-HEALTHY", POINT, online=True, seen_ago="5 minutes", battery=90)
    device(db, "M-LOW-BATTERY", POINT, online=True, seen_ago="5 minutes", battery=11)
    # Its flag still says online, but it has been silent for 5 hours: more than three hourly intervals.
    device(db, "Z-SILENT", POINT, online=True, seen_ago="5 hours", battery=80)
    device(db, "B-OTHER-COUNTY", FAR, online=False, seen_ago="2 days", battery=60)


def listed(page) -> list[str]:
    return page.eval_on_selector_all("tr.device", "rows => rows.map(r => r.dataset.device)")


def test_offline_devices_come_first_then_low_battery_each_linking_to_its_point(page, console, db, devices):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/devices")
    assert listed(page) == ["B-OTHER-COUNTY", "Z-SILENT", "M-LOW-BATTERY", "A-HEALTHY"]
    silent = page.locator("tr[data-device=Z-SILENT]")
    assert "离线" in silent.inner_text()
    assert "电量低" in page.locator("tr[data-device=M-LOW-BATTERY]").inner_text()
    silent.locator(f"a[href='/console/points/{POINT}']").click()
    page.wait_for_url(f"**/console/points/{POINT}")
    assert page.locator(".device[data-device=Z-SILENT]").get_attribute("data-offline") == "true"


def test_the_filters_narrow_the_list_by_county_and_state(page, console, db, devices):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/devices")
    page.select_option("select[name=county]", "500113")
    page.select_option("select[name=state]", "offline")
    page.click("#device-filters button")
    page.wait_for_url("**/console/devices?county=500113&state=offline")
    assert listed(page) == ["Z-SILENT"]
    page.goto(f"{console.url}/console/devices?state=low_battery")
    assert listed(page) == ["M-LOW-BATTERY"]


def test_a_grid_monitor_sees_only_the_devices_of_its_points(page, console, db, devices):
    sign_in(page, console.url, make_login(db, role="grid_monitor", name="监测员 周", points=(FAR,)))
    page.goto(f"{console.url}/console/devices")
    assert listed(page) == ["B-OTHER-COUNTY"]
    assert page.eval_on_selector_all("select[name=county] option", "os => os.map(o => o.value)") == ["", "500114"]
