"""The hazard-point map (issue 15): a marker per visible point in its level's colour, clusters in their worst
point's colour, a grid monitor's points only, filters, a popup linking the point's page, and the base layer from
map_tiles (a local tile directory served by the app, or a plain grid that fetches nothing)."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from runtime.settings import Settings
from service.app import create_app
from service.auth import create_token
from service.console.pages.map import BadTileSetting
from tests.console.support import insert_alert, make_login, make_point, sign_in, signed_in_client

# The level colours of console.css, as the browser computes them.
COLOURS = {"none": "rgb(134, 142, 150)", "blue": "rgb(28, 126, 214)", "yellow": "rgb(242, 194, 0)",
           "orange": "rgb(247, 103, 7)", "red": "rgb(224, 49, 49)"}
# Five points a degree apart (about 180 px at the zoom the map fits them at: never clustered), each at a level.
POINTS = {
    "500113-HP-0001": {"lon": 105.0, "county": "500113", "type": "landslide", "level": "none"},
    "500113-HP-0002": {"lon": 106.0, "county": "500113", "type": "landslide", "level": "blue"},
    "500113-HP-0003": {"lon": 107.0, "county": "500113", "type": "collapse", "level": "yellow"},
    "500114-HP-0004": {"lon": 108.0, "county": "500114", "type": "landslide", "level": "orange"},
    "500114-HP-0005": {"lon": 109.0, "county": "500114", "type": "landslide", "level": "red"},
}
LEAFLET_PNG = Path(__file__).parents[2] / "service/console/static/vendor/leaflet/images/layers.png"
MARKERS_JS = """() => Object.fromEntries([...document.querySelectorAll('.leaflet-marker-pane .point-marker')]
    .map(el => [el.title.split(' ')[0], getComputedStyle(el).backgroundColor]))"""


@pytest.fixture
def map_tiles(request, tmp_path):
    """The map_tiles setting of the test's server: none, or (parametrized "directory") zooms 0 to 2 on disk."""
    if getattr(request, "param", "none") != "directory":
        return "none"
    tiles = tmp_path / "tiles"
    for z in range(3):
        for x in range(2**z):
            (tiles / str(z) / str(x)).mkdir(parents=True)
            for y in range(2**z):
                (tiles / str(z) / str(x) / f"{y}.png").write_bytes(LEAFLET_PNG.read_bytes())
    (tmp_path / "secret.png").write_bytes(b"not a tile")
    return str(tiles)


@pytest.fixture
def settings(settings, map_tiles):
    return settings.model_copy(update={"map_tiles": map_tiles, "map_tiles_attribution": "© 测试底图"})


@pytest.fixture
def points(db):
    """The five points, each with unresolved alerts giving it its level; the none point has a resolved red, the
    orange one a yellow beside its orange."""
    for code, point in POINTS.items():
        make_point(db, code, name=f"{code[-4:]} 号滑坡", type=point["type"], lon=point["lon"], lat=29.4,
                   county=point["county"])
        if point["level"] != "none":
            insert_alert(db, code, level=point["level"])
    insert_alert(db, "500113-HP-0001", level="red", state="resolved")
    insert_alert(db, "500114-HP-0004", level="yellow", state="acknowledged", type="rainfall")
    return POINTS


def open_map(page, console, login) -> None:
    sign_in(page, console.url, login)
    page.goto(f"{console.url}/console/map")
    page.wait_for_selector("#map[data-state=ready]")


def test_the_map_shows_one_marker_per_point_in_the_colour_of_its_level(page, console, db, points):
    open_map(page, console, make_login(db, role="duty_officer"))
    assert page.evaluate(MARKERS_JS) == {code: COLOURS[point["level"]] for code, point in points.items()}
    assert page.locator(".point-cluster").count() == 0
    assert "5 / 5" in page.inner_text("#map-count")


