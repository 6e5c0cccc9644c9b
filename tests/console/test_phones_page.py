"""The administrator's Phones page (issue 16): an activation code's printable sheet, pending codes withdrawn, phones
revoked; administrators only, every form with the session's CSRF token."""

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest
import segno

from service.field import phones
from tests.console.support import csrf_of, make_login, make_point, sign_in, signed_in_client
from tests.support import fetch

CODE = re.compile(r'id="code">([2-9A-Z]{4})-([2-9A-Z]{4})<')


def monitor_of_point(db, name="村监测员 张", point="500113-HP-0042") -> int:
    """A grid monitor of a point, with no console login: the kind of person a phone is bound to."""
    make_point(db, point)
    person = db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, '13900000001', '{monitor}')"
                        " RETURNING id", (name,)).fetchone()[0]
    db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
               (point, person))
    return person


def _run(database_url, work):
    """`work(pool)` on an event loop of its own thread: the module's browser keeps one running in this one."""
    async def main():
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            return await work(pool)
        finally:
            await pool.close()
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, main()).result()


def activate_phone(database_url, code: str) -> str:
    """A phone presenting the code, as the phone app does: its session id."""
    async def work(pool):
        async with pool.acquire() as conn:
            return await phones.activate(conn, code=code, label="Android 12 test phone", address="10.0.0.9")
    return _run(database_url, work)


def phone_user_of(database_url, session: str):
    async def work(pool):
        return await phones.phone_user(pool, session)
    return _run(database_url, work)


def _modules(svg: str) -> str:
    """The dark modules of a segno QR code's SVG: what a camera reads."""
    return re.search(r'class="qrline"[^>]* d="([^"]+)"', svg).group(1)


def _issue(client, person: int):
    page = client.get("/console/phones").text
    return client.post("/console/phones/codes", data={"person_id": person, "csrf_token": csrf_of(page)})


def test_an_admin_prints_a_sheet_whose_code_binds_a_phone_of_that_person(console, db, database_url):
    person = monitor_of_point(db)
    admin = make_login(db, role="admin", name="县管理员 赵")
    with signed_in_client(console.url, admin) as client:
        page = client.get("/console/phones")
        assert page.status_code == 200 and "村监测员 张 · 13900000001" in page.text
        sheet = _issue(client, person)
        assert sheet.status_code == 200 and sheet.headers["cache-control"] == "no-store"
        first, second = CODE.search(sheet.text).groups()
        code = first + second
        assert '<strong id="holder">村监测员 张</strong>' in sheet.text
        assert f"{console.url}/field/activate</code>" in sheet.text
        assert "有效期 72 小时，至北京时间" in sheet.text and "只交给村监测员 张本人" in sheet.text
        # The QR code is the link with the code: a phone's camera opens the activation page with it filled in.
        svg = re.search(r'<svg viewBox="[\d ]+" class="qr">.*?</svg>', sheet.text, re.S)
        link = segno.make(f"{console.url}/field/activate?code={code}", error="m")
        assert _modules(svg.group(0)) == _modules(link.svg_inline())
        # The same person's second code is another one: the first is not shown again.
        again = CODE.search(_issue(client, person).text).groups()
        assert "".join(again) != code
        listed = client.get("/console/phones").text
        assert len(re.findall(r'<tr data-code="\d+">', listed)) == 2
    session = activate_phone(database_url, f"{first}-{second}")
    assert phone_user_of(database_url, session).person_id == person
    with signed_in_client(console.url, admin) as client:
        listed = client.get("/console/phones").text
    assert len(re.findall(r'<tr data-code="\d+">', listed)) == 1  # the used code is no longer pending
    assert re.search(r'<tr data-phone="\d+">\s*<td>村监测员 张.*?Android 12 test phone.*?来自 10.0.0.9.*?使用中',
                     listed, re.S)


def test_a_person_who_watches_no_point_gets_no_code(console, db):
    admin = make_login(db, role="admin", name="县管理员 赵")
    with signed_in_client(console.url, admin) as client:
        refused = _issue(client, admin["person_id"])
    assert refused.status_code == 422 and "只能为监测员或隐患点网格责任人发放激活码" in refused.text
    assert 'id="code"' not in refused.text


@pytest.mark.parametrize("role", ["duty_officer", "grid_monitor", "viewer"])
def test_only_administrators_open_the_page_or_issue_a_code(console, db, database_url, role):
    person = monitor_of_point(db)
    other = make_login(db, role=role, name="值班员 钱",
                       points=(make_point(db, "500113-HP-0043"),) if role == "grid_monitor" else ())
    with signed_in_client(console.url, other) as client:
        assert client.get("/console/phones").status_code == 403
        token = csrf_of(client.get("/console/alerts").text)
        refused = client.post("/console/phones/codes", data={"person_id": person, "csrf_token": token})
        assert refused.status_code == 403 and "您的角色无权" in refused.text and "<svg" not in refused.text
    assert fetch(database_url, "SELECT count(*) FROM field_activation") == [(0,)]


