"""Patrol regimes of SPEC 5 against the real database: routine and flood-season tasks at chosen times, run
again without creating more, and overdue tasks escalating up the point's grid like alerts."""

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from alerting.patrols.tasks import escalate_overdue_tasks, flood_season_around, generate_tasks, run_regimes

pytestmark = pytest.mark.anyio

PLAIN, DAILY, CANCELLED = "500113-HP-0001", "500113-HP-0002", "500113-HP-0003"
# Outside the default flood season (05-01 to 09-30, Asia/Shanghai) and its four-week before and after windows.
WINTER = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
# Midnight in Chongqing is 16:00 UTC the day before.
SEASON_START = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)
SEASON_END = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)  # the midnight after 09-30
CHAIN = [("monitor", "Zhang San"), ("area_lead", "Li Si"), ("resident_geologist", "Wang Wu"),
         ("county_admin", "Zhao Liu")]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def conn(database_url):
    """Three points: PLAIN (default plan, full grid), DAILY (a patrol a day, no grid), CANCELLED."""
    connection = await asyncpg.connect(database_url)
    for code, status, plan in ((PLAIN, "active", "{}"), (DAILY, "active", '{"routine_patrols_per_week": 7}'),
                               (CANCELLED, "cancelled", "{}")):
        await connection.execute(
            "INSERT INTO hazard_point (code, name, type, scale, lon, lat, county_code, status, monitoring_plan)"
            " VALUES ($1, 'slope', 'landslide', 'medium', 106.5, 29.4, '500113', $2, $3::text::jsonb)",
            code, status, plan)
    for role, name in CHAIN:
        person = await connection.fetchval("INSERT INTO person (name, phone) VALUES ($1, '13800000000') RETURNING id",
                                           name)
        await connection.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES ($1, $2, $3)",
                                 PLAIN, role, person)
    yield connection
    await connection.close()


async def tasks(conn, regime: str) -> dict[str, list[tuple]]:
    """Each point's tasks of a regime as (due_at, state, assignee's name), oldest first."""
    rows = await conn.fetch("SELECT t.hazard_point, t.due_at, t.state, p.name FROM patrol_task t"
                            " LEFT JOIN person p ON p.id = t.assignee_id WHERE t.regime = $1 ORDER BY t.id", regime)
    found: dict[str, list[tuple]] = {}
    for row in rows:
        found.setdefault(row["hazard_point"], []).append((row["due_at"], row["state"], row["name"]))
    return found


async def finish(conn, regime: str) -> None:
    await conn.execute("UPDATE patrol_task SET state = 'done', done_at = due_at WHERE regime = $1 AND state = 'open'",
                       regime)


# --- routine -------------------------------------------------------------------------------------


async def test_routine_tasks_follow_each_points_plan_and_running_again_adds_none(conn, settings):
    assert await generate_tasks(conn, WINTER, settings) == {"routine": 2}
    assert await tasks(conn, "routine") == {
        PLAIN: [(WINTER + timedelta(days=3.5), "open", "Zhang San")],  # twice a week, to the point's monitor
        DAILY: [(WINTER + timedelta(days=1), "open", None)],  # its plan's seven a week; nobody is its monitor
    }
    for later in (timedelta(0), timedelta(hours=1), timedelta(days=3)):
        assert await generate_tasks(conn, WINTER + later, settings) == {"routine": 0}
    assert sum(map(len, (await tasks(conn, "routine")).values())) == 2


async def test_the_next_routine_task_keeps_the_cadence_whether_the_last_was_done_early_or_late(conn, settings):
    await generate_tasks(conn, WINTER, settings)
    await conn.execute("UPDATE patrol_task SET state = 'done', done_at = $1 WHERE hazard_point = $2", WINTER, PLAIN)
    assert await generate_tasks(conn, WINTER + timedelta(days=1), settings) == {"routine": 1}
    assert (await tasks(conn, "routine"))[PLAIN][-1][0] == WINTER + timedelta(days=7)  # early: on the cadence
    await conn.execute("UPDATE patrol_task SET state = 'done' WHERE hazard_point = $1", PLAIN)
    assert await generate_tasks(conn, WINTER + timedelta(days=9), settings) == {"routine": 1}  # DAILY's is open
    assert (await tasks(conn, "routine"))[PLAIN][-1][0] == WINTER + timedelta(days=12.5)  # late: from now


# --- flood season --------------------------------------------------------------------------------


async def test_flood_before_comes_once_in_the_weeks_before_the_season_due_at_its_start(conn, settings):
    assert "flood_before" not in await generate_tasks(conn, SEASON_START - timedelta(weeks=4, minutes=1), settings)
    april = datetime(2026, 4, 10, tzinfo=UTC)
    assert (await generate_tasks(conn, april, settings))["flood_before"] == 2
    assert await tasks(conn, "flood_before") == {PLAIN: [(SEASON_START, "open", "Zhang San")],
                                                 DAILY: [(SEASON_START, "open", None)]}
    assert (await generate_tasks(conn, april + timedelta(hours=1), settings))["flood_before"] == 0
    await finish(conn, "flood_before")
    assert (await generate_tasks(conn, april + timedelta(days=10), settings))["flood_before"] == 0


