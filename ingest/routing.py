"""Which decoder a message needs, by its topic, and what it adds to the batch being built."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType

from ingest.commands import prepare_answer
from ingest.writer import Batch, CommandAnswer, DeadLetter, StatusReport
from sensors.commands import answer_source, answer_subscriptions
from sensors.native import MalformedMessage, decode_online, decode_readings, decode_status, gateway_of, gateway_topic
from sensors.universal import DP_TOPIC, decode_frame

log = logging.getLogger(__name__)


# What a decoder may still raise on input nobody foresaw; anything else is a bug that should surface.
UNFORESEEN = (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeError)


@dataclass(frozen=True)
class Limits:
    """What the decoders need to know besides the payload."""

    topic_root: str
    future_tolerance: timedelta
    retention: timedelta


def subscriptions(topic_root: str, share_group: str | None, *, dollar_topics: bool = True) -> list[str]:
    """The topic filters ingest subscribes to; with a share group, workers split the native topics.

    `$dp` and `$crsp/...` are not shared: Mosquitto does not deliver topics starting with `$` to a
    `$share/...` subscription, so with several workers exactly one of them (dollar_topics) takes them.
    """
    native = [gateway_topic(topic_root, channel) for channel in ("readings", "status", "online", "cmd/result")]
    dollar = [DP_TOPIC, *(f for f in answer_subscriptions(topic_root) if f.startswith("$"))]
    if share_group:
        native = [f"$share/{share_group}/{f}" for f in native]
    return native + (dollar if dollar_topics else [])


_NO_DEVICES: Mapping[str, str] = MappingProxyType({})


def add_message(batch: Batch, topic: str, payload: bytes, received_at, limits: Limits,
                accel_unit: Mapping[str, str], without_dp: Mapping[str, str] = _NO_DEVICES) -> None:
    """Decode one message into the batch; a message that cannot be decoded becomes a dead letter.

    `accel_unit` (device -> "g") and `without_dp` (device -> its protocol, for the registry's native
    gateways and manual devices) are the registry as last read, not queried per message.
    """
    try:
        gateway = _READINGS_TOPICS.get((topic, limits.topic_root))
        if gateway is not None:  # a native readings topic seen before: nearly every message
            _add_readings(batch, topic, gateway, payload, received_at, limits)
        elif answer_source(topic, limits.topic_root) is not None:
            _add_answer(batch, topic, payload, received_at, limits)
        elif topic == DP_TOPIC:
            _add_universal(batch, topic, payload, received_at, limits, accel_unit, without_dp)
        else:
            _add_native(batch, topic, payload, received_at, limits)
    except MalformedMessage as exc:
        log.warning("dead-lettered a message on %s: %s (payload %r)", topic, exc, payload[:120])
        batch.dead_letters.append(DeadLetter(received_at, topic, payload, str(exc)))
    except UNFORESEEN as exc:
        # A decoder gap, not a bad device: keep the message, keep the stream going, say so loudly.
        log.error("could not decode a message on %s (%s: %s); dead-lettered, payload %r", topic,
                  type(exc).__name__, exc, payload[:120])
        batch.dead_letters.append(DeadLetter(received_at, topic, payload,
                                             f"could not be decoded: {type(exc).__name__}: {exc}"))


# (topic, topic root) -> gateway of the native readings topics met so far, so that routing a message on
# one takes a lookup; bounded, cleared when full.
_READINGS_TOPICS: dict[tuple[str, str], str] = {}
_READINGS_TOPICS_MAX = 100_000


def _add_readings(batch: Batch, topic, gateway, payload, received_at, limits: Limits) -> None:
    decoded = decode_readings(payload, topic_gateway=gateway, received_at=received_at,
                              future_tolerance=limits.future_tolerance, retention=limits.retention)
    if not decoded.readings and not decoded.rejected:
        raise MalformedMessage("the message carries no readings")
    batch.readings.extend([(topic, r) for r in decoded.readings])
    if decoded.rejected:
        batch.dead_letters.extend(DeadLetter(received_at, topic, payload, reason) for reason in decoded.rejected)
    batch.devices_seen[gateway] = received_at


def _add_native(batch: Batch, topic, payload, received_at, limits: Limits) -> None:
    gateway, channel = gateway_of(topic, limits.topic_root)
    if channel == "readings":
        if len(_READINGS_TOPICS) >= _READINGS_TOPICS_MAX:
            _READINGS_TOPICS.clear()
        _READINGS_TOPICS[(topic, limits.topic_root)] = gateway
        _add_readings(batch, topic, gateway, payload, received_at, limits)
        return
    elif channel == "status":
        status = decode_status(payload, topic_gateway=gateway, received_at=received_at)
        batch.statuses.append(StatusReport(status, topic, payload, received_at))
    elif channel == "online":
        batch.online[gateway] = decode_online(payload)
        return  # the broker's retained flag (or last will) is not traffic from the gateway
    else:
        raise MalformedMessage(f"channel {channel!r} of topic {topic!r} is not readings, status or online")
    batch.devices_seen[gateway] = received_at


def _add_answer(batch: Batch, topic, payload, received_at, limits: Limits) -> None:
    prepared = prepare_answer(topic=topic, payload=payload, topic_root=limits.topic_root)
    if prepared is None:
        raise MalformedMessage("a command answer that names no command id")
    batch.answers.append(CommandAnswer(prepared, topic, payload, received_at))


def _add_universal(batch: Batch, topic, payload, received_at, limits: Limits, accel_unit, without_dp) -> None:
    frame = decode_frame(payload, received_at=received_at, future_tolerance=limits.future_tolerance,
                         retention=limits.retention, accel_unit=accel_unit)
    # Every universal device may publish `$dp`, and the broker does not tell who published a frame (MQTT
    # 3.1.1), so a frame naming a device that never sends one is another device posing as it.
    protocol = without_dp.get(frame.device_id)
    if protocol is not None:
        raise MalformedMessage(
            f"$dp frame names device {frame.device_id!r}, which the registry has as a {protocol} device: only "
            "universal devices send $dp frames, so another device may be posing as it; nothing of it is stored")
    if not frame.readings and not frame.rejected and frame.status is None:
        raise MalformedMessage(f"the frame of device {frame.device_id!r} carries no readings")
    batch.readings.extend((topic, r) for r in frame.readings)
    batch.dead_letters.extend(DeadLetter(received_at, topic, payload, reason) for reason in frame.rejected)
    if frame.status is not None:
        batch.statuses.append(StatusReport(frame.status, topic, payload, received_at))
    batch.devices_seen[frame.device_id] = received_at
