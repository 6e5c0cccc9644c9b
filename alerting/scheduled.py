"""Periodic lifecycle jobs: acknowledgement deadlines and escalation up the point's grid chain (SPEC 4.4).

An open alert must be acknowledged within its level's deadline, counted from when it was raised and
restarted when its level rises. Each deadline missed moves it one step up the four-layer grid
(monitor -> area lead -> resident geologist -> county technical admin, skipping roles nobody holds);
past the top it re-notifies the top, every deadline, until someone acknowledges it. Deterministic:
everything follows from `now` and the database.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from sql import queries

L = queries("lifecycle")

# SPEC 4.4 defaults. Kept here rather than in `rules`: they decide who is told, not which level a
# point is at, so changing them does not call for a new rule version.
ACK_DEADLINE = {
    "red": timedelta(minutes=10),
    "orange": timedelta(minutes=30),
    "yellow": timedelta(hours=2),
    "blue": timedelta(hours=24),
}
# The four-layer grid from the ground up; escalation_step n means GRID_CHAIN[n - 1] was told last.
GRID_CHAIN = ("monitor", "area_lead", "resident_geologist", "county_admin")
ESCALATION_ACTOR = "escalation"


@dataclass(frozen=True, kw_only=True)
class ChainStep:
    """A missed deadline and who up the point's grid was told of it (person fields None: nobody to tell)."""

    kind: str  # escalated (a new step up the chain) | notified (the top told again)
    step: int
    role: str | None
    person_id: int | None
    person_name: str | None
    phone: str | None
    missed_deadline: datetime
    next_deadline: datetime


def chain_step(kind: str, step: int, role: str | None, told: dict | None, missed: datetime,
               following: datetime) -> dict:
    """The ChainStep fields, from the person told (as recorded in the event's inputs) or None."""
    return {"kind": kind, "step": step, "role": role, "person_id": told["id"] if told else None,
            "person_name": told["name"] if told else None, "phone": told["phone"] if told else None,
            "missed_deadline": missed, "next_deadline": following}


@dataclass(frozen=True, kw_only=True)
class Escalation(ChainStep):
    """One missed acknowledgement deadline of an alert."""

    alert_id: int
    hazard_point: str
    county_code: str
    type: str
    level: str


async def restart_ack_deadline(conn: asyncpg.Connection, alert_id: int, level: str, now: datetime) -> None:
    """Start the acknowledgement clock of a newly raised (or newly higher) level at `now`."""
    await conn.execute(L["set_ack_deadline"], alert_id, now + ACK_DEADLINE[level])


async def escalate_overdue(conn: asyncpg.Connection, now: datetime) -> list[Escalation]:
    """Escalate every open alert whose acknowledgement deadline has passed by one step; return who was told."""
    levels = list(ACK_DEADLINE)
    async with conn.transaction():
        overdue = await conn.fetch(L["overdue_alerts"], now, levels, [ACK_DEADLINE[lv] for lv in levels])
        if not overdue:
            return []
        chains: dict[str, dict[str, asyncpg.Record]] = {}
        for row in await conn.fetch(L["grid_chains"], list({a["hazard_point"] for a in overdue})):
            chains.setdefault(row["hazard_point"], {})[row["role"]] = row
        return [await _escalate(conn, alert, chains.get(alert["hazard_point"], {}), now) for alert in overdue]


def next_step(step: int, assigned_roles) -> tuple[str, int]:
    """The kind of notice and the chain step for an alert (or task) at `step` whose point's grid has these roles."""
    held = [i + 1 for i, role in enumerate(GRID_CHAIN) if role in assigned_roles]
    higher = [s for s in held if s > step]
    if higher:
        return "escalated", higher[0]
    if held:
        return "notified", held[-1]
    return "escalated", step  # nobody holds any role: the event says so, and it comes back every deadline


def following_deadline(deadline: datetime, period: timedelta, now: datetime) -> datetime:
    """The first deadline after `now` on the grid of `deadline` every `period`.

    A backlog (the engine was down) skips the deadlines already past instead of escalating once per
    cycle to catch up.
    """
    return deadline + period * ((now - deadline) // period + 1)


async def _escalate(conn, alert, chain: dict, now: datetime) -> Escalation:
    kind, step = next_step(alert["escalation_step"], chain)
    deadline = alert["ack_deadline"]
    period = ACK_DEADLINE[alert["level"]]
    next_deadline = following_deadline(deadline, period, now)
    role = GRID_CHAIN[step - 1] if step else None
    person = chain.get(role) if role else None
    await conn.execute(L["set_escalation"], alert["id"], step, next_deadline)
    told = None if person is None else {"id": person["person_id"], "name": person["name"],
                                        "phone": person["phone"], "role": role}
    inputs = {"step": step, "person": told, "missed_deadline": deadline.isoformat(),
              "next_deadline": next_deadline.isoformat()}
    if told is None:
        note = "not acknowledged in time, and nobody holds a role in the point's grid"
    else:
        verb = "escalated to" if kind == "escalated" else "notified again:"
        note = f"not acknowledged by {deadline.isoformat()}; {verb} {role.replace('_', ' ')} {person['name']}"
    await conn.execute(L["insert_event"], alert["id"], now, kind, None, None, ESCALATION_ACTOR, json.dumps(inputs),
                       json.dumps({"ack_deadline_s": period.total_seconds()}), None, note)
    return Escalation(alert_id=alert["id"], hazard_point=alert["hazard_point"], county_code=alert["county_code"],
                      type=alert["type"], level=alert["level"],
                      **chain_step(kind, step, role, told, deadline, next_deadline))
