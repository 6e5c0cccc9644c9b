"""The disaster-avoidance card (防灾避险明白卡, SPEC 5 and 6): written with the point, read as JSON or as a
printable page, and carried into the CAP messages of the point's alerts."""

import re
from xml.etree import ElementTree as ET

import pytest

from alerting.channels.cap import CAP_NS
from tests.api.support import SPEC_POINT, insert_alert, post_point
from tests.support import fetch

POINT = SPEC_POINT["code"]
CARD = {
    "warning_signal": "鸣锣、敲盆、手摇报警器",
    "signal_giver": "监测员 李伟 13800000000",
    "evacuation_route": "沿村道向东撤离至村委会",
    "shelter": "村委会广场",
    "contacts": [{"name": "李伟", "phone": "13800000000", "role": "监测员"},
                 {"name": "王芳", "phone": "023-6666 8888"}],
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture
def point(client, admin, db):  # noqa: F811
    """The SPEC point with its card, and Li Wei as its monitor."""
    post_point(client, admin, name="黄桷垭滑坡", card=CARD)
    li_wei = db.execute("INSERT INTO person (name, phone) VALUES ('李伟', '13800000000') RETURNING id").fetchone()[0]
    assert client.put(f"/api/v1/hazard-points/{POINT}/grid", json={"monitor": li_wei},
                      headers=admin).status_code == 200
    return POINT


def card(client, headers, accept=None, code=POINT):  # noqa: F811
    headers = {**headers, "Accept": accept} if accept else headers
    return client.get(f"/api/v1/hazard-points/{code}/card", headers=headers)


# --- JSON ---------------------------------------------------------------------------------------


def test_card_json_has_the_card_the_point_and_its_grid_phones(client, viewer, point):  # noqa: F811
    response = card(client, viewer)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert {key: body[key] for key in ("warning_signal", "signal_giver", "evacuation_route", "shelter")} == {
        key: CARD[key] for key in ("warning_signal", "signal_giver", "evacuation_route", "shelter")}
    assert body["contacts"] == [{"name": "李伟", "phone": "13800000000", "role": "监测员"},
                                {"name": "王芳", "phone": "023-6666 8888", "role": None}]
    assert (body["code"], body["name"], body["type"], body["scale"], body["status"]) == (
        POINT, "黄桷垭滑坡", "landslide", "medium", "active")
    assert body["location"] == {"lon": 106.52, "lat": 29.40, "county_code": "500113", "township_code": "500113001",
                                "village_code": "500113001001"}
    assert (body["threatened_households"], body["threatened_people"]) == (12, 41)
    assert (body["grid"]["monitor"]["name"], body["grid"]["monitor"]["phone"]) == ("李伟", "13800000000")
    assert body["grid"]["area_lead"] is None


def test_a_point_registered_without_a_card_has_a_blank_one(client, admin, viewer):  # noqa: F811
    post_point(client, admin)
    body = card(client, viewer).json()
    assert (body["warning_signal"], body["shelter"], body["contacts"]) == (None, None, [])


def test_card_of_an_unknown_point_is_404_naming_it(client, viewer):  # noqa: F811
    response = card(client, viewer, code="500113-HP-9999")
    assert response.status_code == 404
    assert response.json() == {"detail": "Hazard point 500113-HP-9999 not found"}


def test_the_point_detail_shows_the_card_as_stored(client, viewer, point):  # noqa: F811
    stored = client.get(f"/api/v1/hazard-points/{POINT}", headers=viewer).json()["card"]
    assert stored == {**CARD, "contacts": [CARD["contacts"][0], {"name": "王芳", "phone": "023-6666 8888"}]}


# --- printable HTML ------------------------------------------------------------------------------


def test_card_html_is_a_printable_utf8_chinese_page(client, viewer, point):  # noqa: F811
    response = card(client, viewer, "text/html")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.content.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page and '<meta charset="utf-8">' in page
    assert "@page { size: A5;" in page
    labels = ("灾害点名称", "预警信号", "信号发布人", "撤离路线", "避险场所", "联系人", "Evacuation route", "Shelter")
    for label in labels:
        assert label in page, label
    # Nothing to fetch: it prints offline.
    assert not re.search(r"<(script|link)\b|src=", page)


def test_card_html_round_trips_chinese_text(client, viewer, point):  # noqa: F811
    page = card(client, viewer, "text/html").content.decode("utf-8")
    for value in ("黄桷垭滑坡", "鸣锣、敲盆、手摇报警器", "沿村道向东撤离至村委会", "村委会广场", "王芳",
                  "滑坡 (landslide)", "中型 (medium)"):
        assert value in page, value
    assert '<a href="tel:02366668888">023-6666 8888</a>' in page


def test_card_html_escapes_what_people_typed(client, admin, viewer):  # noqa: F811
    script = '<script>alert("x")</script>'
    post_point(client, admin, name=f"坡{script}", card={"shelter": script, "evacuation_route": 'a "quoted" & <b>',
                                                         "contacts": [{"name": script, "phone": "13800000000"}]})
    page = card(client, viewer, "text/html").text
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "a &quot;quoted&quot; &amp; &lt;b&gt;" in page


def test_card_html_marks_blank_fields(client, admin, viewer):  # noqa: F811
    post_point(client, admin)
    page = card(client, viewer, "text/html").text
    assert page.count("未填写") == 4 + 1 + 4  # four card fields, the contacts, four vacant grid roles


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/html;q=0.5, application/json", "application/json"),
        ("text/html", "text/html; charset=utf-8"),
        ("text/*", "text/html; charset=utf-8"),
        (BROWSER_ACCEPT, "text/html; charset=utf-8"),
        ("application/json;q=0.2, text/html;q=0.8", "text/html; charset=utf-8"),
    ],
    ids=["none", "any", "json", "json-preferred", "html", "text-any", "browser", "html-weighted"],
)
def test_card_answers_the_media_type_accept_prefers(client, viewer, point, accept, media_type):  # noqa: F811
    response = card(client, viewer, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["vary"] == "Accept"


# --- written with the point ------------------------------------------------------------------------


def test_patching_the_card_replaces_it_and_the_cap_instruction_follows(client, admin, viewer, point, db):  # noqa: F811
    new_card = {"evacuation_route": "沿河堤向北撤离", "shelter": "镇中心小学"}
    response = client.patch(f"/api/v1/hazard-points/{POINT}", json={"card": new_card}, headers=admin)
    assert response.status_code == 200
    body = card(client, viewer).json()
    assert (body["evacuation_route"], body["shelter"], body["warning_signal"], body["contacts"]) == (
        "沿河堤向北撤离", "镇中心小学", None, [])
    alert_id = insert_alert(db, POINT, level="red")
    cap = ET.fromstring(client.get(f"/api/v1/alerts/{alert_id}/cap", headers=viewer).content)
    assert cap.find(f".//{{{CAP_NS}}}instruction").text == "撤离路线：沿河堤向北撤离\n避险场所：镇中心小学"


def test_patching_the_card_to_null_blanks_it(client, admin, viewer, point):  # noqa: F811
    assert client.patch(f"/api/v1/hazard-points/{POINT}", json={"card": None}, headers=admin).status_code == 200
    assert fetch_card(client, viewer) == (None, [])


def fetch_card(client, headers):  # noqa: F811
    body = card(client, headers).json()
    return body["shelter"], body["contacts"]


@pytest.mark.parametrize(
    ("card_body", "loc", "message"),
    [
        ({"contacts": [{"name": "李伟"}]}, ["body", "card", "contacts", 0, "phone"], "Field required"),
        ({"contacts": [{"name": "李伟", "phone": "call me"}]}, ["body", "card", "contacts", 0, "phone"],
         "should match pattern"),
        ({"contacts": [{"name": "", "phone": "13800000000"}]}, ["body", "card", "contacts", 0, "name"],
         "at least 1 character"),
        ({"evacuation": "east"}, ["body", "card", "evacuation"], "Extra inputs are not permitted"),
        ({"shelter": "x" * 501}, ["body", "card", "shelter"], "at most 500 characters"),
    ],
    ids=["contact-without-phone", "malformed-phone", "blank-name", "misspelt-field", "too-long"],
)
def test_an_invalid_card_is_422_with_its_path_and_nothing_changes(  # noqa: F811
        client, admin, db, point, card_body, loc, message):  # noqa: F811
    before = fetch(db.info.dsn, "SELECT name, card, updated_at FROM hazard_point")
    response = client.patch(f"/api/v1/hazard-points/{POINT}", json={"card": card_body, "name": "renamed"},
                            headers=admin)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert message in error["msg"]
    assert fetch(db.info.dsn, "SELECT name, card, updated_at FROM hazard_point") == before


def test_an_invalid_card_on_create_is_422_and_nothing_is_registered(client, admin, db):  # noqa: F811
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, "card": {"contacts": [{"phone": "110"}]}},
                           headers=admin)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [
        ["body", "card", "contacts", 0, "name"], ["body", "card", "contacts", 0, "phone"]]
    assert fetch(db.info.dsn, "SELECT count(*) FROM hazard_point") == [(0,)]
