"""Devices' answers to downlink commands: matched to the command they answer, and recorded.

The answer is matched by command id and by the device that sent it (commands are sent by
`runtime.commands`). `prepare_answer` does everything but the UPDATE, so an asyncpg caller runs the
same statement with `conn.fetchrow(Q["record_answer"], *prepared.args)`.
"""

import logging
from dataclasses import dataclass

import psycopg

import sql
from sensors import commands

log = logging.getLogger(__name__)

Q = sql.queries("commands")


@dataclass(frozen=True)
class PreparedAnswer:
    """The arguments of the `record_answer` statement for one answer message."""

    command_id: str
    device_id: str
    answer: str
    name: str | None
    result: str | None

    @property
    def args(self) -> tuple:
        return self.command_id, self.device_id, self.answer, self.name, self.result


def prepare_answer(*, topic: str, payload: bytes, topic_root: str) -> PreparedAnswer | None:
    """What to record for a message on an answer topic; None when it cannot be matched to a command."""
    source = commands.answer_source(topic, topic_root)
    if source is None:
        return None
    try:
        answer = commands.parse_answer(source.protocol, payload)
        name, result, command_id = answer.name, answer.result, answer.command_id
    except commands.MalformedAnswer as exc:
        log.warning("unreadable answer on %s (kept without a result): %s; payload %r", topic, exc, payload[:120])
        name = result = None
        command_id = exc.command_id
    command_id = source.command_id or command_id
    if not command_id:
        log.warning("answer on %s names no command id; payload %r", topic, payload[:120])
        return None
    # Kept as it arrived; PostgreSQL text cannot hold NUL, which some firmware appends.
    text = payload.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    return PreparedAnswer(command_id, source.device_id, text, name, result)


def record_answer(conn: psycopg.Connection, *, topic: str, payload: bytes, topic_root: str) -> bool:
    """Store a device's answer with its command; False when no command of that device has its id."""
    prepared = prepare_answer(topic=topic, payload=payload, topic_root=topic_root)
    if prepared is None:
        return False
    with conn.transaction(), psycopg.RawCursor(conn) as cur:
        row = cur.execute(Q["record_answer"], prepared.args).fetchone()
    if row is None:
        log.warning("answer on %s to unknown command %s of %s", topic, prepared.command_id, prepared.device_id)
        return False
    if prepared.name is not None and prepared.name != row[0]:
        log.warning("answer on %s names %s but command %s was %s; kept without a result",
                    topic, prepared.name, prepared.command_id, row[0])
    return True
