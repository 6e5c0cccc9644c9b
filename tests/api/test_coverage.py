"""The coverage report of SPEC 5 over HTTP: each gap kind at the right points, per county, JSON and CSV, scoped."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from service.auth import create_token
from tests.api.support import bearer, post_point

NOW = datetime.now(UTC)
URL = "/api/v1/reports/coverage"
ROLES = ("monitor", "area_lead", "resident_geologist", "county_admin")


def add_person(db, name: str) -> int:
    return db.execute("INSERT INTO person (name, phone) VALUES (%s, '13800000000') RETURNING id", (name,)).fetchone()[0]


def assign(db, point: str, roles=ROLES, person: int | None = None) -> None:
    for role in roles:
        db.execute(
            "INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES (%s, %s, %s)",
            (point, role, person or add_person(db, f"{role} of {point}")),
        )


def add_device(
    db, point: str, device: str, *, online: bool | None, last_seen: datetime | None, interval_s: int = 600
) -> None:
    db.execute(
        "INSERT INTO device (id, hazard_point, protocol, online, last_seen) VALUES (%s, %s, 'native', %s, %s)",
        (device, point, online, last_seen),
    )
    db.execute(
        "INSERT INTO sensor (device_id, code, kind, hazard_point, reporting_interval_s) "
        "VALUES (%s, 'CR-01', 'crack', %s, %s)",
        (device, point, interval_s),
    )


def patrolled(db, point: str, days_ago: float) -> None:
    db.execute(
        "INSERT INTO patrol_report (hazard_point, reported_at, judgement, recorded_by) "
        "VALUES (%s, %s, 'normal', 'test')",
        (point, NOW - timedelta(days=days_ago)),
    )


def add_point(client, headers, code: str, **changes) -> None:  # noqa: F811
    post_point(client, headers, code=code, name=f"slope {code[-4:]} of {code[:6]}", **changes)


@pytest.fixture
def registry(client, admin, db):  # noqa: F811
    """Six points, each with the gaps its comment names; the treated one is not in the report at all."""
    # 500113-HP-0001: nothing missing.
    add_point(client, admin, "500113-HP-0001", threatened_people=41)
    assign(db, "500113-HP-0001")
    add_device(db, "500113-HP-0001", "GW-0001", online=True, last_seen=NOW - timedelta(minutes=5))
    patrolled(db, "500113-HP-0001", days_ago=1)
    # 500113-HP-0002: 120 people and its only device offline; no area lead or county admin.
    add_point(client, admin, "500113-HP-0002", threatened_people=120)
    assign(db, "500113-HP-0002", roles=("monitor", "resident_geologist"))
    add_device(db, "500113-HP-0002", "GW-0002", online=False, last_seen=NOW - timedelta(hours=2))
    patrolled(db, "500113-HP-0002", days_ago=1)
    # 500113-HP-0003: 10 people, so no device is required; its device says online but is silent for an hour (>3x
    # 10 min); patrolled 5 days ago on a once-a-week regime, so not overdue.
    add_point(client, admin, "500113-HP-0003", threatened_people=10)
    assign(db, "500113-HP-0003")
    add_device(db, "500113-HP-0003", "GW-0003", online=True, last_seen=NOW - timedelta(hours=1))
    db.execute(
        "UPDATE hazard_point SET monitoring_plan = %s WHERE code = '500113-HP-0003'",
        (json.dumps({"routine_patrols_per_week": 1}),),
    )
    patrolled(db, "500113-HP-0003", days_ago=5)
    # 500113-HP-0004: patrolled 5 days ago on the default twice-a-week regime: overdue.
    add_point(client, admin, "500113-HP-0004", threatened_people=50)
    assign(db, "500113-HP-0004")
    add_device(db, "500113-HP-0004", "GW-0004", online=True, last_seen=NOW - timedelta(minutes=1), interval_s=3600)
    patrolled(db, "500113-HP-0004", days_ago=5)
    # 500114-HP-0001: 35 people, no device, no grid, never patrolled.
    add_point(
        client,
        admin,
        "500114-HP-0001",
        threatened_people=35,
        county_code="500114",
        township_code="500114001",
        village_code=None,
    )
    # 500114-HP-0002: treated, so off the report however bare.
    add_point(
        client,
        admin,
        "500114-HP-0002",
        threatened_people=100,
        county_code="500114",
        township_code="500114001",
        village_code=None,
        status="treated",
    )


EXPECTED_GAPS = {
    ("500113", "no_online_device", "500113-HP-0002"),
    ("500113", "incomplete_grid", "500113-HP-0002"),
    ("500113", "device_offline", "500113-HP-0002"),
    ("500113", "device_offline", "500113-HP-0003"),
    ("500113", "patrol_overdue", "500113-HP-0004"),
    ("500114", "no_online_device", "500114-HP-0001"),
    ("500114", "incomplete_grid", "500114-HP-0001"),
    ("500114", "patrol_overdue", "500114-HP-0001"),
}
KINDS = ("no_online_device", "incomplete_grid", "patrol_overdue", "device_offline")


def gaps(report: dict) -> set[tuple[str, str, str]]:
    return {
        (county["county_code"], kind, gap["point"])
        for county in report["data"]
        for kind in KINDS
        for gap in county[kind]
    }


def report(client, headers, **params) -> dict:  # noqa: F811
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def county(report: dict, code: str) -> dict:
    return next(c for c in report["data"] if c["county_code"] == code)


def test_each_gap_kind_names_exactly_the_points_that_have_it(client, viewer, registry):  # noqa: F811
    body = report(client, viewer)
    assert gaps(body) == EXPECTED_GAPS
    assert [c["county_code"] for c in body["data"]] == ["500113", "500114"]
    assert body["count"] == 2


def test_counts_per_county_match_the_lists_and_count_only_points_still_hazards(client, viewer, registry):  # noqa: F811
    body = report(client, viewer)
    assert county(body, "500113")["counts"] == {
        "no_online_device": 1,
        "incomplete_grid": 1,
        "patrol_overdue": 1,
        "device_offline": 2,
    }
    assert county(body, "500113")["points"] == 4
    # The treated point is not counted.
    assert county(body, "500114")["points"] == 1


def test_an_incomplete_grid_names_its_missing_roles_in_chain_order(client, viewer, registry):  # noqa: F811
    body = report(client, viewer)
    [gap] = county(body, "500113")["incomplete_grid"]
    assert gap["missing_roles"] == ["area_lead", "county_admin"]
    assert gap["detail"] == "missing area_lead, county_admin"
    [bare] = county(body, "500114")["incomplete_grid"]
    assert bare["missing_roles"] == list(ROLES)


def test_patrol_interval_follows_the_points_regime(client, viewer, registry):  # noqa: F811
    body = report(client, viewer)
    overdue = {gap["point"]: gap for c in body["data"] for gap in c["patrol_overdue"]}
    assert overdue["500113-HP-0004"]["interval_days"] == 3.5
    assert overdue["500113-HP-0004"]["last_report_at"] is not None
    assert overdue["500114-HP-0001"]["last_report_at"] is None
    assert overdue["500114-HP-0001"]["detail"].startswith("never patrolled")
    # Once a week: the report 5 days ago is recent enough.
    assert "500113-HP-0003" not in overdue


def test_offline_devices_say_why(client, viewer, registry):  # noqa: F811
    offline = {gap["device_id"]: gap for gap in county(report(client, viewer), "500113")["device_offline"]}
    assert set(offline) == {"GW-0002", "GW-0003"}
    assert offline["GW-0002"]["online"] is False
    assert "offline flag set" in offline["GW-0002"]["detail"]
    assert offline["GW-0003"]["online"] is True
    assert offline["GW-0003"]["silence_limit_s"] == 1800
    assert "silent for more than 30 min" in offline["GW-0003"]["detail"]


def test_a_point_whose_device_comes_back_online_leaves_the_device_rule(client, viewer, registry, db):  # noqa: F811
    db.execute("UPDATE device SET online = true, last_seen = now() WHERE id = 'GW-0002'")
    body = report(client, viewer)
    assert ("500113", "no_online_device", "500113-HP-0002") not in gaps(body)
    assert ("500113", "device_offline", "500113-HP-0002") not in gaps(body)


def test_county_filter_gives_only_that_county(client, viewer, registry):  # noqa: F811
    body = report(client, viewer, county_code="500114")
    assert [c["county_code"] for c in body["data"]] == ["500114"]
    assert gaps(body) == {gap for gap in EXPECTED_GAPS if gap[0] == "500114"}


def test_a_malformed_county_code_is_422_naming_it(client, viewer):  # noqa: F811
    response = client.get(URL, params={"county_code": "5001"}, headers=viewer)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "county_code"]


def test_csv_has_one_row_per_gap_matching_the_json(client, viewer, registry):  # noqa: F811
    body = report(client, viewer)
    response = client.get(URL, params={"format": "csv"}, headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="coverage-all-') and disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["county_code", "gap", "point", "name", "detail"]
    assert len(rows) == len(EXPECTED_GAPS)
    from_json = sorted(
        (c["county_code"], kind, gap["point"], gap["name"], gap["detail"])
        for c in body["data"]
        for kind in KINDS
        for gap in c[kind]
    )
    from_csv = sorted((r["county_code"], r["gap"], r["point"], r["name"], r["detail"]) for r in rows)
    assert from_csv == from_json


def test_accept_text_csv_gives_csv_named_after_the_county(client, viewer, registry):  # noqa: F811
    response = client.get(URL, params={"county_code": "500114"}, headers={**viewer, "Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="coverage-500114-' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r["gap"] for r in rows} == {"no_online_device", "incomplete_grid", "patrol_overdue"}


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_quoted(client, admin, viewer):  # noqa: F811
    post_point(client, admin, code="500113-HP-0009", name='=HYPERLINK("http://x.example","open")')
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(URL, params={"format": "csv"}, headers=viewer).content.decode("utf-8-sig"))
        )
    )
    assert {r["name"] for r in rows} == {'\'=HYPERLINK("http://x.example","open")'}


def test_a_grid_monitor_sees_only_the_gaps_of_its_own_points(client, registry, db):  # noqa: F811
    person = add_person(db, "Li Wei")
    db.execute(
        "UPDATE grid_assignment SET person_id = %s WHERE hazard_point = '500113-HP-0002' AND role = 'monitor'",
        (person,),
    )
    monitor = bearer(create_token(db, name="monitor", role="grid_monitor", person_id=person))
    body = report(client, monitor)
    assert gaps(body) == {gap for gap in EXPECTED_GAPS if gap[2] == "500113-HP-0002"}
    assert [(c["county_code"], c["points"]) for c in body["data"]] == [("500113", 1)]


def test_the_report_needs_a_token(client):  # noqa: F811
    assert client.get(URL).status_code == 401