def test_a_cluster_shows_how_many_points_it_holds_in_its_worst_points_colour(page, console, db):
    for n, level in enumerate(["blue", "red", "yellow"]):
        code = make_point(db, f"500113-HP-00{n + 1:02d}", lon=106.5 + n * 0.0001, lat=29.4)
        insert_alert(db, code, level=level)
    open_map(page, console, make_login(db, role="duty_officer"))
    cluster = page.locator(".point-cluster")
    assert cluster.count() == 1
    assert cluster.get_attribute("class").split().count("level-red") == 1
    assert cluster.evaluate("el => getComputedStyle(el).backgroundColor") == COLOURS["red"]
    assert cluster.inner_text() == "3"
    assert page.locator(".point-marker").count() == 0


def test_a_grid_monitors_map_holds_only_its_own_points(page, console, db, points):
    monitor = make_login(db, role="grid_monitor", name="监测员 李", points=("500113-HP-0002", "500114-HP-0005"))
    open_map(page, console, monitor)
    assert set(page.evaluate(MARKERS_JS)) == {"500113-HP-0002", "500114-HP-0005"}
    with signed_in_client(console.url, monitor) as client:
        assert client.get("/console/map/points.json").json()["code"] == ["500113-HP-0002", "500114-HP-0005"]


def test_the_points_levels_are_those_the_api_gives(console, db, points):
    token = create_token(db, name="check", role="viewer")
    api = httpx.get(f"{console.url}/api/v1/hazard-points", headers={"Authorization": f"Bearer {token}"}).json()
    with signed_in_client(console.url, make_login(db, role="viewer")) as client:
        data = client.get("/console/map/points.json").json()
    levels = ["none", "blue", "yellow", "orange", "red"]
    assert {code: levels[rank] for code, rank in zip(data["code"], data["level"], strict=True)} == \
        {point["code"]: point["level"] for point in api["data"]} == {code: p["level"] for code, p in points.items()}


def test_the_filters_show_only_the_matching_points(page, console, db, points):
    open_map(page, console, make_login(db, role="duty_officer"))

    def shown_after(change) -> set[str]:
        change()
        page.wait_for_selector("#map[data-state=ready]")
        return set(page.evaluate(MARKERS_JS))

    assert shown_after(lambda: page.select_option("#filter-county", "500114")) == {"500114-HP-0004",
                                                                                   "500114-HP-0005"}
    assert page.eval_on_selector_all("#filter-township option", "os => os.map(o => o.value)") == ["", "500114001"]
    assert shown_after(lambda: page.select_option("#filter-county", "")) == set(points)
    assert shown_after(lambda: page.select_option("#filter-type", "collapse")) == {"500113-HP-0003"}
    assert shown_after(lambda: page.select_option("#filter-type", "")) == set(points)
    page.uncheck("input[name=level][value=none]")
    assert shown_after(lambda: page.uncheck("input[name=level][value=blue]")) == {
        "500113-HP-0003", "500114-HP-0004", "500114-HP-0005"}
    assert "3 / 5" in page.inner_text("#map-count")


def test_clicking_a_marker_opens_a_popup_linking_the_points_page(page, console, db, points):
    open_map(page, console, make_login(db, role="duty_officer"))
    page.click(".point-marker[title^='500114-HP-0005']")
    popup = page.wait_for_selector(".leaflet-popup-content .point-popup")
    text = popup.inner_text()
    assert "0005 号滑坡" in text and "500114-HP-0005" in text and "红色" in text
    assert popup.query_selector("a").get_attribute("href") == "/console/points/500114-HP-0005"


def test_with_no_tile_source_the_map_draws_a_coordinate_grid_and_requests_no_tile(page, console, db, points):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_map(page, console, make_login(db, role="duty_officer"))
    page.mouse.wheel(0, -300)  # a zoom draws the grid anew
    page.wait_for_timeout(500)
    assert page.locator("img.leaflet-tile").count() == 0
    assert not [url for url in requests if "/tiles/" in url or url.endswith(".png")]
    assert page.locator("path.map-grid-line").count() >= 4
    labels = page.locator(".map-grid-label").all_inner_texts()
    assert any(label.endswith("°E") for label in labels) and any(label.endswith("°N") for label in labels)


