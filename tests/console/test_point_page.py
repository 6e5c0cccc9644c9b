"""A hazard point's page as a duty officer reads it: the grid with phones, the card, devices' health, patrol reports
with their photos, and a chart per sensor with its thresholds and the point's alerts; a grid monitor opens only its
own points (issue 15)."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.auth import create_token
from tests.api.support import bearer
from tests.api.test_patrols import png
from tests.console.support import make_login, make_point, sign_in, signed_in_client

POINT, OTHER = "500113-HP-0042", "500113-HP-0001"
DEVICE = "GW-500113-0042"
THRESHOLDS = {"velocity_mm_per_day": {"blue": 5, "yellow": 10, "orange": 20, "red": 50},
              "displacement_mm": {"blue": 50, "yellow": 100, "orange": 200, "red": 400}}
CARD = {"warning_signal": "鸣锣、手摇报警器", "signal_giver": "监测员 张三", "evacuation_route": "沿村道向东撤离",
        "shelter": "村小学操场", "contacts": [{"name": "村主任 李四", "phone": "13900000009", "role": "村委会"}]}
GRID = {"monitor": ("监测员 张三", "13800000001"), "area_lead": ("片区负责人 王五", "13800000002"),
        "resident_geologist": ("驻守队员 赵六", "13800000003"), "county_admin": ("技术管理员 钱七", "13800000004")}
# Crack readings every 2 h, aligned on the 7-day chart's 2 h buckets: one bucket each. 12 of them fall in the
# last 24 h, where the chart's buckets are 30 min.
READINGS = 24
READINGS_IN_24H = 12
STEP = timedelta(hours=2)


@pytest.fixture
def admin_api(console, db):
    """An HTTP client of the live app with an administrator's bearer token."""
    with httpx.Client(base_url=console.url, headers=bearer(create_token(db, name="test admin", role="admin"))) as c:
        yield c


@pytest.fixture
def point(db, admin_api):
    """The point with its card, a full grid, a gateway with a crack gauge (thresholds, readings) and a silent rain
    gauge, an alert resolved in the chart's period, and a patrol report with a photo."""
    make_point(db, POINT, name="黄桷垭滑坡")
    db.execute("UPDATE hazard_point SET card = %s WHERE code = %s", (json.dumps(CARD), POINT))
    for role, (name, phone) in GRID.items():
        person = db.execute("INSERT INTO person (name, phone) VALUES (%s, %s) RETURNING id", (name, phone)).fetchone()[0]
        db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, %s, %s)",
                   (POINT, role, person))
    response = admin_api.post("/api/v1/devices", json={"id": DEVICE, "hazard_point": POINT, "protocol": "native",
                                                       "sensors": [{"code": "CR-01", "kind": "crack", "thresholds": THRESHOLDS},
                                                                   {"code": "RG-01", "kind": "rain"}]})
    assert response.status_code == 201, response.text
    db.execute("UPDATE device SET online = true, last_seen = now(), battery_pct = 76, signal = -71 WHERE id = %s",
               (DEVICE,))
    now = datetime.now(UTC)
    last = datetime.fromtimestamp(now.timestamp() // STEP.total_seconds() * STEP.total_seconds(), UTC)
    for k in range(READINGS):
        db.execute("INSERT INTO reading (device_id, sensor_code, ts, kind, value) VALUES (%s, 'CR-01', %s, 'crack', %s)",
                   (DEVICE, last - k * STEP, 30.0 - k * 0.5))
    db.execute("INSERT INTO alert (hazard_point, type, level, state, reasons, evidence, rule_version, raised_at,"
               " updated_at, resolved_at) VALUES (%s, 'deformation', 'yellow', 'resolved', '[\"v 12 mm/d > 10\"]', '{}',"
               " 'r1', now() - interval '30 hours', now(), now() - interval '20 hours')", (POINT,))
    report = admin_api.post("/api/v1/patrol-reports", files=[("photos", ("crack.png", png(40, 30), "image/png"))],
                            data={"point": POINT, "reported_at": now.isoformat(), "lon": "106.52", "lat": "29.40",
                                  "findings": "new_cracks", "judgement": "suspicious", "note": "公路上方新裂缝"})
    assert report.status_code == 201, report.text
    return {"report": report.json()["id"]}


def test_the_page_shows_the_grid_with_phones_the_card_the_devices_health_and_the_report_photo(page, console, db,
                                                                                            point):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    response = page.goto(f"{console.url}/console/points/{POINT}")
    assert response.status == 200
    for role, (name, phone) in GRID.items():
        row = page.locator(f"#grid tr[data-role={role}]")
        assert name in row.inner_text()
        assert row.locator("a.tel").get_attribute("href") == f"tel:{phone}"
    card = page.locator("#avoidance-card").inner_text()
    for text in ("鸣锣、手摇报警器", "沿村道向东撤离", "村小学操场", "村主任 李四"):
        assert text in card
    assert page.locator("#avoidance-card a[href='tel:13900000009']").count() == 1
    device = page.locator(f".device[data-device='{DEVICE}']")
    assert device.get_attribute("data-offline") == "false"
    assert device.locator(".battery").inner_text() == "76 %"
    assert device.locator(".signal").inner_text() == "-71"
    assert device.locator("tr[data-sensor]").count() == 2
    photo = page.locator(f"article[data-report='{point['report']}'] img.thumb")
    photo.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=photo.element_handle())
    assert photo.locator("xpath=..").get_attribute("href") == f"/console/patrol-reports/{point['report']}/photos/1"
    assert "公路上方新裂缝" in page.locator("#patrol-reports").inner_text()
    assert page.locator("#alert-history a[href^='/console/alerts/']").count() == 2