async def test_flood_during_comes_every_interval_within_the_season_and_none_due_past_its_end(conn, settings):
    june = datetime(2026, 6, 1, tzinfo=UTC)
    created = await generate_tasks(conn, june, settings)
    assert (created["flood_during"], "flood_before" in created) == (2, False)
    assert (await tasks(conn, "flood_during"))[PLAIN] == [(june + timedelta(days=7), "open", "Zhang San")]
    assert (await generate_tasks(conn, june + timedelta(days=2), settings))["flood_during"] == 0
    await finish(conn, "flood_during")
    assert (await generate_tasks(conn, june + timedelta(days=2), settings))["flood_during"] == 2
    assert (await tasks(conn, "flood_during"))[PLAIN][-1][0] == june + timedelta(days=14)
    await finish(conn, "flood_during")
    assert (await generate_tasks(conn, SEASON_END - timedelta(days=5), settings))["flood_during"] == 0


async def test_flood_after_comes_once_after_the_season_due_weeks_after_its_end(conn, settings):
    october = datetime(2026, 10, 5, tzinfo=UTC)
    assert (await generate_tasks(conn, october, settings))["flood_after"] == 2
    assert (await tasks(conn, "flood_after"))[PLAIN] == [(SEASON_END + timedelta(weeks=4), "open", "Zhang San")]
    await finish(conn, "flood_after")
    assert (await generate_tasks(conn, october + timedelta(days=1), settings))["flood_after"] == 0
    assert await generate_tasks(conn, datetime(2026, 12, 1, tzinfo=UTC), settings) == {"routine": 0}


def test_a_flood_season_may_run_across_the_new_year(settings):
    southern = settings.model_copy(update={"flood_season_start": "11-01", "flood_season_end": "03-31",
                                           "flood_season_timezone": "UTC"})
    season = flood_season_around(datetime(2027, 1, 15, tzinfo=UTC), southern)
    assert (season.start, season.end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    assert flood_season_around(datetime(2027, 7, 1, tzinfo=UTC), southern) is None


# --- overdue tasks -------------------------------------------------------------------------------


async def test_an_overdue_task_escalates_up_the_grid_above_its_assignee_then_renotifies_the_top(conn, settings):
    await generate_tasks(conn, WINTER, settings)
    await finish_daily(conn)
    due = WINTER + timedelta(days=3.5)
    assert await escalate_overdue_tasks(conn, due - timedelta(seconds=1)) == []
    told = []
    for days in range(4):
        [escalation] = await escalate_overdue_tasks(conn, due + timedelta(days=days))
        told.append((escalation.kind, escalation.role, escalation.person_name))
        assert escalation.next_deadline == due + timedelta(days=days + 1)
        assert await escalate_overdue_tasks(conn, due + timedelta(days=days, hours=1)) == []
    # The monitor has the task already: the first escalation goes to the area lead.
    assert told == [("escalated", "area_lead", "Li Si"), ("escalated", "resident_geologist", "Wang Wu"),
                    ("escalated", "county_admin", "Zhao Liu"), ("notified", "county_admin", "Zhao Liu")]
    events = await conn.fetch("SELECT kind, step, role, note FROM patrol_task_event ORDER BY id")
    assert [(e["kind"], e["step"], e["role"]) for e in events] == [
        ("escalated", 2, "area_lead"), ("escalated", 3, "resident_geologist"), ("escalated", 4, "county_admin"),
        ("notified", 4, "county_admin")]
    assert events[0]["note"].endswith("is overdue; escalated to area lead Li Si")


async def test_an_unassigned_overdue_task_goes_to_the_lowest_role_anyone_holds(conn, settings):
    await generate_tasks(conn, WINTER, settings)
    person = await conn.fetchval("INSERT INTO person (name) VALUES ('Qian Qi') RETURNING id")
    await conn.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES ($1, 'area_lead', $2)",
                       DAILY, person)
    [escalation] = await escalate_overdue_tasks(conn, WINTER + timedelta(days=1))
    assert (escalation.hazard_point, escalation.regime, escalation.role, escalation.person_name) == (
        DAILY, "routine", "area_lead", "Qian Qi")


async def test_a_done_task_does_not_escalate(conn, settings):
    await generate_tasks(conn, WINTER, settings)
    await finish(conn, "routine")
    assert await escalate_overdue_tasks(conn, WINTER + timedelta(days=30)) == []


async def finish_daily(conn) -> None:
    """Close DAILY's task, so only PLAIN's is left to escalate."""
    await conn.execute("UPDATE patrol_task SET state = 'done' WHERE hazard_point = $1", DAILY)


# --- the engine's job ----------------------------------------------------------------------------


async def test_the_engines_job_creates_the_tasks_due_now(conn, settings, database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await run_regimes(pool, settings)
        await run_regimes(pool, settings)
    finally:
        await pool.close()
    routine = await tasks(conn, "routine")
    assert sorted(routine) == [PLAIN, DAILY] and all(len(t) == 1 for t in routine.values())


async def test_a_point_taken_out_of_monitoring_has_its_open_tasks_called_off(conn, settings):
    await generate_tasks(conn, WINTER, settings)
    await conn.execute("UPDATE hazard_point SET status = 'relocated' WHERE code = $1", DAILY)
    await generate_tasks(conn, WINTER + timedelta(hours=1), settings)
    routine = await tasks(conn, "routine")
    assert [state for _, state, _ in routine[DAILY]] == ["cancelled"]
    assert [state for _, state, _ in routine[PLAIN]] == ["open"]
    # Called off, it does not escalate when its due time passes.
    assert [e.hazard_point for e in await escalate_overdue_tasks(conn, WINTER + timedelta(days=2))] == []
