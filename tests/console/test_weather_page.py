"""Posting a meteorological risk warning from the console (issue 15): for counties, or for the polygon of a GeoJSON
file, with the same effects as the API's (rain patrol tasks for the area's points, the devices told), shown on the
warning's page; a form that does not validate says what is wrong in Chinese and writes nothing."""

import json
import re
import uuid
from datetime import datetime, timedelta

import pytest

from service.console.web import DUTY_TIME_ZONE
from tests.console.support import csrf_of, make_login, make_point, sign_in, signed_in_client
from tests.support import fetch

# Two points in county 500113 (the first with a gateway), one in 500114.
IN_COUNTY = ("500113-HP-0001", "500113-HP-0002")
OTHER_COUNTY = "500114-HP-0001"
RAIN_REGIMES = ["rain_after", "rain_before", "rain_during"]
# A square around the first point only: the second lies east of it, in the same county.
AROUND_FIRST = [[106.4, 29.3], [106.6, 29.3], [106.6, 29.5], [106.4, 29.5], [106.4, 29.3]]


@pytest.fixture
def points(db):
    make_point(db, IN_COUNTY[0], name="黄桷垭滑坡", lon=106.52, lat=29.40)
    make_point(db, IN_COUNTY[1], name="石板坡崩塌", lon=106.80, lat=29.45)
    make_point(db, OTHER_COUNTY, name="龙洞沟泥石流", lon=108.0, lat=30.0, county="500114")
    gateway = f"GW-{uuid.uuid4().hex[:8]}"
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'native')", (gateway, IN_COUNTY[0]))
    return gateway


@pytest.fixture
def officer(db):
    return make_login(db, role="duty_officer", name="值班员 张")


def rain_tasks(settings) -> dict[str, list[str]]:
    """Each point's rain task regimes, sorted."""
    tasks: dict[str, list[str]] = {}
    for point, regime in fetch(settings.database_url, "SELECT hazard_point, regime FROM patrol_task "
                                                      "WHERE regime = ANY (%s) ORDER BY 1, 2", RAIN_REGIMES):
        tasks.setdefault(point, []).append(regime)
    return tasks


def nothing_written(settings) -> bool:
    counts = fetch(settings.database_url, "SELECT (SELECT count(*) FROM weather_warning), "
                                          "(SELECT count(*) FROM weather_warning_point), "
                                          "(SELECT count(*) FROM patrol_task), (SELECT count(*) FROM device_command)")
    return counts == [(0, 0, 0, 0)]


def local_input(delta: timedelta) -> str:
    """A datetime-local value, the duty room's time `delta` from now."""
    return (datetime.now(DUTY_TIME_ZONE) + delta).strftime("%Y-%m-%dT%H:%M")


def feature_collection(ring) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "暴雨落区"}, "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ]}).encode()


def test_a_county_warning_from_the_form_gives_the_county_points_their_rain_tasks_and_shows_them(
        page, console, settings, officer, points):
    sign_in(page, console.url, officer)
    page.goto(f"{console.url}/console/weather")
    page.select_option("select[name=level]", "orange")
    page.select_option("select[name=county_codes]", ["500113"])
    page.fill("input[name=issuer]", "重庆市气象台")
    page.click("#post-warning-button")
    page.wait_for_url(re.compile(r".*/console/weather/\d+\?posted=1$"))

    assert "区域内隐患点 2 处，生成降雨巡查任务 6 项，已通知设备 1 台" in page.inner_text("#posted")
    rows = page.locator("#warning-tasks tr.task")
    assert rows.count() == 6
    shown = sorted((rows.nth(i).get_attribute("data-point"), rows.nth(i).get_attribute("data-regime"))
                   for i in range(rows.count()))
    assert shown == sorted((point, regime) for point in IN_COUNTY for regime in RAIN_REGIMES)
    assert "黄桷垭滑坡" in page.inner_text("#warning-tasks") and "雨前排查" in page.inner_text("#warning-tasks")
    assert page.locator(f"#warning-broadcasts tr.broadcast[data-device='{points}'][data-sent=true]").count() == 1

    assert rain_tasks(settings) == {point: RAIN_REGIMES for point in IN_COUNTY}
    [(level, kind, codes, issuer, created_by)] = fetch(
        settings.database_url, "SELECT level, area_kind, area_codes, issuer, created_by FROM weather_warning")
    assert (level, kind, codes, issuer) == ("orange", "county", ["500113"], "重庆市气象台")
    assert created_by == f"值班员 张 (person {officer['person_id']})"
    [(name, params, sent_by)] = fetch(settings.database_url, "SELECT name, params, sent_by FROM device_command")
    assert (name, sent_by) == ("meteorologicalearlywarning", created_by)
    # As the API sends it: orange is level 1 on the wire; the box of the county's points, widened 0.02 degrees.
    assert (params["level"], params["lon_range"], params["lat_range"]) == (1, [106.5, 106.82], [29.38, 29.47])

    # The list shows it with its counts.
    page.click("text=← 气象预警")
    row = page.locator("tr.warning").first
    assert "500113" in row.inner_text() and "值班员 张" in row.inner_text()


