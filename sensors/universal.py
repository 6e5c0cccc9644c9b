"""The universal-device protocol of SPEC 2.1: the `$dp` binary frame and its data and status JSON."""

import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from sensors.kinds import KINDS, REQUIRED_FIELDS
from sensors.native import MalformedMessage
from sensors.readings import BadReading, Reading, as_number, build_reading
from sensors.status import DeviceStatus
from sensors.timestamps import parse_utc

DP_TOPIC = "$dp"
FRAME_STATUS, FRAME_DATA = 1, 2
_FRAME_NAMES = {FRAME_STATUS: "status", FRAME_DATA: "data"}
# Byte 0 the frame type, bytes 1-2 the big-endian length of the JSON that follows.
_HEADER = struct.Struct(">BH")

# The `<type>` of a `<group>_<type>_<n>` sensor code; any other type is stored as kind "other".
TYPE_KINDS = {
    "LF": "crack",
    "GP": "gnss",
    "QJ": "tilt",
    "SW": "deep",
    "JS": "accel",
    "YL": "rain",
    "HS": "soil_moisture",
    "TW": "soil_temp",
    "SY": "pore_pressure",
}

STATUS_CODE = "S1_ZT_1"
# Status fields as sent -> DeviceStatus attribute; lon and lat come as strings, the rest as numbers.
_STATUS_NUMBERS = {
    "ext_power_volt": "supply_v",
    "solar_volt": "solar_v",
    "battery_dump_energy": "battery_pct",
    "temp": "temp_c",
    "humidity": "humidity_pct",
    "lon": "lon",
    "lat": "lat",
    "signal_4g": "signal_4g",
    "signal_NB": "signal_nb",
    "signal_bd": "signal_bd",
}
# A position outside these is a GPS module reporting garbage, not a place.
_COORDINATE_RANGES = {"lon": (-180.0, 180.0), "lat": (-90.0, 90.0)}

# Firmware sends acceleration in g or mg (a per-device setting); readings are stored in mg.
ACCEL_UNIT_TO_MG = {"mg": 1.0, "g": 1000.0}
_ACCEL_FIELDS = KINDS["accel"].fields
_NO_ACCEL_UNITS: Mapping[str, str] = MappingProxyType({})


@dataclass
class DecodedFrame:
    device_id: str
    readings: list[Reading] = field(default_factory=list)  # from a data frame
    # One reason per reading (or status field) that could not be taken; the rest is kept.
    rejected: list[str] = field(default_factory=list)
    status: DeviceStatus | None = None  # from a status frame


def encode_frame(frame_type: int, body: dict) -> bytes:
    """A `$dp` payload: the type byte, the big-endian length, then the body as UTF-8 JSON."""
    if frame_type not in _FRAME_NAMES:
        raise ValueError(f"frame type {frame_type} is not {FRAME_STATUS} (status) or {FRAME_DATA} (data)")
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    if len(data) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes of JSON do not fit the frame's 16-bit length")
    return _HEADER.pack(frame_type, len(data)) + data


def parse_sensor_code(code: str) -> str:
    """The kind of a `<group>_<type>_<n>` code such as `L1_LF_1`; "other" when unknown or malformed."""
    parts = code.split("_")
    if len(parts) != 3 or not parts[0].isalnum() or not parts[2].isdigit():
        return "other"
    return TYPE_KINDS.get(parts[1], "other")


def decode_frame(
    payload: bytes,
    *,
    received_at: datetime,
    future_tolerance: timedelta,
    retention: timedelta,
    accel_unit: Mapping[str, str] = _NO_ACCEL_UNITS,
) -> DecodedFrame:
    """Decode one `$dp` frame; raise MalformedMessage if the frame as a whole cannot be read."""
    frame_type, device_id, body = _unframe(payload)
    if frame_type == FRAME_STATUS:
        return _decode_status(device_id, body, received_at)
    frame = DecodedFrame(device_id)
    unit = accel_unit.get(device_id, "mg")
    for code, sent in body.items():
        if not code:
            frame.rejected.append("a sensor with an empty code: every sensor needs <group>_<type>_<n>")
            continue
        kind = parse_sensor_code(code)
        for time_key, value in _by_time(sent):
            where = code if time_key is None else f"{code} at {time_key}"
            try:
                ts = received_at if time_key is None else parse_utc(time_key)
                fields, ignored = _fields(kind, value), []
                if kind == "other":
                    fields, ignored = _numeric_only(fields)
                elif kind == "accel":
                    fields = _accel_in_mg(fields, unit)
                frame.readings.append(build_reading(
                    device_id=device_id,
                    sensor_code=code,
                    ts=ts,
                    kind=kind,
                    raw_fields=fields,
                    received_at=received_at,
                    future_tolerance=future_tolerance,
                    retention=retention,
                    server_timed=time_key is None,
                ))
            except BadReading as exc:
                frame.rejected.append(f"{where}: {exc}")
                continue
            frame.rejected.extend(f"{where}: {reason}; the other fields are kept" for reason in ignored)
    return frame


