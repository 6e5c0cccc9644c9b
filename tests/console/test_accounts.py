"""Signing in to the console: phone and password, the back-off after wrong passwords, sessions, CSRF, and the
administrator's page of logins (issue 15)."""

import re
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.console.accounts import BACKOFF_MAX_S, FREE_ATTEMPTS
from tests.console.support import csrf_of, insert_alert, make_login, make_point, sign_in, signed_in_client
from tests.support import fetch


def test_a_person_signs_in_with_phone_and_password_and_signs_out(page, console, db):
    officer = make_login(db, role="duty_officer", name="值班员 李")
    page.goto(f"{console.url}/console/alerts")
    page.wait_for_url(re.compile(r".*/console/login\?next=/console/alerts"))
    sign_in(page, console.url, officer)
    assert page.locator(".person").inner_text().startswith("值班员 李")
    assert page.locator("h1").inner_text() == "告警队列"
    page.click("#logout")
    page.wait_for_url(re.compile(r".*/console/login"))
    page.goto(f"{console.url}/console/alerts")
    page.wait_for_url(re.compile(r".*/console/login.*"))  # the ended session no longer opens the queue


def test_a_wrong_password_is_refused_and_repeated_ones_make_the_next_attempt_wait(settings, page, console, db):
    officer = make_login(db, role="duty_officer")
    wrong = {**officer, "password": "not the password"}
    for _ in range(FREE_ATTEMPTS):
        sign_in_expecting_refusal(page, console.url, wrong)
        assert "手机号或密码错误" in page.locator(".error").inner_text()
    sign_in_expecting_refusal(page, console.url, wrong)
    assert re.search(r"请 \d+ 秒后再试", page.locator(".error").inner_text())
    # Even the right password waits out the back-off: guessing gains nothing from being fast.
    sign_in_expecting_refusal(page, console.url, officer)
    assert re.search(r"请 \d+ 秒后再试", page.locator(".error").inner_text())
    assert fetch(settings.database_url, "SELECT failed_attempts FROM console_sign_in_failure WHERE phone = %s",
                 officer["phone"]) == [(FREE_ATTEMPTS + 1,)]


def test_wrong_passwords_from_another_address_do_not_lock_the_officer_out(console, db):
    officer = make_login(db, role="duty_officer")
    stranger = {"X-Forwarded-For": "203.0.113.7"}  # uvicorn takes the client's address from its local proxy
    with httpx.Client(base_url=console.url) as client:
        token = csrf_of(client.get("/console/login").text)
        for _ in range(FREE_ATTEMPTS + 2):
            client.post("/console/login", headers=stranger, data={"phone": officer["phone"], "password": "guess",
                                                                  "csrf_token": token})
        locked = client.post("/console/login", headers=stranger, data={"phone": officer["phone"],
                                                                        "password": officer["password"],
                                                                        "csrf_token": token})
        assert "秒后再试" in locked.text
    with signed_in_client(console.url, officer) as client:
        assert client.get("/console/alerts").status_code == 200


def test_wrong_passwords_sent_all_at_once_are_each_counted_before_the_next_is_checked(settings, console, db):
    officer = make_login(db, role="duty_officer")
    with httpx.Client(base_url=console.url) as client:
        token = csrf_of(client.get("/console/login").text)
        cookies = dict(client.cookies)

    def attempt(_):
        return httpx.post(f"{console.url}/console/login", cookies=cookies,
                          data={"phone": officer["phone"], "password": "guess", "csrf_token": token}).text

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(attempt, range(12)))
    assert sum("手机号或密码错误" in a for a in answers) == FREE_ATTEMPTS
    assert sum("秒后再试" in a for a in answers) == 12 - FREE_ATTEMPTS
    # The attempt that went one past the free ones was counted and set the wait; those after it waited uncounted.
    assert fetch(settings.database_url, "SELECT failed_attempts FROM console_sign_in_failure WHERE phone = %s",
                 officer["phone"]) == [(FREE_ATTEMPTS + 1,)]


def test_the_wait_after_very_many_failures_stays_at_its_ceiling(console, db):
    officer = make_login(db, role="duty_officer")
    db.execute("INSERT INTO console_sign_in_failure (phone, address, failed_attempts) VALUES (%s, '127.0.0.1', 5000)",
               (officer["phone"],))
    with httpx.Client(base_url=console.url) as client:
        token = csrf_of(client.get("/console/login").text)
        answer = client.post("/console/login", data={"phone": officer["phone"], "password": "guess",
                                                     "csrf_token": token})
    assert answer.status_code == 401 and f"请 {BACKOFF_MAX_S} 秒后再试" in answer.text


def test_failures_a_day_old_are_forgotten_and_do_not_lock_the_next_attempt(console, db):
    officer = make_login(db, role="duty_officer")
    db.execute("INSERT INTO console_sign_in_failure (phone, address, failed_attempts, last_failed_at)"
               " VALUES (%s, '127.0.0.1', 50, now() - interval '2 days')", (officer["phone"],))
    with httpx.Client(base_url=console.url) as client:
        token = csrf_of(client.get("/console/login").text)
        answer = client.post("/console/login", data={"phone": officer["phone"], "password": "guess",
                                                     "csrf_token": token})
    assert answer.status_code == 401 and "秒后再试" not in answer.text


def test_a_form_without_the_session_csrf_token_is_refused_and_changes_nothing(settings, page, console, db):
    point = make_point(db, "500113-HP-0001")
    alert = insert_alert(db, point, level="orange")
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.goto(f"{console.url}/console/alerts/{alert}")
    # What a forged form from another site would be: the same fields, without the session's token.
    page.evaluate("document.querySelector('form[action$=\"/acknowledge\"] input[name=csrf_token]').remove()")
    page.click("#acknowledge")
    assert "安全令牌" in page.locator(".error").inner_text()
    assert fetch(settings.database_url, "SELECT state FROM alert WHERE id = %s", alert) == [("open",)]


