"""sql/schema.sql is the schema the migrations give, so that a migration's effect is reviewed in one diff."""

import difflib

import pytest

from sql import schema

from tests.conftest import SERVER_URL


def test_a_freshly_migrated_database_equals_the_schema_snapshot():
    if schema.pg_dump_path(SERVER_URL) is None:
        pytest.skip("pg_dump is not installed (PostgreSQL's client programs), so the schema cannot be dumped")
    committed = schema.SNAPSHOT.read_text(encoding="utf-8")
    migrated = schema.snapshot(SERVER_URL)
    diff = "".join(difflib.unified_diff(committed.splitlines(keepends=True), migrated.splitlines(keepends=True),
                                        "sql/schema.sql", "migrated"))
    assert not diff, f"the migrations give another schema: python -m sql.schema > sql/schema.sql\n{diff}"


def test_the_snapshot_leaves_out_what_pg_dump_says_besides_the_schema():
    function = "CREATE FUNCTION public.f() RETURNS trigger\n    AS $$\nBEGIN\n-- the body's own\n\n\nEND\n$$;\n"
    table = "CREATE TABLE public.t (\n    id bigint\n);\n"
    dump = (
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc123\n\n-- Dumped from database version 15.20\n\n"
        "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n\n"
        f"{function}\n\n--\n-- Name: t; Type: TABLE\n--\n\n{table}\n\\unrestrict abc123\n"
    )
    assert schema.normalise(dump) == f"{schema.HEADER}\n{function}\n{table}"
