"""What alert changes owe, carried out at least once by whichever process runs next (the outbox).

Every change of an alert is an `alert_event`, and a trigger on that table records, in the change's own
transaction, what the change owes beyond itself (migration 0015, table `alert_owed`):

- `topic`: the point's retained MQTT topic republished (SPEC 2.3), after any change of the alert's level or state;
- `verification`: the field-verification task requested, hastened or called off (`alerting.effects`);
- `sampling`: the point's sensors sent into accelerated sampling, or given their interval back.

So nothing a change owes can be lost between its commit and its effects: not by the engine killed half-way
through a storm of raises, not by an API process killed after an officer resolved an alert. `carry_out`
takes the owed rows one at a time (`FOR UPDATE SKIP LOCKED`: the engine and every API process share the work
and none does a row another is doing), carries each out, and marks it done in the same transaction as the
effect's own writes. Whatever was cut short stays owed and is done again by the next `carry_out`, in any
process; the engine runs one every few seconds. Doing an effect again is harmless: the topic shows the alert
as it stands then, a task is hastened and never added twice, a sensor this alert accelerated is not sent
again, and a command the device gets twice sets the same interval twice.

An effect that could not finish for a reason that may pass (the broker away, a command not acknowledged) is
tried again later, from a few seconds apart to a minute, for as long as it takes. Rows of one alert and effect
are done in order, so a resolve's restore never comes before the raise's acceleration.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import paho.mqtt.client as mqtt

from alerting.channels.notifications import alert_document
from alerting.effects import PASSING_FAILURES, RAISES, sampling_effect, verification_effect
from alerting.flows import Change
from runtime.commands import SendCommand
from sensors.native import alert_topic
from sql import queries

log = logging.getLogger(__name__)
Q = queries("outbox")

# Waits between attempts at an effect that could not finish: doubling from the first, never longer than the last.
FIRST_RETRY_S = 2.0
LONGEST_RETRY_S = 60.0
# Owed rows looked up at a time (each is then locked and done in a transaction of its own).
BATCH = 200
# How long a retained alert topic may wait for the broker's acknowledgement before it is tried again later.
PUBLISH_TIMEOUT_S = 10.0


class NotDelivered(RuntimeError):
    """The broker did not take a message (not connected, or no acknowledgement in time)."""


async def publish_current_alert(client: mqtt.Client, conn: asyncpg.Connection, topic_root: str, county: str,
                                point: str) -> None:
    """Publish the point's highest open alert on its retained topic (SPEC 2.3), or an empty retained message when
    none is, and wait for the broker's acknowledgement; NotDelivered without it.

    Nothing is handed to a disconnected client: paho would queue it in memory, and each later attempt would
    queue one more copy for the reconnection.
    """
    if not client.is_connected():
        raise NotDelivered("not connected to the MQTT broker")
    record = await conn.fetchrow(Q["current_alert_of_point"], point)
    payload = json.dumps(alert_document(record), ensure_ascii=False).encode() if record else b""
    info = client.publish(alert_topic(topic_root, county, point), payload, qos=1, retain=True)
    try:
        await asyncio.to_thread(info.wait_for_publish, PUBLISH_TIMEOUT_S)
    except (RuntimeError, ValueError) as exc:  # paho: the connection went, or its queue is full
        raise NotDelivered(str(exc)) from exc
    if not info.is_published():
        raise NotDelivered(f"no acknowledgement from the MQTT broker within {PUBLISH_TIMEOUT_S:g} s")


@dataclass(frozen=True)
class Carrier:
    """How a process carries out effects: it publishes a point's retained alert topic (county, point), waiting for
    the broker's acknowledgement and raising NotDelivered without it, and sends commands as a given actor."""

    publish_point: Callable[[asyncpg.Connection, str, str], Awaitable[None]]
    commands_by: Callable[[str], SendCommand]


@dataclass(frozen=True)
class Outcome:
    """What one `carry_out` did: effects done, and effects left to try again."""

    done: int = 0
    deferred: int = 0


