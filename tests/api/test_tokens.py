"""Bearer tokens and roles (SPEC 6): who may call the API, and what a token records."""

import pytest

from service.auth import create_token, list_tokens, revoke_token
from tests.api.support import SPEC_POINT, bearer


# --- tokens and roles ---------------------------------------------------------------------------


def test_api_without_a_token_is_401_asking_for_bearer(client):
    response = client.get("/api/v1/hazard-points")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "A valid bearer token is required."}


def test_api_with_an_unknown_token_is_401(client):
    response = client.get("/api/v1/alerts", headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "The bearer token is unknown or revoked."}


def test_api_with_a_revoked_token_is_401(client, db):
    token = create_token(db, name="lost phone", role="viewer")
    assert client.get("/api/v1/alerts", headers=bearer(token)).status_code == 200
    [info] = [t for t in list_tokens(db) if t.name == "lost phone"]
    assert revoke_token(db, token_id=info.id) is True
    response = client.get("/api/v1/alerts", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoking_a_token_twice_reports_nothing_revoked(db):
    create_token(db, name="once", role="viewer")
    [info] = list_tokens(db)
    assert revoke_token(db, token_id=info.id) is True
    assert revoke_token(db, token_id=info.id) is False
    assert revoke_token(db, token_id=999_999) is False


def test_list_tokens_shows_role_and_state_but_no_secret(db):
    token = create_token(db, name="console", role="duty_officer")
    [info] = list_tokens(db)
    assert (info.name, info.role, info.active) == ("console", "duty_officer", True)
    assert token not in repr(info)
    assert tuple(info)[:3] == (info.id, "console", "duty_officer")


def test_create_token_refuses_an_unknown_role(db):
    with pytest.raises(ValueError, match="unknown role 'root'"):
        create_token(db, name="x", role="root")


def test_create_token_refuses_a_grid_monitor_without_a_person(db):
    with pytest.raises(ValueError, match="needs a person"):
        create_token(db, name="x", role="grid_monitor")


def test_viewer_cannot_create_a_hazard_point(client, viewer):
    response = client.post("/api/v1/hazard-points", json=SPEC_POINT, headers=viewer)
    assert response.status_code == 403
    assert response.json() == {"detail": "Role viewer may not do this; it needs admin."}
    assert client.get("/api/v1/hazard-points", headers=viewer).json()["count"] == 0