def test_a_request_from_another_site_with_the_session_cookie_but_no_token_is_refused(settings, console, db):
    point = make_point(db, "500113-HP-0001")
    alert = insert_alert(db, point)
    officer = make_login(db, role="duty_officer")
    with signed_in_client(console.url, officer) as client:
        refused = client.post(f"/console/alerts/{alert}/acknowledge", data={"note": "forged"})
    assert refused.status_code == 403
    assert fetch(settings.database_url, "SELECT state FROM alert WHERE id = %s", alert) == [("open",)]


def test_a_sign_in_form_without_its_token_is_refused(console, db):
    officer = make_login(db, role="duty_officer")
    response = httpx.post(f"{console.url}/console/login", data={"phone": officer["phone"],
                                                                "password": officer["password"]})
    assert response.status_code == 403
    assert "geohazard_session" not in response.headers.get("set-cookie", "")


def test_an_administrator_creates_a_login_whose_temporary_password_must_be_changed(page, console, db):
    admin = make_login(db, role="admin", name="管理员 赵")
    person = db.execute("INSERT INTO person (name, phone) VALUES ('地质员 钱', '13912345678') RETURNING id").fetchone()[0]
    sign_in(page, console.url, admin)
    page.goto(f"{console.url}/console/logins")
    page.fill("input[name=person_id]", str(person))
    page.select_option("select[name=role]", "viewer")
    page.click("form[action$='/logins'] button[type=submit]")
    temporary = page.locator("#issued code.password").inner_text()
    page.click("#logout")

    sign_in(page, console.url, {"phone": "13912345678", "password": temporary})
    page.wait_for_url(re.compile(r".*/console/password"))
    page.goto(f"{console.url}/console/alerts")
    page.wait_for_url(re.compile(r".*/console/password"))  # a temporary password does not open the queue
    page.fill("input[name=current_password]", temporary)
    page.fill("input[name=new_password]", "my own password 1")
    page.fill("input[name=repeat_password]", "my own password 1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/alerts"))
    assert page.locator(".person").inner_text().startswith("地质员 钱")


def test_a_password_reset_signs_the_person_out_everywhere(console, db):
    officer = make_login(db, role="duty_officer")
    with signed_in_client(console.url, officer) as client:
        assert client.get("/console/alerts").status_code == 200
        admin = make_login(db, role="admin", name="管理员")
        with signed_in_client(console.url, admin) as admin_client:
            page = admin_client.get("/console/logins")
            reset = admin_client.post(f"/console/logins/{officer['person_id']}/reset",
                                      data={"csrf_token": csrf_of(page.text)})
            assert reset.status_code == 200
        after = client.get("/console/alerts", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/console/login")


def test_only_administrators_open_the_logins_page(console, db):
    officer = make_login(db, role="duty_officer")
    with signed_in_client(console.url, officer) as client:
        assert client.get("/console/logins").status_code == 403


def test_the_console_speaks_english_when_asked(page, console, db):
    sign_in(page, console.url, make_login(db, role="duty_officer"))
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Alert queue"
    page.click("text=中文")
    assert page.locator("h1").inner_text() == "告警队列"


def sign_in_expecting_refusal(page, base_url: str, login: dict) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=phone]", login["phone"])
    page.fill("input[name=password]", login["password"])
    page.click("button[type=submit]")
    page.wait_for_selector(".error")


def test_a_session_idle_for_longer_than_a_shift_signs_in_again(settings, console, db):
    officer = make_login(db, role="duty_officer")
    with signed_in_client(console.url, officer) as client:
        db.execute("UPDATE console_session SET last_seen_at = now() - %s * interval '1 hour'",
                   (settings.console_session_idle_h + 0.1,))
        after = client.get("/console/alerts", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/console/login")


def test_a_disabled_login_is_signed_out_and_cannot_sign_in(page, console, db):
    officer = make_login(db, role="duty_officer", name="值班员 郑")
    admin = make_login(db, role="admin", name="管理员 冯")
    with signed_in_client(console.url, officer) as client:
        sign_in(page, console.url, admin)
        page.goto(f"{console.url}/console/logins")
        page.click(f"form[action$='/logins/{officer['person_id']}/disabled'] button")
        page.wait_for_selector(f"form[action$='/logins/{officer['person_id']}/disabled'] button[value=false]")
        assert client.get("/console/alerts", follow_redirects=False).status_code == 303
    with httpx.Client(base_url=console.url) as client:
        token = csrf_of(client.get("/console/login").text)
        refused = client.post("/console/login", data={"phone": officer["phone"], "password": officer["password"],
                                                      "csrf_token": token})
    assert refused.status_code == 401 and "手机号或密码错误" in refused.text


def test_the_sign_in_form_takes_no_large_body_from_someone_not_yet_known(console):
    response = httpx.post(f"{console.url}/console/login", content=b"phone=" + b"1" * 100_000,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_a_form_from_someone_not_signed_in_is_answered_before_its_body_is_read(console):
    # Headers announcing 5 MB (under the console's 8 MiB), and only the first kilobyte of them sent.
    with socket.create_connection(("127.0.0.1", console.port), timeout=10) as raw:
        raw.sendall(b"POST /console/alerts/1/acknowledge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000000\r\n\r\n"
                    + b"note=" + b"x" * 1024)
        answer = raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 303 ") and b"location: /console/login" in answer.lower()
