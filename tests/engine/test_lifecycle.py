"""The alert lifecycle of SPEC 4.4 against the real database: officer transitions, escalation, effects.

Alerts are raised with the engine's own flows (`raise_alert`, `change_level`, `apply_assessment`), and what
they owe is carried out by `alerting.outbox`; downlink commands and retained topics are recorded, not sent
(tests/fault/test_outbox.py sends them through the real broker).
"""

import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from alerting import flows, outbox
from alerting.engine import evaluate_once
from alerting.flows import (AlertNotFound, Assessment, EvacuationNotAllowed, InvalidEvacuation, InvalidTransition,
                            InvalidVerdict, LoweringNotDue)
from alerting.levels import LEVEL_NAMES
from alerting.scheduled import escalate_overdue
from tests.support import register

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
POINT = "500113-HP-0042"
GW = "GW-500113-0001"
OFFICER = "duty:wang.fang"
SHELTER = "Xinglong village school"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def conn(database_url):
    """A connection to this test's database holding one point with a crack meter and a rain gauge."""
    register(database_url, sensors=(("CR-01", "crack", {}), ("RG-01", "rain", {})))
    connection = await asyncpg.connect(database_url)
    await connection.execute("UPDATE hazard_point SET threatened_people = 41")
    yield connection
    await connection.close()


class FakeDevices:
    """Commands recorded, not published: the broker does not take those for the devices in `unreachable`, and
    those in `refusing` refuse them (as an unregistered device would)."""

    def __init__(self, unreachable=(), refusing=()):
        self.sent: list[tuple[str, str, dict]] = []
        self.actors: list[str] = []
        self.unreachable = set(unreachable)
        self.refusing = set(refusing)

    def by(self, actor: str):
        self.actors.append(actor)
        return self.send

    async def send(self, device_id, name, params):
        if device_id in self.unreachable:
            raise RuntimeError(f"the broker did not acknowledge {name} for {device_id}")
        if device_id in self.refusing:
            raise LookupError(f"{device_id} is not registered")
        self.sent.append((device_id, name, dict(params)))
        return f"cmd-{len(self.sent)}"


class Topics:
    """Retained alert topics recorded, not published (tests/fault/test_outbox.py publishes them through the broker)."""

    def __init__(self):
        self.published: list[tuple[str, str]] = []

    async def publish(self, conn, county: str, point: str) -> None:
        self.published.append((county, point))


async def carry_out(conn, devices: FakeDevices | None = None, *, now: datetime) -> outbox.Outcome:
    """What the changes owe, carried out as the engine does, with commands to `devices`."""
    devices = devices or FakeDevices()
    return await outbox.carry_out(conn, outbox.Carrier(Topics().publish, devices.by), now=now)


def assessment(level: str, type: str = "deformation") -> Assessment:
    return Assessment(POINT, "500113", type, LEVEL_NAMES.index(level), [f"test: {level}"], {"test": level}, {})


async def raise_alert(conn, level: str, at: datetime = NOW, type: str = "deformation") -> flows.Change:
    return await flows.raise_alert(conn, assessment(level, type), at)


async def raise_level(conn, alert_id: int, level: str, at: datetime) -> flows.Change:
    return await flows.change_level(conn, await alert(conn, alert_id), assessment(level), at, "level_raised")


async def alert(conn, alert_id: int):
    return await conn.fetchrow("SELECT * FROM alert WHERE id = $1", alert_id)


async def events(conn, alert_id: int, *kinds: str) -> list:
    rows = await conn.fetch("SELECT kind, at, actor, from_level, to_level, inputs::text, note FROM alert_event "
                            "WHERE alert_id = $1 ORDER BY id", alert_id)
    return [dict(r, inputs=json.loads(r["inputs"])) for r in rows if not kinds or r["kind"] in kinds]


async def assign_grid(conn, **names_by_role) -> dict[str, int]:
    """Assign a person to each given role of the point's grid; their phone is 138 plus the role's position."""
    ids = {}
    for i, (role, name) in enumerate(names_by_role.items()):
        ids[role] = await conn.fetchval("INSERT INTO person (name, phone, roles) VALUES ($1, $2, $3) RETURNING id",
                                        name, f"1380000000{i}", [role])
        await conn.execute("INSERT INTO grid_assignment (hazard_point, role, person_id) VALUES ($1, $2, $3)",
                           POINT, role, ids[role])
    return ids


