"""One notification per alert event: the event with its alert (SPEC 2.3), as webhooks and the SSE stream send it.

The alert part is the alert as it stands when the notification is built, not a copy from the moment of
the event: a receiver that misses or reorders notifications (retries reorder them) still ends with the
alert's current state, and the event part says what changed and who changed it.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from sql import queries

Q = queries("channels")
# The PostgreSQL channel the alert_event trigger NOTIFYs, with the event id as payload.
CHANNEL = "alert_event"


def _json(value: Any) -> Any:
    """A jsonb column as a Python value, whether or not the connection decodes json (the API's pool does)."""
    return json.loads(value) if isinstance(value, str) else value


def alert_document(record: Mapping[str, Any]) -> dict[str, Any]:
    """The alert JSON of SPEC 2.3 from a record with its columns named as there."""
    return {
        "id": record["id"], "point": record["point"], "type": record["type"], "level": record["level"],
        "state": record["state"], "reasons": _json(record["reasons"]), "evidence": _json(record["evidence"]),
        "raised_at": record["raised_at"].isoformat(), "updated_at": record["updated_at"].isoformat(),
        "rule_version": record["rule_version"],
    }


def notification_document(record: Mapping[str, Any]) -> dict[str, Any]:
    """An `alert_notification` row as `{"event": {...}, "alert": {...}}`."""
    return {
        "event": {
            "id": record["event_id"], "alert_id": record["id"], "kind": record["event_kind"],
            "from_level": record["from_level"], "to_level": record["to_level"], "actor": record["actor"],
            "at": record["event_at"].isoformat(), "note": record["note"],
        },
        "alert": alert_document(record),
    }


def notification_body(record: Mapping[str, Any]) -> bytes:
    """The notification as UTF-8 JSON on one line (SSE data lines cannot hold a newline)."""
    return json.dumps(notification_document(record), ensure_ascii=False, separators=(",", ":")).encode()


async def notifications_by_id(conn: asyncpg.Connection, event_ids: Sequence[int]) -> dict[int, bytes]:
    """The bodies of these events' notifications by event id; an id whose event is gone is left out."""
    rows = await conn.fetch(Q["notifications_by_id"], list(event_ids))
    return {row["event_id"]: notification_body(row) for row in rows}


async def notifications_after(conn: asyncpg.Connection, event_id: int, limit: int) -> list[tuple[int, bytes]]:
    """(event id, body) of the events after `event_id`, oldest first, at most `limit`."""
    rows = await conn.fetch(Q["notifications_after"], event_id, limit)
    return [(row["event_id"], notification_body(row)) for row in rows]





@dataclass
class Listener:
    """A pool connection set aside to LISTEN for committed alert events, with the callbacks it calls."""

    conn: asyncpg.Connection
    on_notification: Callable[..., None]
    on_termination: Callable[..., None]
    # Set when the connection dies; the pool has then taken it back already and it must not be touched.
    lost: bool = False


async def listen(pool: asyncpg.Pool, on_event_id: Callable[[int], None],
                 on_lost: Callable[[], None] = lambda: None) -> Listener:
    """Set a pool connection aside to LISTEN: `on_event_id` gets the id of each committed alert event, and
    `on_lost` is called if the connection dies (notifications are lost until another one listens)."""

    def terminated(_conn) -> None:
        listener.lost = True
        on_lost()

    conn = await pool.acquire()
    listener = Listener(conn, lambda _conn, _pid, _channel, payload: on_event_id(int(payload)), terminated)
    try:
        conn.add_termination_listener(listener.on_termination)
        await conn.add_listener(CHANNEL, listener.on_notification)
    except BaseException:
        await unlisten(pool, listener)
        raise
    return listener


async def unlisten(pool: asyncpg.Pool, listener: Listener) -> None:
    """UNLISTEN and give the connection back to the pool, unless it was lost (the pool has it back then)."""
    if listener.lost:
        return
    listener.conn.remove_termination_listener(listener.on_termination)
    try:
        await listener.conn.remove_listener(CHANNEL, listener.on_notification)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pass  # released below all the same; the pool's reset UNLISTENs, or drops a broken connection
    await pool.release(listener.conn)
