"""The phone app's fixtures: the console's live server and browser, and a grid monitor's phone: a 360x740 touch
screen whose browser shares its position (HOME, at the test point) and runs service workers. Its pages fail the
test on any request outside the app or any script error."""

import pytest

from tests.console import conftest as console_fixtures
from tests.console.conftest import watched_page
from tests.field.support import HOME

console = console_fixtures.console
browser = console_fixtures.browser
# A desk's browser page (the duty console), for tests that follow a report into the console.
page = console_fixtures.page


@pytest.fixture
def phone_context(browser, console):
    """A fresh mobile browser context, geolocation granted at HOME, service workers allowed. Background Sync is
    granted as Chrome grants it to any site by default (headless Chromium refuses it unless told)."""
    return browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740}, is_mobile=True,
                               has_touch=True, geolocation=HOME, permissions=["geolocation", "background-sync"],
                               service_workers="allow")


@pytest.fixture
def phone(phone_context, console):
    with watched_page(phone_context, console.url) as page:
        yield page