async def acknowledged(conn, level: str = "orange") -> int:
    change = await raise_alert(conn, level)
    await flows.acknowledge(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW + timedelta(minutes=2))
    return change.alert_id


async def confirmed_red(conn) -> int:
    alert_id = await acknowledged(conn, "red")
    await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(minutes=20), verdict="confirmed")
    return alert_id


async def held_lower(conn, level: str, lower: str, hours: float) -> int:
    """An alert at `level` whose inputs have been at `lower` for `hours`, as the engine leaves it."""
    change = await raise_alert(conn, level)
    await flows.apply_assessment(conn, assessment(lower), await alert(conn, change.alert_id), NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=1 + hours)
    assert await flows.apply_assessment(conn, assessment(lower), await alert(conn, change.alert_id), later) is None
    return change.alert_id


# --- officer transitions -------------------------------------------------------------------------


async def test_acknowledging_an_open_alert_records_who_and_when(conn):
    change = await raise_alert(conn, "orange")
    at = NOW + timedelta(minutes=3)
    await flows.acknowledge(conn, alert_id=change.alert_id, actor=OFFICER, now=at, note="on it")
    row = await alert(conn, change.alert_id)
    assert (row["state"], row["acknowledged_by"], row["acknowledged_at"]) == ("acknowledged", OFFICER, at)
    [event] = await events(conn, change.alert_id, "acknowledged")
    assert (event["actor"], event["at"], event["note"]) == (OFFICER, at, "on it")


async def test_an_acknowledged_alert_cannot_be_acknowledged_again(conn):
    alert_id = await acknowledged(conn)
    with pytest.raises(InvalidTransition, match=rf"^Alert {alert_id} is acknowledged; it cannot be acknowledged$"):
        await flows.acknowledge(conn, alert_id=alert_id, actor="duty:li", now=NOW + timedelta(minutes=5))
    assert (await alert(conn, alert_id))["acknowledged_by"] == OFFICER


async def test_a_resolved_alert_cannot_be_acknowledged(conn):
    change = await raise_alert(conn, "yellow")
    await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
    with pytest.raises(InvalidTransition) as caught:
        await flows.acknowledge(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
    assert caught.value.detail == f"Alert {change.alert_id} is resolved; it cannot be acknowledged"


async def test_an_unknown_alert_is_not_found(conn):
    with pytest.raises(AlertNotFound, match="^Alert 999 not found$"):
        await flows.acknowledge(conn, alert_id=999, actor=OFFICER, now=NOW)


async def test_verifying_an_acknowledged_alert_records_the_verdict_who_and_when(conn):
    alert_id = await acknowledged(conn)
    at = NOW + timedelta(minutes=40)
    await flows.verify(conn, alert_id=alert_id, actor="duty:zhao", now=at, verdict="false_alarm",
                       note="dog on the gauge")
    row = await alert(conn, alert_id)
    assert (row["state"], row["verdict"], row["verified_by"], row["verified_at"]) == (
        "verified", "false_alarm", "duty:zhao", at)
    [event] = await events(conn, alert_id, "verified")
    assert (event["actor"], event["at"], event["inputs"], event["note"]) == (
        "duty:zhao", at, {"verdict": "false_alarm"}, "dog on the gauge")


async def test_an_open_alert_cannot_be_verified_before_it_is_acknowledged(conn):
    change = await raise_alert(conn, "orange")
    with pytest.raises(InvalidTransition, match="is open; it cannot be verified before it is acknowledged"):
        await flows.verify(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW, verdict="confirmed")
    assert (await alert(conn, change.alert_id))["state"] == "open"


async def test_a_verified_alert_cannot_be_verified_again(conn):
    alert_id = await confirmed_red(conn)
    with pytest.raises(InvalidTransition, match="is verified; it cannot be verified$"):
        await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW, verdict="false_alarm")
    assert (await alert(conn, alert_id))["verdict"] == "confirmed"


async def test_a_verdict_is_confirmed_or_false_alarm(conn):
    alert_id = await acknowledged(conn)
    with pytest.raises(InvalidVerdict, match="'maybe' is not one of confirmed, false_alarm"):
        await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW, verdict="maybe")


