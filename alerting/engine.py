"""The engine process: evaluate every hazard point on a schedule, act on changes, publish the alerts."""

import asyncio
import json
import logging
from datetime import datetime, timezone

import asyncpg
import paho.mqtt.client as mqtt
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerting.evaluate import assess, load_window
from alerting.flows import Change, apply_assessment
from sensors.native import alert_topic
from service.settings import Settings
from sql import queries

log = logging.getLogger(__name__)
Q = queries("engine")


async def evaluate_once(conn: asyncpg.Connection, now: datetime) -> list[Change]:
    """One full evaluation at `now`: every point assessed, every change recorded; returns the changes."""
    window = await load_window(conn, now)
    assessments = assess(window)
    open_alerts = {(a["hazard_point"], a["type"]): a for a in await conn.fetch(Q["open_alerts"])}
    changes = []
    for assessment in assessments:
        change = await apply_assessment(conn, assessment, open_alerts.get((assessment.hazard_point, assessment.type)), now)
        if change is not None:
            changes.append(change)
    return changes


def alert_payload(record) -> bytes:
    """The JSON of SPEC 2.3 for one alert record."""
    body = {
        "id": record["id"], "point": record["point"], "type": record["type"], "level": record["level"],
        "state": record["state"], "reasons": json.loads(record["reasons"]), "evidence": json.loads(record["evidence"]),
        "raised_at": record["raised_at"].isoformat(), "updated_at": record["updated_at"].isoformat(),
        "rule_version": record["rule_version"],
    }
    return json.dumps(body, ensure_ascii=False).encode()


class Engine:
    """Runs `evaluate_once` every `engine_interval_s` seconds and publishes each changed point's alert."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._mqtt = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"geohazard-engine-{id(self):x}",
                                 protocol=mqtt.MQTTv311)
        if settings.mqtt_username:
            self._mqtt.username_pw_set(settings.mqtt_username, settings.mqtt_password)

    async def run(self, stop: asyncio.Event) -> None:
        self._pool = await asyncpg.create_pool(self.settings.database_url, min_size=1, max_size=2)
        self._mqtt.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._mqtt.loop_start()
        scheduler = AsyncIOScheduler(timezone=timezone.utc)
        # One evaluation at a time; a cycle that overruns is skipped, not queued behind itself.
        scheduler.add_job(self.cycle, "interval", seconds=self.settings.engine_interval_s,
                          next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True,
                          id="full-evaluation", name="evaluate every hazard point")
        scheduler.start()
        log.info("engine evaluating every %ss", self.settings.engine_interval_s)
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
            await self._pool.close()

    async def cycle(self) -> None:
        now = datetime.now(timezone.utc)
        started = asyncio.get_running_loop().time()
        try:
            async with self._pool.acquire() as conn:
                changes = await evaluate_once(conn, now)
                for change in changes:
                    log.info("%s %s alert %s at %s: %s -> %s", change.kind, change.type, change.alert_id,
                             change.hazard_point, change.from_level or "none", change.to_level or "none")
                await self.publish({(c.county_code, c.hazard_point) for c in changes}, conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("evaluation at %s failed: %s: %s; the next cycle tries again", now.isoformat(),
                      type(exc).__name__, exc)
            return
        log.debug("evaluated in %.3fs", asyncio.get_running_loop().time() - started)

    async def publish(self, points: set[tuple[str, str]], conn: asyncpg.Connection) -> None:
        """Publish each point's current alert, retained, or an empty retained message when none is open."""
        for county, point in points:
            record = await conn.fetchrow(Q["current_alert_of_point"], point)
            payload = alert_payload(record) if record else b""
            self._mqtt.publish(alert_topic(self.settings.topic_root, county, point), payload, qos=1, retain=True)
