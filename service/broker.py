"""The API's MQTT connection, opened by the app's lifespan: retained alert topics and downlink commands.

paho runs its own network thread and reconnects by itself; a broker that is down at start-up or goes
away later never stops the API. What an officer's or a patrol report's alert change owes (the retained
topic, tasks, sampling commands) is recorded with the change and carried out here right after it commits
(`carry_out`); whatever the broker did not take meanwhile stays owed, and the engine, or this process's
next change of the alert, carries it out once the broker is back.
"""

import asyncio
import logging
import uuid
from collections.abc import Mapping

import asyncpg
import paho.mqtt.client as mqtt
import psycopg

from alerting import outbox
from alerting.effects import SendCommand
from ingest import commands
from service.settings import Settings

log = logging.getLogger(__name__)
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

    async def carry_out(self, conn: asyncpg.Connection, alert_id: int) -> None:
        """Carry out what the alert's changes owe, now that they have committed; what cannot be done now stays owed."""
        await outbox.carry_out(conn, outbox.Carrier(self._publish_point, self.commands_by), alert_id=alert_id)

    async def _publish_point(self, conn: asyncpg.Connection, county: str, point: str) -> None:
        await outbox.publish_current_alert(self._client, conn, self.settings.topic_root, county, point)

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
