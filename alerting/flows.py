"""The alert lifecycle as a small state machine: one function per transition, each recording an event.

The engine hands every (hazard point, alert type) assessment to `apply_assessment`, which decides
between raising, lowering (after the hold time, and for orange and red only with a duty officer's
confirmation), resolving, or nothing. Every change is an `alert_event` with its inputs, thresholds
and rule version, and what it owes (the point's MQTT topic, a verification task, sampling commands) is
recorded with it in the same transaction, for `alerting.outbox` to carry out once it has committed.

Duty officers move an alert along open -> acknowledged -> verified -> resolved with `acknowledge`,
`verify` (and `record_evacuation`), `resolve` and `confirm_lowering`, each recording who and when.
A transition the alert's state does not allow raises a `LifecycleError` whose message says why.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Mapping

import asyncpg
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from alerting.levels import LEVEL_NAMES
from alerting.rules import CONFIRM_TO_LOWER, HOLD, RULE_VERSION
from alerting.scheduled import restart_ack_deadline
from sql import queries

Q = queries("lifecycle")
ENGINE_ACTOR = "engine"
VERDICTS = ("confirmed", "false_alarm")
UNRESOLVED_STATES = ("open", "acknowledged", "verified")


@dataclass(slots=True)  # an evaluation makes three per hazard point
class Assessment:
    """What one evaluation concluded for one hazard point and alert type."""

    hazard_point: str
    county_code: str
    type: str  # deformation | rainfall | device
    level: int | None  # None: no data, which never lowers a level
    # Given, or left to `explain`, which builds (reasons, evidence, thresholds) when they are needed: an
    # evaluation assesses every point but records evidence only for the alerts that change, so `assess`
    # leaves the building to it. Read them from explained().
    reasons: list[str] | None = None
    evidence: dict | None = None
    thresholds: dict | None = None
    explain: Callable[[], tuple[list[str], dict, dict]] | None = field(default=None, repr=False, compare=False)

    def explained(self) -> "Assessment":
        """This assessment with its reasons, evidence and thresholds built."""
        if self.explain is not None:
            self.reasons, self.evidence, self.thresholds = self.explain()
            self.explain = None
        return self


@dataclass(frozen=True)
class Change:
    """A level change the engine made; the point's MQTT topic is republished after it."""

    alert_id: int
    hazard_point: str
    county_code: str
    type: str
    kind: str  # raised | level_raised | level_lowered | resolved
    from_level: str | None
    to_level: str | None


async def apply_assessment(conn: asyncpg.Connection, a: Assessment, alert, now: datetime) -> Change | None:
    """Move the point's open alert of this type (or its absence) towards the assessed level."""
    if a.level is None:
        return None
    if alert is None:
        return await raise_alert(conn, a, now) if a.level > 0 else None
    current = LEVEL_NAMES.index(alert["level"])
    if a.level > current:
        return await change_level(conn, alert, a, now, "level_raised")
    if a.level == current:
        if alert["pending_level"] is not None:
            await conn.execute(Q["set_alert_pending"], alert["id"], None, None)
        return None
    # The inputs are lower than the alert. Remember since when, and lower once that has held.
    # While the level waits to fall, it falls to the highest level seen during the wait.
    held = a.level if alert["pending_level"] is None else max(a.level, LEVEL_NAMES.index(alert["pending_level"]))
    pending = LEVEL_NAMES[held]
    since = alert["pending_since"] or now
    if pending != alert["pending_level"] or alert["pending_since"] is None:
        await conn.execute(Q["set_alert_pending"], alert["id"], pending, since)
    if now - since < HOLD[alert["level"]] or alert["level"] in CONFIRM_TO_LOWER:
        return None
    if pending == "none":
        return await resolve_alert(conn, alert, a, now, actor=ENGINE_ACTOR)
    a.level = LEVEL_NAMES.index(pending)
    return await change_level(conn, alert, a, now, "level_lowered")


