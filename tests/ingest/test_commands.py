"""Downlink commands (SPEC 2.1, 2.2) against the real database and broker: sent, recorded, answered.

Universal command topics (`$creq/<deviceId>/...`) are not under the test's topic root, so every test
gives its universal device an id of its own.
"""

import argparse
import json
import uuid

import paho.mqtt.client as mqtt
import psycopg
import pytest

from ingest.commands import record_answer
from runtime.checks import NotReady
from runtime.commands import CommandNotSent, UnknownDevice, send_command
from service.cli import command as command_cli
from tests.support import Subscriber, fetch, register, wait_until

GATEWAY = "GW-500113-0001"
POINT = "500113-HP-0042"
SETSENSORTIME = {"sensor_id": "L1_LF_1", "sample_intv": "60", "upload_intv": "60", "plus_intv": "60"}


@pytest.fixture
def device(database_url):
    """A universal device with an id no other test uses, at the same point as the native gateway."""
    register(database_url, point=POINT, gateway=GATEWAY)
    device_id = f"UD-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'universal')",
                     (device_id, POINT))
    return device_id


@pytest.fixture
def conn(db):
    return db


@pytest.fixture
def client(settings):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-cmd-{uuid.uuid4().hex[:8]}")
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def _send(conn, client, settings, device_id, name="setsensortime", params=SETSENSORTIME):
    return send_command(conn, client, settings=settings, device_id=device_id, name=name, params=params,
                        sent_by="test")


def _command(database_url, command_id):
    rows = fetch(database_url, "SELECT device_id, name, params, payload, topic, sent_by, answer, result, "
                               "answered_at FROM device_command WHERE command_id = %s", command_id)
    return rows[0] if rows else None


# --- sending -----------------------------------------------------------------------------------


def test_a_universal_device_gets_the_ascii_command_on_creq_with_the_command_id(settings, conn, client, device):
    subscriber = Subscriber(settings, f"$creq/{device}/+")
    try:
        command_id = _send(conn, client, settings, device)
        message = wait_until(lambda: subscriber.messages and subscriber.messages[0], what="the command")
    finally:
        subscriber.close()
    assert message.topic == f"$creq/{device}/{command_id}"
    assert message.payload == b"$cmd=setsensortime&sensor_id=L1_LF_1&sample_intv=60&upload_intv=60&plus_intv=60"


def test_a_native_gateway_gets_the_json_command_on_its_cmd_topic(settings, conn, client, device):
    subscriber = Subscriber(settings, f"{settings.topic_root}/gateways/{GATEWAY}/cmd")
    try:
        command_id = _send(conn, client, settings, GATEWAY, "getstatus", {})
        message = wait_until(lambda: subscriber.messages and subscriber.messages[0], what="the command")
    finally:
        subscriber.close()
    assert json.loads(message.payload) == {"command_id": command_id, "cmd": "getstatus"}


def test_a_sent_command_is_recorded_with_what_was_published_and_where(settings, conn, client, device):
    command_id = _send(conn, client, settings, device)
    device_id, name, params, payload, topic, sent_by, answer, result, _ = _command(settings.database_url, command_id)
    assert (device_id, name, topic, sent_by) == (device, "setsensortime", f"$creq/{device}/{command_id}", "test")
    assert params == {"sensor_id": "L1_LF_1", "sample_intv": 60, "upload_intv": 60, "plus_intv": 60}
    assert payload.startswith("$cmd=setsensortime&") and (answer, result) == (None, None)


def test_a_command_for_an_unregistered_device_is_refused_and_not_recorded(settings, conn, client, device):
    with pytest.raises(UnknownDevice, match="no device 'GW-NOBODY' is registered"):
        _send(conn, client, settings, "GW-NOBODY", "getstatus", {})
    assert fetch(settings.database_url, "SELECT count(*) FROM device_command") == [(0,)]


def test_a_command_with_bad_parameters_is_refused_and_not_recorded(settings, conn, client, device):
    with pytest.raises(ValueError, match="sample_intv"):
        _send(conn, client, settings, device, params={**SETSENSORTIME, "sample_intv": "-5"})
    assert fetch(settings.database_url, "SELECT count(*) FROM device_command") == [(0,)]


def test_a_manual_device_takes_no_command_and_none_is_recorded(settings, conn, client, device):
    conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('MAN-01', %s, 'manual')", (POINT,))
    with pytest.raises(ValueError, match="MAN-01 is a manual device"):
        _send(conn, client, settings, "MAN-01", "getstatus", {})
    assert fetch(settings.database_url, "SELECT count(*) FROM device_command") == [(0,)]


