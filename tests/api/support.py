"""Helpers the API tests share (their fixtures are in conftest.py): the spec's hazard point, a bearer header, a
point posted, an alert inserted."""

from datetime import UTC, datetime


# The body field clients send (SPEC 6).
SPEC_POINT = {
    "code": "500113-HP-0042",
    "name": "Huangjueya landslide",
    "type": "landslide",
    "scale": "medium",
    "lon": 106.52,
    "lat": 29.40,
    "county_code": "500113",
    "township_code": "500113001",
    "village_code": "500113001001",
    "threatened_households": 12,
    "threatened_people": 41,
    "status": "active",
}
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_point(client, headers, **changes):
    response = client.post("/api/v1/hazard-points", json={**SPEC_POINT, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def insert_alert(db, point, *, type="deformation", level="yellow", state="open", raised_at=T0):
    return db.execute(
        "INSERT INTO alert (hazard_point, type, level, state, reasons, evidence, rule_version, raised_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 'r1', %s, %s) RETURNING id",
        (point, type, level, state, '["alpha 56.3 deg > 50"]', '{"v_mm_per_day": 3.0}', raised_at, raised_at),
    ).fetchone()[0]


def codes(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [point["code"] for point in response.json()["data"]]


def fetch_one(db, query: str) -> tuple:
    return tuple(db.execute(query).fetchone())
