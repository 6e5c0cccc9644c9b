"""The API's MQTT connection, opened by the app's lifespan: retained alert topics and downlink commands.

paho runs its own network thread and reconnects by itself; a broker that is down at start-up or goes
away later never stops the API. What an officer's or a patrol report's alert change owes (the retained
topic, tasks, sampling commands) is recorded with the change and carried out here right after it commits
(`carry_out`); whatever the broker did not take meanwhile stays owed, and the engine, or this process's
next change of the alert, carries it out once the broker is back.
"""

import logging

import asyncpg

from alerting import outbox
from runtime.commands import CommandSender, SendCommand
from runtime.mqtt import new_client, service_client_id
from runtime.settings import Settings

log = logging.getLogger(__name__)
KEEPALIVE_S = 30


class Broker:
    """One paho client for the API process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = new_client(settings.mqtt_login, service_client_id("api"))
        self._commands = CommandSender(settings, self._client, keep_connection=False)

    def start(self) -> None:
        """Connect in the background; paho keeps retrying while the broker is away."""
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=KEEPALIVE_S)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    async def carry_out(self, conn: asyncpg.Connection, alert_id: int) -> None:
        """Carry out what the alert's changes owe, now that they have committed; what cannot be done now stays owed.

        Never fails the request: the change has committed, and an error here (the database gone for a moment) would
        turn it into a 500 that a client retries (a second patrol report, a 409). The engine carries out what is
        left within seconds.
        """
        try:
            await outbox.carry_out(conn, outbox.Carrier(self._publish_point, self.commands_by), alert_id=alert_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("alert %s: carrying out what its change owes failed (%s: %s); the engine will do it", alert_id,
                      type(exc).__name__, exc)

    async def _publish_point(self, conn: asyncpg.Connection, county: str, point: str) -> None:
        await outbox.publish_current_alert(self._client, conn, self.settings.topic_root, county, point)

    def commands_by(self, actor: str) -> SendCommand:
        """A `send_command` for the lifecycle's effects, recording `actor` as the sender."""
        return self._commands.by(actor)
