"""The pages people open work with no internet: nothing is loaded from outside the app (the `page` fixture fails the
test on any such request, and on any script error)."""

import pytest


@pytest.mark.parametrize("path, ready", [("/docs", ".swagger-ui .info"), ("/console/login", "input[name=phone]")])
def test_the_page_renders_from_the_app_alone(page, console, path, ready):
    response = page.goto(f"{console.url}{path}")
    assert response.status == 200
    page.wait_for_selector(ready, timeout=20_000)