async def raise_alert(conn: asyncpg.Connection, a: Assessment, now: datetime, *,
                      actor: str = ENGINE_ACTOR) -> Change | None:
    """Open a new alert for the point and type; None when one was opened since the evaluation looked."""
    level = LEVEL_NAMES[a.level]
    a.explained()
    async with conn.transaction():
        alert_id = await conn.fetchval(Q["insert_alert"], a.hazard_point, a.type, level,
                                       json.dumps(a.reasons), json.dumps(a.evidence), RULE_VERSION, now)
        if alert_id is None:
            return None
        await _event(conn, alert_id, now, "raised", None, level, a, actor=actor)
        await restart_ack_deadline(conn, alert_id, level, now)
    return Change(alert_id, a.hazard_point, a.county_code, a.type, "raised", None, level)


async def change_level(conn: asyncpg.Connection, alert, a: Assessment, now: datetime, kind: str, *,
                       actor: str = ENGINE_ACTOR) -> Change | None:
    """Raise or lower the level of an open alert, with the evidence for the new level. None, and no
    event, when it was closed or its level changed since the evaluation read it."""
    level = LEVEL_NAMES[a.level]
    a.explained()
    async with conn.transaction():
        from_level = await conn.fetchval(Q["set_alert_level"], alert["id"], level, json.dumps(a.reasons),
                                         json.dumps(a.evidence), RULE_VERSION, now, alert["level"])
        if from_level is None or from_level == level:
            return None
        await _event(conn, alert["id"], now, kind, from_level, level, a, actor=actor)
        if kind == "level_raised":  # a higher level has a shorter deadline, counted from now
            await restart_ack_deadline(conn, alert["id"], level, now)
    return Change(alert["id"], a.hazard_point, a.county_code, a.type, kind, from_level, level)


async def resolve_alert(conn: asyncpg.Connection, alert, a: Assessment, now: datetime, *,
                        actor: str) -> Change | None:
    """Close an alert whose inputs have been back to normal for the hold time; None if it was closed meanwhile."""
    a.explained()
    async with conn.transaction():
        if await conn.fetchval(Q["resolve_alert"], alert["id"], now, actor, alert["level"]) is None:
            return None
        await _event(conn, alert["id"], now, "resolved", alert["level"], None, a, actor=actor)
    return Change(alert["id"], a.hazard_point, a.county_code, a.type, "resolved", alert["level"], None)


async def _event(conn, alert_id, now, kind, from_level, to_level, a: Assessment, actor=ENGINE_ACTOR):
    await conn.execute(Q["insert_event"], alert_id, now, kind, from_level, to_level, actor,
                       json.dumps(a.evidence), json.dumps(a.thresholds), RULE_VERSION, None)


# --- duty officers' transitions ------------------------------------------------------------------


class LifecycleError(Exception):
    """The alert cannot make this transition."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.__doc__)

    @property
    def detail(self) -> str:
        return self.args[0]


class AlertNotFound(LifecycleError, LookupError):
    """Alert not found."""


class InvalidTransition(LifecycleError):
    """The alert's state does not allow this transition."""


class LoweringNotDue(InvalidTransition):
    """The alert's inputs have not held a lower level for its hold time; there is no lowering to confirm."""


class EvacuationNotAllowed(InvalidTransition):
    """An evacuation is recorded only for a red alert verified as confirmed."""


class InvalidVerdict(LifecycleError, ValueError):
    """The verdict is 'confirmed' or 'false_alarm'."""


class InvalidEvacuation(LifecycleError, ValueError):
    """An evacuation needs people_moved (a whole number, 0 or more) and shelter (where they went)."""


