"""Downlink commands of SPEC 2.1 and 2.2: validated parameters, payloads, topics, and the devices' answers.

Universal devices get `$creq/<deviceId>/<commandId>` with an ASCII payload
(`$cmd=getstatus`) and answer `$cmd=<name>&result=succ|fail`. The spec names only the request
topic; the answer is taken on `$crsp/<deviceId>/<commandId>`, the request topic mirrored the way
OneNET-style device platforms do it, so the answer carries the id of the command it answers.

Native gateways get the same commands as JSON on `<root>/gateways/<id>/cmd`
(`{"command_id": "...", "cmd": "setsensortime", "sensor_id": "CR-01", "sample_intv": 60, ...}`) and
answer on `<root>/gateways/<id>/cmd/result` with `{"command_id": "...", "cmd": "...", "result": "succ"}`.

Parameters are the same for both protocols. Coordinate ranges are two numbers: `"105.1,106.2"` in the
ASCII payload, `[105.1, 106.2]` in JSON. Pure: no I/O.
"""

import json
import re
import uuid
from dataclasses import dataclass
from typing import Callable, Mapping

UNIVERSAL, NATIVE = "universal", "native"
RESULTS = ("succ", "fail")
# Meteorological warning levels as the devices number them.
WARNING_LEVELS = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
# A sampling or upload interval longer than a day means a typo, not a monitoring plan.
MAX_INTERVAL_S = 86_400
# Meteorological risk warnings are issued for hours to days; a month is certainly a typo.
MAX_EFFECTIVE_TIME_S = 30 * 86_400
# Characters that cannot break the `key=value&...` payload or a topic level.
_WORD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,253}$")


class MalformedAnswer(ValueError):
    """An answer that cannot be read; `command_id` is set when at least that could be."""

    def __init__(self, reason: str, command_id: str | None = None):
        super().__init__(reason)
        self.command_id = command_id


# --- parameters --------------------------------------------------------------------------------


def _sensor_id(value: object) -> str:
    if not isinstance(value, str) or not _WORD.match(value):
        raise ValueError(f"{value!r} is not a sensor code (letters, digits, '_', '.', '-'; e.g. L1_LF_1)")
    return value


