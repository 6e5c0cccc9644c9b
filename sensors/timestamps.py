"""Timestamps as devices send them: ISO 8601 in UTC, with or without milliseconds."""

from datetime import datetime, timezone

from sensors.readings import BadReading


def parse_utc(raw: object) -> datetime:
    """An aware UTC datetime from `2026-07-01T08:00:00Z` or `2026-07-01T08:00:00.000Z`."""
    if not isinstance(raw, str):
        raise BadReading(f"timestamp {raw!r} is not a string")
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError:
        raise BadReading(f"timestamp {raw!r} is not ISO 8601 (e.g. 2026-07-01T08:00:00.000Z)") from None
    if ts.tzinfo is None:
        raise BadReading(f"timestamp {raw!r} has no time zone; devices must send UTC with 'Z'")
    return ts.astimezone(timezone.utc)


def format_utc(ts: datetime) -> str:
    """The device format: `YYYY-MM-DDTHH:MM:SS.000Z`."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
