"""The public pages' fixtures: the console's live server and browser, and a phone: a 360x740 touch screen whose
browser shares its position (HOME) when asked. Its pages fail the test on any request outside the app."""

import pytest

from tests.console import conftest as console_fixtures
from tests.console.conftest import watched_page

console = console_fixtures.console
browser = console_fixtures.browser
# A desk's browser page (the duty console), for tests that follow a public report into the console.
page = console_fixtures.page
# Where the phone is: a village in Banan district, Chongqing (the console tests' points stand around it).
HOME = {"latitude": 29.40, "longitude": 106.52}


@pytest.fixture
def phone(browser, console):
    """A fresh mobile browser context on the app, with geolocation granted at HOME."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, geolocation=HOME, permissions=["geolocation"])
    with watched_page(context, console.url) as page:
        yield page
