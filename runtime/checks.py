"""Start-up checks: fail with a message that says what to do, before a process starts its work."""

import socket

import psycopg

from runtime.settings import Settings
from sql import queries

SERVER_Q = queries("server")

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_MOSQUITTO = "mosquitto -d -c /etc/mosquitto/mosquitto.conf"


class NotReady(RuntimeError):
    """Something the command needs is not there; the message says what to do."""


def check_postgres(settings: Settings, *, need_schema: bool = True, server_only: bool = False) -> None:
    """Fail with a readable message unless the database answers (and, if asked, is migrated).

    With `server_only`, only the server must answer: the database itself may be created by migrate.
    """
    url = settings.database_url
    if server_only:
        url, need_schema = psycopg.conninfo.make_conninfo(url, dbname="postgres"), False
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            if need_schema and conn.execute(SERVER_Q["schema_present"]).fetchone()[0] is None:
                raise NotReady(f"the database at {settings.database_url} has no schema yet: run `geohazard migrate`")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "run `geohazard migrate` to create it" if "does not exist" in first else f"start it (here: {START_POSTGRES})"
        raise NotReady(
            f"cannot reach PostgreSQL at {settings.database_url}: {first}\n"
            f"  {hint}, or point GEOHAZARD_DATABASE_URL at a running server"
        ) from None


def check_mqtt(settings: Settings) -> None:
    """Fail with a readable message unless the broker accepts TCP connections."""
    try:
        socket.create_connection((settings.mqtt_host, settings.mqtt_port), timeout=5).close()
    except OSError as exc:
        raise NotReady(
            f"cannot reach the MQTT broker at {settings.mqtt_url}: {exc}\n"
            f"  start it (here: {START_MOSQUITTO}), or point GEOHAZARD_MQTT_URL at a running broker"
        ) from None
