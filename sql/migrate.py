"""Apply the numbered migrations in sql/migrations once each, in order, recording them."""

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import errors, sql

log = logging.getLogger(__name__)

# Any constant works as long as every geohazard process uses the same one: it serialises
# concurrent `geohazard migrate` runs against one database.
_ADVISORY_LOCK_ID = 0x6765_6F68  # "geoh"
_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
# A migration whose first line is this marker is a TimescaleDB step: applied only where the
# extension can be installed, and applied later if it becomes available.
TIMESCALEDB_MARKER = "-- requires: timescaledb"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def needs_timescaledb(self) -> bool:
        return self.sql.startswith(TIMESCALEDB_MARKER)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    migration: Migration
    status: str  # "applied", "already applied" or "skipped: <why>"


class MigrationError(RuntimeError):
    """A migration could not be applied; nothing of it was kept."""


def available_migrations() -> list[Migration]:
    """The migrations shipped in sql/migrations, in version order."""
    found = []
    for entry in resources.files("sql").joinpath("migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number: {versions}")
    return found


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL if it does not exist; True if it was created."""
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    name = info.get("dbname") or info.get("user") or "postgres"
    maintenance = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (errors.DuplicateDatabase, errors.UniqueViolation):
            return False  # another `migrate` created it a moment ago (the loser may see either error)
        log.info("created database %s", name)
        return True


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """True when the TimescaleDB extension is installed or can be installed in this database."""
    row = conn.execute(
        "SELECT installed_version IS NOT NULL OR "
        "  current_setting('shared_preload_libraries') LIKE '%%timescaledb%%' "
        "FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return bool(row and row[0])


def migrate(database_url: str, *, timescaledb: bool = True) -> list[Outcome]:
    """Bring the database up to date; safe to run twice and from two processes at once.

    `timescaledb=False` leaves the TimescaleDB steps out even where the extension is available (the schema
    snapshot, sql/schema.sql, is of plain PostgreSQL).
    """
    ensure_database(database_url)
    outcomes = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migration ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = dict(conn.execute("SELECT version, checksum FROM schema_migration").fetchall())
            timescale = timescaledb and timescaledb_available(conn)
            for migration in available_migrations():
                outcomes.append(_apply(conn, migration, applied, timescale))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))
    return outcomes


def _apply(conn: psycopg.Connection, migration: Migration, applied: dict, timescale: bool) -> Outcome:
    label = f"{migration.version:04d}_{migration.name}"
    if migration.version in applied:
        if applied[migration.version] != migration.checksum:
            log.warning("%s was changed after it was applied; migrations are forward-only, add a new one", label)
        return Outcome(migration, "already applied")
    if migration.needs_timescaledb and not timescale:
        return Outcome(migration, "skipped: TimescaleDB is not available here, plain tables are used")
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migration (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    except psycopg.Error as exc:
        raise MigrationError(f"migration {label} failed and was rolled back: {exc}") from exc
    log.info("applied migration %s", label)
    return Outcome(migration, "applied")
