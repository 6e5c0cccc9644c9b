"""The one MQTT client factory of the geohazard processes, and the broker logins it connects with.

Imports paho and nothing of the project: the ingest receiver, a process of its own that imports little, builds
its client here too. The simulated devices of `sensors.simulator` do not: they are devices, below this layer,
with their own ids as client ids and last wills.
"""

import uuid
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

# The client ids of the geohazard processes besides ingest's (GEOHAZARD_INGEST_CLIENT_ID, and that id with
# -<n> for its workers) start with this: geohazard-api-, -engine-, -cli-, -demo-. No device id may (`ingest.acl`).
SERVICE_CLIENT_ID_PREFIX = "geohazard-"


class BrokerLogin(NamedTuple):
    """An MQTT broker and the account to log in to it with, from an mqtt:// URL."""

    host: str
    port: int
    username: str | None
    password: str | None

    def __str__(self) -> str:
        """The broker and user, never the password: for logs."""
        return f"mqtt://{self.username + '@' if self.username else ''}{self.host}:{self.port}"


def broker_login(url: str) -> BrokerLogin:
    """The host, port, user and password of an mqtt:// URL (user and password percent-decoded)."""
    parts = urlsplit(url)
    return BrokerLogin(parts.hostname or "127.0.0.1", parts.port or 1883,
                       unquote(parts.username) if parts.username is not None else None,
                       unquote(parts.password) if parts.password is not None else None)


def service_client_id(role: str) -> str:
    """A fresh client id for a geohazard process of this role (api, engine, cli, demo-watch...)."""
    return f"{SERVICE_CLIENT_ID_PREFIX}{role}-{uuid.uuid4().hex[:8]}"


def new_client(login: BrokerLogin, client_id: str, **options) -> mqtt.Client:
    """A paho client (callback API 2, MQTT 3.1.1) that logs in with `login`'s account, not yet connected.

    `options` go to paho's Client as they are, e.g. clean_session=False and manual_ack=True for ingest.
    """
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, **options)
    if login.username:
        client.username_pw_set(login.username, login.password)
    return client
