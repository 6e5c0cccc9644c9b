"""A reading as the rest of the system sees it, built from whatever shape a device sent, with quality flags."""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sensors.kinds import KINDS, REQUIRED_FIELDS


class BadReading(ValueError):
    """A reading that cannot be stored as sent; its message says why, for the dead-letter store."""


@dataclass(slots=True)
class Reading:
    device_id: str
    sensor_code: str
    ts: datetime
    kind: str
    value: float | None
    fields: dict[str, float] | None
    quality: list[str] = field(default_factory=list)
    server_timed: bool = False


def as_number(raw: object) -> float | None:
    """A float from a JSON number or a numeric string (firmware prints both), else None; may be inf or nan."""
    # bool is an int in Python, but `true` is never a measurement.
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        return float(raw)
    except ValueError:
        return None
    except OverflowError:  # a JSON integer with hundreds of digits: a number, but not a finite one
        return math.inf


def _number(name: str, raw: object) -> float:
    number = as_number(raw)
    if number is None:
        raise BadReading(f"field {name!r} is {raw!r}, not a number")
    if not math.isfinite(number):
        raise BadReading(f"field {name!r} is {_short(raw)}, not a finite number")
    return number


def _short(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


# Longest device id, sensor code or field name taken: real ones are short, and PostgreSQL's indexes
# refuse keys of a few kilobytes.
MAX_NAME_CHARS = 64
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def check_name(what: str, name: str) -> str:
    """A device id, sensor code or field name as the database can keep it, else BadReading saying why."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise BadReading(f"{what} {name[:40]!r} must be 1 to {MAX_NAME_CHARS} characters")
    if _BAD_NAME.search(name):
        raise BadReading(f"{what} {name[:40]!r} contains control characters or broken UTF-16")
    return name


def build_reading(
    *,
    device_id: str,
    sensor_code: str,
    ts: datetime,
    kind: str,
    raw_fields: dict[str, object],
    received_at: datetime,
    future_tolerance: timedelta,
    retention: timedelta,
    server_timed: bool = False,
) -> Reading:
    """Normalise field names, compute the analysed series value and flag what is suspect."""
    check_name("device id", device_id)
    check_name("sensor code", sensor_code)
    for name in raw_fields:
        check_name("field name", name)
    spec = KINDS.get(kind)
    if spec is None:  # "other": kept as sent, counted, not analysed
        fields = {name: _number(name, raw) for name, raw in raw_fields.items()}
        value = fields.get("value")
        quality = []
    else:
        fields = {spec.aliases.get(name, name): _number(name, raw) for name, raw in raw_fields.items()}
        missing = [name for name in REQUIRED_FIELDS[kind] if name not in fields]
        if missing:
            raise BadReading(f"{kind} reading lacks field(s) {', '.join(missing)}")
        value = spec.series(fields)
        quality = [
            "out_of_range"
            for name, (low, high) in spec.ranges.items()
            if name in fields and not low <= fields[name] <= high
        ][:1]
    if ts > received_at + future_tolerance:
        quality.append("future")
    elif ts < received_at - retention:
        quality.append("stale")
    # A scalar kind's one field is the value itself; keep `fields` for the multi-field kinds.
    if list(fields) == ["value"]:
        fields = None
    return Reading(device_id, sensor_code, ts, kind, value, fields, quality, server_timed)
