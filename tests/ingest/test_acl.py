"""`geohazard acl` (SPEC 2.4): the generated listeners, password files and ACL, checked with a real Mosquitto.

Each test that needs the broker starts its own `mosquitto` (tests/servers.py: the shipped mosquitto.conf
with the files just generated as its conf.d) on free loopback ports, and connects real clients to it: what
a device may publish arrives, what it may not never does. Mosquitto drops a forbidden publish silently (the
publisher still gets its PUBACK), so each forbidden publish is followed by an allowed one, and once that one
has arrived the forbidden one is known not to have.
"""

import argparse
import csv
import os
import shutil
import stat
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest

from ingest import acl
from ingest.acl import ACL, BROKER_CONF, DEVICE_PASSWORDS, SERVICE_PASSWORDS, AclError, generate, password_matches
from service.cli import acl as acl_cli
from tests.servers import TempMosquitto, accepts_connections, free_port
from tests.support import WAIT_S, fetch, register, wait_until

POINT = "500113-HP-0042"
SERVICE_USER = "geohazard"
SERVICE_PASSWORD = "a-service-password-for-tests"
INGEST_USER = "geohazard-ingest"
INGEST_PASSWORD = "an-ingest-password-for-tests"
NATIVE_GATEWAYS = ("GW-A", "GW-B")
UNIVERSAL_DEVICES = ("UD-A", "UD-B")
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
FILES = (BROKER_CONF, DEVICE_PASSWORDS, SERVICE_PASSWORDS, ACL)


@dataclass(frozen=True)
class Files:
    config_dir: Path
    credentials: Path

    def __getitem__(self, name: str) -> Path:
        return self.config_dir / name


@dataclass(frozen=True)
class Ports:
    devices: int
    services: int


@pytest.fixture
def ports():
    return Ports(free_port(), free_port())


@pytest.fixture
def acl_settings(settings, ports):
    """The test's settings with the service and ingest accounts, pointing at the test broker's services' port."""
    return settings.model_copy(update={
        "mqtt_url": f"mqtt://{SERVICE_USER}:{SERVICE_PASSWORD}@127.0.0.1:{ports.services}",
        "ingest_mqtt_url": f"mqtt://{INGEST_USER}:{INGEST_PASSWORD}@127.0.0.1:{ports.services}"})


@pytest.fixture
def registry(database_url):
    """Two native gateways and two universal devices at one hazard point."""
    register(database_url, point=POINT, gateway=NATIVE_GATEWAYS[0])
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'native')",
                     (NATIVE_GATEWAYS[1], POINT))
        for device_id in UNIVERSAL_DEVICES:
            conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'universal')",
                         (device_id, POINT))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "conf.d").mkdir()
    return Files(tmp_path / "conf.d", tmp_path / "credentials.csv")


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def _generate(conn, settings, files, ports=None, *, credentials=None, rotate=()):
    return generate(conn, settings=settings, config_dir=files.config_dir,
                    device_port=ports.devices if ports else acl.DEVICE_PORT, credentials_out=credentials, rotate=rotate)


