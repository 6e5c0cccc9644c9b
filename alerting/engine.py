"""The engine process: evaluate every hazard point on a schedule and on new readings, publish the alerts.

Two triggers share one lock so that evaluations never overlap: a full evaluation every
`engine_interval_s` (APScheduler), and the event path, where ingest's NOTIFY on `readings_stored`
names the devices that just got readings and the engine re-evaluates their points (and the points
that may borrow their rain gauges) within a second. Both read the readings from rolling windows kept
in memory (`alerting.window`), which fetch only what was stored since the last evaluation.

What the changes owe (retained topics, verification tasks, sampling commands) is carried out by a task of
its own (`alerting.outbox`), outside the evaluation lock: at once after an evaluation that changed
something, and every few seconds for what is left from before a restart, from an API process, or from an
attempt that could not finish.
"""

import asyncio
import logging
import math
from datetime import datetime, timezone

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from alerting import outbox
from alerting.baseline import refresh_baselines
from alerting.evaluate import assess, load_window
from alerting.flows import Change, apply_assessment
from alerting.patrols.tasks import run_regimes
from alerting.scheduled import escalate_overdue
from alerting.window import WindowStore
from runtime.commands import CommandSender
from runtime.mqtt import new_client, service_client_id
from runtime.notices import READINGS_CHANNEL, parse_stored_notice
from runtime.settings import Settings
from sql import queries

log = logging.getLogger(__name__)
Q = queries("engine")

# New readings arrive in bursts (one commit per ingest batch, several workers); gathering them for
# this long turns a burst into one evaluation while keeping reading-to-alert well under a second.
EVENT_DEBOUNCE_S = 0.05
# Quiet baselines refreshed a day, the oldest first, each reading its sensor's month of readings: every
# sensor of a national fleet (100,000) at most a day old, with room to spare. Each run of the job (every
# engine interval) takes its share.
BASELINE_SENSORS_PER_DAY = 150_000
# How long to wait before listening again after the listening connection broke.
RELISTEN_DELAY_S = 5.0
# How often owed effects are looked for when no evaluation asked: those left by a restart or by an API
# process, and those waiting to be tried again.
OWED_POLL_S = 5.0


async def evaluate_once(conn: asyncpg.Connection, now: datetime, points: list[str] | None = None,
                        store: WindowStore | None = None) -> list[Change]:
    """One evaluation at `now` of every point (or the given ones); every change recorded and returned.
    The live engine passes its rolling windows; without them the readings are read from the database."""
    window = await load_window(conn, now, points, store)
    return await record_assessments(conn, assess(window), now)


async def record_assessments(conn: asyncpg.Connection, assessments: list, now: datetime) -> list[Change]:
    """Move each (point, type)'s open alert towards its assessment at `now`; every change recorded and returned."""
    open_alerts = {(a["hazard_point"], a["type"]): a for a in await conn.fetch(Q["open_alerts"])}
    changes = []
    for assessment in assessments:
        alert = open_alerts.get((assessment.hazard_point, assessment.type))
        change = await apply_assessment(conn, assessment, alert, now)
        if change is not None:
            changes.append(change)
    return changes


