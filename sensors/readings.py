"""A reading as the rest of the system sees it, built from whatever shape a device sent, with quality flags."""

import math
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


def _number(name: str, raw: object) -> float:
    # bool is an int in Python, but `true` is never a measurement.
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise BadReading(f"field {name!r} is {raw!r}, not a number")
    try:
        number = float(raw)
    except ValueError:
        raise BadReading(f"field {name!r} is {raw!r}, not a number") from None
    if not math.isfinite(number):
        raise BadReading(f"field {name!r} is {raw!r}, not a finite number")
    return number


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
