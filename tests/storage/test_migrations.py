"""`geohazard migrate`: sql.migrate.migrate() against a real PostgreSQL server.

Covers creating a missing database, re-running (nothing applied, schema unchanged), two concurrent
runs, the plain-PostgreSQL fallback when TimescaleDB is missing, and (marked `timescaledb`) the
TimescaleDB step itself, which is skipped with a reason on servers without the extension.
"""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sql import migrate as migrate_module
from sql.migrate import available_migrations, migrate, timescaledb_available

from tests.conftest import SERVER_URL

TIMESCALEDB_MISSING = "TimescaleDB extension not available on this server"
T0 = datetime(2024, 7, 1, 0, 0, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------------------


def _dbname(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]


def _database_exists(url: str) -> bool:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_dbname(url),)).fetchone()
    return row is not None


def _server_has_timescaledb() -> bool:
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        return timescaledb_available(conn)


@pytest.fixture(scope="session")
def timescaledb_on_server() -> bool:
    return _server_has_timescaledb()


@pytest.fixture
def needs_timescaledb(timescaledb_on_server):
    if not timescaledb_on_server:
        pytest.skip(TIMESCALEDB_MISSING)


def _rows(conn: psycopg.Connection, query: str) -> list[tuple]:
    return [tuple(row) for row in conn.execute(query).fetchall()]


def _schema(url: str) -> dict[str, list[tuple]]:
    """Everything a migration can change in the public schema, in a stable order."""
    with psycopg.connect(url, autocommit=True) as conn:
        return {
            "tables": _rows(
                conn,
                "SELECT table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name",
            ),
            "columns": _rows(
                conn,
                "SELECT table_name, column_name, ordinal_position, data_type, udt_name, "
                "       character_maximum_length, numeric_precision, is_nullable, column_default, "
                "       is_identity, identity_generation, is_generated "
                "FROM information_schema.columns WHERE table_schema = 'public' "
                "ORDER BY table_name, ordinal_position",
            ),
            "indexes": _rows(
                conn,
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = 'public' ORDER BY tablename, indexname",
            ),
            "constraints": _rows(
                conn,
                "SELECT cl.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) "
                "FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid "
                "JOIN pg_namespace n ON n.oid = cl.relnamespace "
                "WHERE n.nspname = 'public' ORDER BY cl.relname, con.conname",
            ),
            "views": _rows(
                conn,
                "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY viewname",
            ),
            "materialized_views": _rows(
                conn,
                "SELECT matviewname, definition FROM pg_matviews WHERE schemaname = 'public' "
                "ORDER BY matviewname",
            ),
            "relations": _rows(
                conn,
                "SELECT cl.relname, cl.relkind FROM pg_class cl "
                "JOIN pg_namespace n ON n.oid = cl.relnamespace "
                "WHERE n.nspname = 'public' ORDER BY cl.relname",
            ),
            "extensions": _rows(conn, "SELECT extname, extversion FROM pg_extension ORDER BY extname"),
            "recorded": _rows(conn, "SELECT version, name, checksum FROM schema_migration ORDER BY version"),
        }


def _statuses(outcomes) -> dict[int, str]:
    return {o.migration.version: o.status for o in outcomes}


def _reading(device, sensor, ts, value, kind="rain", quality=()):
    return (device, sensor, ts, kind, value, list(quality))


def _insert_readings(conn: psycopg.Connection, rows) -> int:
    """Insert the way ingest does (redelivery never duplicates); returns how many rows were new."""
    with conn.cursor() as cur:
        inserted = 0
        for row in rows:
            cur.execute(
                "INSERT INTO reading (device_id, sensor_code, ts, kind, value, quality) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                row,
            )
            inserted += cur.rowcount
    return inserted


# Two hours of a rain gauge, plus readings rain_hourly must leave out.
RAIN = [
    _reading("G1", "R1", T0 + timedelta(minutes=10), 1.5),
    _reading("G1", "R1", T0 + timedelta(minutes=20), 2.0),
    _reading("G1", "R1", T0 + timedelta(minutes=50), 0.5),
    _reading("G1", "R1", T0 + timedelta(minutes=30), 99.0, quality=["spike"]),  # flagged: left out
    _reading("G1", "R1", T0 + timedelta(hours=1, minutes=5), 4.0),
    _reading("G1", "C1", T0 + timedelta(minutes=10), 12.3, kind="crack"),  # not rain: left out
    _reading("G2", "R1", T0 + timedelta(minutes=15), 0.2),
]
RAIN_HOURLY = [
    ("G1", "R1", T0, 4.0, 3),
    ("G1", "R1", T0 + timedelta(hours=1), 4.0, 1),
    ("G2", "R1", T0, 0.2, 1),
]