def test_a_polygon_file_gives_rain_tasks_only_to_the_points_inside_it(page, console, settings, officer, points):
    sign_in(page, console.url, officer)
    page.goto(f"{console.url}/console/weather")
    page.set_input_files("input[name=polygon_file]", files=[{
        "name": "暴雨落区.geojson", "mimeType": "application/geo+json", "buffer": feature_collection(AROUND_FIRST)}])
    page.click("#post-warning-button")
    page.wait_for_url(re.compile(r".*/console/weather/\d+\?posted=1$"))

    rows = page.locator("#warning-tasks tr.task")
    assert {rows.nth(i).get_attribute("data-point") for i in range(rows.count())} == {IN_COUNTY[0]}
    assert rain_tasks(settings) == {IN_COUNTY[0]: RAIN_REGIMES}
    [(kind, polygon)] = fetch(settings.database_url, "SELECT area_kind, polygon FROM weather_warning")
    assert (kind, polygon) == ("polygon", {"type": "Polygon", "coordinates": [AROUND_FIRST]})


def test_a_bad_polygon_file_shows_what_is_wrong_in_chinese_and_creates_nothing(
        page, console, settings, officer, points):
    not_closed = AROUND_FIRST[:-1] + [[106.4, 29.31]]
    sign_in(page, console.url, officer)
    page.goto(f"{console.url}/console/weather")
    page.fill("input[name=note]", "暴雨")
    page.set_input_files("input[name=polygon_file]", files=[{
        "name": "area.geojson", "mimeType": "application/json", "buffer": feature_collection(not_closed)}])
    page.click("#post-warning-button")

    error = page.wait_for_selector("#form-error")
    assert error.inner_text() == "多边形文件不是有效的 GeoJSON 多边形：有环的终点与起点不重合。"
    assert page.input_value("input[name=note]") == "暴雨"  # what was typed stays
    assert page.locator("tr.warning").count() == 0
    assert nothing_written(settings)


# The usual validity in hours from now, (from, to); the cases about times give their own.
VALID = (-2, 20)