# The API's request body (AlertVerify.evacuation) too: its 422 and `parse_evacuation` apply the same rules.
class EvacuationCreate(BaseModel):
    """How many of the point's threatened people were moved, and where to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    people_moved: int = Field(ge=0)
    shelter: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="Where the people went.")
    households_moved: int | None = Field(None, ge=0)
    note: str | None = None


class Evacuation(EvacuationCreate):
    """How many of a point's threatened people moved, where to, who organised it and when."""

    organised_by: str
    # A string is read by Python's ISO 8601 parser, not pydantic's, as the lifecycle always read it.
    moved_at: Annotated[AwareDatetime,
                        BeforeValidator(lambda t: datetime.fromisoformat(t) if isinstance(t, str) else t)]


# Why `parse_evacuation` refused a field, with the value given (the API's 422 names the field instead).
_EVACUATION_REFUSALS = {
    "people_moved": "people_moved {!r} is not a whole number, 0 or more",
    "households_moved": "households_moved {!r} is not a whole number, 0 or more",
    "shelter": "shelter (where the people went) is missing",
    "organised_by": "organised_by {!r} is not a name",
    "moved_at": "moved_at {!r} is not a time with its UTC offset",
    "note": "note {!r} is not text",
}


async def acknowledge(conn: asyncpg.Connection, *, alert_id: int, actor: str, now: datetime,
                      note: str | None = None) -> None:
    """Open -> acknowledged: a duty officer has the alert in hand, and escalation stops."""
    async with conn.transaction():
        alert = await _alert_for_update(conn, alert_id)
        _require_state(alert, ("open",), "acknowledged")
        await conn.execute(Q["acknowledge"], alert_id, now, actor)
        await _officer_event(conn, alert, now, "acknowledged", actor, {}, note)