def _credentials(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        return {row["device_id"]: row["mqtt_password"] for row in csv.DictReader(f)}


def _hashes(database_url) -> dict[str, str | None]:
    return dict(fetch(database_url, "SELECT id, mqtt_password_hash FROM device"))


# --- the broker --------------------------------------------------------------------------------


@dataclass
class Broker:
    ports: Ports
    passwords: dict[str, str]


@pytest.fixture
def broker(conn, acl_settings, files, registry, ports):
    """A Mosquitto of this test's own, loaded with freshly generated files; the devices' passwords."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed")
    _generate(conn, acl_settings, files, ports, credentials=files.credentials)
    with TempMosquitto(include_dir=files.config_dir) as mosquitto:
        wait_until(lambda: accepts_connections(ports.services), what="the services' listener")
        passwords = _credentials(files.credentials) | {SERVICE_USER: SERVICE_PASSWORD, INGEST_USER: INGEST_PASSWORD}
        yield Broker(ports, passwords)


class Client:
    """A real MQTT client logged in to the test broker; collects what it receives."""

    def __init__(self, port: int, username: str, password: str, *, subscribe: tuple[str, ...] = (),
                 client_id: str | None = None):
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.reason = None
        self.disconnections = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"{username}-{uuid.uuid4().hex[:6]}")
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        self._subscribe = subscribe
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(WAIT_S), f"{username}: no CONNACK/SUBACK within {WAIT_S}s"

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason = reason_code
        if reason_code.is_failure or not self._subscribe:
            self._ready.set()
        else:
            client.subscribe([(topic, 1) for topic in self._subscribe])

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnections += 1

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append((message.topic, message.payload))

    @property
    def refused(self) -> bool:
        return self.reason is not None and self.reason.is_failure

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(WAIT_S)

    def received(self, topic: str, payload: bytes) -> bool:
        with self._lock:
            return (topic, payload) in self.messages

    def wait_for(self, topic: str, payload: bytes) -> None:
        wait_until(lambda: self.received(topic, payload), what=f"{payload!r} on {topic}")

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(broker):
    """Opens clients on the test broker (services on theirs, devices on theirs) and closes them at the end."""
    opened = []

    def open_client(username, password=None, *, subscribe=(), client_id=None, port=None):
        if port is None:
            port = broker.ports.services if username in (SERVICE_USER, INGEST_USER) else broker.ports.devices
        client = Client(port, username, broker.passwords[username] if password is None else password,
                        subscribe=subscribe, client_id=client_id)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


@pytest.fixture
def service(clients):
    """The service account, subscribed to everything the devices publish."""
    return clients(SERVICE_USER, SERVICE_PASSWORD, subscribe=("#", "$dp", "$crsp/#"))


# --- what each account may do ------------------------------------------------------------------


def test_a_gateway_can_publish_its_own_topics(acl_settings, clients, service):
    gateway = clients("GW-A")
    topic = f"{acl_settings.topic_root}/gateways/GW-A/readings"
    gateway.publish(topic, b"own")
    service.wait_for(topic, b"own")


def test_a_gateway_cannot_publish_for_another_gateway(acl_settings, clients, service):
    gateway = clients("GW-A")
    root = acl_settings.topic_root
    gateway.publish(f"{root}/gateways/GW-B/readings", b"forged")
    gateway.publish(f"{root}/gateways/GW-A/readings", b"after")
    service.wait_for(f"{root}/gateways/GW-A/readings", b"after")
    assert not service.received(f"{root}/gateways/GW-B/readings", b"forged")


def test_a_gateway_receives_its_own_commands_only(acl_settings, clients, service):
    root = acl_settings.topic_root
    gateway = clients("GW-A", subscribe=(f"{root}/gateways/GW-A/cmd", f"{root}/gateways/GW-B/cmd"))
    service.publish(f"{root}/gateways/GW-B/cmd", b"for B")
    service.publish(f"{root}/gateways/GW-A/cmd", b"for A")
    gateway.wait_for(f"{root}/gateways/GW-A/cmd", b"for A")
    assert not gateway.received(f"{root}/gateways/GW-B/cmd", b"for B")


def test_a_universal_device_can_publish_dp_and_its_answers(clients, service):
    device = clients("UD-A")
    device.publish("$dp", b"\x02\x00\x02{}")
    device.publish("$crsp/UD-A/c1", b"$cmd=getstatus&result=succ")
    service.wait_for("$dp", b"\x02\x00\x02{}")
    service.wait_for("$crsp/UD-A/c1", b"$cmd=getstatus&result=succ")


def test_a_universal_device_cannot_answer_for_another_device(clients, service):
    device = clients("UD-A")
    device.publish("$crsp/UD-B/c1", b"$cmd=getstatus&result=succ")
    device.publish("$crsp/UD-A/c2", b"$cmd=getstatus&result=fail")
    service.wait_for("$crsp/UD-A/c2", b"$cmd=getstatus&result=fail")
    assert not service.received("$crsp/UD-B/c1", b"$cmd=getstatus&result=succ")


def test_a_universal_device_cannot_publish_native_topics(acl_settings, clients, service):
    device = clients("UD-A")
    device.publish(f"{acl_settings.topic_root}/gateways/UD-A/readings", b"forged")
    device.publish("$dp", b"after")
    service.wait_for("$dp", b"after")
    assert not service.received(f"{acl_settings.topic_root}/gateways/UD-A/readings", b"forged")


def test_a_universal_device_receives_its_own_commands_only(clients, service):
    device = clients("UD-A", subscribe=("$creq/UD-A/#", "$creq/UD-B/#"))
    service.publish("$creq/UD-B/c1", b"$cmd=getstatus")
    service.publish("$creq/UD-A/c2", b"$cmd=getstatus")
    device.wait_for("$creq/UD-A/c2", b"$cmd=getstatus")
    assert not device.received("$creq/UD-B/c1", b"$cmd=getstatus")


def test_a_device_with_a_wrong_password_is_refused(clients):
    assert clients("GW-A", "not-the-password").refused


def test_a_device_cannot_log_in_with_another_device_s_password(clients, broker):
    assert clients("GW-A", broker.passwords["GW-B"]).refused


# --- who may connect where, and as which client --------------------------------------------------


def test_a_device_asking_for_another_device_s_client_id_gets_its_own(clients, service):
    victim = clients("UD-A", client_id="UD-A", subscribe=("$creq/UD-A/#",))  # SPEC 2.1: its id is its client id
    clients("GW-A", client_id="UD-A")  # before, the broker closed the victim's connection for this one
    service.publish("$creq/UD-A/c1", b"$cmd=getstatus")
    victim.wait_for("$creq/UD-A/c1", b"$cmd=getstatus")
    assert victim.disconnections == 0


def test_device_accounts_are_refused_on_the_services_listener(clients, broker):
    assert clients("GW-A", port=broker.ports.services).refused


def test_service_accounts_are_refused_on_the_devices_listener(clients, broker):
    assert clients(SERVICE_USER, port=broker.ports.devices).refused
    assert clients(INGEST_USER, port=broker.ports.devices).refused


def test_ingest_s_account_reads_what_devices_send_and_publishes_nothing(acl_settings, clients, service):
    root = acl_settings.topic_root
    ingest = clients(INGEST_USER, subscribe=(f"$share/ingest/{root}/gateways/+/readings", "$dp", "$crsp/+/+"))
    gateway = clients("GW-A", subscribe=(f"{root}/gateways/GW-A/cmd",))
    device = clients("UD-A")
    gateway.publish(f"{root}/gateways/GW-A/readings", b"reading")
    device.publish("$dp", b"frame")
    device.publish("$crsp/UD-A/c1", b"$cmd=getstatus&result=succ")
    ingest.wait_for(f"{root}/gateways/GW-A/readings", b"reading")
    ingest.wait_for("$dp", b"frame")
    ingest.wait_for("$crsp/UD-A/c1", b"$cmd=getstatus&result=succ")
    ingest.publish(f"{root}/gateways/GW-A/cmd", b"forged")  # acknowledged, and dropped, before the next is sent
    service.publish(f"{root}/gateways/GW-A/cmd", b"real")
    gateway.wait_for(f"{root}/gateways/GW-A/cmd", b"real")
    assert not gateway.received(f"{root}/gateways/GW-A/cmd", b"forged")


@pytest.mark.parametrize("taken", ["{ingest}", "{ingest}-3", "geohazard-api-0a1b2c3d"])
def test_a_device_named_like_a_geohazard_process_s_client_id_is_refused(conn, acl_settings, files, registry, taken):
    device_id = taken.format(ingest=acl_settings.ingest_client_id)
    conn.execute("INSERT INTO device (id, hazard_point, protocol) VALUES (%s, %s, 'universal')", (device_id, POINT))
    with pytest.raises(AclError, match=f"client ids of the geohazard processes \\({device_id}\\)"):
        _generate(conn, acl_settings, files, credentials=files.credentials)
    assert not any(files[name].exists() for name in FILES) and not files.credentials.exists()


def test_the_services_may_not_share_the_devices_port(conn, acl_settings, files, registry, ports):
    shared_port = acl_settings.model_copy(update={
        "mqtt_url": f"mqtt://{SERVICE_USER}:pw@127.0.0.1:{ports.devices}", "ingest_mqtt_url": None})
    with pytest.raises(AclError, match="need a listener of their own"):
        _generate(conn, shared_port, files, ports, credentials=files.credentials)


def test_without_an_ingest_url_ingest_shares_the_service_account(conn, acl_settings, files, registry):
    _generate(conn, acl_settings.model_copy(update={"ingest_mqtt_url": None}), files, credentials=files.credentials)
    assert [line.partition(":")[0] for line in files[SERVICE_PASSWORDS].read_text().splitlines()] == [SERVICE_USER]
    assert f"user {INGEST_USER}" not in files[ACL].read_text()


# --- the files and the passwords ---------------------------------------------------------------


@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd is not installed")
def test_hashes_are_in_mosquitto_passwd_s_format(tmp_path):
    path = tmp_path / "passwd"
    subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", str(path), "someone", "s3cret"], check=True)
    theirs = path.read_text().strip().partition(":")[2]
    ours = acl.hash_password("s3cret")
    assert password_matches("s3cret", theirs) and not password_matches("s3creT", theirs)
    assert theirs.split("$")[1:3] == ours.split("$")[1:3] == ["7", "101"]
    assert [len(part) for part in theirs.split("$")[3:]] == [len(part) for part in ours.split("$")[3:]]


def test_new_passwords_go_to_a_private_credentials_file_and_only_hashes_are_stored(
        conn, acl_settings, files, registry):
    outcome = _generate(conn, acl_settings, files, credentials=files.credentials)
    passwords = _credentials(files.credentials)
    hashes = _hashes(acl_settings.database_url)
    assert sorted(outcome.new_passwords) == sorted(passwords) == sorted(NATIVE_GATEWAYS + UNIVERSAL_DEVICES)
    assert stat.S_IMODE(os.stat(files.credentials).st_mode) == 0o600
    assert all(password_matches(passwords[d], hashes[d]) for d in passwords)


def test_running_twice_without_new_devices_changes_nothing(conn, acl_settings, files, registry, tmp_path):
    _generate(conn, acl_settings, files, credentials=files.credentials)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in map(files.__getitem__, FILES)}
    hashes = _hashes(acl_settings.database_url)
    time.sleep(0.01)  # so that a rewrite would show in the modification times
    outcome = _generate(conn, acl_settings, files, credentials=tmp_path / "second.csv")
    assert (outcome.new_passwords, outcome.written) == ([], [])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    assert _hashes(acl_settings.database_url) == hashes
    assert not (tmp_path / "second.csv").exists()


def test_a_new_device_gets_a_password_and_the_others_keep_theirs(conn, acl_settings, files, registry, tmp_path):
    _generate(conn, acl_settings, files, credentials=files.credentials)
    hashes = _hashes(acl_settings.database_url)
    with psycopg.connect(acl_settings.database_url) as c:
        c.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('UD-NEW', %s, 'universal')", (POINT,))
    outcome = _generate(conn, acl_settings, files, credentials=tmp_path / "new.csv")
    assert outcome.new_passwords == ["UD-NEW"] and list(_credentials(tmp_path / "new.csv")) == ["UD-NEW"]
    after = _hashes(acl_settings.database_url)
    assert {d: after[d] for d in hashes} == hashes
    assert "user UD-NEW\n" in files[ACL].read_text()


def test_a_manual_device_gets_no_broker_account(conn, acl_settings, files, registry, tmp_path):
    with psycopg.connect(acl_settings.database_url) as c:
        c.execute("INSERT INTO device (id, hazard_point, protocol) VALUES ('MAN-01', %s, 'manual')", (POINT,))
    outcome = _generate(conn, acl_settings, files, credentials=files.credentials)
    assert "MAN-01" not in outcome.new_passwords
    assert "MAN-01" not in files[ACL].read_text() and "MAN-01" not in files[DEVICE_PASSWORDS].read_text()


def test_rotate_changes_one_device_s_password(conn, acl_settings, files, registry, tmp_path):
    _generate(conn, acl_settings, files, credentials=files.credentials)
    hashes = _hashes(acl_settings.database_url)
    outcome = _generate(conn, acl_settings, files, credentials=tmp_path / "rotated.csv", rotate=("GW-B",))
    rotated = _credentials(tmp_path / "rotated.csv")
    after = _hashes(acl_settings.database_url)
    assert outcome.new_passwords == ["GW-B"] and list(rotated) == ["GW-B"]
    assert {d for d in after if after[d] != hashes[d]} == {"GW-B"}
    assert password_matches(rotated["GW-B"], after["GW-B"])
    assert f"GW-B:{after['GW-B']}\n" in files[DEVICE_PASSWORDS].read_text()


def test_rotating_an_unregistered_device_is_refused(conn, acl_settings, files, registry):
    with pytest.raises(AclError, match="cannot rotate the password of unregistered device"):
        _generate(conn, acl_settings, files, credentials=files.credentials, rotate=("GW-NOBODY",))


def test_new_passwords_without_a_credentials_file_are_refused_and_nothing_is_written(
        conn, acl_settings, files, registry):
    with pytest.raises(AclError, match="4 device\\(s\\) need a new password .* --credentials-out"):
        _generate(conn, acl_settings, files)
    assert not any(files[name].exists() for name in FILES)
    assert set(_hashes(acl_settings.database_url).values()) == {None}


def test_an_existing_credentials_file_is_never_overwritten(conn, acl_settings, files, registry):
    files.credentials.write_text("earlier passwords\n")
    with pytest.raises(AclError, match="already exists and may hold passwords"):
        _generate(conn, acl_settings, files, credentials=files.credentials)
    assert files.credentials.read_text() == "earlier passwords\n"
    assert set(_hashes(acl_settings.database_url).values()) == {None}


def test_a_failed_run_keeps_no_passwords(conn, acl_settings, files, registry, tmp_path):
    unwritable = Files(tmp_path / "missing-dir", files.credentials)
    with pytest.raises(FileNotFoundError):
        _generate(conn, acl_settings, unwritable, credentials=files.credentials)
    assert not files.credentials.exists()
    assert set(_hashes(acl_settings.database_url).values()) == {None}


def test_a_broker_url_without_a_service_account_is_refused(conn, settings, files, registry):
    with pytest.raises(AclError, match="GEOHAZARD_MQTT_URL names no service account"):
        _generate(conn, settings, files, credentials=files.credentials)


def test_the_service_account_may_use_the_dollar_topics_by_name(acl_settings, files, conn, registry):
    _generate(conn, acl_settings, files, credentials=files.credentials)
    text = files[ACL].read_text()
    service_block = text.split("\n\n")[1]
    assert service_block.splitlines()[0] == f"user {SERVICE_USER}"
    for grant in ("topic readwrite #", "topic readwrite $dp", "topic readwrite $creq/#", "topic readwrite $crsp/#"):
        assert grant in service_block.splitlines()


# --- `geohazard acl` ---------------------------------------------------------------------------


def _run(settings, *argv):
    parser = argparse.ArgumentParser(prog="geohazard")
    acl_cli.add_acl(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["acl", *argv])
    args.func(settings, args)


def test_the_acl_subcommand_reveals_passwords_only_in_the_credentials_file(acl_settings, files, registry, capsys):
    argv = ("--config-dir", str(files.config_dir))
    _run(acl_settings, *argv, "--credentials-out", str(files.credentials))
    first = capsys.readouterr().out
    _run(acl_settings, *argv)
    second = capsys.readouterr().out
    assert "4 new password(s)" in first and "written" in first
    assert f"{files[DEVICE_PASSWORDS]}: unchanged" in second and "new password" not in second
    for password in _credentials(files.credentials).values():
        assert password not in first + second