def _seconds(upper: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = _integer(value)
        if number is None or not 1 <= number <= upper:
            raise ValueError(f"{value!r} is not a whole number of seconds from 1 to {upper}")
        return number

    return parse


def _host(value: object) -> str:
    if not isinstance(value, str) or not _HOST.match(value):
        raise ValueError(f"{value!r} is not a host name or address")
    return value


def _level(value: object) -> int:
    if isinstance(value, str) and value.lower() in WARNING_LEVELS:
        return WARNING_LEVELS[value.lower()]
    number = _integer(value)
    if number is None or number not in WARNING_LEVELS.values():
        raise ValueError(f"{value!r} is not a warning level: 0 red, 1 orange, 2 yellow, 3 blue (or the colour)")
    return number


def _range(low: float, high: float) -> Callable[[object], list[float]]:
    def parse(value: object) -> list[float]:
        parts = value.split(",") if isinstance(value, str) else value
        try:
            a, b = (float(p) for p in parts)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not two numbers 'a,b'") from None
        if not low <= a <= b <= high:
            raise ValueError(f"{value!r} is not a range a,b with {low:g} <= a <= b <= {high:g}")
        return [a, b]

    return parse


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# Each command's parameters, in the order they go on the wire.
PARAMETERS: dict[str, dict[str, Callable[[object], object]]] = {
    "setsensortime": {
        "sensor_id": _sensor_id,
        "sample_intv": _seconds(MAX_INTERVAL_S),
        "upload_intv": _seconds(MAX_INTERVAL_S),
        "plus_intv": _seconds(MAX_INTERVAL_S),
    },
    "getstatus": {},
    "settime": {"server": _host},
    "meteorologicalearlywarning": {
        "level": _level,
        "effective_time": _seconds(MAX_EFFECTIVE_TIME_S),
        "lon_range": _range(-180.0, 180.0),
        "lat_range": _range(-90.0, 90.0),
    },
}
COMMAND_NAMES = tuple(PARAMETERS)


@dataclass(frozen=True)
class Command:
    """A command with validated parameters, ready to be put on the wire of either protocol."""

    name: str
    params: dict[str, object]

    def universal_payload(self) -> str:
        """The ASCII payload of SPEC 2.1, e.g. `$cmd=getstatus`."""
        fields = [f"cmd={self.name}"] + [f"{key}={wire_value(value)}" for key, value in self.params.items()]
        return "$" + "&".join(fields)

    def native_payload(self, command_id: str) -> str:
        """The JSON payload of SPEC 2.2: the command id, `cmd` and the parameters."""
        return json.dumps({"command_id": command_id, "cmd": self.name, **self.params}, separators=(",", ":"))

    def payload(self, protocol: str, command_id: str) -> str:
        return self.universal_payload() if protocol == UNIVERSAL else self.native_payload(command_id)


def build_command(name: str, params: Mapping[str, object]) -> Command:
    """Validate a command's parameters; a ValueError says which one is wrong and what it should be."""
    expected = PARAMETERS.get(name)
    if expected is None:
        raise ValueError(f"unknown command {name!r}; the commands are {', '.join(COMMAND_NAMES)}")
    unknown = sorted(set(params) - set(expected))
    missing = [key for key in expected if key not in params]
    if unknown or missing:
        wanted = ", ".join(expected) if expected else "no parameters"
        problems = ([f"unknown {', '.join(unknown)}"] if unknown else []) + (
            [f"missing {', '.join(missing)}"] if missing else [])
        raise ValueError(f"{name}: {'; '.join(problems)} (it takes {wanted})")
    validated = {}
    for key, parse in expected.items():
        try:
            validated[key] = parse(params[key])
        except ValueError as exc:
            raise ValueError(f"{name}: {key}: {exc}") from None
    return Command(name, validated)


def wire_value(value: object) -> str:
    """A parameter as it appears in the ASCII payload."""
    if isinstance(value, list):
        return ",".join(_decimal(v) for v in value)
    return str(value)


def describe(name: str, params: Mapping[str, object]) -> str:
    """A command in one line for people, parameters in wire order: `settime server=ntp1`."""
    order = [key for key in PARAMETERS.get(name, {}) if key in params]
    order += sorted(set(params) - set(order))
    text = "&".join(f"{key}={wire_value(params[key])}" for key in order)
    return f"{name} {text}" if text else name


def _decimal(number: float) -> str:
    # Six decimals of a degree are 0.1 m; never an exponent, which firmware would not parse.
    return f"{number:.6f}".rstrip("0").rstrip(".")


def new_command_id() -> str:
    return uuid.uuid4().hex


# --- topics ------------------------------------------------------------------------------------


def request_topic(protocol: str, *, topic_root: str, device_id: str, command_id: str) -> str:
    """Where a command for this device is published."""
    if protocol == UNIVERSAL:
        return f"$creq/{device_id}/{command_id}"
    return f"{topic_root}/gateways/{device_id}/cmd"


def answer_topic(protocol: str, *, topic_root: str, device_id: str, command_id: str) -> str:
    """Where this device publishes its answer to a command."""
    if protocol == UNIVERSAL:
        return f"$crsp/{device_id}/{command_id}"
    return f"{topic_root}/gateways/{device_id}/cmd/result"


def answer_subscriptions(topic_root: str) -> list[str]:
    """The topic filters that receive every device's answers."""
    return ["$crsp/+/+", f"{topic_root}/gateways/+/cmd/result"]


@dataclass(frozen=True)
class AnswerSource:
    protocol: str
    device_id: str
    command_id: str | None  # in the topic for universal devices, in the payload for native gateways


def answer_source(topic: str, topic_root: str) -> AnswerSource | None:
    """Who answered, from an answer topic; None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "$crsp" and parts[1] and parts[2]:
        return AnswerSource(UNIVERSAL, parts[1], parts[2])
    prefix = f"{topic_root}/gateways/"
    if topic.startswith(prefix):
        rest = topic[len(prefix):].split("/")
        if len(rest) == 3 and rest[0] and rest[1:] == ["cmd", "result"]:
            return AnswerSource(NATIVE, rest[0], None)
    return None


# --- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    name: str
    result: str  # "succ" or "fail"
    command_id: str | None = None


def parse_answer(protocol: str, payload: bytes) -> Answer:
    """Read a device's answer; MalformedAnswer says why it cannot be read."""
    return parse_universal_answer(payload) if protocol == UNIVERSAL else parse_native_answer(payload)


def parse_universal_answer(payload: bytes) -> Answer:
    """Read `$cmd=<name>&result=succ|fail` (other fields are allowed and ignored)."""
    try:
        # Some firmware ends its strings with CR LF or a C string's NUL.
        text = payload.decode("ascii").strip(" \t\r\n\x00")
    except UnicodeDecodeError:
        raise MalformedAnswer("answer is not ASCII") from None
    if not text.startswith("$"):
        raise MalformedAnswer(f"answer {text[:60]!r} does not start with '$cmd='")
    fields = dict(pair.partition("=")[::2] for pair in text[1:].split("&"))
    return _answer(fields.get("cmd"), fields.get("result"), None)


def parse_native_answer(payload: bytes) -> Answer:
    """Read `{"command_id": ..., "cmd": ..., "result": "succ"|"fail"}`."""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedAnswer(f"answer is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedAnswer("answer is not a JSON object")
    command_id = body.get("command_id")
    if not isinstance(command_id, str) or not command_id:
        raise MalformedAnswer("answer has no 'command_id'")
    return _answer(body.get("cmd"), body.get("result"), command_id)


def _answer(name: object, result: object, command_id: str | None) -> Answer:
    if name not in PARAMETERS:
        raise MalformedAnswer(f"answer names no known command (cmd={name!r})", command_id)
    if result not in RESULTS:
        raise MalformedAnswer(f"answer result {result!r} is not succ or fail", command_id)
    return Answer(name, result, command_id)