@pytest.mark.parametrize("state", ["open", "acknowledged", "verified"])
async def test_an_officer_resolves_an_alert_from_any_unresolved_state_recording_who_and_when(conn, state):
    change = await raise_alert(conn, "yellow")
    if state != "open":
        await flows.acknowledge(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
    if state == "verified":
        await flows.verify(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW, verdict="false_alarm")
    at = NOW + timedelta(hours=1)
    result = await flows.resolve(conn, alert_id=change.alert_id, actor="duty:li", now=at, note="slope checked")
    assert (result.kind, result.from_level, result.to_level) == ("resolved", "yellow", None)
    row = await alert(conn, change.alert_id)
    assert (row["state"], row["resolved_by"], row["resolved_at"]) == ("resolved", "duty:li", at)
    [event] = await events(conn, change.alert_id, "resolved")
    assert (event["actor"], event["at"], event["from_level"], event["note"]) == (
        "duty:li", at, "yellow", "slope checked")


async def test_a_resolved_alert_cannot_be_resolved_again(conn):
    change = await raise_alert(conn, "blue")
    await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
    with pytest.raises(InvalidTransition, match="is resolved; it cannot be resolved$"):
        await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
    assert len(await events(conn, change.alert_id, "resolved")) == 1


async def test_transitions_store_json_objects_on_the_api_pools_json_decoding_connections(conn, database_url):
    api_conn = await asyncpg.connect(database_url)
    for pg_type in ("json", "jsonb"):  # as service.db sets up the HTTP pool
        await api_conn.set_type_codec(pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        change = await raise_alert(conn, "orange")
        await flows.acknowledge(api_conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)
        await flows.verify(api_conn, alert_id=change.alert_id, actor=OFFICER, now=NOW, verdict="confirmed")
        inputs = await api_conn.fetchval("SELECT inputs FROM alert_event WHERE kind = 'verified'")
    finally:
        await api_conn.close()
    assert inputs == {"verdict": "confirmed"}


# --- lowering orange and red ---------------------------------------------------------------------


async def test_orange_held_lower_for_the_hold_time_stays_orange_without_an_officer(conn):
    alert_id = await held_lower(conn, "orange", "yellow", hours=30)
    row = await alert(conn, alert_id)
    assert (row["level"], row["pending_level"]) == ("orange", "yellow")


async def test_resolving_an_orange_held_at_yellow_for_the_hold_time_lowers_it_to_yellow(conn):
    alert_id = await held_lower(conn, "orange", "yellow", hours=24)
    await flows.acknowledge(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=2))
    at = NOW + timedelta(hours=25)
    change = await flows.resolve(conn, alert_id=alert_id, actor=OFFICER, now=at)
    assert (change.kind, change.from_level, change.to_level) == ("level_lowered", "orange", "yellow")
    row = await alert(conn, alert_id)
    assert (row["level"], row["state"], row["pending_level"]) == ("yellow", "acknowledged", None)
    [event] = await events(conn, alert_id, "level_lowered")
    assert (event["actor"], event["at"], event["from_level"], event["to_level"]) == (OFFICER, at, "orange", "yellow")
    assert event["inputs"]["pending_level"] == "yellow" and event["inputs"]["held_h"] == 24.0


async def test_confirming_a_lowering_before_the_hold_time_is_refused(conn):
    alert_id = await held_lower(conn, "orange", "yellow", hours=23)
    with pytest.raises(LoweringNotDue, match="inputs have been yellow only since .*; orange must hold lower for 24 h"):
        await flows.confirm_lowering(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=24))
    assert (await alert(conn, alert_id))["level"] == "orange"


async def test_confirming_a_lowering_after_the_hold_time_lowers_red_to_the_held_level(conn):
    alert_id = await held_lower(conn, "red", "orange", hours=48)
    change = await flows.confirm_lowering(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=49))
    assert (change.kind, change.to_level) == ("level_lowered", "orange")
    assert (await alert(conn, alert_id))["state"] == "open"


async def test_confirming_a_lowering_of_an_alert_whose_inputs_are_not_lower_is_refused(conn):
    change = await raise_alert(conn, "red")
    with pytest.raises(LoweringNotDue, match="inputs are not lower than red; there is no lowering to confirm"):
        await flows.confirm_lowering(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW)


