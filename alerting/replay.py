"""`geohazard replay`: re-evaluate stored readings over a period and report the events it would produce.

The evaluation is the live engine's own (`evaluate_once`), run at every step from --from to --to
against shadow copies of the alert tables: temporary tables named `alert` and `alert_event`, which
PostgreSQL looks up before the real ones, inside a transaction that is rolled back. Live alerts are
never read, written or locked, and nothing is published. Replay starts with no open alert at --from.

Replay evaluates with the rules of this version (RULE_VERSION): live events that an earlier version made
are not reproduced, and `other_rule_versions` says which there were, so that the CLI can say so. It also
judges with each sensor's quiet baseline as stored now (the engine refreshes it daily), not as it stood at
the time replayed: a sensor without a configured v0 may be judged against a slightly different v0.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from alerting.engine import evaluate_once
from alerting.rules import RULE_VERSION
from sql import queries

Q = queries("engine")
_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True)
class ReplayedEvent:
    at: datetime
    point: str
    type: str
    kind: str
    from_level: str | None
    to_level: str | None
    reasons: list[str]

    def line(self) -> str:
        change = f"{self.from_level or 'none'} -> {self.to_level or 'none'}"
        return f"{self.at.isoformat()}  {self.point}  {self.type:<11} {self.kind:<13} {change:<18} {'; '.join(self.reasons)}"


def parse_duration(text: str) -> timedelta:
    """`90s`, `10m`, `1h` or `2d`."""
    match = _DURATION.match(text.strip())
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 10m, 1h or 2d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


async def replay(conn: asyncpg.Connection, *, frm: datetime, to: datetime, step: timedelta) -> list[ReplayedEvent]:
    """The events the engine would record evaluating at frm, frm + step, ... up to to."""
    if to < frm:
        raise ValueError("--to is before --from")
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(Q["shadow_alert_tables"])
        at = frm
        while at <= to:
            await evaluate_once(conn, at)
            at += step
        rows = await conn.fetch(Q["shadow_events"])
    finally:
        await transaction.rollback()
    return [ReplayedEvent(r["at"], r["hazard_point"], r["type"], r["kind"], r["from_level"], r["to_level"],
                          json.loads(r["reasons"])) for r in rows]


async def other_rule_versions(conn: asyncpg.Connection, *, frm: datetime, to: datetime) -> dict[str, int]:
    """The rule versions other than this one that made live events in the period, with how many events each."""
    return {r["rule_version"]: r["events"] for r in await conn.fetch(Q["live_rule_versions"], frm, to, RULE_VERSION)}