def test_a_command_through_a_disconnected_client_is_refused_and_not_recorded(settings, conn, device):
    offline = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # never connected
    # Refused up front: paho would otherwise queue it and send it after reconnecting, unrecorded.
    with pytest.raises(CommandNotSent, match="is not connected"):
        _send(conn, offline, settings, device, "getstatus", {})
    assert fetch(settings.database_url, "SELECT count(*) FROM device_command") == [(0,)]


# --- answers -----------------------------------------------------------------------------------


def test_a_universal_answer_is_recorded_with_its_command(settings, conn, client, device):
    command_id = _send(conn, client, settings, device)
    recorded = record_answer(conn, topic=f"$crsp/{device}/{command_id}", payload=b"$cmd=setsensortime&result=succ",
                             topic_root=settings.topic_root)
    assert recorded
    *_, answer, result, answered_at = _command(settings.database_url, command_id)
    assert (answer, result) == ("$cmd=setsensortime&result=succ", "succ") and answered_at is not None


def test_a_native_answer_is_recorded_with_its_command(settings, conn, client, device):
    command_id = _send(conn, client, settings, GATEWAY, "getstatus", {})
    payload = json.dumps({"command_id": command_id, "cmd": "getstatus", "result": "fail"}).encode()
    assert record_answer(conn, topic=f"{settings.topic_root}/gateways/{GATEWAY}/cmd/result", payload=payload,
                         topic_root=settings.topic_root)
    assert _command(settings.database_url, command_id)[7] == "fail"


def test_an_answer_to_an_unknown_command_is_not_recorded(settings, conn, device):
    assert not record_answer(conn, topic=f"$crsp/{device}/{uuid.uuid4().hex}", payload=b"$cmd=getstatus&result=succ",
                             topic_root=settings.topic_root)


def test_a_device_cannot_answer_another_device_s_command(settings, conn, client, device):
    command_id = _send(conn, client, settings, device, "getstatus", {})
    assert not record_answer(conn, topic=f"$crsp/UD-OTHER/{command_id}", payload=b"$cmd=getstatus&result=succ",
                             topic_root=settings.topic_root)
    assert _command(settings.database_url, command_id)[6] is None


def test_an_unreadable_answer_is_kept_without_a_result(settings, conn, client, device):
    command_id = _send(conn, client, settings, device, "getstatus", {})
    assert record_answer(conn, topic=f"$crsp/{device}/{command_id}", payload=b"$cmd=getstatus&result=ok\x00",
                         topic_root=settings.topic_root)
    *_, answer, result, answered_at = _command(settings.database_url, command_id)
    assert (answer, result) == ("$cmd=getstatus&result=ok\\x00", None) and answered_at is not None


def test_an_answer_naming_another_command_is_kept_without_a_result(settings, conn, client, device):
    command_id = _send(conn, client, settings, device, "getstatus", {})
    assert record_answer(conn, topic=f"$crsp/{device}/{command_id}", payload=b"$cmd=settime&result=succ",
                         topic_root=settings.topic_root)
    assert _command(settings.database_url, command_id)[6:8] == ("$cmd=settime&result=succ", None)


# --- `geohazard command` -----------------------------------------------------------------------


def _run(settings, *argv):
    parser = argparse.ArgumentParser(prog="geohazard")
    command_cli.add_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["command", *argv])
    args.func(settings, args)


def test_the_command_subcommand_sends_and_prints_the_command_id(settings, device, capsys):
    _run(settings, device, "getstatus")
    command_id = capsys.readouterr().out.strip()
    assert _command(settings.database_url, command_id)[:2] == (device, "getstatus")


def test_the_command_subcommand_lists_commands_with_their_answers(settings, conn, client, device, capsys):
    command_id = _send(conn, client, settings, device)
    record_answer(conn, topic=f"$crsp/{device}/{command_id}", payload=b"$cmd=setsensortime&result=fail",
                  topic_root=settings.topic_root)
    _run(settings, "--list", device)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("sent_at\tcommand_id")
    assert f"\t{command_id}\tsetsensortime sensor_id=L1_LF_1&sample_intv=60" in lines[1]
    assert "\tfail\t" in lines[1]


def test_the_command_subcommand_explains_bad_parameters(settings, device):
    with pytest.raises(NotReady, match="settime: missing server"):
        _run(settings, device, "settime")
