"""The alert lifecycle as a small state machine: one function per transition, each recording an event.

The engine hands every (hazard point, alert type) assessment to `apply_assessment`, which decides
between raising, lowering (after the hold time, and for orange and red only with a duty officer's
confirmation), resolving, or nothing. Every change is an `alert_event` with its inputs, thresholds
and rule version.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from alerting.kernels import LEVEL_NAMES
from alerting.rules import CONFIRM_TO_LOWER, HOLD, RULE_VERSION
from sql import queries

Q = queries("engine")
ENGINE_ACTOR = "engine"


@dataclass
class Assessment:
    """What one evaluation concluded for one hazard point and alert type."""

    hazard_point: str
    county_code: str
    type: str  # deformation | rainfall | device
    level: int | None  # None: no data, which never lowers a level
    reasons: list[str] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)


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
    level = LEVEL_NAMES[a.level]
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


async def raise_alert(conn: asyncpg.Connection, a: Assessment, now: datetime) -> Change:
    """Open a new alert for the point and type."""
    level = LEVEL_NAMES[a.level]
    async with conn.transaction():
        alert_id = await conn.fetchval(Q["insert_alert"], a.hazard_point, a.type, level,
                                       json.dumps(a.reasons), json.dumps(a.evidence), RULE_VERSION, now)
        await _event(conn, alert_id, now, "raised", None, level, a)
    return Change(alert_id, a.hazard_point, a.county_code, a.type, "raised", None, level)


async def change_level(conn: asyncpg.Connection, alert, a: Assessment, now: datetime, kind: str) -> Change:
    """Raise or lower the level of an open alert, with the evidence for the new level."""
    level = LEVEL_NAMES[a.level]
    async with conn.transaction():
        await conn.execute(Q["set_alert_level"], alert["id"], level, json.dumps(a.reasons),
                           json.dumps(a.evidence), RULE_VERSION, now)
        await _event(conn, alert["id"], now, kind, alert["level"], level, a)
    return Change(alert["id"], a.hazard_point, a.county_code, a.type, kind, alert["level"], level)


async def resolve_alert(conn: asyncpg.Connection, alert, a: Assessment, now: datetime, *, actor: str) -> Change:
    """Close an alert whose inputs have been back to normal for the hold time."""
    async with conn.transaction():
        await conn.execute(Q["resolve_alert"], alert["id"], now, actor)
        await _event(conn, alert["id"], now, "resolved", alert["level"], None, a, actor=actor)
    return Change(alert["id"], a.hazard_point, a.county_code, a.type, "resolved", alert["level"], None)


async def _event(conn, alert_id, now, kind, from_level, to_level, a: Assessment, actor=ENGINE_ACTOR):
    await conn.execute(Q["insert_event"], alert_id, now, kind, from_level, to_level, actor,
                       json.dumps(a.evidence), json.dumps(a.thresholds), RULE_VERSION, None)