class Engine:
    """Runs evaluations on the schedule and on ingest's notifications, and publishes changed points."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._pending_devices: set[str] = set()
        # Every monitored sensor's recent good readings; rebuilt from the database every engine_resync_s.
        self._store = WindowStore(settings.engine_resync_s)
        self._wake = asyncio.Event()
        self._owed = asyncio.Event()
        self._owed.set()  # at start: whatever a killed engine or API process left owed
        self._mqtt = new_client(settings.mqtt_login, service_client_id("engine"))
        self._commands = CommandSender(settings, self._mqtt, keep_connection=True)
        self._carrier = outbox.Carrier(self._publish_point, self._commands.by)
        self._baselines_per_run = max(1, math.ceil(BASELINE_SENSORS_PER_DAY * settings.engine_interval_s / 86_400))
        # Set once the engine listens for new readings; from then on none is missed by the event path.
        self.listening = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        # Evaluations, owed effects, baselines and patrol regimes each hold one at a time.
        self._pool = await asyncpg.create_pool(self.settings.database_url, min_size=1, max_size=5)
        self._mqtt.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self._mqtt.loop_start()
        scheduler = AsyncIOScheduler(timezone=timezone.utc)
        # One evaluation at a time; a cycle that overruns is skipped, not queued behind itself.
        scheduler.add_job(self.cycle, "interval", seconds=self.settings.engine_interval_s,
                          next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True,
                          id="full-evaluation", name="evaluate every hazard point")
        # Outside the evaluation lock: a baseline read of a month of readings must not delay a warning.
        scheduler.add_job(self.refresh_baselines, "interval", seconds=self.settings.engine_interval_s,
                          next_run_time=datetime.now(timezone.utc), max_instances=1, coalesce=True,
                          id="quiet-baselines", name="refresh the oldest quiet baselines")
        scheduler.add_job(run_regimes, "interval", args=(self._pool, self.settings),
                          seconds=self.settings.patrol_regime_interval_s, next_run_time=datetime.now(timezone.utc),
                          max_instances=1, coalesce=True, id="patrol-regimes", name="patrol tasks and their escalation")
        scheduler.start()
        log.info("engine evaluating every %ss and on new readings", self.settings.engine_interval_s)
        listener = asyncio.create_task(self._listen(stop))
        events = asyncio.create_task(self._event_path(stop))
        effects = asyncio.create_task(self._carry_out_owed(stop))
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            for task in (listener, events, effects):
                task.cancel()
            await asyncio.gather(listener, events, effects, return_exceptions=True)
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
            await self._pool.close()
            self._commands.close()

    async def cycle(self) -> None:
        """The scheduled full evaluation."""
        await self._evaluate(None)

    async def refresh_baselines(self) -> None:
        """The scheduled refresh of the oldest quiet baselines."""
        now = datetime.now(timezone.utc)
        try:
            async with self._pool.acquire() as conn:
                refreshed = await refresh_baselines(conn, now, limit=self._baselines_per_run)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("refreshing quiet baselines at %s failed: %s: %s; the next run tries again", now.isoformat(),
                      type(exc).__name__, exc)
            return
        if refreshed:
            log.debug("refreshed the quiet baselines of %d sensors", refreshed)

    async def _evaluate(self, points: list[str] | None) -> None:
        now = datetime.now(timezone.utc)
        async with self._lock:
            if points is None and self._store.resync_due():
                log.info("rebuilding the rolling windows of %d sensors from the database", len(self._store))
                self._store.clear()
            try:
                async with self._pool.acquire() as conn:
                    changes = await evaluate_once(conn, now, points, self._store)
                    for change in changes:
                        log.info("%s %s alert %s at %s: %s -> %s", change.kind, change.type, change.alert_id,
                                 change.hazard_point, change.from_level or "none", change.to_level or "none")
                    if changes:
                        self._owed.set()  # topics, tasks and commands: recorded with the changes, done next
                    if points is None:
                        for e in await escalate_overdue(conn, now):
                            log.warning("%s %s alert %s at %s not acknowledged by %s: %s %s (%s, %s)", e.level,
                                        e.type, e.alert_id, e.hazard_point, e.missed_deadline.isoformat(), e.kind,
                                        e.role, e.person_name, e.phone)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("evaluation at %s failed: %s: %s; the next one tries again", now.isoformat(),
                          type(exc).__name__, exc)

    async def _carry_out_owed(self, stop: asyncio.Event) -> None:
        """Carry out what alert changes owe: when an evaluation changed something, and every OWED_POLL_S."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(self._owed.wait(), OWED_POLL_S)
            except TimeoutError:
                pass
            self._owed.clear()
            try:
                async with self._pool.acquire() as conn:
                    result = await outbox.carry_out(conn, self._carrier)
                    if result.deferred:
                        count, oldest = await outbox.owed(conn)
                        log.warning("%d alert effects still owed (retained topics, tasks, sampling commands), the "
                                    "oldest since %s", count, oldest.isoformat() if oldest else "-")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("carrying out what alert changes owe failed: %s: %s; trying again in %.0f s",
                          type(exc).__name__, exc, OWED_POLL_S)
                continue
            except Exception:  # a defect in one effect must not end this task and with it every later effect
                log.exception("carrying out what alert changes owe failed; trying again in %.0f s", OWED_POLL_S)
                continue
            if result.done:
                log.info("alert effects done: %d (retained topics, verification tasks, sampling commands)", result.done)

    async def _publish_point(self, conn: asyncpg.Connection, county: str, point: str) -> None:
        await outbox.publish_current_alert(self._mqtt, conn, self.settings.topic_root, county, point)

    async def _listen(self, stop: asyncio.Event) -> None:
        """Keep a connection LISTENing for ingest's notifications; reconnect if it breaks."""
        while not stop.is_set():
            broken = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.settings.database_url)
                conn.add_termination_listener(lambda _: broken.set())
                await conn.add_listener(READINGS_CHANNEL, self._on_readings)
                # Notices sent while nobody listened are lost: the windows are read afresh.
                self._store.invalidate()
                self.listening.set()
                try:
                    await broken.wait()
                finally:
                    self.listening.clear()
                    await conn.close()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("cannot listen for new readings (%s); scheduled evaluations go on, retrying in %.0fs",
                          exc, RELISTEN_DELAY_S)
            await asyncio.sleep(RELISTEN_DELAY_S)

    def _on_readings(self, conn, pid, channel, payload: str) -> None:
        earliest = parse_stored_notice(payload)
        self._store.note_stored(earliest)
        self._pending_devices.update(earliest)
        self._wake.set()

    async def _event_path(self, stop: asyncio.Event) -> None:
        """Evaluate the points of devices that got readings, a burst at a time."""
        while not stop.is_set():
            await self._wake.wait()
            await asyncio.sleep(EVENT_DEBOUNCE_S)
            self._wake.clear()
            devices, self._pending_devices = sorted(self._pending_devices), set()
            try:
                async with self._pool.acquire() as conn:
                    points = [r["code"] for r in await conn.fetch(Q["points_of_devices"], devices)]
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("cannot find the points of devices with new readings (%s); the next cycle covers them", exc)
                continue
            if points:
                await self._evaluate(points)