def _rain_hourly(conn: psycopg.Connection) -> list[tuple]:
    return _rows(
        conn,
        "SELECT device_id, sensor_code, bucket, rain_mm, readings FROM rain_hourly "
        "ORDER BY device_id, sensor_code, bucket",
    )


def _check_dedup_and_rain(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        assert _insert_readings(conn, RAIN) == len(RAIN)
        # MQTT QoS 1 redelivers: the same readings again store nothing.
        assert _insert_readings(conn, RAIN) == 0
        assert _insert_readings(conn, [_reading("G1", "R1", T0 + timedelta(minutes=10), 7.0)]) == 0
        assert conn.execute("SELECT count(*) FROM reading").fetchone()[0] == len(RAIN)
        assert _rain_hourly(conn) == RAIN_HOURLY


# --- (a) create, apply, re-apply -------------------------------------------------------------------


def test_migrate_creates_database_and_applies_everything_once(empty_database_url, timescaledb_on_server):
    shipped = available_migrations()
    versions = [m.version for m in shipped]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert {1, 2, 3, 4} <= set(versions)
    assert next(m for m in shipped if m.version == 4).needs_timescaledb
    assert not _database_exists(empty_database_url)

    first = _statuses(migrate(empty_database_url))

    assert _database_exists(empty_database_url)
    assert set(first) == set(versions)
    for migration in shipped:
        if migration.needs_timescaledb and not timescaledb_on_server:
            assert first[migration.version].startswith("skipped"), first
        else:
            assert first[migration.version] == "applied", first
    before = _schema(empty_database_url)
    expected_recorded = [
        (m.version, m.name, m.checksum)
        for m in shipped
        if timescaledb_on_server or not m.needs_timescaledb
    ]
    assert before["recorded"] == expected_recorded
    assert ("reading", "BASE TABLE") in before["tables"]

    second = _statuses(migrate(empty_database_url))

    assert "applied" not in second.values(), second
    for migration in shipped:
        expected = first[migration.version]
        assert second[migration.version] == ("already applied" if expected == "applied" else expected)
    after = _schema(empty_database_url)
    for part in before:
        assert after[part] == before[part], part


# --- (b) two at once -------------------------------------------------------------------------------


def test_concurrent_migrate_on_new_database(empty_database_url, timescaledb_on_server):
    barrier = threading.Barrier(2)
    results: dict[int, object] = {}

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[slot] = migrate(empty_database_url)
        except Exception as exc:  # reported below, with the thread it came from
            results[slot] = exc

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a migrate() call hung"

    errors = {slot: r for slot, r in results.items() if isinstance(r, BaseException)}
    assert not errors, errors
    runs = [_statuses(results[0]), _statuses(results[1])]

    shipped = available_migrations()
    for migration in shipped:
        pair = sorted(run[migration.version] for run in runs)
        if migration.needs_timescaledb and not timescaledb_on_server:
            assert all(status.startswith("skipped") for status in pair), pair
        else:
            # The advisory lock serialises the two: one applies, the other finds it applied.
            assert pair == ["already applied", "applied"], (migration.version, pair)

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        recorded = _rows(conn, "SELECT version, count(*) FROM schema_migration GROUP BY version ORDER BY 1")
    expected = [(m.version, 1) for m in shipped if timescaledb_on_server or not m.needs_timescaledb]
    assert recorded == expected


# --- (c) plain PostgreSQL ----------------------------------------------------------------------------


def test_without_timescaledb_readings_are_a_plain_table(database_url, timescaledb_on_server):
    if timescaledb_on_server:
        pytest.skip(
            "TimescaleDB is installed on this server; the fallback is covered by "
            "test_timescaledb_step_applied_later_keeps_readings"
        )

    # The 0004 step is reported as skipped, again on every run, and never recorded.
    statuses = _statuses(migrate(database_url))
    assert statuses[4].startswith("skipped"), statuses
    assert "TimescaleDB" in statuses[4]
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migration WHERE version = 4").fetchone()[0] == 0
        installed = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
        assert installed.fetchone()[0] == 0
        kinds = dict(
            _rows(
                conn,
                "SELECT relname, relkind FROM pg_class "
                "WHERE relname IN ('reading', 'rain_hourly') AND relnamespace = 'public'::regnamespace",
            )
        )
    assert kinds == {"reading": "r", "rain_hourly": "v"}  # an ordinary table and an ordinary view

    _check_dedup_and_rain(database_url)


# --- (d) TimescaleDB ---------------------------------------------------------------------------------


@pytest.mark.timescaledb
def test_timescaledb_hypertable_policies_and_continuous_aggregate(needs_timescaledb, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_migration WHERE version = 4").fetchone()

        hypertable = conn.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'public' AND hypertable_name = 'reading'"
        ).fetchone()
        assert hypertable is not None, "reading is not a hypertable"
        assert hypertable[0] is True

        dimension = conn.execute(
            "SELECT column_name, time_interval FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'reading'"
        ).fetchall()
        assert dimension == [("ts", timedelta(days=7))]

        segmentby, orderby = conn.execute(
            "SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings "
            "WHERE hypertable = 'reading'::regclass"
        ).fetchone()
        assert [c.strip() for c in segmentby.split(",")] == ["device_id", "sensor_code"]
        assert " ".join(orderby.split()).lower().startswith("ts desc"), orderby

        def job(proc_name: str, relation: str | list[str], key: str, interval: str | None):
            row = conn.execute(
                "SELECT (config->>%s)::interval IS NOT DISTINCT FROM %s::interval "
                "FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = ANY(%s::text[])",
                (key, interval, proc_name, [relation] if isinstance(relation, str) else relation),
            ).fetchall()
            assert row == [(True,)], (proc_name, relation, key, interval, row)

        job("policy_compression", "reading", "compress_after", "7 days")
        job("policy_retention", "reading", "drop_after", "3650 days")

        cagg = conn.execute(
            "SELECT materialized_only, materialization_hypertable_name "
            "FROM timescaledb_information.continuous_aggregates "
            "WHERE view_schema = 'public' AND view_name = 'rain_hourly'"
        ).fetchone()
        assert cagg is not None, "rain_hourly is not a continuous aggregate"
        assert cagg[0] is False  # real-time: the current hour is visible before it is materialised
        # Since TimescaleDB 2.20 the jobs view names the continuous aggregate itself, before it its
        # materialization hypertable.
        refreshed = ["rain_hourly", cagg[1]]
        job("policy_refresh_continuous_aggregate", refreshed, "start_offset", None)
        job("policy_refresh_continuous_aggregate", refreshed, "end_offset", "1 hour")

        columns = _rows(
            conn,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'rain_hourly' ORDER BY ordinal_position",
        )
    assert columns == [
        ("device_id", "text"),
        ("sensor_code", "text"),
        ("bucket", "timestamp with time zone"),
        ("rain_mm", "double precision"),
        ("readings", "bigint"),
    ]

    _check_dedup_and_rain(database_url)


@pytest.mark.timescaledb
def test_timescaledb_step_applied_later_keeps_readings(needs_timescaledb, empty_database_url, monkeypatch):
    # First as on a server without the extension: 0004 skipped, readings in a plain table.
    with monkeypatch.context() as patched:
        patched.setattr(migrate_module, "timescaledb_available", lambda conn: False)
        statuses = _statuses(migrate(empty_database_url))
    assert statuses[4].startswith("skipped"), statuses
    _check_dedup_and_rain(empty_database_url)

    # Then the extension "appears": 0004 runs on a table that already holds readings.
    statuses = _statuses(migrate(empty_database_url))
    assert statuses[4] == "applied", statuses
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'reading'"
        ).fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM reading").fetchone()[0] == len(RAIN)
        assert conn.execute("SELECT count(*) FROM ONLY reading").fetchone()[0] == 0  # all moved to chunks
        assert _rain_hourly(conn) == RAIN_HOURLY
        assert _insert_readings(conn, RAIN) == 0
