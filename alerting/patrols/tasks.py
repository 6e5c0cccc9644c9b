"""Patrol regimes (SPEC 5): the tasks a point's grid monitor is given, and overdue tasks escalated up its grid.

- routine: every active point, `monitoring_plan.routine_patrols_per_week` times a week (default 2): the next
  task is due one interval after the later of now and the last one's due time, so a patrol done early
  keeps the cadence and one done late does not leave the next one overdue at once.
- flood season (汛前排查, 汛中巡查, 汛后核查), around the configured season (default 05-01 to 09-30, local):
  flood_before once in the weeks before it, due at its start; flood_during every few days within it;
  flood_after once after it, due some weeks after its end.
- rain (雨前排查, 雨中巡查, 雨后核查), for the points of a meteorological risk warning: rain_before due by the
  warning's start (or soon, when it starts soon or has started), rain_during by the middle of what is left
  of it, rain_after within a day of its end.
- A point never has two open tasks of one regime (verification tasks, one per alert, are the engine's). A
  rain warning over a point with an open rain task of that regime moves the task instead: rain_before and
  rain_during earlier when the new warning needs them sooner, rain_after later when it ends later (the
  check after the rain belongs after the last warning's rain).
- An open task past its due time escalates like an unacknowledged alert, through the same loop
  (alerting.scheduled.escalate_up_grid): one step up the point's grid chain above its assignee each period
  of its regime, then the top again every period.

Deterministic and idempotent: everything follows from `now`, the settings and the database, and running
again at the same `now` creates nothing more. `run_regimes` is the engine's scheduled job; `create_rain_tasks`
runs in the transaction that records a weather warning (service.weather); `select_tasks` lists them.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from alerting.scheduled import GRID_CHAIN, Chain, ChainStep, escalate_up_grid
from runtime.settings import Settings
from sql import queries

log = logging.getLogger(__name__)
Q = queries("patrols")

# The coverage report reads the same key with the same default (SPEC 5: "routine, default twice a week").
DEFAULT_ROUTINE_PATROLS_PER_WEEK = 2.0
RAIN_REGIMES = ("rain_before", "rain_during", "rain_after")
# A monitor needs a couple of hours to get to the slope: a warning starting sooner (or already started)
# has its pre-rain check due this long after it is issued.
RAIN_BEFORE_NOTICE = timedelta(hours=2)
# The check after the rain: within a day of the warning's end, while traces of movement are fresh.
RAIN_AFTER_WITHIN = timedelta(hours=24)
# How often an overdue task moves up the grid. A verification task backs an alert at yellow or above and
# rain tasks back a warning in force: hours matter. The seasonal ones are planned in days.
TASK_ESCALATION_PERIOD = {
    "verification": timedelta(hours=1),
    "rain_before": timedelta(hours=6),
    "rain_during": timedelta(hours=6),
    "rain_after": timedelta(hours=12),
    "routine": timedelta(days=1),
    "flood_before": timedelta(days=1),
    "flood_during": timedelta(days=1),
    "flood_after": timedelta(days=1),
}
# pg_advisory_xact_lock key shared by everything that creates regime tasks ("ptrl").
TASK_GENERATION_LOCK = 0x7074_726C
REGIMES_ACTOR = "patrol-regimes"


# --- rain ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RainTasks:
    """What a warning did to its points' rain tasks."""

    created: int  # new tasks, one per point and rain regime without an open one
    already_open: int  # open tasks of an earlier warning kept instead (their due time moved if need be)


def rain_due_times(valid_from: datetime, valid_to: datetime, now: datetime) -> dict[str, datetime]:
    """When each rain task of a warning valid from `valid_from` to `valid_to`, issued at `now`, is due."""
    start = max(valid_from, now)
    return {
        "rain_before": max(valid_from, now + RAIN_BEFORE_NOTICE),
        "rain_during": start + (valid_to - start) / 2,
        "rain_after": valid_to + RAIN_AFTER_WITHIN,
    }


async def create_rain_tasks(conn: asyncpg.Connection, *, warning_id: int, points: list[str], valid_from: datetime,
                            valid_to: datetime, now: datetime) -> RainTasks:
    """The three rain tasks for each point of a warning; call inside the transaction that records the warning."""
    created = already_open = 0
    await conn.execute(Q["lock_task_generation"], TASK_GENERATION_LOCK)
    for regime, due_at in rain_due_times(valid_from, valid_to, now).items():
        merged = await conn.fetch(Q["merge_open_rain_tasks"], points, regime, due_at, regime == "rain_after")
        rows = await conn.fetch(Q["insert_rain_tasks"], points, regime, due_at, now, warning_id)
        created += len(rows)
        already_open += len(merged)
    return RainTasks(created, already_open)


# --- routine and flood season --------------------------------------------------------------------


@dataclass(frozen=True)
class FloodSeason:
    """One year's flood season, and the windows of its before and after checks (UTC, end exclusive)."""

    start: datetime
    end: datetime  # midnight after its last day
    before_from: datetime
    after_until: datetime


def flood_season_around(now: datetime, settings: Settings) -> FloodSeason | None:
    """The flood season whose before-window, season or after-window `now` is in; None between them."""
    zone = ZoneInfo(settings.flood_season_timezone)
    before, after = timedelta(weeks=settings.flood_before_weeks), timedelta(weeks=settings.flood_after_weeks)
    across_new_year = settings.flood_season_end < settings.flood_season_start
    local_year = now.astimezone(zone).year
    for year in (local_year - 1, local_year, local_year + 1):
        start = _local_midnight(year, settings.flood_season_start, zone)
        end = _local_midnight(year + int(across_new_year), settings.flood_season_end, zone, days_after=1)
        if start - before <= now < end + after:
            return FloodSeason(start, end, start - before, end + after)
    return None


