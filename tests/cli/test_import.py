"""`geohazard import` as an agency meets it: a ledger in JSON or CSV, every bad row reported, all or nothing."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.cli import main
from tests.support import fetch
from tests.cli.test_cli import geohazard

SAMPLES = Path(__file__).parents[1] / "data" / "import"
TABLES = ("hazard_point", "device", "sensor", "person", "grid_assignment")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_import(database_url, monkeypatch, capsys):
    """`geohazard import ARGS` against this test's database, in this process (a subprocess costs seconds)."""
    monkeypatch.setenv("GEOHAZARD_DATABASE_URL", database_url)

    def run(*args) -> Result:
        try:
            code = main(["import", *map(str, args)])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


def counts(database_url: str) -> dict[str, int]:
    return {table: fetch(database_url, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}


NOTHING = dict.fromkeys(TABLES, 0)


def grid(database_url: str, point: str) -> dict[str, str]:
    return dict(
        fetch(
            database_url,
            "SELECT g.role, p.name FROM grid_assignment g JOIN person p ON p.id = g.person_id "
            "WHERE g.hazard_point = %s",
            point,
        )
    )


@pytest.fixture
def ledger(tmp_path):
    """A writable copy of the sample ledgers."""
    copy = tmp_path / "import"
    shutil.copytree(SAMPLES, copy)
    return copy


def test_a_good_json_ledger_imports_everything(run_import, database_url):
    result = run_import(SAMPLES / "registry.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts(database_url) == {"hazard_point": 2, "device": 3, "sensor": 5, "person": 4, "grid_assignment": 6}
    assert "imported 2 hazard points, 3 devices with 5 sensors, 4 people, 2 grids" in result.stdout
    assert "people: 4 of 4" in result.stdout
    # The grid by key (张三) and by phone (赵六, 13800000004); the roles left out are vacant.
    assert grid(database_url, "500113-HP-0102") == {"monitor": "张三", "county_admin": "赵六"}
    [(card, author)] = fetch(database_url, "SELECT card, created_by FROM hazard_point WHERE code = '500113-HP-0101'")
    assert card["shelter"] == "村委会广场"
    assert author.startswith("geohazard import by ")
    assert fetch(database_url, "SELECT thresholds FROM sensor WHERE code = 'CR-01'")[0][0]["velocity_mm_per_day"] == {
        "blue": 5,
        "yellow": 10,
        "orange": 20,
        "red": 50,
    }


def test_a_good_csv_directory_imports_everything(run_import, database_url):
    result = run_import(SAMPLES / "csv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert counts(database_url) == {"hazard_point": 3, "device": 3, "sensor": 5, "person": 4, "grid_assignment": 10}
    # Dotted columns fill nested fields, ';' separates a list, an empty cell is left out.
    assert fetch(database_url, "SELECT thresholds FROM sensor WHERE code = 'CR-01'")[0][0] == {
        "velocity_mm_per_day": {"yellow": 10, "red": 50},
        "displacement_mm": {"red": 400},
    }
    assert fetch(database_url, "SELECT roles FROM person WHERE name = '刘芳'") == [(["monitor", "area_lead"],)]
    assert fetch(
        database_url,
        "SELECT monitoring_plan ->> 'rainfall_may_exceed_orange', card ->> 'shelter', "
        "threatened_property_wan_yuan::float8 FROM hazard_point "
        "WHERE code = '500114-HP-0201'",
    ) == [("true", "镇中心小学操场", 420.0)]
    assert fetch(database_url, "SELECT accel_unit FROM device WHERE id = 'DEV-500114-0203'") == [("g",)]
    assert grid(database_url, "500114-HP-0202") == {
        "monitor": "刘芳",
        "resident_geologist": "孙强",
        "county_admin": "周丽",
    }


def sensors_of(database_url: str, device_id: str) -> list[tuple]:
    return fetch(database_url, "SELECT s.code, s.kind, s.reporting_interval_s, s.resolution_mm, d.protocol "
                               "FROM sensor s JOIN device d ON d.id = s.device_id WHERE d.id = %s ORDER BY s.code",
                 device_id)


def test_a_json_ledger_brings_resolutions_and_a_manual_device(run_import, database_url):
    assert run_import(SAMPLES / "registry.json").returncode == 0
    assert sensors_of(database_url, "DEV-500113-0102") == [("L1_QJ_1", "tilt", 600, 0.05, "universal")]
    assert sensors_of(database_url, "MAN-500113-0101") == [
        ("M1", "crack", 259200, 1.0, "manual"), ("M2", "crack", 259200, 1.0, "manual")]
    # A sensor without one keeps the kind's default.
    assert fetch(database_url, "SELECT resolution_mm FROM sensor WHERE code = 'CR-01'") == [(None,)]


def test_a_csv_ledger_brings_resolutions_and_a_manual_device(run_import, database_url):
    assert run_import(SAMPLES / "csv").returncode == 0
    assert sensors_of(database_url, "DEV-500114-0203") == [
        ("L1_JS_1", "accel", 60, None, "universal"), ("L1_SW_1", "deep", 1800, 0.5, "universal")]
    assert sensors_of(database_url, "MAN-500114-0202") == [("M1", "crack", 259200, 1.0, "manual")]


def test_a_bad_resolution_and_a_manual_gnss_are_bad_rows(run_import, database_url, tmp_path):
    shutil.copy(SAMPLES / "csv" / "points.csv", tmp_path)
    (tmp_path / "devices.csv").write_text("id,hazard_point,protocol\nGW-1,500114-HP-0201,native\n"
                                          "MAN-1,500114-HP-0202,manual\n")
    (tmp_path / "sensors.csv").write_text("device_id,code,kind,reporting_interval_s,resolution_mm\n"
                                          "GW-1,CR-01,crack,600,0\nGW-1,RG-01,rain,300,0.2\n"
                                          "MAN-1,M1,gnss,259200,\n")
    result = run_import(tmp_path)
    assert result.returncode == 1
    assert "sensors.csv row 2: resolution_mm: Input should be greater than 0 (given '0')" in result.stdout
    assert "sensors.csv row 3: resolution_mm: a rain sensor has no resolution" in result.stdout
    assert ("devices.csv row 3: sensors: sensor M1 is gnss; a manual device's sensors are marked cracks measured "
            "with a tape, kind crack") in result.stdout
    assert counts(database_url) == NOTHING


def test_three_bad_rows_are_all_reported_with_row_and_field_and_nothing_is_written(run_import, database_url):
    result = run_import(SAMPLES / "bad-rows")
    assert result.returncode == 1
    reported = [line for line in result.stdout.splitlines() if ".csv row " in line]
    assert [line.split(": ")[:2] for line in reported] == [
        ["people.csv row 4", "phone"],
        ["points.csv row 3", "lat"],
        ["sensors.csv row 4", "kind"],
    ]
    assert "(given 'laser')" in reported[2]
    assert "3 problems in 3 rows" in result.stderr and "nothing was written" in result.stderr
    assert counts(database_url) == NOTHING


def test_a_code_given_twice_in_the_ledger_is_a_bad_row(run_import, database_url, ledger):
    document = json.loads((ledger / "registry.json").read_text())
    document["hazard_points"][1]["code"] = document["hazard_points"][0]["code"]
    (ledger / "registry.json").write_text(json.dumps(document))
    result = run_import(ledger / "registry.json")
    assert result.returncode == 1
    assert (
        "registry.json hazard_points item 2: code: code 500113-HP-0101 is also on registry.json hazard_points item 1"
    ) in result.stdout
    assert counts(database_url) == NOTHING


def test_codes_already_registered_are_bad_rows(run_import, database_url):
    assert run_import(SAMPLES / "registry.json").returncode == 0
    before = counts(database_url)
    result = run_import(SAMPLES / "registry.json")
    assert result.returncode == 1
    assert "registry.json hazard_points item 1: code: hazard point 500113-HP-0101 already exists" in result.stdout
    assert "registry.json hazard_points item 1: devices[1].id: device GW-500113-0101 already exists" in result.stdout
    assert "registry.json people item 1: phone: phone 13800000001 is already registered to person" in result.stdout
    assert counts(database_url) == before


def test_a_dry_run_checks_everything_and_writes_nothing(run_import, database_url):
    result = run_import(SAMPLES / "csv", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dry run: 3 hazard points, 3 devices with 5 sensors, 4 people, 3 grids would be imported" in result.stdout
    assert counts(database_url) == NOTHING


def test_a_dry_run_of_a_bad_ledger_fails_like_the_import(run_import, database_url):
    result = run_import(SAMPLES / "bad-rows", "--dry-run")
    assert result.returncode == 1
    assert "3 problems in 3 rows" in result.stderr


def test_the_command_exits_non_zero_on_bad_rows(database_url):
    result = geohazard("import", str(SAMPLES / "bad-rows"), env={"GEOHAZARD_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert "people.csv row 4: phone:" in result.stdout
    assert "Traceback" not in result.stderr
    assert counts(database_url) == NOTHING


def test_errors_inside_a_json_point_name_their_path(run_import, database_url, ledger):
    document = json.loads((ledger / "registry.json").read_text())
    document["hazard_points"][0]["devices"][0]["sensors"][1]["kind"] = "rainfall"
    document["hazard_points"][0]["threatend_people"] = 41
    document["hazard_points"][1]["grid"]["area_lead"] = "nobody"
    (ledger / "registry.json").write_text(json.dumps(document))
    result = run_import(ledger / "registry.json")
    assert result.returncode == 1
    assert "registry.json hazard_points item 1: devices[1].sensors[2].kind: Input should be" in result.stdout
    assert "registry.json hazard_points item 1: threatend_people: unknown field" in result.stdout
    assert (
        "registry.json hazard_points item 2: grid.area_lead: no person with key or phone 'nobody' in this import "
        "or the registry"
    ) in result.stdout
    assert counts(database_url) == NOTHING


def test_a_grid_may_name_a_registered_person_by_phone(run_import, database_url, db, tmp_path):
    db.execute(
        "INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code) "
        "VALUES ('500113-HP-0042', 'slope', 'landslide', 'small', 106.5, 29.4, '500113')"
    )
    db.execute("INSERT INTO person (name, phone) VALUES ('Li Wei', '13700000042')")
    (tmp_path / "grid.csv").write_text("point,monitor\n500113-HP-0042,13700000042\n")
    result = run_import(tmp_path / "grid.csv")
    assert result.returncode == 0, result.stdout + result.stderr
    assert grid(database_url, "500113-HP-0042") == {"monitor": "Li Wei"}


def test_a_device_of_an_unknown_point_and_an_unknown_column_are_reported(run_import, database_url, tmp_path):
    (tmp_path / "devices.csv").write_text("id,hazard_point,protocol,colour\nGW-1,500113-HP-9999,native,red\n")
    result = run_import(tmp_path)
    assert result.returncode == 1
    assert "devices.csv row 1: colour: unknown column" in result.stdout
    assert (
        "devices.csv row 2: hazard_point: hazard point 500113-HP-9999 is neither in this import nor registered"
        in result.stdout
    )


def test_a_gbk_ledger_needs_its_encoding_named(run_import, database_url, tmp_path):
    points = (SAMPLES / "csv" / "points.csv").read_text(encoding="utf-8")
    (tmp_path / "points.csv").write_bytes(points.encode("gb18030"))
    result = run_import(tmp_path)
    assert result.returncode == 1
    assert "points.csv: not UTF-8 text" in result.stdout and "--encoding" in result.stdout
    assert run_import(tmp_path, "--encoding", "gb18030").returncode == 0
    assert fetch(database_url, "SELECT name FROM hazard_point WHERE code = '500114-HP-0201'") == [("龙潭沟泥石流",)]
