"""A reading as the rest of the system sees it, built from whatever shape a device sent, with quality flags."""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sensors.kinds import KINDS, REQUIRED_FIELDS


class BadReading(ValueError):
    """A reading that cannot be stored as sent; its message says why, for the dead-letter store."""


class Reading(NamedTuple):
    """One stored reading. Its fields are the `reading` table's columns in order, so that a reading without
    fields is, as it is, a record for COPY; `quality` is a list that flags are appended to."""

    device_id: str
    sensor_code: str
    ts: datetime
    kind: str
    value: float | None
    fields: dict[str, float] | None
    quality: list[str]
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


# Names already checked and found good: devices send the same few ids and codes over and over.
# Bounded: cleared when full, so a stream of distinct names costs only re-checking.
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 100_000


def check_name(what: str, name: str) -> str:
    """A device id, sensor code or field name as the database can keep it, else BadReading saying why."""
    if name in _GOOD_NAMES:
        return name
    if not name or len(name) > MAX_NAME_CHARS:
        raise BadReading(f"{what} {name[:40]!r} must be 1 to {MAX_NAME_CHARS} characters")
    if _BAD_NAME.search(name):
        raise BadReading(f"{what} {name[:40]!r} contains control characters or broken UTF-16")
    if len(_GOOD_NAMES) >= _GOOD_NAMES_MAX:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)
    return name


@dataclass(frozen=True, slots=True)
class _Plan:
    """What build_reading needs of a kind, precomputed."""

    aliases: dict[str, str]
    required: tuple[str, ...]
    ranges: tuple[tuple[str, float, float], ...]
    series: object
    only_value: bool  # the kind's one required field is `value`


_PLANS = {
    name: _Plan(spec.aliases, REQUIRED_FIELDS[name],
                tuple((field, low, high) for field, (low, high) in spec.ranges.items()), spec.series,
                REQUIRED_FIELDS[name] == ("value",))
    for name, spec in KINDS.items()
}
_isfinite = math.isfinite


def value_only_kinds() -> dict[str, tuple[float, float] | None]:
    """The kinds whose one field is `value`, under that name, each with the range of its value if it has one:
    for them, build_reading_within of {"value": finite number} is the number, no fields, and its flags."""
    kinds = {}
    for name, plan in _PLANS.items():
        if plan.only_value and "value" not in plan.aliases:
            spans = [(low, high) for field_name, low, high in plan.ranges if field_name == "value"]
            kinds[name] = spans[0] if spans else None
    return kinds


def _field_number(name: str, raw: object) -> float:
    """_number, with the JSON float and int of nearly every reading taken without the general checks."""
    if type(raw) is float:
        if _isfinite(raw):
            return raw
    elif type(raw) is int:
        try:
            number = float(raw)
        except OverflowError:
            number = math.inf
        if _isfinite(number):
            return number
    return _number(name, raw)


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
    return build_reading_within(device_id, sensor_code, ts, kind, raw_fields, received_at + future_tolerance,
                                received_at - retention, server_timed)


def build_reading_within(device_id: str, sensor_code: str, ts: datetime, kind: str, raw_fields: dict[str, object],
                         future_after: datetime, stale_before: datetime, server_timed: bool) -> Reading:
    """build_reading with the time bounds computed once per message: a reading stamped after
    `future_after` (receipt + tolerance) is `future`, one before `stale_before` (receipt - retention) `stale`."""
    good = _GOOD_NAMES
    if device_id not in good:
        check_name("device id", device_id)
    if sensor_code not in good:
        check_name("sensor code", sensor_code)
    for name in raw_fields:
        if name not in good:
            check_name("field name", name)
    plan = _PLANS.get(kind)
    if plan is None:  # "other": kept as sent, counted, not analysed
        fields = {name: _field_number(name, raw) for name, raw in raw_fields.items()}
        value = fields.get("value")
        quality = []
    else:
        aliases = plan.aliases
        if aliases:
            fields = {aliases.get(name, name): _field_number(name, raw) for name, raw in raw_fields.items()}
        else:
            fields = {name: _field_number(name, raw) for name, raw in raw_fields.items()}
        for name in plan.required:
            if name not in fields:
                missing = [name for name in plan.required if name not in fields]
                raise BadReading(f"{kind} reading lacks field(s) {', '.join(missing)}")
        if plan.only_value and len(fields) == 1:
            value = fields["value"]  # the series of every kind whose one required field is `value`
        else:
            value = plan.series(fields)
        quality = []
        for name, low, high in plan.ranges:
            if name in fields and not low <= fields[name] <= high:
                quality.append("out_of_range")
                break
    if ts > future_after:
        quality.append("future")
    elif ts < stale_before:
        quality.append("stale")
    # A scalar kind's one field is the value itself; keep `fields` for the multi-field kinds.
    if len(fields) == 1 and "value" in fields:
        fields = None
    return Reading(device_id, sensor_code, ts, kind, value, fields, quality, server_timed)