async def verify(conn: asyncpg.Connection, *, alert_id: int, actor: str, now: datetime, verdict: str,
                 note: str | None = None, evacuation: Mapping | None = None) -> int | None:
    """Acknowledged -> verified with the field verdict; a confirmed red may record its evacuation (returns its id)."""
    if verdict not in VERDICTS:
        raise InvalidVerdict(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
    moved = None if evacuation is None else parse_evacuation(evacuation, actor=actor, now=now)
    async with conn.transaction():
        alert = await _alert_for_update(conn, alert_id)
        _require_state(alert, ("acknowledged",), "verified")
        if moved is not None:
            _require_confirmed_red(alert, verdict)
        await conn.execute(Q["verify"], alert_id, now, actor, verdict)
        await _officer_event(conn, alert, now, "verified", actor, {"verdict": verdict}, note)
        return None if moved is None else await _record_evacuation(conn, alert, moved, actor, now)


async def record_evacuation(conn: asyncpg.Connection, *, alert_id: int, actor: str, now: datetime,
                            evacuation: Mapping) -> int:
    """Record (another) evacuation under a confirmed red alert, e.g. one reported after the verdict; returns its id."""
    moved = parse_evacuation(evacuation, actor=actor, now=now)
    async with conn.transaction():
        alert = await _alert_for_update(conn, alert_id)
        _require_confirmed_red(alert, alert["verdict"])
        return await _record_evacuation(conn, alert, moved, actor, now)


async def resolve(conn: asyncpg.Connection, *, alert_id: int, actor: str, now: datetime,
                  note: str | None = None) -> Change:
    """Open, acknowledged or verified -> resolved; for a held-lower orange or red, the officer's word to lower it.

    Orange and red fall only with a duty officer's confirmation (SPEC 4.3), and the officer gives it by
    resolving: when the inputs have held a lower level for the alert's hold time, resolving lowers the
    alert to that level (a `level_lowered` event by the officer; the alert stays open in its state, and
    the engine lowers it further on its own), or closes it if the inputs are back to none. Otherwise it
    closes the alert at the officer's word; if the inputs are still high, the engine's next evaluation
    opens a new alert. What the change owes (the topic; for a resolved alert, its task called off and its
    sampling restored) is recorded with it, for `alerting.outbox` to carry out.
    """
    async with conn.transaction():
        alert = await _alert_for_update(conn, alert_id)
        _require_state(alert, UNRESOLVED_STATES, "resolved")
        if _lowering_refusal(alert, now) is None and alert["pending_level"] != "none":
            return await _lower(conn, alert, actor, now, note)
        return await _resolve(conn, alert, actor, now, note)


async def confirm_lowering(conn: asyncpg.Connection, *, alert_id: int, actor: str, now: datetime,
                           note: str | None = None) -> Change:
    """Only the lowering `resolve` would make: an orange or red alert falls to the level its inputs have held."""
    async with conn.transaction():
        alert = await _alert_for_update(conn, alert_id)
        _require_state(alert, UNRESOLVED_STATES, "lowered")
        refusal = _lowering_refusal(alert, now)
        if refusal is not None:
            raise LoweringNotDue(refusal)
        lower = _resolve if alert["pending_level"] == "none" else _lower
        return await lower(conn, alert, actor, now, note)


def parse_evacuation(given: Mapping, *, actor: str, now: datetime) -> Evacuation:
    """An Evacuation from its fields, checked as the API checks them; organised_by defaults to the actor and
    moved_at to now. Strict, unlike the API's JSON: a whole number is an int, not "3" or 3.0."""
    try:
        return Evacuation.model_validate(
            {**given, "organised_by": given.get("organised_by") or actor, "moved_at": given.get("moved_at") or now},
            strict=True)
    except ValidationError as exc:
        errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        raise InvalidEvacuation(f"evacuation: unknown field {', '.join(unknown)} "
                                f"(it takes {', '.join(Evacuation.model_fields)})")
    name, kind = errors[0]["loc"][0], errors[0]["type"]
    if name == "moved_at" and kind == "value_error":
        raise InvalidEvacuation(f"evacuation: moved_at {given['moved_at']!r} is not an ISO 8601 time")
    raise InvalidEvacuation("evacuation: " + _EVACUATION_REFUSALS[name].format(given.get(name)))


async def _alert_for_update(conn: asyncpg.Connection, alert_id: int):
    alert = await conn.fetchrow(Q["alert_for_update"], alert_id)
    if alert is None:
        raise AlertNotFound(f"Alert {alert_id} not found")
    return alert


def _require_state(alert, allowed: tuple[str, ...], verb: str) -> None:
    if alert["state"] in allowed:
        return
    hint = " before it is acknowledged" if alert["state"] == "open" and verb == "verified" else ""
    raise InvalidTransition(f"Alert {alert['id']} is {alert['state']}; it cannot be {verb}{hint}")


def _require_confirmed_red(alert, verdict: str | None) -> None:
    if alert["level"] != "red":
        raise EvacuationNotAllowed(f"Alert {alert['id']} is {alert['level']}; an evacuation is recorded only "
                                   "for a red alert verified as confirmed")
    if verdict != "confirmed":
        status = "'s verdict is a false alarm" if verdict == "false_alarm" else " has no verdict yet"
        raise EvacuationNotAllowed(f"Alert {alert['id']}{status}; an evacuation is recorded only for a red "
                                   "alert verified as confirmed")


def _lowering_refusal(alert, now: datetime) -> str | None:
    """Why an officer cannot lower this alert now; None when the lowering is due."""
    level, pending, since = alert["level"], alert["pending_level"], alert["pending_since"]
    if level not in CONFIRM_TO_LOWER:
        return f"Alert {alert['id']} is {level}; only orange and red alerts wait for a duty officer to lower them"
    if pending is None or since is None:
        return f"Alert {alert['id']}'s inputs are not lower than {level}; there is no lowering to confirm"
    if since + HOLD[level] > now:
        hours = HOLD[level].total_seconds() / 3600
        return (f"Alert {alert['id']}'s inputs have been {pending} only since {since.isoformat()}; {level} must hold "
                f"lower for {hours:g} h, until {(since + HOLD[level]).isoformat()}")
    return None


async def _lower(conn, alert, actor: str, now: datetime, note: str | None) -> Change:
    pending = alert["pending_level"]
    await conn.execute(Q["lower_level"], alert["id"], pending, now)
    await _officer_event(conn, alert, now, "level_lowered", actor, _held(alert, now), note,
                         to_level=pending, thresholds={"hold_h": HOLD[alert["level"]].total_seconds() / 3600},
                         rule_version=RULE_VERSION)
    return _change(alert, "level_lowered", pending)


async def _resolve(conn, alert, actor: str, now: datetime, note: str | None) -> Change:
    await conn.execute(Q["resolve_alert"], alert["id"], now, actor, alert["level"])
    held = _held(alert, now) if alert["pending_level"] is not None else {}
    await _officer_event(conn, alert, now, "resolved", actor, held, note)
    return _change(alert, "resolved", None)


def _held(alert, now: datetime) -> dict:
    return {"pending_level": alert["pending_level"], "pending_since": alert["pending_since"].isoformat(),
            "held_h": round((now - alert["pending_since"]).total_seconds() / 3600, 2)}


def _change(alert, kind: str, to_level: str | None) -> Change:
    return Change(alert["id"], alert["hazard_point"], alert["county_code"], alert["type"], kind, alert["level"],
                  to_level)


async def _record_evacuation(conn, alert, moved: Evacuation, actor: str, now: datetime) -> int:
    evacuation_id = await conn.fetchval(Q["insert_evacuation"], alert["id"], moved.people_moved,
                                        moved.households_moved, alert["threatened_people"], moved.shelter,
                                        moved.organised_by, moved.moved_at, actor, now, moved.note)
    inputs = {"evacuation_id": evacuation_id, "people_moved": moved.people_moved,
              "households_moved": moved.households_moved, "threatened_people": alert["threatened_people"],
              "shelter": moved.shelter, "organised_by": moved.organised_by, "moved_at": moved.moved_at.isoformat()}
    await _officer_event(conn, alert, now, "evacuated", actor, inputs, moved.note)
    return evacuation_id


async def _officer_event(conn, alert, now: datetime, kind: str, actor: str, inputs: dict, note: str | None, *,
                         to_level: str | None = None, thresholds: dict | None = None,
                         rule_version: str | None = None) -> None:
    from_level = alert["level"] if kind in ("level_lowered", "resolved") else None
    await conn.execute(Q["insert_event"], alert["id"], now, kind, from_level, to_level, actor, json.dumps(inputs),
                       json.dumps(thresholds or {}), rule_version, note)


# --- a person's report ---------------------------------------------------------------------------


async def raise_from_patrol_report(conn: asyncpg.Connection, a: Assessment, now: datetime, *, actor: str) -> Change:
    """A person saw the slope move: open the point's alert at the report's level, raise it there, or note the report.

    A report cannot fall back by itself the way readings do, so it only ever raises; orange and red then
    wait for a duty officer to lower them (SPEC 4.3). An alert already at or above the level keeps its level
    and gets a `patrol_reported` event with the report as evidence (the Change says so, and no effect follows
    from it). Runs inside the caller's transaction, so the report and its alert commit together.
    """
    async with conn.transaction():
        for _ in range(2):
            alert = await conn.fetchrow(Q["open_alert_for_update"], a.hazard_point, a.type)
            if alert is None:
                change = await raise_alert(conn, a, now, actor=actor)
                if change is not None:
                    return change
                continue  # another writer (the engine, a second report) opened it a moment ago: raise that one
            if LEVEL_NAMES.index(alert["level"]) < a.level:
                return await change_level(conn, alert, a, now, "level_raised", actor=actor)
            await conn.execute(Q["insert_event"], alert["id"], now, "patrol_reported", None, None, actor,
                               json.dumps(a.evidence), json.dumps(a.thresholds), RULE_VERSION,
                               "; ".join(a.reasons) or None)
            return Change(alert["id"], a.hazard_point, a.county_code, a.type, "patrol_reported", alert["level"],
                          alert["level"])
    raise InvalidTransition(f"The {a.type} alert of {a.hazard_point} changed while the report was filed; "
                            "send the report again")
