"""The native JSON protocol of SPEC 2.2: topics and the readings message of modern gateways."""

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sensors.kinds import ALL_KINDS
from sensors.readings import BadReading, Reading, build_reading
from sensors.timestamps import parse_utc

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


def readings_topic(topic_root: str, gateway: str = "+") -> str:
    return f"{topic_root}/gateways/{gateway}/readings"


def alert_topic(topic_root: str, county_code: str, point_code: str) -> str:
    return f"{topic_root}/alerts/{county_code}/{point_code}"


def gateway_of(topic: str, topic_root: str) -> str:
    """The gateway id in a `<root>/gateways/<id>/...` topic."""
    rest = topic[len(topic_root) + 1:] if topic.startswith(topic_root + "/") else ""
    parts = rest.split("/")
    if len(parts) != 3 or parts[0] != "gateways" or not parts[1]:
        raise MalformedMessage(f"topic {topic!r} is not {topic_root}/gateways/<gatewayId>/<channel>")
    return parts[1]


def decode_readings(
    payload: bytes,
    *,
    topic_gateway: str,
    received_at: datetime,
    future_tolerance: timedelta,
    retention: timedelta,
) -> DecodedMessage:
    """Decode one readings message; raise MalformedMessage if nothing in it can be taken."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage(f"payload is not JSON: {exc}") from None
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
    for index, item in enumerate(readings):
        try:
            decoded.readings.append(
                _reading(item, gateway, received_at, future_tolerance, retention)
            )
        except BadReading as exc:
            decoded.rejected.append(f"readings[{index}]: {exc}")
    return decoded


def _reading(item: object, gateway: str, received_at, future_tolerance, retention) -> Reading:
    if not isinstance(item, dict):
        raise BadReading("is not a JSON object")
    sensor = item.get("sensor")
    if not isinstance(sensor, str) or not sensor:
        raise BadReading("'sensor' is missing or not a string")
    kind = item.get("kind")
    if kind not in ALL_KINDS:
        raise BadReading(f"kind {kind!r} is not one of {', '.join(ALL_KINDS)}")
    ts_raw = item.get("ts")
    server_timed = ts_raw is None
    ts = received_at if server_timed else parse_utc(ts_raw)
    raw_fields = {k: v for k, v in item.items() if k not in _ENVELOPE_KEYS}
    return build_reading(
        device_id=gateway,
        sensor_code=sensor,
        ts=ts,
        kind=kind,
        raw_fields=raw_fields,
        received_at=received_at,
        future_tolerance=future_tolerance,
        retention=retention,
        server_timed=server_timed,
    )
