"""Timestamps as devices send them: ISO 8601 in UTC, with or without milliseconds."""

from datetime import datetime, timezone

from sensors.readings import BadReading

# No reading is older: a time before it is a device clock that was never set (year 1, say), and PostgreSQL
# would store the earliest instant as -infinity.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)


def aware_utc(text: str, what: str = "timestamp", zone_hint: str = "devices must send UTC with 'Z'") -> datetime:
    """An aware UTC datetime from ISO 8601 with a zone (`2026-07-01T08:00:00.000Z`), else ValueError saying why."""
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not ISO 8601 (e.g. 2026-07-01T08:00:00.000Z)") from None
    if ts.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no time zone; {zone_hint}")
    try:
        ts = ts.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 falls before the first instant datetime can hold
        raise ValueError(f"{what} {text!r} is before {EARLIEST.year}: a device clock that was never set") from None
    if ts < EARLIEST:
        raise ValueError(f"{what} {text!r} is before {EARLIEST.year}: a device clock that was never set")
    return ts


def parse_utc(raw: object) -> datetime:
    """A device's timestamp as an aware UTC datetime, else BadReading."""
    if not isinstance(raw, str):
        raise BadReading(f"timestamp {raw!r} is not a string")
    try:
        return aware_utc(raw)
    except ValueError as exc:
        raise BadReading(str(exc)) from None


def format_utc(ts: datetime) -> str:
    """The device format: `YYYY-MM-DDTHH:MM:SS.000Z`."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
