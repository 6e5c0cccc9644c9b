"""Requests the API refuses before they reach a handler's SQL, or at the database: values it cannot take, NaN and
infinity, anonymous bodies, bodies over the limit."""

import json

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.api.support import SPEC_POINT


def test_a_value_the_database_cannot_take_is_a_422_not_a_500(client, admin):
    response = client.get("/api/v1/hazard-points", params={"county_code": "5001\x0013"}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["request"]


@pytest.mark.parametrize("path, method, body, loc", [
    ("/api/v1/hazard-points", "post", {**SPEC_POINT, "lon": float("inf")}, ["body", "lon"]),
    ("/api/v1/hazard-points", "post", {**SPEC_POINT, "threatened_property_wan_yuan": float("nan")},
     ["body", "threatened_property_wan_yuan"]),
    ("/api/v1/weather-warnings", "post",
     {"level": "orange", "valid_from": "2026-07-01T00:00:00Z", "valid_to": "2026-07-02T00:00:00Z",
      "polygon": {"type": "Polygon", "coordinates": [[[106.0, 29.0], [float("nan"), 29.0], [107.0, 30.0],
                                                      [106.0, 29.0]]]}},
     ["body", "polygon", "Polygon", "coordinates", 0, 1, 0]),
])
def test_nan_and_infinity_are_422_naming_the_field_never_stored(client, admin, db, path, method, body, loc):
    # Python's JSON writes inf and nan as Infinity and NaN, which the API's JSON reader takes as numbers.
    response = client.request(method, path, content=json.dumps(body),
                              headers={**admin, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]
    assert db.execute("SELECT count(*) FROM hazard_point").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM weather_warning").fetchone()[0] == 0


def test_an_anonymous_body_is_refused_401_before_a_byte_of_it_is_read(client):
    # Straight through ASGI, to see whether the app asks for the body at all (FastAPI reads a body before it
    # checks the token: three anonymous 500 MB posts took the API to 3.4 GB before each got its 401).
    for authorization in ([], [(b"authorization", b"Bearer not-a-token")]):
        read, sent = [], []

        async def receive():
            read.append(True)
            return {"type": "http.request", "body": b'{"code": "x"}', "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/api/v1/hazard-points", "raw_path": b"/api/v1/hazard-points",
                 "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"13"), *authorization]}
        client.portal.call(client.app, scope, receive, send)
        assert sent[0]["status"] == 401 and read == []


@pytest.fixture
def small_body_client(settings):
    with TestClient(create_app(settings.model_copy(update={"max_request_body_bytes": 2048}))) as test_client:
        yield test_client


def test_a_body_over_the_limit_is_413_whether_its_length_is_declared_or_streamed(small_body_client, admin, db):
    big = json.dumps({**SPEC_POINT, "name": "x" * 4096}).encode()
    declared = small_body_client.post("/api/v1/hazard-points", content=big,
                                      headers={**admin, "Content-Type": "application/json"})
    streamed = small_body_client.post("/api/v1/hazard-points", content=iter([big[:1000], big[1000:]]),
                                      headers={**admin, "Content-Type": "application/json"})
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json() == {"detail": "The request body is larger than the 2048 bytes the API takes."}
    assert db.execute("SELECT count(*) FROM hazard_point").fetchone()[0] == 0
    # A body within the limit is served as before.
    assert small_body_client.post("/api/v1/hazard-points", json=SPEC_POINT, headers=admin).status_code == 201
