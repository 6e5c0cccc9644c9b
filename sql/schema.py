"""The schema the migrations give, as sql/schema.sql holds it: `python -m sql.schema > sql/schema.sql`.

A scratch database is created on the server (from template0, so nothing a server adds to template1 comes
along), migrated with the TimescaleDB step left out, dumped with pg_dump --schema-only and dropped. The dump is
normalised so that it changes only when the schema does: no comment lines (pg_dump's carry its version), no
session settings, no `\\restrict` keys (random each run), no owners or privileges. pg_dump prints objects in a
stable order (by kind, then name). The server is the one of the URL given, else of GEOHAZARD_DATABASE_URL.
"""

import os
import re
import shutil
import subprocess
import sys
import uuid
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql

from sql.migrate import migrate

SNAPSHOT = resources.files(__package__).joinpath("schema.sql")
# The settings' default database, whose server the snapshot is made on when no URL is given.
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/geohazard"
HEADER = """\
-- The schema that sql/migrations give on PostgreSQL without TimescaleDB (0004_timescaledb left out), as
-- pg_dump --schema-only prints it, normalised. Generated, not edited: python -m sql.schema > sql/schema.sql
"""
PG_DUMP_OPTIONS = ("--schema-only", "--no-owner", "--no-privileges", "--no-tablespaces")
# What pg_dump prints besides the schema: comments, session settings, the search path, the restrict keys.
_DOLLAR_QUOTE = re.compile(r"\$\w*\$")
_NOISE = re.compile(r"^(--.*|SET \w+ = .*;|SELECT pg_catalog\.set_config\('search_path', '', false\);"
                    r"|\\(un)?restrict .*)$")


def pg_dump_path(server_url: str) -> str | None:
    """The pg_dump of the server's major version where PostgreSQL's Debian layout has it, else the one on PATH."""
    with psycopg.connect(_maintenance(server_url), autocommit=True) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10_000
    versioned = Path(f"/usr/lib/postgresql/{major}/bin/pg_dump")
    return str(versioned) if versioned.exists() else shutil.which("pg_dump")


def normalise(dump: str) -> str:
    """The dump without what changes from run to run or says nothing of the schema, blank lines single; a
    function's body (between dollar quotes) is kept as it is."""
    kept: list[str] = []
    in_body = False
    for line in dump.splitlines():
        noise = _NOISE.match(line) or (not line and (not kept or not kept[-1]))  # or a second blank line
        if in_body or not noise:
            kept.append(line)
        in_body ^= len(_DOLLAR_QUOTE.findall(line)) % 2 == 1
    return HEADER + "\n" + "\n".join(kept).strip() + "\n"


def snapshot(server_url: str) -> str:
    """The normalised schema of a database freshly migrated on the server of `server_url`."""
    pg_dump = pg_dump_path(server_url)
    if pg_dump is None:
        raise FileNotFoundError("pg_dump is not installed (PostgreSQL's client programs)")
    name = f"geohazard_schema_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_maintenance(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
        migrate(url, timescaledb=False)
        dump = subprocess.run([pg_dump, *PG_DUMP_OPTIONS, f"--dbname={url}"], check=True, capture_output=True,
                              text=True).stdout
    finally:
        with psycopg.connect(_maintenance(server_url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return normalise(dump)


def _maintenance(server_url: str) -> str:
    """The server's `postgres` database: the URL's own may not exist yet."""
    return psycopg.conninfo.make_conninfo(server_url, dbname="postgres")


if __name__ == "__main__":
    sys.stdout.write(snapshot(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GEOHAZARD_DATABASE_URL",
                                                                                     DEFAULT_URL)))
