"""The sensor kinds of SPEC 2.1: their fields, the series each one is analysed on, and physical ranges."""

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Kind:
    name: str
    fields: tuple[str, ...]  # canonical field names, in the order of the comma-separated string shape
    series: Callable[[dict[str, float]], float]  # the one number the engine analyses
    ranges: dict[str, tuple[float, float]]  # physically possible values; outside is flagged, not dropped
    aliases: dict[str, str]  # other names firmware and gateways use for a field


def _field(name: str) -> Callable[[dict[str, float]], float]:
    return lambda f: f[name]


def _resultant(*names: str) -> Callable[[dict[str, float]], float]:
    return lambda f: math.hypot(*(f[n] for n in names))


# Ranges are generous on purpose: they catch broken sensors (a 65535 stuck register, a sign error),
# not unusual ground movement.
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("crack", ("value",), _field("value"), {"value": (-1_000, 10_000)}, {}),
        Kind(
            "gnss",
            ("gpsTotalX", "gpsTotalY", "gpsTotalZ"),
            _resultant("gpsTotalX", "gpsTotalY"),
            {f: (-100_000, 100_000) for f in ("gpsTotalX", "gpsTotalY", "gpsTotalZ")},
            {"e": "gpsTotalX", "n": "gpsTotalY", "u": "gpsTotalZ"},
        ),
        Kind(
            "tilt",
            ("X", "Y", "Z", "angle", "AZI"),
            _field("angle"),
            {"X": (-90, 90), "Y": (-90, 90), "Z": (-90, 90), "angle": (-90, 90), "AZI": (0, 360)},
            {"trend": "AZI"},
        ),
        Kind("deep", ("dispsX", "dispsY"), _resultant("dispsX", "dispsY"),
             {"dispsX": (-10_000, 10_000), "dispsY": (-10_000, 10_000)}, {}),
        Kind("accel", ("gX", "gY", "gZ"), _resultant("gX", "gY", "gZ"),
             {f: (-16_000, 16_000) for f in ("gX", "gY", "gZ")}, {}),
        Kind("rain", ("value", "totalValue"), _field("value"),
             {"value": (0, 500), "totalValue": (0, 1_000_000)}, {}),
        Kind("soil_moisture", ("value",), _field("value"), {"value": (0, 100)}, {}),
        Kind("soil_temp", ("value",), _field("value"), {"value": (-50, 80)}, {}),
        Kind("pore_pressure", ("temp", "value"), _field("value"),
             {"temp": (-50, 80), "value": (-100, 10_000)}, {}),
    )
}

# Kinds whose series is a cumulative displacement the deformation criteria apply to.
DISPLACEMENT_KINDS = ("crack", "gnss", "tilt", "deep")
# The kind of a manual device's sensors: marked cracks that grid monitors measure with a tape.
MANUAL_KIND = "crack"
ALL_KINDS = (*KINDS, "other")
# Fields a kind must carry for its series to be computed; the others are optional evidence.
REQUIRED_FIELDS = {
    "crack": ("value",),
    "gnss": ("gpsTotalX", "gpsTotalY"),
    "tilt": ("angle",),
    "deep": ("dispsX", "dispsY"),
    "accel": ("gX", "gY", "gZ"),
    "rain": ("value",),
    "soil_moisture": ("value",),
    "soil_temp": ("value",),
    "pore_pressure": ("value",),
}