@pytest.mark.parametrize(("polygon_file", "fields", "hours", "says"), [
    (b"{not json", {}, VALID, "多边形文件不是 GeoJSON：JSON 格式有误（第 1 行）。"),
    (b"\xff\xfe binary", {}, VALID, "多边形文件不是 UTF-8 文本，请选择 GeoJSON 文件。"),
    (json.dumps({"type": "Point", "coordinates": [106.5, 29.4]}).encode(), {}, VALID,
     "文件中是 GeoJSON Point，不是 Polygon 或 MultiPolygon。"),
    (json.dumps({"type": "FeatureCollection", "features": []}).encode(), {}, VALID,
     "文件中的 FeatureCollection 含 0 个要素，须恰好只含一个多边形要素。"),
    (json.dumps({"type": "Polygon", "coordinates": [[[106, 29], [107, 29], [106, 29]]]}).encode(), {}, VALID,
     "多边形文件不是有效的 GeoJSON 多边形：有环的坐标点少于四个，或多边形没有环。"),
    (json.dumps({"type": "Polygon", "coordinates": [[[206, 29], [207, 29], [207, 30], [206, 29]]]}).encode(), {},
     VALID, "多边形文件不是有效的 GeoJSON 多边形：有经度不在 -180 到 180 之间。"),
    (feature_collection(AROUND_FIRST), {"county_codes": "500113"}, VALID,
     "预警区域只能用一种方式给出：选择区县，或上传多边形文件，不能两者都给。"),
    (None, {}, VALID, "请给出预警区域：选择区县、填写区县代码，或选择多边形文件。"),
    (None, {"county_list": "500113, 5001"}, VALID, "县级行政区划代码为六位数字，例如 500113；“5001”不是有效代码。"),
    (None, {"county_list": "500113", "level": "purple"}, VALID, "请选择预警等级。"),
    (None, {"county_list": "500113", "valid_from": ""}, VALID, "请填写预警的起止日期和时间。"),
    (None, {"county_list": "500113"}, (-2, -3), "预警结束时间须晚于开始时间。"),
    (None, {"county_list": "500113"}, (-5, -1), "该预警已结束：结束时间不在当前时间之后。"),
    (None, {"county_list": "500113"}, (0, 40 * 24), "预警结束时间距今超过 30 天，设备最多只能保持这么久的预警。"),
])
def test_a_form_that_does_not_validate_says_why_in_chinese_and_writes_nothing(
        console, settings, officer, points, polygon_file, fields, hours, says):
    times = {"valid_from": local_input(timedelta(hours=hours[0])), "valid_to": local_input(timedelta(hours=hours[1]))}
    # A file input left empty still sends its part, with no file name.
    upload = ("area.geojson", polygon_file, "application/json") if polygon_file else (
        "", b"", "application/octet-stream")
    with signed_in_client(console.url, officer) as client:
        form = {"csrf_token": csrf_of(client.get("/console/weather").text), "level": "yellow", **times, **fields}
        response = client.post("/console/weather", data=form, files={"polygon_file": upload})
    assert response.status_code == 422
    assert re.search(r'id="form-error">([^<]*)<', response.text).group(1) == says
    assert nothing_written(settings)


def test_only_duty_officers_and_administrators_post_warnings(console, settings, db, points):
    viewer = make_login(db, role="viewer", name="观察员")
    with signed_in_client(console.url, viewer) as client:
        page = client.get("/console/weather")
        assert page.status_code == 200 and 'id="warning-form"' not in page.text
        response = client.post("/console/weather", data={
            "csrf_token": csrf_of(client.get("/console/alerts").text), "level": "red", "county_list": "500113",
            "valid_from": local_input(timedelta(0)), "valid_to": local_input(timedelta(hours=6))})
    assert response.status_code == 403
    assert nothing_written(settings)


def test_a_grid_monitor_sees_the_tasks_of_its_own_points_only(console, settings, db, officer, points):
    monitor = make_login(db, role="grid_monitor", name="监测员 李", points=(IN_COUNTY[1],))
    with signed_in_client(console.url, officer) as client:
        response = client.post("/console/weather", data={
            "csrf_token": csrf_of(client.get("/console/weather").text), "level": "blue", "county_list": "500113",
            "valid_from": local_input(timedelta(0)), "valid_to": local_input(timedelta(hours=6))},
            files={"polygon_file": ("", b"", "application/octet-stream")})
        warning_path = response.url.path
    assert re.fullmatch(r"/console/weather/\d+", warning_path)
    with signed_in_client(console.url, monitor) as client:
        shown = client.get(warning_path).text
    assert set(re.findall(r'data-point="([^"]+)"', shown)) == {IN_COUNTY[1]}
    assert points not in shown  # the other point's gateway
