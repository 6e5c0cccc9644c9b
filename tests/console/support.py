"""Helpers the console tests share: people with logins, points, alerts, and signing in through the page."""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from service.console.accounts import HASHER

PASSWORD = "correct horse 7"


def make_login(db, *, role: str, name: str = "值班员 王", phone: str | None = None, points: tuple[str, ...] = (),
               must_change: bool = False) -> dict:
    """A person with a console login and a known password, holding the monitor role at each of `points`."""
    phone = phone or f"139{abs(hash((name, role))) % 10**8:08d}"
    person_id = db.execute("INSERT INTO person (name, phone, roles) VALUES (%s, %s, %s) RETURNING id",
                           (name, phone, ["monitor"] if points else [])).fetchone()[0]
    db.execute("INSERT INTO console_login (person_id, phone, role, password_hash, must_change)"
               " VALUES (%s, %s, %s, %s, %s)", (person_id, phone, role, HASHER.hash(PASSWORD), must_change))
    for code in points:
        db.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, 'monitor', %s)",
                   (code, person_id))
    return {"person_id": person_id, "name": name, "phone": phone, "password": PASSWORD}


def make_point(db, code: str, *, name: str | None = None, type: str = "landslide", lon: float = 106.52,
               lat: float = 29.40, county: str = "500113", people: int = 41) -> str:
    township = f"{county}001"
    db.execute("INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, township_code,"
               " village_code, threatened_households, threatened_people, status)"
               " VALUES (%s, %s, %s, 'medium', %s, %s, %s, %s, %s, 12, %s, 'active')",
               (code, name or f"{code} 滑坡", type, lon, lat, county, township, f"{township}001", people))
    return code


def insert_alert(db, point: str, *, level: str = "orange", state: str = "open", type: str = "deformation",
                 hours_ago: float = 0.0) -> int:
    """An alert with its `raised` event, as the engine writes them: the event is what consoles are told of."""
    return db.execute(
        "WITH raised AS (INSERT INTO alert (hazard_point, type, level, state, reasons, evidence, rule_version,"
        " raised_at, updated_at, ack_deadline) VALUES (%(point)s, %(type)s, %(level)s, %(state)s,"
        " '[\"v 31 mm/d > 20\"]', '{}', 'r1', now() - %(ago)s * interval '1 hour', now(),"
        " now() + interval '15 minutes') RETURNING id, level, raised_at)"
        " INSERT INTO alert_event (alert_id, at, kind, to_level, actor, rule_version)"
        " SELECT id, raised_at, 'raised', level, 'engine', 'r1' FROM raised RETURNING alert_id",
        {"point": point, "type": type, "level": level, "state": state, "ago": hours_ago}).fetchone()[0]


def wait_for_live_queue(page) -> None:
    """Until the queue listens to the stream and has refreshed once since: what comes next is news to it."""
    page.wait_for_selector("#live[data-state=live]")
    page.wait_for_function("Number(document.getElementById('queue').dataset.refreshed) >= 1")


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(page, base_url: str, login: dict) -> None:
    """Sign in through the form, as a person would, and wait for the alert queue."""
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=phone]", login["phone"])
    page.fill("input[name=password]", login["password"])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/(alerts|password).*"))


@contextmanager
def signed_in_client(base_url: str, login: dict) -> Iterator[httpx.Client]:
    """An HTTP client holding a session of this login, signed in through the form."""
    with httpx.Client(base_url=base_url, follow_redirects=True) as client:
        token = csrf_of(client.get("/console/login").text)
        response = client.post("/console/login", data={"phone": login["phone"], "password": login["password"],
                                                       "csrf_token": token})
        assert response.status_code == 200, response.text
        yield client


def screenshot(page, name: str) -> None:
    """A PNG of the page for the README, when GEOHAZARD_SCREENSHOTS names a folder (e.g. docs/screenshots)."""
    folder = os.environ.get("GEOHAZARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)
