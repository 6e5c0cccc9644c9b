"""The `geohazard` command as an operator meets it: help, readable errors, tokens, and the demo."""

import os
import re
import socket
import subprocess
import sys
import uuid

import pytest

from service.console.accounts import HASHER
from tests.console.test_phones_page import activate_phone, phone_user_of
from tests.support import fetch

SUBCOMMANDS = ("migrate", "serve", "ingest", "engine", "webhook", "replay", "simulate", "demo", "token", "quarantine", "acl",
               "command", "import", "login", "phone")


def geohazard(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "service.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=timeout)


def test_help_lists_every_subcommand():
    result = geohazard("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_explains_itself(name):
    result = geohazard(name, "--help")
    assert result.returncode == 0
    assert len(result.stdout.splitlines()) > 3


def test_acl_help_says_a_device_can_still_name_another_in_its_dp_frames():
    text = " ".join(geohazard("acl", "--help").stdout.split())
    assert "can still send frames naming another universal device" in text and "Manual devices" in text


def test_an_unreachable_database_is_named_with_how_to_start_it():
    result = geohazard("migrate", env={"GEOHAZARD_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"})
    assert result.returncode == 1
    assert "cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/nowhere" in result.stderr
    assert "pg_ctlcluster" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_setting_names_the_variable():
    result = geohazard("migrate", env={"GEOHAZARD_MQTT_URL": "http://broker"})
    assert result.returncode == 2
    assert "GEOHAZARD_MQTT_URL" in result.stderr


def test_a_database_without_schema_asks_for_migrate(empty_database_url):
    # The server answers but the database does not exist yet.
    result = geohazard("engine", env={"GEOHAZARD_DATABASE_URL": empty_database_url})
    assert result.returncode == 1
    assert "geohazard migrate" in result.stderr


def test_token_create_prints_a_token_stored_only_as_a_hash(database_url):
    result = geohazard("token", "create", "--role", "viewer", "--name", "wall screen",
                       env={"GEOHAZARD_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert len(token) >= 32
    rows = fetch(database_url, "SELECT name, role, token_hash FROM api_token")
    assert [(name, role) for name, role, _ in rows] == [("wall screen", "viewer")]
    assert token.encode() not in bytes(rows[0][2])


def test_a_grid_monitor_token_without_a_person_is_refused_readably(database_url):
    result = geohazard("token", "create", "--role", "grid_monitor", "--name", "x",
                       env={"GEOHAZARD_DATABASE_URL": database_url})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_demo_shows_warnings_within_two_minutes(database_url, topic_root):
    env = {"GEOHAZARD_DATABASE_URL": database_url, "GEOHAZARD_TOPIC_ROOT": topic_root,
           "GEOHAZARD_INGEST_CLIENT_ID": f"demo-ingest-{uuid.uuid4().hex[:8]}"}
    result = geohazard("demo", "--port", str(_free_port()), "--duration-s", "45", "--engine-interval-s", "5",
                       env=env, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Admin token:" in result.stdout
    # The console's administrator signs in with the phone and the temporary password the demo printed.
    phone, password = re.search(r"phone (\d+), temporary\s+password (\S+);", result.stdout).groups()
    (stored, role), = fetch(database_url, "SELECT password_hash, role FROM console_login WHERE phone = %s", phone)
    assert role == "admin" and HASHER.verify(stored, password)
    # The link printed for the phone app activates a phone of the seeded grid monitor it names.
    link, monitor = re.search(r"Phone app: +(\S+)\s+\(activates one phone, once, as the grid monitor (\S+)\)",
                              result.stdout).groups()
    assert link.startswith("http://127.0.0.1:") and monitor == "张德福"
    session = activate_phone(database_url, link.rsplit("code=", 1)[1])
    assert phone_user_of(database_url, session).name == "张德福"
    # The simulated slope accelerates towards failure a few hours ahead: the counted failure forecast makes it red.
    assert re.search(r">>> RED +deformation alert", result.stdout)
    assert ">>> ORANGE rainfall alert" in result.stdout
    alerts = {(point, kind): level for point, kind, level in
              fetch(database_url, "SELECT hazard_point, type, level FROM alert WHERE state = 'open'")}
    # The universal device's tilt meter is stuck: its readings are flagged, so it has no data.
    assert alerts == {("500113-HP-0002", "deformation"): "red", ("500113-HP-0003", "rainfall"): "orange",
                      ("500113-HP-0004", "device"): "blue"}
    # Every write records its author, the seeded registry's too.
    assert fetch(database_url, "SELECT DISTINCT created_by FROM hazard_point UNION SELECT DISTINCT created_by "
                               "FROM device UNION SELECT DISTINCT created_by FROM person UNION "
                               "SELECT DISTINCT assigned_by FROM grid_assignment") == [("geohazard demo",)]
