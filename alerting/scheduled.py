"""Periodic lifecycle jobs: acknowledgement deadlines and escalation up the point's grid chain (SPEC 4.4).

An open alert must be acknowledged within its level's deadline, counted from when it was raised and
restarted when its level rises. Each deadline missed moves it one step up the four-layer grid
(monitor -> area lead -> resident geologist -> county technical admin, skipping roles nobody holds);
past the top it re-notifies the top, every deadline, until someone acknowledges it. Overdue patrol tasks
climb the same chain through `escalate_up_grid` (alerting.patrols.tasks). Deterministic: everything follows
from `now` and the database.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg

from sql import queries

Q = queries("lifecycle")
T = TypeVar("T")

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
# A point's grid as escalation reads it: role -> the person holding it (person_id, name, phone).
Chain = Mapping[str, asyncpg.Record]
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

    @property
    def told(self) -> dict | None:
        """The person told, as the event's inputs record them; None when nobody holds a role in the grid."""
        if self.person_id is None:
            return None
        return {"id": self.person_id, "name": self.person_name, "phone": self.phone, "role": self.role}

    @property
    def whom(self) -> str:
        """Who was told and how, for the event's note: `escalated to area lead Li Si`."""
        verb = "escalated to" if self.kind == "escalated" else "notified again:"
        return f"{verb} {self.role.replace('_', ' ')} {self.person_name}"


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
    await conn.execute(Q["set_ack_deadline"], alert_id, now + ACK_DEADLINE[level])


async def escalate_overdue(conn: asyncpg.Connection, now: datetime) -> list[Escalation]:
    """Escalate every open alert whose acknowledgement deadline has passed by one step; return who was told."""
    levels = list(ACK_DEADLINE)
    async with conn.transaction():
        overdue = await conn.fetch(Q["overdue_alerts"], now, levels, [ACK_DEADLINE[lv] for lv in levels])
        return await escalate_up_grid(conn, overdue, now, standing=lambda alert, _chain: alert["escalation_step"],
                                      period=lambda alert: ACK_DEADLINE[alert["level"]], record=_record)


async def escalate_up_grid(conn: asyncpg.Connection, overdue: list[asyncpg.Record], now: datetime, *,
                           standing: Callable[[asyncpg.Record, Chain], int],
                           period: Callable[[asyncpg.Record], timedelta],
                           record: Callable[[asyncpg.Connection, asyncpg.Record, ChainStep, datetime], Awaitable[T]]
                           ) -> list[T]:
    """Who is next up the grid for each overdue alert or task, and the record of it; what `record` returns.

    Each row (with its `hazard_point` and the `deadline` it missed) moves one step up its point's grid chain from
    where it `standing`s; its next deadline is the first after `now` every `period` from the missed one.
    `record` writes the step down, inside the caller's transaction.
    """
    if not overdue:
        return []
    chains: dict[str, Chain] = {}
    for row in await conn.fetch(Q["grid_chains"], list({o["hazard_point"] for o in overdue})):
        chains.setdefault(row["hazard_point"], {})[row["role"]] = row
    records = []
    for row in overdue:
        chain = chains.get(row["hazard_point"], {})
        kind, step = next_step(standing(row, chain), chain)
        role = GRID_CHAIN[step - 1] if step else None
        person = chain.get(role) if role else None
        climbed = ChainStep(kind=kind, step=step, role=role, person_id=person["person_id"] if person else None,
                            person_name=person["name"] if person else None, phone=person["phone"] if person else None,
                            missed_deadline=row["deadline"],
                            next_deadline=following_deadline(row["deadline"], period(row), now))
        records.append(await record(conn, row, climbed, now))
    return records


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


async def _record(conn: asyncpg.Connection, alert: asyncpg.Record, climbed: ChainStep, now: datetime) -> Escalation:
    await conn.execute(Q["set_escalation"], alert["id"], climbed.step, climbed.next_deadline)
    inputs = {"step": climbed.step, "person": climbed.told, "missed_deadline": climbed.missed_deadline.isoformat(),
              "next_deadline": climbed.next_deadline.isoformat()}
    if climbed.told is None:
        note = "not acknowledged in time, and nobody holds a role in the point's grid"
    else:
        note = f"not acknowledged by {climbed.missed_deadline.isoformat()}; {climbed.whom}"
    await conn.execute(Q["insert_event"], alert["id"], now, climbed.kind, None, None, ESCALATION_ACTOR,
                       json.dumps(inputs), json.dumps({"ack_deadline_s": ACK_DEADLINE[alert["level"]].total_seconds()}),
                       None, note)
    return Escalation(alert_id=alert["id"], hazard_point=alert["hazard_point"], county_code=alert["county_code"],
                      type=alert["type"], level=alert["level"], **vars(climbed))