@pytest.mark.parametrize("map_tiles", ["directory"], indirect=True)
def test_a_local_tile_directory_is_served_by_the_app_and_shown(page, console, db, points):
    tile_answers: list[tuple[str, int]] = []
    page.on("response", lambda response: "/tiles/" in response.url and tile_answers.append(
        (response.url, response.status)))
    open_map(page, console, make_login(db, role="duty_officer"))
    page.wait_for_selector("img.leaflet-tile-loaded")
    assert tile_answers and all(url.startswith(f"{console.url}/console/map/tiles/2/") and status == 200
                                for url, status in tile_answers)  # zoom 2 is the set's deepest: scaled up
    assert page.eval_on_selector("img.leaflet-tile-loaded", "img => img.naturalWidth") > 0
    assert "© 测试底图" in page.inner_text(".leaflet-control-attribution")


@pytest.mark.parametrize("map_tiles", ["directory"], indirect=True)
def test_tiles_are_served_by_their_numbers_only_and_to_signed_in_people(console, db, map_tiles):
    assert httpx.get(f"{console.url}/console/map/tiles/0/0/0.png").status_code == 303  # to the sign-in form
    with signed_in_client(console.url, make_login(db, role="viewer")) as client:
        tile = client.get("/console/map/tiles/2/3/1.png")
        assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
        assert tile.content == LEAFLET_PNG.read_bytes()
        for path in ("/console/map/tiles/1/2/0.png", "/console/map/tiles/9/0/0.png", "/console/map/tiles/0/0/x.png",
                     "/console/map/tiles/0/0/..%2F..%2F..%2Fsecret.png", "/console/map/tiles/../../secret.png",
                     "/console/map/tiles/0/0/-1.png"):
            assert client.get(path).status_code == 404, path


def test_a_tile_url_setting_must_be_an_http_xyz_template():
    assert Settings(map_tiles=" None ").map_tiles == "none"
    url = "https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY"
    assert Settings(map_tiles=url).map_tiles == url
    for bad, says in [("ftp://tiles.example/{z}/{x}/{y}.png", "http:// or https://"),
                      ("https://tiles.example/tiles.png", "lacks {z}, {x}, {y}"),
                      ("https://tiles.example/{z}/{x}/{-y}.png", "{-y}"), ("", "not empty")]:
        with pytest.raises(ValidationError, match="map_tiles") as refused:
            Settings(map_tiles=bad)
        assert says in str(refused.value)


def test_a_tile_directory_that_is_missing_or_empty_stops_the_app_saying_so(tmp_path):
    with pytest.raises(BadTileSetting, match=f"{tmp_path / 'missing'} does not exist"):
        create_app(Settings(map_tiles=str(tmp_path / "missing")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadTileSetting, match="holds no zoom level"):
        create_app(Settings(map_tiles=str(tmp_path / "empty")))


def test_geohazard_serve_refuses_a_missing_tile_directory_before_starting(tmp_path):
    done = subprocess.run([sys.executable, "-m", "service.cli", "serve"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, GEOHAZARD_MAP_TILES=str(tmp_path / "missing")))
    assert done.returncode == 1
    assert f"GEOHAZARD_MAP_TILES: the map's tile directory {tmp_path / 'missing'} does not exist" in done.stderr


def test_the_map_data_travels_compressed_to_a_browser_that_accepts_it(console, db):
    for n in range(60):
        make_point(db, f"500113-HP-{n:04d}", lon=106.5 + n / 1000)
    with signed_in_client(console.url, make_login(db, role="duty_officer")) as client:
        response = client.get("/console/map/points.json", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["code"]) == 60