def _unframe(payload: bytes) -> tuple[int, str, dict]:
    """The frame type, the device id and the object under it, or MalformedMessage saying why not."""
    if len(payload) < _HEADER.size:
        raise MalformedMessage(
            f"frame is {len(payload)} bytes, shorter than the 3-byte header (type byte, 2-byte length)"
        )
    frame_type, declared = _HEADER.unpack_from(payload)
    if frame_type not in _FRAME_NAMES:
        hint = ": the payload looks like bare JSON without the frame header" if payload[:1] == b"{" else ""
        raise MalformedMessage(
            f"unknown frame type {frame_type:#04x} "
            f"(expected {FRAME_STATUS} = status or {FRAME_DATA} = data){hint}"
        )
    carried = len(payload) - _HEADER.size
    if declared != carried:
        raise MalformedMessage(f"frame declares {declared} bytes of JSON but carries {carried}")
    try:
        body = json.loads(payload[_HEADER.size:].decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"frame JSON is not valid UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise MalformedMessage(f"frame JSON does not parse: {exc}") from None
    except (RecursionError, ValueError) as exc:  # nesting too deep; an integer of thousands of digits
        raise MalformedMessage(f"frame JSON is not taken: {type(exc).__name__}: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedMessage(f"frame JSON is {_shape(body)}, not an object keyed by the device id")
    if len(body) != 1:
        keys = ", ".join(repr(k) for k in list(body)[:5])
        raise MalformedMessage(
            f"frame JSON has {len(body)} top-level keys ({keys or 'none'}); "
            "it must have exactly one, the device id"
        )
    [(device_id, inner)] = body.items()
    if not device_id.strip():
        raise MalformedMessage("frame JSON's top-level key, the device id, is empty")
    if not isinstance(inner, dict):
        what = "sensors" if frame_type == FRAME_DATA else STATUS_CODE
        raise MalformedMessage(
            f"{_FRAME_NAMES[frame_type]} frame of device {device_id!r} carries {_shape(inner)}, "
            f"not an object of {what}"
        )
    return frame_type, device_id, inner


def _looks_like_time(key: str) -> bool:
    # Field names never begin with a digit and timestamps always do, so a key that starts with one
    # is a time, even one too broken to parse: it is then reported as a bad timestamp, not stored
    # as a field.
    return key[:1].isdigit()


def _by_time(sent: object) -> list[tuple[str | None, object]]:
    """(time key, value) pairs; one with no time key when the firmware left the time level out."""
    if isinstance(sent, dict) and any(_looks_like_time(key) for key in sent):
        return list(sent.items())
    return [(None, sent)]


def _fields(kind: str, value: object) -> dict[str, object]:
    """The raw fields of one value in any of its three shapes: number, object or comma string."""
    spec = KINDS.get(kind)
    if isinstance(value, bool) or not isinstance(value, (int, float, str, dict)):
        raise BadReading(
            f"value is {_shape(value)}, not a number, an object of fields or a comma-separated string"
        )
    if isinstance(value, dict):
        if not value:
            raise BadReading("an empty object carries no fields")
        return dict(value)
    if isinstance(value, str):
        numbers = [part.strip() for part in value.split(",")]
        names = spec.fields if spec else tuple(f"f{i}" for i in range(1, len(numbers) + 1))
        if len(numbers) != len(names):
            raise BadReading(
                f"{len(numbers)} comma-separated numbers in {value!r}, "
                f"but {kind} takes {len(names)}: {', '.join(names)}"
            )
        return dict(zip(names, numbers))
    # A bare number is the `value` of the kinds that need nothing else.
    if spec is not None and REQUIRED_FIELDS[kind] != ("value",):
        raise BadReading(f"a bare number {value!r}, but {kind} takes fields {', '.join(spec.fields)}")
    return {"value": value}


def _numeric_only(fields: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    """The numeric fields of an `other` reading (kept whatever else it carries), and why the rest is not."""
    kept = {name: raw for name, raw in fields.items() if _as_number(raw) is not None}
    if not kept:
        raise BadReading(f"no numeric field in {fields!r}")
    ignored = [f"field {name!r} is {raw!r}, not a number" for name, raw in fields.items() if name not in kept]
    return kept, ignored


def _accel_in_mg(fields: dict[str, object], unit: str) -> dict[str, object]:
    scale = ACCEL_UNIT_TO_MG.get(unit)
    if scale is None:
        known = ", ".join(ACCEL_UNIT_TO_MG)
        raise BadReading(f"the device's acceleration unit {unit!r} is not one of {known}")
    # A field that is not a number is left as sent for build_reading to reject by name.
    return {
        name: number * scale if name in _ACCEL_FIELDS and (number := _as_number(raw)) is not None else raw
        for name, raw in fields.items()
    }


def _as_number(raw: object) -> float | None:
    """A finite number from a JSON number or a numeric string (firmware prints both), else None."""
    number = as_number(raw)
    return number if number is not None and math.isfinite(number) else None


def _shape(value: object) -> str:
    """What a JSON value is, for a message: `a list`, `null`, `true`, `a string '...'`."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return f"a string {value!r}"
    if isinstance(value, (int, float)):
        return f"a number {value!r}"
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _decode_status(device_id: str, body: dict, received_at: datetime) -> DecodedFrame:
    """A status frame: the device's health, keeping every field that parses."""
    if STATUS_CODE not in body:
        keys = ", ".join(repr(k) for k in list(body)[:5]) or "none"
        raise MalformedMessage(
            f"status frame of device {device_id!r} has no {STATUS_CODE} object (keys: {keys})"
        )
    frame = DecodedFrame(device_id)
    frame.rejected.extend(f"status frame: ignored {key!r}, which is not {STATUS_CODE}"
                          for key in body if key != STATUS_CODE)
    at, sent = received_at, body[STATUS_CODE]
    if isinstance(sent, dict) and any(_looks_like_time(key) for key in sent):
        # Several snapshots in one frame: the latest (ISO 8601 sorts as text) is the device's health now.
        time_key = max(key for key in sent if _looks_like_time(key))
        sent = sent[time_key]
        try:
            at = parse_utc(time_key)
        except BadReading as exc:
            frame.rejected.append(f"{STATUS_CODE} at {time_key}: {exc}; using the time of receipt")
    if not isinstance(sent, dict):
        raise MalformedMessage(
            f"status frame of device {device_id!r}: {STATUS_CODE} is {_shape(sent)}, not an object"
        )
    status = DeviceStatus(device_id, at, raw=sent)
    for name, attr in _STATUS_NUMBERS.items():
        raw = sent.get(name)
        if _is_absent(raw):
            continue
        number = _as_number(raw)
        low, high = _COORDINATE_RANGES.get(name, (-math.inf, math.inf))
        if number is None or not low <= number <= high:
            expected = f"a number in [{low:g}, {high:g}]" if name in _COORDINATE_RANGES else "a number"
            frame.rejected.append(f"{STATUS_CODE}: field {name!r} is {raw!r}, not {expected}; ignored")
        else:
            setattr(status, attr, number)
    version = sent.get("sw_version")
    if isinstance(version, (dict, list, bool)):
        frame.rejected.append(f"{STATUS_CODE}: field 'sw_version' is {version!r}, not a version; ignored")
    elif not _is_absent(version):
        status.sw_version = str(version)
    status.sensor_state = _sensor_state(sent.get("sensor_state"), frame.rejected)
    frame.status = status
    return frame


def _sensor_state(sent: object, rejected: list[str]) -> dict[str, int]:
    """sensorCode -> state code; a code that is not an integer is named in `rejected` and left out."""
    if _is_absent(sent):
        return {}
    if not isinstance(sent, dict):
        rejected.append(f"{STATUS_CODE}: field 'sensor_state' is {_shape(sent)}, not an object; ignored")
        return {}
    state = {}
    for code, raw in sent.items():
        number = _as_number(raw)
        if number is None or not number.is_integer():
            rejected.append(
                f"{STATUS_CODE}: sensor_state of {code!r} is {raw!r}, not an integer code; ignored"
            )
        else:
            state[code] = int(number)
    return state


def _is_absent(raw: object) -> bool:
    # Firmware without a GPS fix or a modem sends null or "" for the field rather than leaving it out.
    return raw is None or (isinstance(raw, str) and not raw.strip())