async def test_a_yellow_alert_needs_no_confirmation_to_lower(conn):
    alert_id = await held_lower(conn, "yellow", "blue", hours=11)
    with pytest.raises(LoweringNotDue, match="is yellow; only orange and red alerts wait for a duty officer"):
        await flows.confirm_lowering(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=12))


async def test_resolving_an_orange_whose_inputs_held_at_none_closes_it(conn):
    alert_id = await held_lower(conn, "orange", "none", hours=24)
    change = await flows.resolve(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=25))
    assert change.kind == "resolved"
    [event] = await events(conn, alert_id, "resolved")
    assert (event["actor"], event["inputs"]["pending_level"]) == (OFFICER, "none")


async def test_resolving_an_orange_before_its_inputs_held_lower_closes_it_at_the_officers_word(conn):
    alert_id = await held_lower(conn, "orange", "yellow", hours=2)
    change = await flows.resolve(conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=3))
    assert change.kind == "resolved"
    assert (await alert(conn, alert_id))["state"] == "resolved"


# --- evacuation ----------------------------------------------------------------------------------


async def test_a_confirmed_red_records_the_evacuation_how_many_where_by_whom_and_when(conn):
    alert_id = await acknowledged(conn, "red")
    moved_at = NOW + timedelta(minutes=50)
    evacuation_id = await flows.verify(
        conn, alert_id=alert_id, actor=OFFICER, now=NOW + timedelta(hours=1), verdict="confirmed",
        evacuation={"people_moved": 38, "households_moved": 11, "shelter": SHELTER,
                    "organised_by": "village head Chen", "moved_at": moved_at.isoformat()})
    row = await conn.fetchrow("SELECT * FROM evacuation WHERE id = $1", evacuation_id)
    assert (row["alert_id"], row["people_moved"], row["households_moved"], row["threatened_people"], row["shelter"],
            row["organised_by"], row["moved_at"], row["recorded_by"]) == (
        alert_id, 38, 11, 41, SHELTER, "village head Chen", moved_at, OFFICER)
    [event] = await events(conn, alert_id, "evacuated")
    assert (event["actor"], event["inputs"]["people_moved"], event["inputs"]["shelter"]) == (OFFICER, 38, SHELTER)


async def test_an_evacuation_can_be_recorded_after_the_verdict(conn):
    alert_id = await confirmed_red(conn)
    at = NOW + timedelta(hours=2)
    await flows.record_evacuation(conn, alert_id=alert_id, actor=OFFICER, now=at,
                                  evacuation={"people_moved": 41, "shelter": SHELTER})
    row = await conn.fetchrow("SELECT organised_by, moved_at, recorded_at FROM evacuation")
    assert tuple(row) == (OFFICER, at, at)


async def test_an_evacuation_is_refused_for_a_false_alarm(conn):
    alert_id = await acknowledged(conn, "red")
    with pytest.raises(EvacuationNotAllowed, match=f"^Alert {alert_id}'s verdict is a false alarm; an evacuation "
                                                   "is recorded only for a red alert verified as confirmed$"):
        await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW, verdict="false_alarm",
                           evacuation={"people_moved": 41, "shelter": SHELTER})
    assert (await alert(conn, alert_id))["state"] == "acknowledged"  # nothing half-written


async def test_an_evacuation_is_refused_for_an_orange_alert(conn):
    alert_id = await acknowledged(conn, "orange")
    await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW, verdict="confirmed")
    with pytest.raises(EvacuationNotAllowed, match=f"^Alert {alert_id} is orange; an evacuation is recorded only"):
        await flows.record_evacuation(conn, alert_id=alert_id, actor=OFFICER, now=NOW,
                                      evacuation={"people_moved": 41, "shelter": SHELTER})
    assert await conn.fetchval("SELECT count(*) FROM evacuation") == 0


async def test_an_evacuation_is_refused_before_the_verdict(conn):
    alert_id = await acknowledged(conn, "red")
    with pytest.raises(EvacuationNotAllowed, match=f"^Alert {alert_id} has no verdict yet; an evacuation is recorded"):
        await flows.record_evacuation(conn, alert_id=alert_id, actor=OFFICER, now=NOW,
                                      evacuation={"people_moved": 41, "shelter": SHELTER})


