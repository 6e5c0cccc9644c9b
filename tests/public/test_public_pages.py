"""The public warning pages (SPEC 6.1 /public): points near a phone or in a place with their level, a point's card
with nothing private, the current warnings, and the Atom feed of CAP 1.2 messages valid by RFC 4287 and OASIS."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from service.auth.service import create_token
from service.public import web
from tests.console.support import insert_alert, screenshot
from tests.public.support import CARD, MONITOR_PHONE, point_at

CAP_SCHEMA = Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd"
ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"


def _weather_warning(db, *, level: str, county: str, starts_h: float, ends_h: float, issuer: str) -> None:
    now = datetime.now(UTC)
    db.execute("INSERT INTO weather_warning (level, area_kind, area_codes, valid_from, valid_to, issuer, created_by,"
               " created_at) VALUES (%s, 'county', %s, %s, %s, %s, 'test', now())",
               (level, [county], now + timedelta(hours=starts_h), now + timedelta(hours=ends_h), issuer))


def test_nearby_points_are_found_from_the_phones_position_nearest_first_with_their_level(db, console, phone):
    point_at(db, "HP-FAR-4", north_km=4.0)
    insert_alert(db, point_at(db, "HP-NEAR-03", north_km=-0.3), level="orange")
    insert_alert(db, point_at(db, "HP-MID-2", north_km=2.0), level="red")
    insert_alert(db, "HP-MID-2", level="yellow", type="rainfall")
    point_at(db, "HP-OUT-8", north_km=8.0)
    point_at(db, "HP-GONE-1", north_km=1.0, status="cancelled")
    point_at(db, "HP-MOVED-1", north_km=1.2, status="relocated")

    phone.goto(f"{console.url}/public")
    phone.tap("#locate")
    phone.wait_for_selector("#nearby")

    rows = phone.locator("#nearby li.point")
    assert [rows.nth(i).get_attribute("data-code") for i in range(rows.count())] == ["HP-NEAR-03", "HP-MID-2",
                                                                                     "HP-FAR-4"]
    assert rows.nth(0).locator(".badge").inner_text() == "橙色预警"
    assert rows.nth(1).locator(".badge").inner_text() == "红色预警"  # the highest of its open alerts
    assert rows.nth(2).locator(".badge").inner_text() == "无预警"
    assert [rows.nth(i).locator(".distance").inner_text() for i in range(3)] == ["0.3 公里", "2.0 公里", "4.0 公里"]
    screenshot(phone, "public-nearby")
    rows.nth(0).locator("a").tap()
    phone.wait_for_selector("#card")
    assert phone.url.endswith("/public/points/HP-NEAR-03")


def test_the_card_page_shows_the_card_and_no_monitor_phone(db, console, phone):
    insert_alert(db, point_at(db, "HP-CARD", north_km=0.5), level="red")
    db.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('DEV-SECRET-1', 'HP-CARD', 'universal')")

    phone.goto(f"{console.url}/public/points/HP-CARD")

    card = phone.locator("#card").inner_text()
    for shown in (CARD["warning_signal"], CARD["signal_giver"], CARD["evacuation_route"], CARD["shelter"], "李四",
                  "13800001111"):
        assert shown in card
    assert phone.locator("#level .badge").inner_text() == "红色预警"
    assert phone.locator("#contacts a.tel").get_attribute("href") == "tel:13800001111"
    html = phone.content()
    assert MONITOR_PHONE not in html
    assert "监测员 HP-CARD" not in html
    assert "DEV-SECRET-1" not in html
    assert "v 31 mm/d" not in html  # the alert's reasons stay in the duty room
    screenshot(phone, "public-card")


@pytest.mark.parametrize("status", ["cancelled", "treated", "relocated"])
def test_a_point_that_threatens_no_one_has_no_public_card(db, console, status):
    point_at(db, "HP-PRIVATE", north_km=0.1, status=status)
    response = httpx.get(f"{console.url}/public/points/HP-PRIVATE")
    assert response.status_code == 404
    assert "没有这个页面" in response.text
    assert httpx.get(f"{console.url}/public/points/HP-NEVER").status_code == 404


def test_an_address_changed_by_hand_gets_a_page_naming_the_value_not_json(console):
    response = httpx.get(f"{console.url}/public", params={"lat": "abc", "lon": "106.52"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "无法识别的值（lat）" in response.text


def test_points_of_a_chosen_village_are_listed_with_their_level(db, console):
    insert_alert(db, point_at(db, "HP-V1", north_km=0.1, village="500113001001"), level="orange")
    point_at(db, "HP-V2", north_km=0.2, village="500113001002")
    point_at(db, "HP-V3", north_km=0.3, village="500113001001", status="cancelled")

    page = httpx.get(f"{console.url}/public", params={"village": "500113001001"}).text

    assert 'data-code="HP-V1"' in page and "橙色预警" in page
    assert 'data-code="HP-V2"' not in page and 'data-code="HP-V3"' not in page
    assert '<option value="500113001002">' in page  # every village with public points is a choice
    assert "500113001003" not in page


def test_the_warnings_page_lists_orange_and_red_alerts_and_the_weather_warnings_in_force(db, console):
    insert_alert(db, point_at(db, "HP-RED", north_km=0.1), level="red", hours_ago=2)
    insert_alert(db, point_at(db, "HP-ORANGE", north_km=0.2), level="orange")
    insert_alert(db, point_at(db, "HP-YELLOW", north_km=0.3), level="yellow")
    insert_alert(db, point_at(db, "HP-DONE", north_km=0.4), level="red", state="resolved")
    insert_alert(db, point_at(db, "HP-TREATED", north_km=0.5, status="treated"), level="red")
    _weather_warning(db, level="orange", county="500113", starts_h=-1, ends_h=5, issuer="重庆市气象台")
    _weather_warning(db, level="red", county="500113", starts_h=-10, ends_h=-2, issuer="已过期气象台")
    _weather_warning(db, level="red", county="500113", starts_h=3, ends_h=9, issuer="未生效气象台")

    page = httpx.get(f"{console.url}/public/warnings").text

    codes = [code for code in ("HP-RED", "HP-ORANGE", "HP-YELLOW", "HP-DONE", "HP-TREATED")
             if f'data-code="{code}"' in page]
    assert codes == ["HP-RED", "HP-ORANGE"]
    assert page.index('data-code="HP-RED"') < page.index('data-code="HP-ORANGE"')
    assert CARD["evacuation_route"] in page and CARD["shelter"] in page
    assert "重庆市气象台" in page
    assert "已过期气象台" not in page and "未生效气象台" not in page
    assert MONITOR_PHONE not in page


def test_the_feed_is_atom_and_every_entry_is_a_valid_cap_1_2_message(db, console):
    xmlschema = pytest.importorskip("xmlschema", reason="validating CAP needs xmlschema (the test extra)")
    red = insert_alert(db, point_at(db, "HP-RED", north_km=0.1), level="red", hours_ago=1)
    orange = insert_alert(db, point_at(db, "HP-ORANGE", north_km=0.2), level="orange")
    insert_alert(db, point_at(db, "HP-YELLOW", north_km=0.3), level="yellow")
    insert_alert(db, point_at(db, "HP-GONE", north_km=0.4, status="cancelled"), level="red")

    response = httpx.get(f"{console.url}/public/cap.atom")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):  # RFC 4287 4.1.1
        assert feed.findtext(f"{ATOM}{required}")
    assert feed.find(f"{ATOM}author/{ATOM}name").text  # the entries have none of their own (4.1.1)
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == f"{console.url}/public/cap.atom"
    _rfc3339(feed.findtext(f"{ATOM}updated"))
    entries = feed.findall(f"{ATOM}entry")
    schema = xmlschema.XMLSchema(CAP_SCHEMA)
    identifiers = []
    for entry in entries:
        for required in ("id", "title", "updated"):  # RFC 4287 4.1.2
            assert entry.findtext(f"{ATOM}{required}")
        _rfc3339(entry.findtext(f"{ATOM}updated"))
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "application/cap+xml"
        (cap,) = list(content)
        schema.validate(ET.tostring(cap))  # raises, naming the element, when invalid
        identifiers.append(cap.findtext(f"{CAP}identifier"))
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith(f"{console.url}/public/points/")
    assert identifiers == [f"geohazard-alert-{red}", f"geohazard-alert-{orange}"]
    assert len({entry.findtext(f"{ATOM}id") for entry in entries}) == len(entries)


def test_the_feed_carries_the_same_cap_message_as_the_api(db, console):
    alert = insert_alert(db, point_at(db, "HP-RED", north_km=0.1), level="red")
    token = _api_token(db)
    api = httpx.get(f"{console.url}/api/v1/alerts/{alert}/cap", headers={"Authorization": f"Bearer {token}"})
    feed = ET.fromstring(httpx.get(f"{console.url}/public/cap.atom").content)
    cap = feed.find(f"{ATOM}entry/{ATOM}content/{CAP}alert")
    assert api.status_code == 200
    assert (ET.canonicalize(ET.tostring(cap), rewrite_prefixes=True)
            == ET.canonicalize(api.content.decode(), rewrite_prefixes=True))


def test_an_empty_feed_is_still_a_valid_feed(console):
    feed = ET.fromstring(httpx.get(f"{console.url}/public/cap.atom").content)
    assert feed.findall(f"{ATOM}entry") == []
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}title") and feed.findtext(f"{ATOM}updated")


def test_the_language_link_keeps_english_and_goes_back_to_a_public_page_only(console):
    with httpx.Client(base_url=console.url) as client:
        response = client.get("/public/language/en", params={"next": "/public/warnings"})
        assert response.status_code == 303 and response.headers["location"] == "/public/warnings"
        assert "Current warnings" in client.get("/public/warnings").text
        away = client.get("/public/language/zh", params={"next": "https://example.com/public"})
        assert away.headers["location"] == "/public"


def test_every_message_of_the_public_pages_has_a_chinese_translation():
    assert web.untranslated("zh") == []


def _rfc3339(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    assert when.tzinfo is not None, f"{text} has no offset"
    return when


def _api_token(db) -> str:
    return create_token(db, name="viewer", role="viewer")


def test_the_warnings_page_and_english_open_on_the_phone_with_nothing_from_outside(db, console, phone):
    insert_alert(db, point_at(db, "HP-RED", north_km=0.1), level="red")
    _weather_warning(db, level="orange", county="500113", starts_h=-1, ends_h=5, issuer="重庆市气象台")

    phone.goto(f"{console.url}/public/warnings")
    assert phone.locator("#alerts li").count() == 1
    assert phone.locator("#weather li").count() == 1
    phone.tap("a.language")
    phone.wait_for_url(f"{console.url}/public/warnings")
    assert phone.locator("h1").inner_text() == "Current warnings"
    assert phone.locator("#alerts .badge").inner_text() == "Red warning"


def test_a_phone_that_does_not_share_its_position_is_told_to_choose_its_village(db, console, phone):
    point_at(db, "HP-V1", north_km=0.1)
    phone.context.clear_permissions()

    phone.goto(f"{console.url}/public")
    phone.tap("#locate")

    phone.wait_for_function("document.getElementById('locate-status').textContent.includes('选择您所在的村')")
    assert phone.locator("#nearby").count() == 0
    phone.select_option("#village", "500113001001")
    phone.tap("form.place button[type=submit]")
    phone.wait_for_selector("#in-place")
    assert phone.locator("#in-place li").get_attribute("data-code") == "HP-V1"
