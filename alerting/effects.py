"""What a level change sets going beyond the alert itself (SPEC 4.4): field verification and sampling.

- Raised to, or raised within, yellow or above: the point's monitor gets one verification patrol task
  for the alert, due in red 30 min, orange 1 h, yellow 6 h; a later raise brings an open task's due
  time forward instead of adding a second task, and once the task is done or called off none is added.
- Orange or above: every displacement and rain sensor of the point's devices is sent `setsensortime`
  with plus_intv 60 s, once per alert and sensor (`accelerated_sampling` remembers what was sent).
- Resolved: the open verification task is called off and the accelerated sensors get their normal
  interval back, except those another unresolved alert of the point still keeps fast.
- Lowered: nothing; the task and the accelerated sampling stay until the alert resolves.

Each change owes these effects from its own transaction on (a row each in `alert_owed`, written by a
trigger); `alerting.outbox` carries them out with `verification_effect` and `sampling_effect`, at least
once, after the change has committed: commands cannot be taken back with a rollback. Both may run again
for the same change (a process killed half-way) and then change nothing more.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from alerting.levels import LEVEL_NAMES, ORANGE, YELLOW
from runtime.commands import COMMAND_FAILURES, SendCommand
from sensors.commands import MAX_INTERVAL_S
from sensors.kinds import DISPLACEMENT_KINDS
from sql import queries

if TYPE_CHECKING:
    from alerting.flows import Change

log = logging.getLogger(__name__)
Q = queries("lifecycle")

# SPEC 4.4 defaults: how soon the monitor must have looked at the slope, by the alert's level.
VERIFICATION_DUE = {
    "red": timedelta(minutes=30),
    "orange": timedelta(hours=1),
    "yellow": timedelta(hours=6),
}
ACCELERATED_INTERVAL_S = 60  # SPEC 4.4 default plus_intv: sensors report every 1-5 min under acceleration
SAMPLED_KINDS = (*DISPLACEMENT_KINDS, "rain")  # what the warning science reads; other sensors keep their pace
EFFECTS_ACTOR = "engine"
RAISES = ("raised", "level_raised")
# What a send may fail with that can pass: the broker did not acknowledge (RuntimeError) or a connection was
# lost (OSError). An unregistered device or parameters it refuses fail the same way every time.
PASSING_FAILURES = (RuntimeError, OSError)


async def verification_effect(conn: asyncpg.Connection, change: Change, *, now: datetime, since: datetime,
                              actor: str = EFFECTS_ACTOR) -> None:
    """Request or hasten the verification task of a raise to yellow or above, due counted from `since` (when the
    alert changed, however late this runs); call off the open task of a resolved alert."""
    if change.kind in RAISES and LEVEL_NAMES.index(change.to_level) >= YELLOW:
        await request_verification(conn, change, now=now, due_from=since, actor=actor)
    elif change.kind == "resolved":
        await cancel_verification(conn, change, now=now, actor=actor)


async def sampling_effect(conn: asyncpg.Connection, change: Change, *, now: datetime, send_command: SendCommand,
                          actor: str = EFFECTS_ACTOR, accelerated_interval_s: int = ACCELERATED_INTERVAL_S,
                          first_attempt: bool = True) -> list[dict]:
    """Accelerate the point's sensors for a raise to orange or above, or restore those of a resolved alert.

    Returns the sends that failed for a reason that may pass (the broker or the database away): the caller tries
    again later, and only those sensors are sent again. A device that refuses the command is not tried again.
    A later attempt that sends nothing records no event: a long broker outage would fill the alert's history
    (and its webhooks) with the same failure every minute.
    """
    if change.kind in RAISES and LEVEL_NAMES.index(change.to_level) >= ORANGE:
        failed = await accelerate_sampling(conn, change, now=now, send_command=send_command, actor=actor,
                                           interval_s=accelerated_interval_s, record_nothing_sent=first_attempt)
    elif change.kind == "resolved":
        failed = await restore_sampling(conn, change, now=now, send_command=send_command, actor=actor,
                                        record_nothing_sent=first_attempt)
    else:
        return []
    return [f for f in failed if f["again"]]


async def request_verification(conn: asyncpg.Connection, change: Change, *, now: datetime, due_from: datetime,
                               actor: str) -> None:
    """Give the point's monitor the alert's verification task, or bring its due time forward."""
    due_at = due_from + VERIFICATION_DUE[change.to_level]
    async with conn.transaction():
        tasks = await conn.fetch(Q["verification_tasks"], change.alert_id)
        task = next((t for t in tasks if t["state"] == "open"), None)
        if task is not None:
            if due_at >= task["due_at"]:
                return
            await conn.execute(Q["set_task_due"], task["id"], due_at)
            inputs = {"task_id": task["id"], "due_at": due_at.isoformat(),
                      "previous_due_at": task["due_at"].isoformat()}
            note = f"verification task {task['id']} now due by {due_at.isoformat()}"
        elif tasks:
            return  # verified in the field (or called off) already: one verification task per alert
        else:
            monitor = await conn.fetchrow(Q["point_monitor"], change.hazard_point)
            task_id = await conn.fetchval(Q["insert_verification_task"], change.hazard_point,
                                          monitor["id"] if monitor else None, change.alert_id, due_at, now)
            assignee = dict(monitor) if monitor else None
            inputs = {"task_id": task_id, "due_at": due_at.isoformat(), "assignee": assignee}
            who = f"monitor {monitor['name']}" if monitor else "nobody: the point has no monitor assigned"
            note = f"verification task {task_id} due by {due_at.isoformat()}, assigned to {who}"
        await _event(conn, change, now, "verification_requested", actor, inputs, note)


async def cancel_verification(conn: asyncpg.Connection, change: Change, *, now: datetime, actor: str) -> None:
    """Call off the open verification task of an alert that resolved before anyone went to look."""
    async with conn.transaction():
        cancelled = [r["id"] for r in await conn.fetch(Q["cancel_verification_tasks"], change.alert_id)]
        if cancelled:
            await _event(conn, change, now, "verification_cancelled", actor, {"task_ids": cancelled},
                         "the alert resolved before the field verification")


async def accelerate_sampling(conn: asyncpg.Connection, change: Change, *, now: datetime, send_command: SendCommand,
                              actor: str, interval_s: int = ACCELERATED_INTERVAL_S,
                              record_nothing_sent: bool = True) -> list[dict]:
    """Send each displacement and rain sensor of the point's devices into accelerated sampling, once per alert;
    the sends that failed."""
    sensors = await conn.fetch(Q["sensors_to_accelerate"], change.hazard_point, list(SAMPLED_KINDS), change.alert_id)
    if not sensors:
        return []
    sent, failed = [], []
    for s in sensors:
        normal_s = _interval_s(s["reporting_interval_s"])
        fast_s = min(_interval_s(interval_s), normal_s)  # never slower than the sensor already is
        command_id = await _send(send_command, s["device_id"], s["code"], normal_s, fast_s, failed)
        if command_id is None:
            continue
        await conn.execute(Q["insert_accelerated"], change.alert_id, s["device_id"], s["code"], normal_s, fast_s,
                           now, command_id)
        sent.append({"device": s["device_id"], "sensor": s["code"], "command_id": command_id, "plus_intv_s": fast_s})
    if sent:
        await conn.execute(Q["mark_accelerated"], change.alert_id, now)
    if sent or record_nothing_sent:
        await _event(conn, change, now, "sampling_accelerated", actor, {"sent": sent, "failed": failed},
                     f"accelerated sampling sent to {len(sent)} of {len(sensors)} sensors")
    return failed


async def restore_sampling(conn: asyncpg.Connection, change: Change, *, now: datetime, send_command: SendCommand,
                           actor: str, record_nothing_sent: bool = True) -> list[dict]:
    """Give the sensors this alert accelerated their normal interval back; the sends that failed."""
    rows = await conn.fetch(Q["sampling_to_restore"], change.alert_id)
    if not rows:
        return []
    sent, kept, failed = [], [], []
    for r in rows:
        command_id = None
        if r["kept_by_another_alert"]:
            kept.append({"device": r["device_id"], "sensor": r["sensor_code"]})
        else:
            normal_s = _interval_s(r["normal_interval_s"])
            command_id = await _send(send_command, r["device_id"], r["sensor_code"], normal_s, normal_s, failed)
            if command_id is None:
                continue
            sent.append({"device": r["device_id"], "sensor": r["sensor_code"], "command_id": command_id,
                         "plus_intv_s": normal_s})
        await conn.execute(Q["mark_restored"], change.alert_id, r["device_id"], r["sensor_code"], now, command_id)
    note = f"normal sampling restored on {len(sent)} of {len(rows)} sensors"
    if kept:
        note += f"; {len(kept)} stay accelerated for another open alert of the point"
    if sent or kept or record_nothing_sent:
        await _event(conn, change, now, "sampling_restored", actor, {"sent": sent, "kept": kept, "failed": failed},
                     note)
    return failed


async def _send(send_command: SendCommand, device_id: str, sensor: str, normal_s: int, plus_s: int,
                failed: list) -> str | None:
    """`setsensortime` for one sensor; None (and the failure noted) when it could not be sent."""
    params = {"sensor_id": sensor, "sample_intv": normal_s, "upload_intv": normal_s, "plus_intv": plus_s}
    try:
        return await send_command(device_id, "setsensortime", params)
    except COMMAND_FAILURES as exc:
        log.warning("setsensortime for %s/%s failed: %s: %s", device_id, sensor, type(exc).__name__, exc)
        failed.append({"device": device_id, "sensor": sensor, "error": str(exc),
                       "again": isinstance(exc, PASSING_FAILURES)})
        return None


def _interval_s(seconds: int) -> int:
    # setsensortime takes 1 s to a day; a longer reporting interval is sent as a day.
    return max(1, min(int(seconds), MAX_INTERVAL_S))


async def _event(conn, change: Change, now: datetime, kind: str, actor: str, inputs: dict, note: str) -> None:
    await conn.execute(Q["insert_event"], change.alert_id, now, kind, None, None, actor,
                       json.dumps(inputs, default=str), "{}", None, note)
