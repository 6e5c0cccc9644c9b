"""The console's fixtures: the app served by uvicorn on a free port, and Debian's Chromium driven by Playwright.

Every page a test opens is watched: a request to anything but the app fails the test (the console must work with no
internet), and so does a script error on the page.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn

from service.app import create_app
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it from calling Google's services on this closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--mute-audio", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
START_TIMEOUT_S = 30


class LiveServer:
    """The API app (console included) under uvicorn in a thread, with its lifespan: a real HTTP server."""

    def __init__(self, settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                                    log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, name="console-server", daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console's server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def console(settings):
    """The running app; `console.url` is its base URL."""
    with LiveServer(settings) as server:
        yield server


# One browser per test module, not per session: while Playwright's sync API is started it keeps an asyncio loop
# running in the main thread, and every later test calling asyncio.run() there would fail.
@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@contextmanager
def watched_page(context, base_url: str) -> Iterator:
    """A page of this browser context that fails the test on any request outside `base_url` or any error in the
    page's scripts; the context is closed after."""
    outside: list[str] = []
    script_errors: list[str] = []

    def refuse(route):
        outside.append(route.request.url)
        route.abort()

    try:
        context.route(lambda url: not url.startswith(base_url), refuse)
        page = context.new_page()
        page.on("pageerror", lambda error: script_errors.append(str(error)))
        page.set_default_timeout(10_000)
        yield page
    finally:
        context.close()
    assert not outside, f"the page requested URLs outside the app: {outside}"
    assert not script_errors, f"script errors on the page: {script_errors}"


@pytest.fixture
def page(browser, console):
    """A fresh browser context (no cookies) on the console; fails the test on any request outside the app or any
    error in the page's scripts."""
    with watched_page(browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}), console.url) as page:
        yield page