async def carry_out(conn: asyncpg.Connection, carrier: Carrier, *, alert_id: int | None = None,
                    now: datetime | None = None) -> Outcome:
    """Carry out what is owed and due, of one alert or of all, at `now` (default: the clock's, read afresh for
    each row): the retained topics and verification tasks first, then the sampling commands. Each row is done
    in a transaction of its own, which holds the alert's row only as long as that one effect takes. After each
    sampling row (commands are the slow part) the owed rows are looked up again, so that the topic of an alert
    raised meanwhile waits for one row of commands, not for a storm's."""
    done = deferred = 0
    while True:
        due = await conn.fetch(Q["owed_due"], now or datetime.now(timezone.utc), alert_id, BATCH)
        progressed = False
        for owed_row in due:
            finished = await _carry_out_row(conn, owed_row["id"], carrier, now or datetime.now(timezone.utc))
            if finished is None:
                continue  # done meanwhile, or another process is doing it
            progressed = True
            done, deferred = (done + 1, deferred) if finished else (done, deferred + 1)
            if owed_row["effect"] == "sampling":
                break
        if not progressed:  # nothing left, or what is left is being done by another process
            return Outcome(done, deferred)


async def _carry_out_row(conn: asyncpg.Connection, owed_id: int, carrier: Carrier, at: datetime) -> bool | None:
    """One owed row in a transaction of its own: True when done, False when left to try again later, None when it
    was not there to do (done meanwhile, or another process holds it)."""
    async with conn.transaction():
        row = await conn.fetchrow(Q["owed_for_update"], owed_id)
        if row is None:
            return None
        problem = await _attempt(conn, row, carrier, at)
        if problem is None:
            await conn.execute(Q["owed_done"], row["id"], at)
            return True
        wait_s = min(FIRST_RETRY_S * 2 ** min(row["attempts"], 16), LONGEST_RETRY_S)
        await conn.execute(Q["owed_later"], row["id"], at + timedelta(seconds=wait_s), problem)
    log.warning("%s of %s alert %s at %s not done (%s); trying again in %.0f s", row["effect"], row["type"],
                row["alert_id"], row["hazard_point"], problem, wait_s)
    return False


async def owed(conn: asyncpg.Connection) -> tuple[int, datetime | None]:
    """How many effects are owed, and since when the oldest is."""
    row = await conn.fetchrow(Q["owed_count"])
    return row["owed"], row["oldest"]


async def _attempt(conn: asyncpg.Connection, row, carrier: Carrier, now: datetime) -> str | None:
    """Carry out one owed row; None when it is done, else what went wrong, to try again later."""
    change = Change(row["alert_id"], row["hazard_point"], row["county_code"], row["type"], row["kind"],
                    row["from_level"], row["to_level"])
    effect = row["effect"]
    if effect == "topic":
        try:
            await carrier.publish_point(conn, row["county_code"], row["hazard_point"])
        except PASSING_FAILURES as exc:
            return f"the alert topic was not published: {exc}"
        return None
    if change.kind in RAISES and row["state"] == "resolved":
        return None  # resolved since: no task to ask for, nothing to accelerate (the resolve restores what was)
    # A savepoint: an effect that fails on the database leaves this transaction able to record the failure.
    try:
        async with conn.transaction():
            if effect == "verification":
                await verification_effect(conn, change, now=now, since=row["owed_since"], actor=row["actor"])
                return None
            failed = await sampling_effect(conn, change, now=now, send_command=carrier.commands_by(row["actor"]),
                                           actor=row["actor"], first_attempt=row["attempts"] == 0)
    except asyncpg.PostgresError as exc:
        return f"{type(exc).__name__}: {exc}"
    if failed:
        sensors = ", ".join(f"{f['device']}/{f['sensor']}" for f in failed)
        return f"setsensortime not sent to {sensors}: {failed[0]['error']}"
    return None