def test_without_a_session_the_page_sends_to_the_sign_in_form(console, db):
    with signed_in_client(console.url, make_login(db, role="admin")) as client:
        token = csrf_of(client.get("/console/phones").text)
        client.post("/console/logout", data={"csrf_token": token})
        for answer in (client.get("/console/phones", follow_redirects=False),
                       client.post("/console/phones/codes", data={"person_id": 1, "csrf_token": token},
                                   follow_redirects=False)):
            assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login?next=")


def test_revoking_a_phone_ends_its_session_and_a_withdrawn_code_binds_nothing(console, db, database_url):
    person = monitor_of_point(db)
    admin = make_login(db, role="admin", name="县管理员 赵")
    with signed_in_client(console.url, admin) as client:
        session = activate_phone(database_url, "-".join(CODE.search(_issue(client, person).text).groups()))
        page = client.get("/console/phones").text
        phone_id = re.search(r'<tr data-phone="(\d+)">', page).group(1)
        revoked = client.post(f"/console/phones/{phone_id}/revoke", data={"csrf_token": csrf_of(page)})
        assert revoked.status_code == 200 and str(revoked.url).endswith("/console/phones")
        assert re.search(rf"已于 [\d:\- ]+ 由 县管理员 赵 \(person {admin['person_id']}\) 停用", revoked.text)
        assert phone_user_of(database_url, session) is None
        again = client.post(f"/console/phones/{phone_id}/revoke", data={"csrf_token": csrf_of(page)})
        assert again.status_code == 404 and "没有这部使用中的手机" in again.text

        withdrawn = "".join(CODE.search(_issue(client, person).text).groups())
        page = client.get("/console/phones").text
        code_id = re.search(r'<tr data-code="(\d+)">', page).group(1)
        answer = client.post(f"/console/phones/codes/{code_id}/withdraw", data={"csrf_token": csrf_of(page)})
        assert answer.status_code == 200 and "没有待使用的激活码" in answer.text
        with pytest.raises(phones.CodeRefused):
            activate_phone(database_url, withdrawn)
        again = client.post(f"/console/phones/codes/{code_id}/withdraw", data={"csrf_token": csrf_of(page)})
        assert again.status_code == 404 and "没有这个未使用的激活码" in again.text


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(console, db, database_url):
    person = monitor_of_point(db)
    with signed_in_client(console.url, make_login(db, role="admin")) as client:
        session = activate_phone(database_url, "".join(CODE.search(_issue(client, person).text).groups()))
        pending = "".join(CODE.search(_issue(client, person).text).groups())
        page = client.get("/console/phones").text
        code_id = re.search(r'<tr data-code="(\d+)">', page).group(1)
        phone_id = re.search(r'<tr data-phone="(\d+)">', page).group(1)
        for path, data in [("/console/phones/codes", {"person_id": person}),
                           (f"/console/phones/{phone_id}/revoke", {}),
                           (f"/console/phones/codes/{code_id}/withdraw", {"csrf_token": "forged"})]:
            refused = client.post(path, data=data)
            assert refused.status_code == 403 and "安全令牌" in refused.text, path
    assert fetch(database_url, "SELECT count(*) FROM field_activation") == [(2,)]
    assert phone_user_of(database_url, session).person_id == person
    assert phone_user_of(database_url, activate_phone(database_url, pending)).person_id == person


def test_the_sheet_prints_alone_and_a_phone_is_revoked_after_confirming(page, console, db, database_url):
    person = monitor_of_point(db)
    admin = make_login(db, role="admin", name="县管理员 赵")
    sign_in(page, console.url, admin)
    page.click("header.top nav >> text=手机")
    page.select_option("select[name=person_id]", str(person))
    page.click("#issue")
    page.wait_for_selector("#sheet")
    assert page.locator("#holder").inner_text() == "村监测员 张"
    code = page.locator("#code").inner_text()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code)
    qr = page.locator("#sheet svg.qr").bounding_box()
    assert qr["width"] >= 180 and qr["height"] >= 180
    assert page.locator("header.top").is_visible() and page.locator("#print").is_visible()
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("#print").is_visible()
    assert page.locator("#sheet").is_visible() and page.locator("#sheet svg.qr").is_visible()
    page.emulate_media(media="screen")

    session = activate_phone(database_url, code)
    page.goto(f"{console.url}/console/phones")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("#phones button:has-text('停用')")
    assert questions and "村监测员 张" in questions[0]
    page.wait_for_timeout(500)  # time for a form sent regardless to have been answered
    assert phone_user_of(database_url, session).person_id == person  # dismissed: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#phones button:has-text('停用')")
    page.wait_for_selector("#phones td:has-text('停用')")
    assert phone_user_of(database_url, session) is None
