"""The quiet baseline of each displacement sensor (SPEC 4.1): the reference creep rate v0 the window being
judged never sets for itself.

v0 is the median robust velocity over the last 30 days, leaving out the bins when the sensor's point had a
deformation alert open, on the sensor's own time scale; it counts once 7 quiet days stand behind it. The
engine refreshes a slice of the sensors every full evaluation, the oldest first, so that each is at most a
day old without reading every sensor's month at once. The numbers come from the same kernels as the levels.
"""

from datetime import datetime, timedelta

import asyncpg
import numpy as np

from alerting import kernels as k
from alerting.evaluate import by_bin, sensor_params
from alerting.rules import (
    BASELINE_DAYS,
    BASELINE_MIN_DAYS,
    BASELINE_REFRESH_S,
    MAX_GAP_BINS,
    SMOOTH_BINS,
)
from sensors.kinds import DISPLACEMENT_KINDS
from sql import queries

Q = queries("engine")
# Sensors whose month of readings one query reads: at hourly bins a few hundred thousand readings.
BASELINE_CHUNK = 200


async def refresh_baselines(conn: asyncpg.Connection, now: datetime, points: list[str] | None = None, *,
                            until: datetime | None = None, min_days: float = BASELINE_MIN_DAYS,
                            limit: int | None = None) -> int:
    """Recompute the quiet baseline of the sensors whose baseline is missing or a day old (every sensor of
    `points` when `until` is given), at most `limit` of them; returns how many were stored.

    `until` ends the quiet period earlier than `now` (a replay's `--baseline-until`); `min_days` is how many
    quiet days a v0 needs to count.
    """
    to = now if until is None else min(now, until)
    due_before = now if until is not None else now - timedelta(seconds=BASELINE_REFRESH_S)
    rows = await conn.fetch(Q["baseline_due"], points, due_before, limit, list(DISPLACEMENT_KINDS))
    for first in range(0, len(rows), BASELINE_CHUNK):
        await _refresh(conn, rows[first:first + BASELINE_CHUNK], now, to, min_days)
    return len(rows)


async def _refresh(conn: asyncpg.Connection, rows: list, now: datetime, to: datetime, min_days: float) -> None:
    frm = to - timedelta(days=BASELINE_DAYS)
    data = await conn.fetchrow(Q["window_readings"], [r["device_id"] for r in rows], [r["code"] for r in rows],
                               frm, to)
    idx = np.asarray(data["idx"], dtype=np.int64) - 1
    t_s = np.asarray(data["t_s"], dtype=np.float64)
    value = np.asarray(data["value"], dtype=np.float64)
    periods = await conn.fetch(Q["deformation_alert_periods"], list({r["hazard_point"] for r in rows}), to)
    alerts: dict[str, list[tuple[float, float]]] = {}
    for p in periods:
        alerts.setdefault(p["hazard_point"], []).append((p["from_s"], p["to_s"]))
    params = sensor_params(rows)
    n = len(rows)
    v0 = np.full(n, np.nan)
    reference = np.full(n, np.nan)
    quiet_days = np.zeros(n)
    to_s = to.timestamp()
    for bin_s, sensors, position, readings in by_bin(params, idx):
        n_bins = int(BASELINE_DAYS * k.SECONDS_PER_DAY // bin_s)
        start_s = to_s - bin_s * n_bins + 1e-6
        # The reference of a tilt is what its change is measured from: its own series here, not a magnitude.
        series = k.displacement_series(position[idx[readings]], t_s[readings], value[readings], len(sensors),
                                       start_s, bin_s, n_bins, max_gap_bins=MAX_GAP_BINS)
        resolution = k.effective_resolution_mm(series, params["resolution"][sensors])
        velocity = k.robust_velocity(series, bin_s, resolution, SMOOTH_BINS).mm_per_day
        # A tilt is judged on the magnitude of its change, either way: its creep rate is the speed, unsigned.
        velocity[params["tilt"][sensors]] = np.abs(velocity[params["tilt"][sensors]])
        bin_end_s = start_s + bin_s * np.arange(1, n_bins + 1)
        quiet = np.isfinite(velocity)
        for j, row in enumerate(sensors.tolist()):
            for a, b in alerts.get(rows[row]["hazard_point"], ()):
                quiet[j] &= ~((bin_end_s > a) & (bin_end_s - bin_s < b))
        count = quiet.sum(axis=1)
        days = count * bin_s / k.SECONDS_PER_DAY
        has = count > 0
        median = np.full(len(sensors), np.nan)
        level = np.full(len(sensors), np.nan)
        median[has] = _masked_median(velocity[has], quiet[has])
        level[has] = _masked_median(series[has], quiet[has] & np.isfinite(series[has]))
        v0[sensors] = np.where(days >= min_days, median, np.nan)
        reference[sensors] = level
        quiet_days[sensors] = days
    await conn.execute(Q["upsert_baseline"], [r["device_id"] for r in rows], [r["code"] for r in rows],
                       _none_for_nan(v0), _none_for_nan(reference), quiet_days.tolist(), [frm] * n, [to] * n,
                       [now] * n)


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row, the median of the values where mask holds (NaN for a row with none)."""
    return k.row_nanmedian(np.where(mask, values, np.nan))


def _none_for_nan(values: np.ndarray) -> list:
    return [float(x) if np.isfinite(x) else None for x in values]
