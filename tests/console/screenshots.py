"""Screenshots of the console's main pages for the README: `python -m tests.console.screenshots [--out DIR]`.

Runs `geohazard demo` against a throwaway database (the shared PostgreSQL and Mosquitto, a topic root of its own),
waits for its first red and orange warnings, signs in as the demo's county admin in Debian's Chromium, and saves one
PNG per page. Everything is real: the alerts are the engine's, from the simulated gateways' readings.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from playwright.sync_api import sync_playwright

from tests.console.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.servers import free_port

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NEW_PASSWORD = "screenshot password 1"
# The demo's accelerating slope goes red and its storm orange within a couple of minutes on a loaded machine.
WARNINGS_TIMEOUT_S = 240
PAGES = [  # (file, path, what to wait for)
    ("alert-queue", "/console/alerts", "#live[data-state=live]"),
    ("alert", None, "#alert-state"),
    ("map", "/console/map", ".leaflet-container"),
    ("point", "/console/points/500113-HP-0002", "h1"),
    ("devices", "/console/devices", "h1"),
    ("patrols", "/console/patrols", "h1"),
    ("weather", "/console/weather", "h1"),
    ("coverage", "/console/coverage", "h1"),
    ("dead-letters", "/console/intake", "h1"),
    ("shift-log", "/console/shift", "h1"),
    ("logins", "/console/logins", "h1"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/screenshots", help="where the PNG files go (default docs/screenshots)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    database = f"geohazard_shots_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {"GEOHAZARD_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
           "GEOHAZARD_TOPIC_ROOT": f"shots/{uuid.uuid4().hex[:8]}/geohazard/v1",
           "GEOHAZARD_INGEST_CLIENT_ID": f"shots-ingest-{uuid.uuid4().hex[:8]}", "GEOHAZARD_INGEST_METRICS_PORT": "0"}
    demo = subprocess.Popen([sys.executable, "-m", "service.cli", "demo", "--port", str(port), "--engine-interval-s",
                             "5"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        phone, password = _wait_for_warnings(demo)
        _take(out, f"http://127.0.0.1:{port}", phone, password)
    finally:
        demo.terminate()
        demo.wait(30)
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


def _wait_for_warnings(demo: subprocess.Popen) -> tuple[str, str]:
    """The console's phone and password the demo printed, once it has printed a red and an orange warning."""
    deadline, seen, credentials = time.monotonic() + WARNINGS_TIMEOUT_S, set(), None
    for line in demo.stdout:
        if found := re.search(r"phone (\d+), temporary", line):
            phone = found.group(1)
        if found := re.search(r"password (\S+);", line):
            credentials = (phone, found.group(1))
        if found := re.search(r">>> (RED|ORANGE)", line):
            seen.add(found.group(1))
        if credentials and seen == {"RED", "ORANGE"}:
            return credentials
        if time.monotonic() > deadline:
            break
    raise RuntimeError(f"the demo printed no red and orange warning within {WARNINGS_TIMEOUT_S} s")


def _take(out: Path, base: str, phone: str, password: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}).new_page()
        page.goto(f"{base}/console/login")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/password"))
        page.fill("input[name=current_password]", password)
        page.fill("input[name=new_password]", NEW_PASSWORD)
        page.fill("input[name=repeat_password]", NEW_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/console/alerts"))
        for name, path, ready in PAGES:
            if path is None:  # the queue's first alert, the highest level's oldest
                page.goto(f"{base}/console/alerts")
                path = page.locator("tr.alert td.actions a").first.get_attribute("href")
            response = page.goto(f"{base}{path}")
            if response.status != 200:
                print(f"{name}: {path} answered {response.status}; no screenshot")
                continue
            page.wait_for_selector(ready)
            page.wait_for_timeout(800)  # charts and markers finish drawing
            page.screenshot(path=str(out / f"{name}.png"), full_page=False)
            print(f"{name}: {out / f'{name}.png'}")
        _phone_sheet(page, base, out)
        browser.close()


def _phone_sheet(page, base: str, out: Path) -> None:
    """The activation sheet of a code for the first monitor on the Phones page: the answer to a form, not a path."""
    page.goto(f"{base}/console/phones")
    page.select_option("select[name=person_id]", index=1)
    page.click("#issue")
    page.wait_for_selector("#sheet")
    page.screenshot(path=str(out / "phone-sheet.png"), full_page=True)
    print(f"phone-sheet: {out / 'phone-sheet.png'}")


if __name__ == "__main__":
    sys.exit(main())