def _local_midnight(year: int, month_day: str, zone: ZoneInfo, days_after: int = 0) -> datetime:
    month, day = map(int, month_day.split("-"))
    local = date(year, month, day) + timedelta(days=days_after)
    return datetime.combine(local, time(0), tzinfo=zone).astimezone(UTC)


async def generate_tasks(conn: asyncpg.Connection, now: datetime, settings: Settings) -> dict[str, int]:
    """Create the routine and flood-season tasks due at `now`; how many of each regime were created."""
    created = {}
    async with conn.transaction():
        await conn.execute(Q["lock_task_generation"], TASK_GENERATION_LOCK)
        for task in await conn.fetch(Q["cancel_tasks_of_retired_points"]):
            log.info("%s task %s called off: point %s is no longer monitored", task["regime"], task["id"],
                     task["hazard_point"])
        routine_every = timedelta(weeks=1) / DEFAULT_ROUTINE_PATROLS_PER_WEEK
        created["routine"] = len(await conn.fetch(Q["insert_periodic_tasks"], "routine", now, routine_every, True,
                                                  None, None))
        season = flood_season_around(now, settings)
        if season is not None and now < season.start:
            created["flood_before"] = len(await conn.fetch(Q["insert_seasonal_tasks"], "flood_before", now,
                                                           season.start, season.before_from))
        elif season is not None and now < season.end:
            every = timedelta(days=settings.flood_during_interval_days)
            created["flood_during"] = len(await conn.fetch(Q["insert_periodic_tasks"], "flood_during", now, every,
                                                           False, season.start, season.end))
        elif season is not None:
            created["flood_after"] = len(await conn.fetch(Q["insert_seasonal_tasks"], "flood_after", now,
                                                          season.after_until, season.end))
    return created


# --- overdue tasks -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskEscalation(ChainStep):
    """One overdue task."""

    task_id: int
    hazard_point: str
    county_code: str
    regime: str


async def escalate_overdue_tasks(conn: asyncpg.Connection, now: datetime) -> list[TaskEscalation]:
    """Move every open task past its deadline one step up its point's grid chain; return who was told."""
    async with conn.transaction():
        overdue = await conn.fetch(Q["overdue_tasks"], now)
        return await escalate_up_grid(conn, overdue, now, standing=_assignee_step,
                                      period=lambda task: TASK_ESCALATION_PERIOD[task["regime"]], record=_record)


def _assignee_step(task, chain: Chain) -> int:
    """Where a task not escalated yet stands in the chain: the highest role its assignee holds, else 0."""
    if task["escalation_step"] is not None:
        return task["escalation_step"]
    held = [i + 1 for i, role in enumerate(GRID_CHAIN)
            if role in chain and chain[role]["person_id"] == task["assignee_id"]]
    return max(held, default=0)


async def _record(conn: asyncpg.Connection, task: asyncpg.Record, climbed: ChainStep, now: datetime) -> TaskEscalation:
    await conn.execute(Q["set_task_escalation"], task["id"], climbed.step, climbed.next_deadline)
    inputs = {"step": climbed.step, "person": climbed.told, "due_at": task["due_at"].isoformat(),
              "missed_deadline": climbed.missed_deadline.isoformat(),
              "next_deadline": climbed.next_deadline.isoformat()}
    what = f"{task['regime'].replace('_', ' ')} patrol of {task['hazard_point']} due {task['due_at'].isoformat()}"
    if climbed.told is None:
        note = f"{what} is overdue, and nobody holds a role in the point's grid"
    else:
        note = f"{what} is overdue; {climbed.whom}"
    await conn.execute(Q["insert_task_event"], task["id"], now, climbed.kind, climbed.step, climbed.role,
                       climbed.person_id, REGIMES_ACTOR, json.dumps(inputs), note)
    return TaskEscalation(task_id=task["id"], hazard_point=task["hazard_point"], county_code=task["county_code"],
                          regime=task["regime"], **vars(climbed))


# --- the list ------------------------------------------------------------------------------------


async def select_tasks(conn: asyncpg.Connection, *, scoping_person: int | None, assignee: int | None,
                       point: str | None, states: list[str] | None, regimes: list[str] | None, overdue: bool | None,
                       now: datetime, limit: int, offset: int, county: str | None = None) -> list[asyncpg.Record]:
    """One page of the matching tasks, most urgent first, each row carrying the total count (sql/patrols.sql)."""
    return await conn.fetch(Q["patrol_tasks"], scoping_person, assignee, point, states, regimes, overdue, now, limit,
                            offset, county)


# --- the engine's job ----------------------------------------------------------------------------


async def run_regimes(pool: asyncpg.Pool, settings: Settings) -> None:
    """The scheduled job: create the tasks the regimes call for now, and escalate the overdue ones."""
    now = datetime.now(UTC)
    try:
        async with pool.acquire() as conn:
            created = await generate_tasks(conn, now, settings)
            escalations = await escalate_overdue_tasks(conn, now)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        log.error("patrol regimes at %s failed: %s: %s; the next run tries again", now.isoformat(),
                  type(exc).__name__, exc)
        return
    if any(created.values()):
        log.info("patrol tasks created: %s", ", ".join(f"{n} {regime}" for regime, n in created.items() if n))
    for e in escalations:
        log.warning("%s task %s at %s overdue since %s: %s %s (%s, %s)", e.regime, e.task_id, e.hazard_point,
                    e.missed_deadline.isoformat(), e.kind, e.role, e.person_name, e.phone)
