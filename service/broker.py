"""The API's MQTT connection, opened by the app's lifespan: retained alert topics and downlink commands.

paho runs its own network thread and reconnects by itself; a broker that is down at start-up or goes
away later never stops the API. A command sent while it is down fails at once (and the lifecycle's
effects record the failure); a retained alert document waits in paho's queue for the reconnection.
"""

import asyncio
import logging
import uuid
from collections.abc import Mapping

import asyncpg
import paho.mqtt.client as mqtt
import psycopg

from alerting.effects import SendCommand
from alerting.engine import publish_current_alert
from ingest import commands
from service.settings import Settings
from sql import queries

log = logging.getLogger(__name__)
_SQL = queries("api")
KEEPALIVE_S = 30


class Broker:
    """One paho client for the API process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"geohazard-api-{uuid.uuid4().hex[:8]}",
                                   protocol=mqtt.MQTTv311)
        if settings.mqtt_username:
            self._client.username_pw_set(settings.mqtt_username, settings.mqtt_password)

    def start(self) -> None:
        """Connect in the background; paho keeps retrying while the broker is away."""
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    async def publish_point(self, conn: asyncpg.Connection, hazard_point: str) -> None:
        """Republish the point's retained alert topic: its highest open alert, or an empty message when none is."""
        county = await conn.fetchval(_SQL["hazard_point_county"], hazard_point)
        info = await publish_current_alert(self._client, conn, self.settings.topic_root, county, hazard_point)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.warning("alert topic of %s queued until the broker is back (%s)", hazard_point,
                        mqtt.error_string(info.rc))

    def commands_by(self, actor: str) -> SendCommand:
        """A `send_command` for the lifecycle's effects, recording `actor` as the sender."""

        async def send(device_id: str, name: str, params: Mapping[str, object]) -> str:
            return await asyncio.to_thread(self._send, device_id, name, params, actor)

        return send

    def _send(self, device_id: str, name: str, params: Mapping[str, object], sent_by: str) -> str:
        try:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                return commands.send_command(conn, self._client, settings=self.settings, device_id=device_id,
                                             name=name, params=params, sent_by=sent_by)
        except psycopg.OperationalError as exc:  # an OSError for the effects: noted, and the next sensor tried
            raise ConnectionError(f"the database did not take the command: {exc}") from exc