async def test_an_evacuation_without_a_shelter_is_refused_with_a_readable_error(conn):
    alert_id = await acknowledged(conn, "red")
    with pytest.raises(InvalidEvacuation, match=r"^evacuation: shelter \(where the people went\) is missing$"):
        await flows.verify(conn, alert_id=alert_id, actor=OFFICER, now=NOW, verdict="confirmed",
                           evacuation={"people_moved": 41})
    assert (await alert(conn, alert_id))["state"] == "acknowledged"


async def test_an_evacuation_of_a_negative_number_of_people_is_refused(conn):
    alert_id = await confirmed_red(conn)
    with pytest.raises(InvalidEvacuation, match="people_moved -3 is not a whole number, 0 or more"):
        await flows.record_evacuation(conn, alert_id=alert_id, actor=OFFICER, now=NOW,
                                      evacuation={"people_moved": -3, "shelter": SHELTER})


# --- acknowledgement deadlines and escalation ----------------------------------------------------


async def test_an_unacknowledged_red_escalates_up_the_grid_every_ten_minutes_then_renotifies_the_top(conn):
    ids = await assign_grid(conn, monitor="Zhang San", area_lead="Li Si", resident_geologist="Wang Wu",
                            county_admin="Zhao Liu")
    change = await raise_alert(conn, "red")
    assert await escalate_overdue(conn, NOW + timedelta(minutes=9, seconds=59)) == []
    told = []
    for minutes in (10, 20, 30, 40, 50, 60):
        [escalation] = await escalate_overdue(conn, NOW + timedelta(minutes=minutes))
        told.append((escalation.kind, escalation.role, escalation.person_name))
        assert escalation.next_deadline == NOW + timedelta(minutes=minutes + 10)
        assert await escalate_overdue(conn, NOW + timedelta(minutes=minutes, seconds=30)) == []
    assert told == [("escalated", "monitor", "Zhang San"), ("escalated", "area_lead", "Li Si"),
                    ("escalated", "resident_geologist", "Wang Wu"), ("escalated", "county_admin", "Zhao Liu"),
                    ("notified", "county_admin", "Zhao Liu"), ("notified", "county_admin", "Zhao Liu")]
    logged = await events(conn, change.alert_id, "escalated", "notified")
    assert [(e["at"], e["inputs"]["person"]["name"]) for e in logged][:2] == [
        (NOW + timedelta(minutes=10), "Zhang San"), (NOW + timedelta(minutes=20), "Li Si")]
    assert logged[1]["inputs"]["person"] == {"id": ids["area_lead"], "name": "Li Si", "phone": "13800000001",
                                             "role": "area_lead"}
    row = await alert(conn, change.alert_id)
    assert (row["escalation_step"], row["ack_deadline"]) == (4, NOW + timedelta(minutes=70))


async def test_acknowledgement_stops_escalation(conn):
    await assign_grid(conn, monitor="Zhang San", area_lead="Li Si")
    change = await raise_alert(conn, "red")
    assert len(await escalate_overdue(conn, NOW + timedelta(minutes=10))) == 1
    await flows.acknowledge(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW + timedelta(minutes=12))
    assert await escalate_overdue(conn, NOW + timedelta(hours=5)) == []


async def test_escalation_skips_roles_nobody_holds(conn):
    await assign_grid(conn, monitor="Zhang San", county_admin="Zhao Liu")
    await raise_alert(conn, "orange")
    steps = [await escalate_overdue(conn, NOW + timedelta(minutes=m)) for m in (30, 60, 90)]
    assert [(e.kind, e.role, e.step) for [e] in steps] == [
        ("escalated", "monitor", 1), ("escalated", "county_admin", 4), ("notified", "county_admin", 4)]


async def test_an_alert_at_a_point_without_a_grid_still_records_each_missed_deadline(conn):
    change = await raise_alert(conn, "yellow")
    [escalation] = await escalate_overdue(conn, NOW + timedelta(hours=2))
    assert (escalation.person_id, escalation.next_deadline) == (None, NOW + timedelta(hours=4))
    [event] = await events(conn, change.alert_id, "escalated")
    assert event["note"] == "not acknowledged in time, and nobody holds a role in the point's grid"


async def test_a_level_raise_restarts_the_deadline_with_the_higher_levels(conn):
    await assign_grid(conn, monitor="Zhang San")
    change = await raise_alert(conn, "yellow")  # due for acknowledgement at 14:00
    await raise_level(conn, change.alert_id, "red", NOW + timedelta(minutes=45))
    assert (await alert(conn, change.alert_id))["ack_deadline"] == NOW + timedelta(minutes=55)
    assert await escalate_overdue(conn, NOW + timedelta(minutes=54)) == []
    [escalation] = await escalate_overdue(conn, NOW + timedelta(minutes=55))
    assert (escalation.level, escalation.role) == ("red", "monitor")


