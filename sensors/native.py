"""The native JSON protocol of SPEC 2.2: topics and the readings message of modern gateways."""

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import msgspec

from sensors.kinds import ALL_KINDS
from sensors.readings import _GOOD_NAMES, BadReading, Reading, as_number, build_reading_within, value_only_kinds
from sensors.status import DeviceStatus
from sensors.timestamps import EARLIEST, parse_utc

# Keys of a reading object that are about the reading, not measured fields.
_ENVELOPE_KEYS = frozenset({"sensor", "ts", "kind"})


class MalformedMessage(ValueError):
    """A message none of whose readings can be taken; its message says why."""


@dataclass
class DecodedMessage:
    gateway: str
    seq: int | None
    readings: list[Reading] = field(default_factory=list)
    # One reason per reading that could not be taken; the good readings are kept.
    rejected: list[str] = field(default_factory=list)


def gateway_topic(topic_root: str, channel: str, gateway: str = "+") -> str:
    """`<root>/gateways/<id>/<channel>` for channel readings, status, online or cmd."""
    return f"{topic_root}/gateways/{gateway}/{channel}"


def alert_topic(topic_root: str, county_code: str, point_code: str) -> str:
    return f"{topic_root}/alerts/{county_code}/{point_code}"


def gateway_of(topic: str, topic_root: str) -> tuple[str, str]:
    """The gateway id and channel of a `<root>/gateways/<id>/<channel>` topic."""
    rest = topic[len(topic_root) + 1:] if topic.startswith(topic_root + "/") else ""
    parts = rest.split("/")
    if len(parts) != 3 or parts[0] != "gateways" or not parts[1]:
        raise MalformedMessage(f"topic {topic!r} is not {topic_root}/gateways/<gatewayId>/<channel>")
    return parts[1], parts[2]


def decode_readings(
    payload: bytes,
    *,
    topic_gateway: str,
    received_at: datetime,
    future_tolerance: timedelta,
    retention: timedelta,
) -> DecodedMessage:
    """Decode one readings message; raise MalformedMessage if nothing in it can be taken."""
    future_after, stale_before = received_at + future_tolerance, received_at - retention
    plain = _decode_plain(payload, topic_gateway, received_at, future_after, stale_before)
    if plain is not None:
        return plain
    return _decode_general(payload, topic_gateway, received_at, future_after, stale_before)


