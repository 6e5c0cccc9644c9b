"""A sensor's chart as a point's page draws it (static/point.js, uPlot): series, threshold lines and alert periods.

Pure functions over the readings endpoint's buckets (service.devices.service.sensor_readings with a bucket width),
so the chart shows exactly what GET /api/v1/devices/{id}/sensors/{code}/readings?bucket=... answers.
Velocity is the difference between consecutive buckets that have a value, divided by the time between them in
days: at bucket i, (d[i] - d[j]) / (t[i] - t[j]) with j the previous bucket with a value, so a gap averages over
its span. It is the plain rate of the plotted series, not the engine's least-squares velocity over its own bins
(the alert's evidence gives that one): on short buckets it is the noisier of the two.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any, Literal

from alerting.levels import ALERT_LEVELS
from sensors.kinds import DISPLACEMENT_KINDS

Period = Literal["24h", "7d", "30d"]
# Each period's bucket width: about 50 to 120 points a chart, enough to see a change of rate, few enough for
# consecutive-bucket velocity not to be all noise.
PERIODS: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "30m"),
    "7d": (timedelta(days=7), "2h"),
    "30d": (timedelta(days=30), "6h"),
}
DEFAULT_PERIOD: Period = "7d"
SECONDS_PER_DAY = 86_400
# The sensor's thresholds (SPEC 4.1 and 6, POST /devices) and the series each one is drawn against.
THRESHOLD_SERIES = {"displacement_mm": "displacement", "velocity_mm_per_day": "velocity"}


def velocity_per_day(times_s: Sequence[int], values: Sequence[float | None]) -> list[float | None]:
    """The rate between each bucket with a value and the previous one with a value, per day; None without one."""
    rates: list[float | None] = []
    previous: tuple[int, float] | None = None
    for t, value in zip(times_s, values, strict=True):
        if value is None:
            rates.append(None)
            continue
        rates.append(None if previous is None else (value - previous[1]) * SECONDS_PER_DAY / (t - previous[0]))
        previous = (t, value)
    return rates


def unit_of(kind: str) -> str:
    """The unit of a kind's series: a tilt meter's angle is in degrees, every other displacement in mm."""
    return "°" if kind == "tilt" else "mm"


def sensor_chart(*, kind: str, buckets: Sequence[Any], thresholds: Mapping[str, Any],
                 alerts: Sequence[Mapping[str, Any]], from_: datetime, to: datetime) -> dict:
    """The chart's data: times (Unix seconds), its series by key, threshold lines and alert periods."""
    times = [int(b.bucket.timestamp()) for b in buckets]
    values = [b.value for b in buckets]
    if kind == "rain":
        series = {"rain": values, "cumulative": list(accumulate(v or 0.0 for v in values))}
    elif kind in DISPLACEMENT_KINDS:
        series = {"displacement": values, "velocity": velocity_per_day(times, values)}
    else:
        series = {"value": values}
    lines = [
        {"series": THRESHOLD_SERIES[name], "quantity": name, "level": level, "value": by_level[level]}
        for name, by_level in thresholds.items()
        if name in THRESHOLD_SERIES and THRESHOLD_SERIES[name] in series and isinstance(by_level, Mapping)
        for level in ALERT_LEVELS
        if by_level.get(level) is not None
    ]
    periods = [
        {"id": a["id"], "type": a["type"], "level": a["level"], "from": int(a["raised_at"].timestamp()),
         "to": int(a["resolved_at"].timestamp()) if a["resolved_at"] is not None else None}
        for a in alerts
    ]
    return {"kind": kind, "unit": unit_of(kind), "from": int(from_.timestamp()), "to": int(to.timestamp()),
            "t": times, "series": series, "thresholds": lines, "alerts": periods}