async def test_escalation_after_a_backlog_steps_once_and_keeps_to_the_deadline_grid(conn):
    await assign_grid(conn, monitor="Zhang San", area_lead="Li Si")
    await raise_alert(conn, "red")
    [escalation] = await escalate_overdue(conn, NOW + timedelta(minutes=47))  # the engine was down since 12:05
    assert (escalation.role, escalation.next_deadline) == ("monitor", NOW + timedelta(minutes=50))
    assert await escalate_overdue(conn, NOW + timedelta(minutes=48)) == []


async def test_an_alert_raised_without_a_deadline_counts_from_when_it_was_raised(conn):
    change = await raise_alert(conn, "red")
    await conn.execute("UPDATE alert SET ack_deadline = NULL")  # as code outside the flows would leave it
    assert await escalate_overdue(conn, NOW + timedelta(minutes=9)) == []
    assert [e.alert_id for e in await escalate_overdue(conn, NOW + timedelta(minutes=10))] == [change.alert_id]


# --- verification tasks --------------------------------------------------------------------------


async def test_yellow_creates_one_verification_task_for_the_monitor_due_in_six_hours(conn):
    ids = await assign_grid(conn, monitor="Zhang San")
    change = await raise_alert(conn, "yellow")
    await carry_out(conn, now=NOW)
    tasks = await conn.fetch("SELECT hazard_point, regime, state, assignee_id, alert_id, due_at FROM patrol_task")
    assert [tuple(t) for t in tasks] == [
        (POINT, "verification", "open", ids["monitor"], change.alert_id, NOW + timedelta(hours=6))]
    [event] = await events(conn, change.alert_id, "verification_requested")
    assert event["inputs"]["assignee"]["name"] == "Zhang San"


async def test_effects_done_again_after_a_crash_add_nothing(conn):
    change = await raise_alert(conn, "orange")
    devices = FakeDevices()
    await carry_out(conn, devices, now=NOW)
    # As if the process was killed after the effects' writes and before their rows were marked done.
    await conn.execute("UPDATE alert_owed SET done_at = NULL")
    await carry_out(conn, devices, now=NOW + timedelta(minutes=1))
    assert await conn.fetchval("SELECT count(*) FROM patrol_task WHERE alert_id = $1", change.alert_id) == 1
    assert len(devices.sent) == 2  # one per sensor: each sensor is accelerated once per alert
    assert await conn.fetchval("SELECT count(*) FROM alert_owed WHERE done_at IS NULL") == 0


@pytest.mark.parametrize(("level", "due"), [("orange", timedelta(hours=1)), ("red", timedelta(minutes=30))])
async def test_the_verification_task_is_due_sooner_the_higher_the_level(conn, level, due):
    await raise_alert(conn, level)
    await carry_out(conn, now=NOW)
    assert await conn.fetchval("SELECT due_at FROM patrol_task") == NOW + due


async def test_a_task_created_late_is_due_counted_from_the_raise(conn):
    await raise_alert(conn, "red")
    await carry_out(conn, now=NOW + timedelta(minutes=20))  # the engine was down for 20 minutes
    assert await conn.fetchval("SELECT due_at FROM patrol_task") == NOW + timedelta(minutes=30)


async def test_a_raise_shortens_the_open_verification_task_instead_of_adding_one(conn):
    await assign_grid(conn, monitor="Zhang San")
    change = await raise_alert(conn, "yellow")
    await carry_out(conn, now=NOW)
    await raise_level(conn, change.alert_id, "red", NOW + timedelta(hours=1))
    await carry_out(conn, now=NOW + timedelta(hours=1))
    tasks = await conn.fetch("SELECT due_at FROM patrol_task")
    assert [t["due_at"] for t in tasks] == [NOW + timedelta(hours=1, minutes=30)]
    hastened = (await events(conn, change.alert_id, "verification_requested"))[-1]
    assert hastened["inputs"]["previous_due_at"] == (NOW + timedelta(hours=6)).isoformat()