def _decode_general(payload: bytes, topic_gateway: str, received_at: datetime, future_after: datetime,
                    stale_before: datetime) -> DecodedMessage:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"payload is not JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep; an integer of thousands of digits
        raise MalformedMessage(f"payload is JSON this service does not take: {type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedMessage("payload is not a JSON object")
    gateway = body.get("gateway")
    if gateway != topic_gateway:
        raise MalformedMessage(
            f"payload gateway {gateway!r} does not match the topic's gateway {topic_gateway!r}: "
            "a gateway may only publish for itself"
        )
    readings = body.get("readings")
    if not isinstance(readings, list):
        raise MalformedMessage("'readings' is missing or not a list")
    seq = body.get("seq")
    decoded = DecodedMessage(gateway, seq if isinstance(seq, int) else None)
    append = decoded.readings.append
    for index, item in enumerate(readings):
        try:
            append(_reading(item, gateway, received_at, future_after, stale_before))
        except BadReading as exc:
            decoded.rejected.append(f"readings[{index}]: {exc}")
    return decoded


_UTC = timezone.utc
_fromisoformat = datetime.fromisoformat
_KINDS = frozenset(ALL_KINDS)


class _PlainReading(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of nearly every reading gateways send: a sensor, a kind, one number and a time or none."""

    sensor: str
    kind: str
    value: float
    ts: str | None = None


class _PlainMessage(msgspec.Struct, forbid_unknown_fields=True):
    gateway: str
    readings: list[_PlainReading]
    seq: int | None = None


# msgspec parses and type-checks the whole message in C, about ten times quicker than json.loads and the
# checks below it; it is stricter than json (no NaN, no BOM, no lone surrogates, no bool as a number),
# and whatever it refuses goes the general way, which gives the reasons. Every member is declared: msgspec
# skips undeclared ones without checking them as json does (their UTF-8, their integers, their depth).
_PLAIN = msgspec.json.Decoder(_PlainMessage)
_VALUE_RANGE = value_only_kinds()  # kind -> (low, high) of its value, or None
_isfinite = math.isfinite


def _decode_plain(payload: bytes, topic_gateway: str, received_at: datetime, future_after: datetime,
                  stale_before: datetime) -> DecodedMessage | None:
    """decode_readings for a message every reading of which has the plain shape, a kind whose one field is
    `value`, a known sensor code and a finite value; None for any other, which the general code decodes.
    It gives what the general code gives (tests/unit/test_ingest_fast_paths.py holds them to it)."""
    try:
        message = _PLAIN.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    gateway = message.gateway
    if gateway != topic_gateway or gateway not in _GOOD_NAMES:
        return None
    good, ranges, timestamp = _GOOD_NAMES, _VALUE_RANGE, _timestamp
    decoded = DecodedMessage(gateway, message.seq)
    append = decoded.readings.append
    for item in message.readings:
        kind, value, ts_raw = item.kind, item.value, item.ts
        if kind not in ranges or item.sensor not in good or not _isfinite(value):
            return None
        if ts_raw is None:
            ts = received_at
        else:
            try:
                ts = timestamp(ts_raw)
            except BadReading:
                return None
        span = ranges[kind]
        quality = [] if span is None or span[0] <= value <= span[1] else ["out_of_range"]
        if ts > future_after:
            quality.append("future")
        elif ts < stale_before:
            quality.append("stale")
        append(Reading(gateway, item.sensor, ts, kind, value, None, quality, ts_raw is None))
    return decoded


_last_timestamp: tuple[str | None, datetime | None] = (None, None)


def _timestamp(raw: object) -> datetime:
    """parse_utc, quicker for what gateways send: `...Z` text, often the same for many readings in a row."""
    global _last_timestamp
    if type(raw) is str:
        last = _last_timestamp
        if raw == last[0]:
            return last[1]
        if raw[-1:] == "Z":
            try:
                ts = _fromisoformat(raw)
            except ValueError:
                ts = None
            if ts is not None and ts.tzinfo is _UTC and ts >= EARLIEST:  # what parse_utc returns, unconverted
                _last_timestamp = (raw, ts)
                return ts
    return parse_utc(raw)


def _reading(item: object, gateway: str, received_at, future_after, stale_before) -> Reading:
    if not isinstance(item, dict):
        raise BadReading("is not a JSON object")
    sensor = item.get("sensor")
    if not isinstance(sensor, str) or not sensor:
        raise BadReading("'sensor' is missing or not a string")
    kind = item.get("kind")
    if kind.__class__ is not str or kind not in _KINDS:
        raise BadReading(f"kind {kind!r} is not one of {', '.join(ALL_KINDS)}")
    ts_raw = item.get("ts")
    server_timed = ts_raw is None
    ts = received_at if server_timed else _timestamp(ts_raw)
    raw_fields = {k: v for k, v in item.items() if k not in _ENVELOPE_KEYS}
    return build_reading_within(gateway, sensor, ts, kind, raw_fields, future_after, stale_before, server_timed)


def decode_status(payload: bytes, *, topic_gateway: str, received_at: datetime) -> DeviceStatus:
    """A native status message: battery_pct, supply_v, signal, temp_c, sensor_state (any may be missing)."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"status payload is not JSON: {exc}") from None
    except (RecursionError, ValueError) as exc:
        raise MalformedMessage(f"status payload is JSON this service does not take: {type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedMessage("status payload is not a JSON object")
    if body.get("gateway", topic_gateway) != topic_gateway:
        raise MalformedMessage(
            f"status gateway {body.get('gateway')!r} does not match the topic's gateway {topic_gateway!r}"
        )
    numbers = {}
    for name in ("battery_pct", "supply_v", "signal", "temp_c"):
        raw = body.get(name)
        if raw is None:
            continue
        number = as_number(raw) if not isinstance(raw, str) else None
        if number is None or not math.isfinite(number):
            raise MalformedMessage(f"status field {name!r} is {raw!r:.40}, not a number")
        numbers[name] = number
    states = body.get("sensor_state") or {}
    if not isinstance(states, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in states.values()):
        raise MalformedMessage("'sensor_state' must map sensor codes to integer states (0 ok, -1, -2, -3)")
    ts = parse_utc(body["ts"]) if isinstance(body.get("ts"), str) else received_at
    return DeviceStatus(
        device_id=topic_gateway, at=ts, supply_v=numbers.get("supply_v"), battery_pct=numbers.get("battery_pct"),
        temp_c=numbers.get("temp_c"), signal=numbers.get("signal"), sensor_state=dict(states), raw=body,
    )


def decode_online(payload: bytes) -> bool:
    """The retained online flag: `1` or `0` (the gateway's last will is `0`)."""
    text = payload.strip()
    if text not in (b"1", b"0"):
        raise MalformedMessage(f"online payload is {payload[:20]!r}, not 1 or 0")
    return text == b"1"