def canvas_is_drawn(page, selector: str) -> bool:
    """Whether the chart's canvas has any painted pixel."""
    return page.evaluate("""sel => {
        const canvas = document.querySelector(sel + ' canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
        return false;
    }""", selector)


def test_the_chart_draws_the_readings_the_thresholds_and_the_alert_and_follows_the_period(page, console, db, point):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/points/{POINT}")
    crack = f".chart[data-key='{DEVICE}/CR-01']"
    page.wait_for_selector(f"{crack}[data-state=drawn]")
    chart = page.evaluate(f"(({{points, thresholds, alerts, series}}) => ({{points, thresholds, alerts, series}}))"
                          f"(window.geohazardCharts['{DEVICE}/CR-01'])")
    assert chart["points"] == READINGS
    assert chart["thresholds"] == 8 and chart["alerts"] == 1
    # Both quantities, then a line per level of each: their labels name the level (in Chinese) and the value.
    assert len(chart["series"]) == 2 + 8
    assert {label for label in chart["series"][2:]} >= {"红色 400", "蓝色 5"}
    plotted = page.evaluate(f"window.geohazardCharts['{DEVICE}/CR-01'].plot.data")
    assert plotted[1][-1] == 30.0 and plotted[1][0] == 30.0 - (READINGS - 1) * 0.5
    assert plotted[2][-1] == pytest.approx(0.5 * 12)  # 0.5 mm in 2 h is 6 mm/d
    assert canvas_is_drawn(page, crack)

    page.click("button[data-period='24h']")
    page.wait_for_function(f"window.geohazardCharts['{DEVICE}/CR-01'].period === '24h'")
    assert page.evaluate(f"window.geohazardCharts['{DEVICE}/CR-01'].points") == READINGS_IN_24H


def test_a_sensor_without_readings_says_so(page, console, db, point):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/points/{POINT}")
    rain = page.wait_for_selector(f".chart[data-key='{DEVICE}/RG-01'][data-state=empty]")
    assert rain.inner_text() == "此时段内没有读数"


def test_a_grid_monitor_opens_its_own_point_and_gets_404_for_another_and_its_photos(page, console, db, point):
    make_point(db, OTHER, name="别处崩塌")
    monitor = make_login(db, role="grid_monitor", name="监测员 周", points=(OTHER,))
    sign_in(page, console.url, monitor)
    assert page.goto(f"{console.url}/console/points/{OTHER}").status == 200
    assert page.goto(f"{console.url}/console/points/{POINT}").status == 404
    with signed_in_client(console.url, monitor) as client:
        assert client.get(f"/console/patrol-reports/{point['report']}/photos/1").status_code == 404
        assert client.get(f"/console/points/{POINT}/sensors/{DEVICE}/CR-01.json").status_code == 404
        assert client.get(f"/console/points/{POINT}/card").status_code == 404
    officer = make_login(db, role="viewer", name="查看员 郑")
    with signed_in_client(console.url, officer) as client:
        photo = client.get(f"/console/patrol-reports/{point['report']}/photos/1")
        assert (photo.status_code, photo.headers["content-type"]) == (200, "image/png")
        assert photo.content == png(40, 30)