async def test_a_blue_alert_creates_no_verification_task(conn):
    await raise_alert(conn, "blue")
    await carry_out(conn, now=NOW)
    assert await conn.fetchval("SELECT count(*) FROM patrol_task") == 0


async def test_no_second_verification_task_once_the_first_is_done(conn):
    change = await raise_alert(conn, "yellow")
    await carry_out(conn, now=NOW)
    await conn.execute("UPDATE patrol_task SET state = 'done', done_at = $1", NOW + timedelta(hours=1))
    await raise_level(conn, change.alert_id, "orange", NOW + timedelta(hours=2))
    await carry_out(conn, now=NOW + timedelta(hours=2))
    assert await conn.fetchval("SELECT count(*) FROM patrol_task") == 1


async def test_resolving_calls_off_the_open_verification_task(conn):
    change = await raise_alert(conn, "yellow")
    await carry_out(conn, now=NOW)
    await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW + timedelta(hours=1))
    await carry_out(conn, now=NOW + timedelta(hours=1))
    assert await conn.fetchval("SELECT state FROM patrol_task") == "cancelled"


async def test_an_alert_resolved_before_its_raise_was_carried_out_gets_no_task_and_no_commands(conn):
    devices = FakeDevices()
    change = await raise_alert(conn, "orange")
    await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW + timedelta(minutes=5))
    await carry_out(conn, devices, now=NOW + timedelta(minutes=6))
    assert await conn.fetchval("SELECT count(*) FROM patrol_task") == 0
    assert devices.sent == []


# --- accelerated sampling ------------------------------------------------------------------------


async def test_orange_sends_each_displacement_and_rain_sensor_into_accelerated_sampling(conn, database_url):
    register(database_url, gateway="GW-500113-0002", sensors=(("SM-01", "soil_moisture", {}),))
    await conn.execute("UPDATE sensor SET reporting_interval_s = 1800 WHERE code = 'RG-01'")
    devices = FakeDevices()
    change = await raise_alert(conn, "orange")
    await carry_out(conn, devices, now=NOW)
    assert devices.sent == [
        (GW, "setsensortime", {"sensor_id": "CR-01", "sample_intv": 600, "upload_intv": 600, "plus_intv": 60}),
        (GW, "setsensortime", {"sensor_id": "RG-01", "sample_intv": 1800, "upload_intv": 1800, "plus_intv": 60}),
    ]
    assert (await alert(conn, change.alert_id))["accelerated_at"] == NOW
    [event] = await events(conn, change.alert_id, "sampling_accelerated")
    assert [s["command_id"] for s in event["inputs"]["sent"]] == ["cmd-1", "cmd-2"]


async def test_orange_sends_no_command_to_a_manual_device(conn, database_url):
    register(database_url, gateway="MAN-01", protocol="manual", sensors=(("M1", "crack", {}),))
    devices = FakeDevices()
    await raise_alert(conn, "orange")
    await carry_out(conn, devices, now=NOW)
    assert "MAN-01" not in {device for device, _, _ in devices.sent} and devices.sent


async def test_yellow_does_not_accelerate_sampling(conn):
    devices = FakeDevices()
    await raise_alert(conn, "yellow")
    await carry_out(conn, devices, now=NOW)
    assert devices.sent == []


async def test_sampling_is_accelerated_once_per_alert(conn):
    devices = FakeDevices()
    change = await raise_alert(conn, "orange")
    await carry_out(conn, devices, now=NOW)
    await raise_level(conn, change.alert_id, "red", NOW + timedelta(minutes=20))
    await carry_out(conn, devices, now=NOW + timedelta(minutes=20))
    assert len(devices.sent) == 2
    assert (await alert(conn, change.alert_id))["accelerated_at"] == NOW


