"""Fixtures the API tests share: the app with its lifespan, an admin's and a viewer's bearer header, three points."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import create_token
from tests.api.support import bearer, post_point


@pytest.fixture
def client(settings):
    """The app with its lifespan running (the pool is open)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin(db):
    return bearer(create_token(db, name="test admin", role="admin"))


@pytest.fixture
def viewer(db):
    return bearer(create_token(db, name="test viewer", role="viewer"))


@pytest.fixture
def three_points(client, admin):
    """Two points in county 500113 (a landslide, a collapse) and a debris-flow gully in 500114."""
    post_point(client, admin, code="500113-HP-0001")
    post_point(
        client,
        admin,
        code="500113-HP-0002",
        type="collapse",
        lon=106.60,
        lat=29.50,
        township_code="500113002",
        village_code="500113002001",
    )
    post_point(
        client,
        admin,
        code="500114-HP-0001",
        type="debris_flow",
        lon=108.0,
        lat=30.0,
        county_code="500114",
        township_code="500114001",
        village_code=None,
    )