async def test_resolving_restores_the_normal_interval_of_the_accelerated_sensors(conn):
    devices = FakeDevices()
    change = await raise_alert(conn, "orange")
    await carry_out(conn, devices, now=NOW)
    devices.sent.clear()
    devices.actors.clear()
    await flows.resolve(conn, alert_id=change.alert_id, actor=OFFICER, now=NOW + timedelta(hours=30))
    await carry_out(conn, devices, now=NOW + timedelta(hours=30))
    assert devices.sent == [
        (GW, "setsensortime", {"sensor_id": "CR-01", "sample_intv": 600, "upload_intv": 600, "plus_intv": 600}),
        (GW, "setsensortime", {"sensor_id": "RG-01", "sample_intv": 600, "upload_intv": 600, "plus_intv": 600}),
    ]
    restored = await conn.fetch("SELECT restored_at, restore_command_id FROM accelerated_sampling ORDER BY sensor_code")
    assert [tuple(r) for r in restored] == [(NOW + timedelta(hours=30), "cmd-1"), (NOW + timedelta(hours=30), "cmd-2")]
    [event] = await events(conn, change.alert_id, "sampling_restored")
    assert event["actor"] == OFFICER
    assert devices.actors == [OFFICER]  # the officer's resolve sends the restoring commands in the officer's name


async def test_sampling_stays_accelerated_while_another_alert_of_the_point_is_orange(conn):
    devices = FakeDevices()
    deformation = await raise_alert(conn, "orange")
    rainfall = await raise_alert(conn, "orange", type="rainfall")
    await carry_out(conn, devices, now=NOW)
    devices.sent.clear()
    await flows.resolve(conn, alert_id=deformation.alert_id, actor=OFFICER, now=NOW)
    await carry_out(conn, devices, now=NOW)
    assert devices.sent == []
    await flows.resolve(conn, alert_id=rainfall.alert_id, actor=OFFICER, now=NOW)
    await carry_out(conn, devices, now=NOW)
    assert [params["plus_intv"] for _, _, params in devices.sent] == [600, 600]


async def test_a_device_that_cannot_be_reached_does_not_stop_the_others_and_is_sent_again_later(conn, database_url):
    register(database_url, gateway="GW-500113-0002", sensors=(("CR-02", "crack", {}),))
    devices = FakeDevices(unreachable={GW})
    change = await raise_alert(conn, "red")
    outcome = await carry_out(conn, devices, now=NOW)
    assert [(device, params["sensor_id"]) for device, _, params in devices.sent] == [("GW-500113-0002", "CR-02")]
    [event] = await events(conn, change.alert_id, "sampling_accelerated")
    assert [f["sensor"] for f in event["inputs"]["failed"]] == ["CR-01", "RG-01"]
    assert outcome.deferred == 1
    assert (await carry_out(conn, devices, now=NOW + timedelta(seconds=10))).deferred == 1  # still unreachable
    assert len(await events(conn, change.alert_id, "sampling_accelerated")) == 1  # no event per failed retry
    assert (await alert(conn, change.alert_id))["accelerated_at"] == NOW  # CR-02's, the one sent
    devices.unreachable.clear()  # the broker took the commands again
    assert (await carry_out(conn, devices, now=NOW + timedelta(seconds=1))).done == 0  # not due yet
    await carry_out(conn, devices, now=NOW + timedelta(minutes=1))
    assert [params["sensor_id"] for _, _, params in devices.sent] == ["CR-02", "CR-01", "RG-01"]
    assert await conn.fetchval("SELECT count(*) FROM alert_owed WHERE done_at IS NULL") == 0


async def test_a_device_that_refuses_the_command_is_not_sent_it_again(conn):
    devices = FakeDevices(refusing={GW})
    await raise_alert(conn, "red")
    await carry_out(conn, devices, now=NOW)
    assert await conn.fetchval("SELECT count(*) FROM alert_owed WHERE done_at IS NULL") == 0


async def test_an_orange_storm_from_the_engine_sets_the_effects_going(conn, database_url):
    await assign_grid(conn, monitor="Zhang San")
    await conn.copy_records_to_table(
        "reading", columns=["device_id", "sensor_code", "ts", "kind", "value"],
        records=[(GW, "RG-01", NOW - timedelta(minutes=10 * i), "rain", 20.0 / 6) for i in range(37)])  # 120 mm in 6 h
    devices = FakeDevices()
    [change] = [c for c in await evaluate_once(conn, NOW) if c.type == "rainfall"]
    await carry_out(conn, devices, now=NOW)
    assert (change.type, change.to_level) == ("rainfall", "orange")
    assert await conn.fetchval("SELECT due_at FROM patrol_task") == NOW + timedelta(hours=1)
    assert {params["sensor_id"] for _, _, params in devices.sent} == {"CR-01", "RG-01"}
    assert (await alert(conn, change.alert_id))["ack_deadline"] == NOW + timedelta(minutes=30)
