"""The warning engine against SPEC 8: 100,000 sensors in under 1 s, with the levels of the pure-Python reference.

A seeded synthetic fleet of N sensors: three quarters displacement sensors, one per hazard point, a quarter rain
gauges, each serving the neighbouring points. The displacement sensors have the rows the registry gives the
engine: crack gauges, GNSS stations, tilt meters and deep displacement sensors, reporting every 10 min to every
3 days (so binned by 1 h, 6 h, 1 d or their own interval), a resolution where one is configured, v0 configured,
from a quiet baseline or the kind's default, and a tilt's reference angle. Each has 72 of its own bins of
readings, quantised as its device sends them (0.01 or 0.1 mm, whole millimetres, GNSS resultants, 0.001 deg),
mixing steady creep, acceleration, approaches to failure (1/v falling to zero), creep onsets, rate jumps, flat,
noisy, whole-millimetre flicker, steps and reversals (tilts turning through their reference), with gaps. The
rain gauges have 72 h of dry weather, drizzle, storms, long rain, cloudbursts and totals exactly on a threshold.

At each size, best of 3: the kernel chain from the flat reading arrays (`alerting.evaluate.deformation` on the
displacement sensors, each on its own time scale, and the rain kernels, resampling included); then the engine's
whole in-memory evaluation, `alerting.evaluate.assess`, on the `Window` the engine would load for the same fleet
(its points on a grid of lon/lat, each gauge serving the points within a few km): every point's levels.
Then, on a smaller fleet, the chain against `bench/reference.py`, one sensor at a time: every level identical
(and what decided them: v0's source, a change of rate, a counted forecast); and `assess` against the chain
(exit status 1 on any difference, or when `assess` fails at some size).

    .venv/bin/python bench/engine.py [--sizes 10000,30000,100000,300000] [--reference-sensors 2000] [--seed 1]
                                     [--memory-limit-gb N]
"""

import argparse
import json
import math
import os
import resource
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for alerting and bench

from alerting import evaluate, kernels  # noqa: E402
from alerting.levels import ALERT_LEVELS, LEVEL_NAMES, NONE, ORANGE, RED  # noqa: E402
from alerting.rules import (  # noqa: E402
    BIN_S,
    FORECAST_ORANGE_H,
    FORECAST_RED_H,
    RAIN_WINDOW_BINS,
    WINDOW_BINS,
    displacement_bin_s,
)
from bench import reference  # noqa: E402

TARGET_S_AT_100K = 1.0
REPEATS = 3  # best of 3: the machine has 2 cores and may be busy with other work
NOW_S = 1_700_000_000.0 + WINDOW_BINS * BIN_S  # the evaluation's `now`: every sensor's window ends there
START_S = NOW_S - WINDOW_BINS * BIN_S  # the rain's 72 hourly bins are [start + i h, start + (i + 1) h)
HOURS = WINDOW_BINS
N_BINS = WINDOW_BINS  # a displacement sensor's window, in its own bins

KINDS = ("crack", "gnss", "tilt", "deep")
KIND_SHARES = (0.45, 0.20, 0.15, 0.20)
CRACK, GNSS, TILT, DEEP = range(len(KINDS))
# A tilt meter's series in degrees: the shapes below in mm, times this.
DEG_PER_MM = 0.01
# How often sensors report (s) and their share: mostly hourly (SPEC 8 sizes the engine for hourly data); some
# every 10 min (six readings a bin), every 2 h (three readings in a 6 h bin), every 6 h, daily, and every 3 days
# (InSAR-like: its own 3-day bin). Each interval is a block of consecutive sensors, which keeps the readings
# sensor-major.
REPORTING_INTERVALS_S = ((3600, 0.77), (600, 0.03), (7200, 0.05), (21_600, 0.07), (86_400, 0.05), (259_200, 0.03))

# What the fleet is made of: (name, share). Shares of each family sum to 1.
DISPLACEMENT_MIXES = (
    ("steady creep", 0.16),
    ("accelerating", 0.12),  # v grows as exp(t / tau): the latest angle spreads over yellow to red
    ("approach to failure", 0.09),  # 1/v falls linearly to zero 0.5 to 100 bins after now: forecasts
    ("creep onset", 0.08),  # quiet, then a new steady rate: a high angle held with an unchanging velocity
    ("rate jump", 0.09),  # a steady rate jumps 8 to 20 fold in the last 8 bins: a change of rate
    ("flat", 0.09),
    ("noisy", 0.11),  # noise of 0.05 to 1 mm: the effective resolution rises with it
    ("flicker", 0.08),  # quiet, read in whole steps of the resolution, flickering between two values
    ("step", 0.09),  # a sudden slip: velocity thresholds
    ("reversing", 0.09),  # moving back: a tilt turning through its reference, a crack closing
)
(STEADY, ACCELERATING, APPROACH, ONSET, JUMP, FLAT, NOISY, FLICKER, STEP, REVERSING) = range(len(DISPLACEMENT_MIXES))
GAP_MIXES = (
    ("complete", 0.70),
    ("gappy", 0.20),  # up to three gaps of 1 to 8 bins: filled up to 3, longer ones break the series
    ("stopped", 0.05),  # silent for the last 1 to 12 bins
    ("sparse", 0.05),  # most readings lost
)
COMPLETE, GAPPY, STOPPED, SPARSE = range(len(GAP_MIXES))
RAIN_MIXES = (
    ("dry", 0.25),
    ("drizzle", 0.20),
    ("storm", 0.30),
    ("long rain", 0.10),
    ("cloudburst", 0.10),
    ("on a threshold", 0.05),  # a 24 h total of exactly a threshold, in 0.1 mm readings
)
DRY, DRIZZLE, STORM, LONG_RAIN, CLOUDBURST, ON_THRESHOLD = range(len(RAIN_MIXES))
DISPLACEMENT_SHARE = 0.75  # of the sensors; the rest are rain gauges
RAIN_READINGS_PER_HOUR = ((1, 0.90), (6, 0.10))
NAN_READING_SHARE = 0.002
# Where v0 comes from: configured (a fifth of those set to 0, which is unset), a quiet baseline (some of
# them 0 or negative: a sensor at rest or creeping back), else the kind's default.
V0_CONFIGURED_SHARE, V0_BASELINE_SHARE = 0.30, 0.40


@dataclass
class Fleet:
    """Displacement sensors (one per hazard point) and rain gauges (each serving neighbouring points), as loaded."""

    n_displacement: int
    n_rain: int
    displacement_idx: np.ndarray  # flat readings, sensor-major and in time order, as an index scan returns them
    displacement_t_s: np.ndarray
    displacement_mm: np.ndarray
    rain_idx: np.ndarray
    rain_t_s: np.ndarray
    rain_mm: np.ndarray
    kind: np.ndarray  # [n_displacement] index into KINDS
    interval_s: np.ndarray  # [n_displacement] reporting interval
    resolution_mm: np.ndarray  # [n_displacement] configured resolution, NaN: the kind's
    configured_v0: np.ndarray  # [n_displacement] mm/d, NaN (or <= 0) where the geologist set none
    baseline_v0: np.ndarray  # [n_displacement] mm/d, NaN where the sensor has no quiet baseline yet
    baseline_reference: np.ndarray  # [n_displacement] a tilt's reference angle, NaN: its first in the window
    velocity_thresholds: np.ndarray  # [n_displacement, 4] mm/d, NaN unset
    displacement_thresholds: np.ndarray  # [n_displacement, 4] mm
    point_gauge: np.ndarray  # [n_points] the rain gauge each point uses
    rain_24h_thresholds: np.ndarray  # [n_points, 4] mm
    rain_72h_thresholds: np.ndarray
    rainfall_may_exceed_orange: np.ndarray  # [n_points] bool
    displacement_mix: np.ndarray  # [n_displacement] index into DISPLACEMENT_MIXES, for reports
    gap_mix: np.ndarray
    rain_mix: np.ndarray  # [n_rain] index into RAIN_MIXES

    @property
    def sensors(self) -> int:
        return self.n_displacement + self.n_rain

    @property
    def readings(self) -> int:
        return self.displacement_idx.size + self.rain_idx.size

    @cached_property
    def displacement_rows(self) -> list[dict]:
        """The sensors as the engine's `monitored_sensors` query returns them, less their point and place."""
        rows = []
        for i in range(self.n_displacement):
            kind = KINDS[self.kind[i]]
            thresholds = {"velocity_mm_per_day": _table(self.velocity_thresholds[i]),
                          "displacement_mm": _table(self.displacement_thresholds[i])}
            rows.append({
                "device_id": f"MD-{i:06d}", "code": f"L1_{kind.upper()}_1", "kind": kind,
                "v0_mm_per_day": _none_for_nan(self.configured_v0[i]), "thresholds": _json_text(thresholds),
                "reporting_interval_s": int(self.interval_s[i]),
                "resolution_mm": _none_for_nan(self.resolution_mm[i]),
                "baseline_v0_mm_per_day": _none_for_nan(self.baseline_v0[i]),
                "baseline_reference": _none_for_nan(self.baseline_reference[i])})
        return rows


def _none_for_nan(x) -> float | None:
    return None if math.isnan(x) else float(x)


def _choose(rng, n, mixes) -> np.ndarray:
    return rng.choice(len(mixes), size=n, p=[share for _, share in mixes])


def _log_uniform(rng, low, high, n) -> np.ndarray:
    return np.exp(rng.uniform(math.log(low), math.log(high), n))


def _blocks(n, rates) -> list[tuple[int, int, int]]:
    """(first, stop, rate) of consecutive index blocks sized by each rate's share."""
    out, first = [], 0
    for k, (rate, share) in enumerate(rates):
        stop = n if k == len(rates) - 1 else first + round(n * share)
        out.append((first, stop, rate))
        first = stop
    return out


def _slots(rng, m, per_bin, n_bins=N_BINS) -> np.ndarray:
    """[m, n_bins * per_bin] reading times in bins since the window start, one at random in each sub-slot."""
    slots = np.arange(n_bins * per_bin, dtype=np.float64)
    return (slots + rng.uniform(0.02, 0.98, (m, slots.size))) / per_bin


def _gap_mask(rng, bins, gap_mix, n_bins=N_BINS) -> np.ndarray:
    """Which readings survive the sensor's gaps."""
    m = bins.shape[0]
    keep = np.ones(bins.shape, dtype=bool)
    gappy = (gap_mix == GAPPY)[:, None]
    for _ in range(3):
        first = rng.integers(0, n_bins, m)[:, None]
        length = rng.integers(1, 9, m)[:, None]
        keep &= ~(gappy & (bins >= first) & (bins < first + length))
    silent = rng.integers(1, 13, m)[:, None]
    keep &= ~((gap_mix == STOPPED)[:, None] & (bins >= n_bins - silent))
    keep &= ~((gap_mix == SPARSE)[:, None] & (rng.random(bins.shape) < 0.7))
    return keep


def _flatten(first, t_s, values, keep):
    rows, cols = np.nonzero(keep)
    return rows + first, t_s[rows, cols], values[rows, cols]


def _displacement_mm(rng, bins, bin_days, mix, kind) -> tuple[np.ndarray, np.ndarray]:
    """Readings at `bins` (since the window start) for the sensors' mixes and kinds, quantised as their devices
    send them (mm; degrees for tilt), and each sensor's quantum."""
    m = bins.shape[0]
    days = bins * bin_days

    def column(values, where):
        return np.where(where, values, 0.0)[:, None]

    s0 = rng.uniform(0.0, 120.0, m)[:, None]
    moving = np.isin(mix, (STEADY, ACCELERATING, NOISY, STEP, JUMP))
    rate = column(_log_uniform(rng, 0.05, 5.0, m), moving) - column(_log_uniform(rng, 0.05, 5.0, m),
                                                                    mix == REVERSING)
    movement = rate * days
    tau = rng.uniform(6.0, 30.0, m)[:, None]  # bins
    movement += column(_log_uniform(rng, 0.1, 2.0, m), mix == ACCELERATING) * bin_days * tau * np.expm1(bins / tau)
    # Fukuzono: v = v_start * t_f / (t_f - t), so 1/v falls linearly to zero at t_f.
    t_fail = N_BINS + _log_uniform(rng, 0.5, 100.0, m)[:, None]
    movement += column(_log_uniform(rng, 0.2, 3.0, m), mix == APPROACH) * bin_days * t_fail * np.log(
        t_fail / (t_fail - bins))
    onset = rng.uniform(30.0, 66.0, m)[:, None]
    movement += column(_log_uniform(rng, 0.5, 10.0, m), mix == ONSET) * np.maximum(bins - onset, 0.0) * bin_days
    jump_at = N_BINS - rng.uniform(0.3, 8.0, m)[:, None]
    jump = np.where((mix == JUMP)[:, None], rate * rng.uniform(7.0, 19.0, m)[:, None], 0.0)
    movement += jump * np.maximum(bins - jump_at, 0.0) * bin_days
    step_at = rng.uniform(40.0, 72.0, m)[:, None]
    movement += column(rng.uniform(1.0, 20.0, m), mix == STEP) * (bins >= step_at)
    movement += column(_log_uniform(rng, 0.01, 0.3, m), mix == FLICKER) * days
    noise = np.select([mix == FLAT, mix == NOISY, mix == FLICKER, kind == GNSS],
                      [0.0, rng.uniform(0.05, 1.0, m), rng.uniform(0.2, 0.4, m), rng.uniform(0.3, 2.0, m)], 0.003)
    movement += noise[:, None] * rng.standard_normal(bins.shape)
    # A flickering sensor rests between two whole steps of its quantum.
    s0 = np.where((mix == FLICKER)[:, None], np.floor(s0) + 0.5, s0)
    # Tilts turn either way, in degrees.
    sign = np.where((kind == TILT) & (rng.random(m) < 0.5), -1.0, 1.0)[:, None]
    scale = np.where(kind == TILT, DEG_PER_MM, 1.0)[:, None]
    series = (s0 + sign * movement) * scale
    # Crack and deep gauges send 0.01 mm mostly, some 0.1 mm or whole millimetres; GNSS resultants are not
    # decimals at all; tilt meters send 0.001 deg. Flicker is read in whole millimetres (0.01 deg of tilt).
    quantum = np.select([kind == GNSS, kind == TILT], [0.0, 0.001],
                        rng.choice([0.01, 0.1, 1.0], size=m, p=[0.7, 0.15, 0.15]))
    quantum = np.where(mix == FLICKER, np.where(kind == TILT, 0.01, 1.0), quantum)
    for q in (0.001, 0.01, 0.1, 1.0):
        rows = quantum == q
        series[rows] = np.round(np.round(series[rows] / q) * q, 3)
    return series, quantum


def _rain_readings_mm(rng, hours, mix, per_hour, thresholds_24h) -> np.ndarray:
    """Rain (mm) in each reading for the gauges' mixes, in whole tips of the gauge's bucket."""
    m = hours.shape[0]
    intensity = np.zeros(hours.shape)  # mm/h
    drizzle = (mix == DRIZZLE)[:, None] & (rng.random(hours.shape) < 0.3)
    intensity += np.where(drizzle, rng.exponential(0.5, hours.shape), 0.0)
    # A storm: a bell 1-8 h wide holding 20-250 mm, centred anywhere in (or just after) the window.
    centre = rng.uniform(0.0, 80.0, m)[:, None]
    width = rng.uniform(1.0, 8.0, m)[:, None]
    storm_mm = rng.uniform(20.0, 250.0, m)[:, None]
    bell = np.exp(-0.5 * ((hours - centre) / width) ** 2) / (width * math.sqrt(2 * math.pi))
    intensity += np.where((mix == STORM)[:, None], storm_mm * bell, 0.0)
    long_rain = rng.uniform(0.5, 4.0, m)[:, None] * rng.random(hours.shape) * 2
    intensity += np.where((mix == LONG_RAIN)[:, None], long_rain, 0.0)
    burst = (mix == CLOUDBURST)[:, None] & (hours >= HOURS - rng.uniform(1.0, 3.0, m)[:, None])
    intensity += np.where(burst, rng.uniform(20.0, 60.0, m)[:, None], 0.0)
    # Tipping buckets of 0.1 mm mostly, some 0.2 and 0.5 mm; what a bucket has not tipped yet is lost.
    tip_mm = rng.choice([0.1, 0.2, 0.5], size=m, p=[0.8, 0.1, 0.1])[:, None]
    rain_mm = np.round(np.floor(intensity / per_hour / tip_mm + 1e-9) * tip_mm, 1)
    # On a threshold: the last 24 h hold exactly one of the gauge's 24 h thresholds, in 0.1 mm tips that
    # come in the first reading of each hour.
    exact = np.flatnonzero(mix == ON_THRESHOLD)
    target_mm = thresholds_24h[exact, rng.integers(0, 4, exact.size)]
    tips = np.round(np.where(np.isfinite(target_mm), target_mm, 80.0) * 10).astype(np.int64)[:, None]
    hour_of_last_day = np.arange(hours.shape[1]) // per_hour - (HOURS - 24)
    first_of_hour = (np.arange(hours.shape[1]) % per_hour == 0) & (hour_of_last_day >= 0)
    tips_in_hour = tips // 24 + (hour_of_last_day < tips % 24)
    rain_mm[exact] = np.where(first_of_hour, np.round(tips_in_hour * 0.1, 1), 0.0)
    return rain_mm


def _thresholds(rng, n, base, scale, share_set) -> np.ndarray:
    """[n, 4] threshold tables: base times a per-row scale, a fifth of the levels unset, set on share_set of rows."""
    table = base[None, :] * scale[:, None]
    table[rng.random((n, 4)) < 0.2] = np.nan
    table[rng.random(n) >= share_set] = np.nan
    return table


def _sensor_settings(rng, kind, quantum) -> dict[str, np.ndarray]:
    """Each displacement sensor's registry settings: resolution, v0 (configured, baseline), tilt reference."""
    n = kind.size
    scale = np.where(kind == TILT, DEG_PER_MM, 1.0)
    # A device sending whole millimetres is mostly registered with a resolution of 1 mm; where it is not, its
    # noise tells. Some GNSS stations are set to 0.5 mm, some crack gauges to 0.05 mm.
    resolution = np.full(n, np.nan)
    resolution[(quantum == 1.0) & (kind != GNSS) & (rng.random(n) < 0.67)] = 1.0
    resolution[(kind == GNSS) & (rng.random(n) < 0.2)] = 0.5
    resolution[(kind == CRACK) & (quantum == 0.01) & (rng.random(n) < 0.2)] = 0.05
    choice = rng.random(n)
    configured = np.full(n, np.nan)
    set_v0 = choice < V0_CONFIGURED_SHARE
    configured[set_v0] = _log_uniform(rng, 0.05, 5.0, set_v0.sum()) * scale[set_v0]
    configured[set_v0 & (rng.random(n) < 0.2)] = 0.0  # "configured" as zero: unset
    baseline = np.full(n, np.nan)
    has_baseline = (choice >= V0_CONFIGURED_SHARE) & (choice < V0_CONFIGURED_SHARE + V0_BASELINE_SHARE)
    baseline[has_baseline] = _log_uniform(rng, 0.02, 3.0, has_baseline.sum()) * scale[has_baseline]
    resting = has_baseline & (rng.random(n) < 0.15)
    baseline[resting] = rng.choice([0.0, -0.1], resting.sum()) * scale[resting]
    return {"resolution_mm": resolution, "configured_v0": configured, "baseline_v0": baseline}


def synthetic_fleet(n_sensors: int, seed: int = 1) -> Fleet:
    """A seeded fleet of n_sensors with every displacement and rain mix of the module constants."""
    rng = np.random.default_rng(seed)
    n_displacement = max(round(n_sensors * DISPLACEMENT_SHARE), 1)
    n_rain = max(n_sensors - n_displacement, 1)
    n_points = n_displacement
    kind = rng.choice(len(KINDS), size=n_displacement, p=KIND_SHARES)
    displacement_mix = _choose(rng, n_displacement, DISPLACEMENT_MIXES)
    gap_mix = _choose(rng, n_displacement, GAP_MIXES)
    rain_mix = _choose(rng, n_rain, RAIN_MIXES)
    rain_gap_mix = np.where(rng.random(n_rain) < 0.85, COMPLETE, _choose(rng, n_rain, GAP_MIXES))

    scale = np.where(kind == TILT, DEG_PER_MM, 1.0)
    velocity_thresholds = _thresholds(rng, n_displacement, np.array([1.0, 2.0, 5.0, 10.0]),
                                      rng.choice([0.5, 1.0, 2.0, 5.0], n_displacement) * scale, 0.5)
    displacement_thresholds = _thresholds(rng, n_displacement, np.array([50.0, 80.0, 100.0, 150.0]),
                                          rng.choice([0.5, 1.0, 1.5], n_displacement) * scale, 0.5)

    point_gauge = np.arange(n_points) * n_rain // n_points  # neighbouring points share a gauge
    custom = rng.random(n_points) < 0.2
    rain_24h = np.tile(np.asarray(kernels.DEFAULT_RAIN_24H_MM, dtype=float), (n_points, 1))
    rain_72h = np.tile(np.asarray(kernels.DEFAULT_RAIN_72H_MM, dtype=float), (n_points, 1))
    rain_24h[custom] = _thresholds(rng, n_points, np.array([30.0, 50.0, 70.0, 100.0]), np.ones(n_points), 1.0)[custom]
    rain_72h[custom] = _thresholds(rng, n_points, np.array([60.0, 90.0, 120.0, 200.0]), np.ones(n_points), 1.0)[custom]
    first_point_of_gauge = np.searchsorted(point_gauge, np.arange(n_rain))

    interval_s = np.empty(n_displacement, dtype=np.int64)
    quantum = np.empty(n_displacement)
    first_value = np.full(n_displacement, np.nan)
    displacement, rain = [], []
    for first, stop, interval in _blocks(n_displacement, REPORTING_INTERVALS_S):
        bin_s = displacement_bin_s(interval)
        interval_s[first:stop] = interval
        bins = _slots(rng, stop - first, max(bin_s // interval, 1))
        values, quantum[first:stop] = _displacement_mm(rng, bins, bin_s / kernels.SECONDS_PER_DAY,
                                                       displacement_mix[first:stop], kind[first:stop])
        first_value[first:stop] = values[:, 0]
        values[rng.random(values.shape) < NAN_READING_SHARE] = np.nan
        t_s = NOW_S - N_BINS * bin_s + bins * bin_s
        displacement.append(_flatten(first, t_s, values, _gap_mask(rng, bins, gap_mix[first:stop])))
    for first, stop, per_hour in _blocks(n_rain, RAIN_READINGS_PER_HOUR):
        hours = _slots(rng, stop - first, per_hour, HOURS)
        thresholds_24h = rain_24h[np.minimum(first_point_of_gauge[first:stop], n_points - 1)]
        values = _rain_readings_mm(rng, hours, rain_mix[first:stop], per_hour, thresholds_24h)
        rain.append(_flatten(first, START_S + hours * BIN_S, values, _gap_mask(rng, hours, rain_gap_mix[first:stop],
                                                                             HOURS)))
    # Half the tilt meters have a reference from their quiet baseline, within 0.01 deg of where the window
    # starts: a tilt moving back may turn through it.
    baseline_reference = np.where((kind == TILT) & (rng.random(n_displacement) < 0.5),
                                  np.round(first_value + rng.uniform(-0.01, 0.01, n_displacement), 3), np.nan)

    return Fleet(
        n_displacement, n_rain, *(np.concatenate(part) for part in zip(*displacement, strict=True)),
        *(np.concatenate(part) for part in zip(*rain, strict=True)),
        kind=kind, interval_s=interval_s, **_sensor_settings(rng, kind, quantum),
        baseline_reference=baseline_reference, velocity_thresholds=velocity_thresholds,
        displacement_thresholds=displacement_thresholds, point_gauge=point_gauge, rain_24h_thresholds=rain_24h,
        rain_72h_thresholds=rain_72h, rainfall_may_exceed_orange=rng.random(n_points) < 0.1,
        displacement_mix=displacement_mix, gap_mix=gap_mix, rain_mix=rain_mix,
    )


# --- the kernel chain, as alerting.evaluate runs it -----------------------------------------------------------


def forecast_level(hours_to_failure: np.ndarray) -> np.ndarray:
    """The level a counted failure forecast sets (SPEC 4.1): red within 24 h, orange within 72 h."""
    return np.select([hours_to_failure <= FORECAST_RED_H, hours_to_failure <= FORECAST_ORANGE_H],
                     [RED, ORANGE], NONE).astype(np.int8)


def levels_from_readings(fleet: Fleet) -> dict[str, np.ndarray]:
    """Every sensor's and point's level from the flat reading arrays, resampling included: the displacement
    sensors through `alerting.evaluate.deformation` (each on its own time scale, in blocks of
    kernels.SENSOR_BLOCK sensors), the rain through the kernels the same way."""
    rows = fleet.displacement_rows
    sensors = evaluate.SensorSet(rows, fleet.displacement_idx, fleet.displacement_t_s, fleet.displacement_mm,
                                 START_S + 1e-6, N_BINS)
    d = evaluate.deformation(sensors, NOW_S, evaluate.sensor_params(rows))

    def rain(idx, t_s, value, first, stop):
        hourly = kernels.resample_sum(idx, t_s, value, stop - first, START_S, BIN_S, HOURS)
        return kernels.trailing_totals(hourly, 24, 72)

    total_24h_mm, total_72h_mm = kernels.in_sensor_blocks(rain, fleet.rain_idx, fleet.rain_t_s, fleet.rain_mm,
                                                          fleet.n_rain)
    rainfall = kernels.rainfall_levels(total_24h_mm[fleet.point_gauge], total_72h_mm[fleet.point_gauge],
                                       fleet.rain_24h_thresholds, fleet.rain_72h_thresholds)
    levels = d.levels
    d.fit_forecasts()  # those of sensors red by another criterion too, which assess fits only for their evidence
    return {"deformation": levels.level, "angle": levels.angle_level, "velocity": levels.velocity_level,
            "displacement": levels.displacement_level, "forecast": forecast_level(d.forecast_hours),
            "v0 source": d.v0_source, "changed rate": d.changed_rate, "rainfall": rainfall,
            "point": kernels.point_levels(levels.level, rainfall, fleet.rainfall_may_exceed_orange)}


# --- the engine's whole evaluation: alerting.evaluate.assess on a Window of the same fleet ---------------------

# Where the fleet lies. Rain gauges sit on a square grid GAUGE_SPACING_KM apart; each is bound to the first of
# the points it serves (in the fleet's point_gauge) and stands at that point, as `gauges_near` places a gauge
# at its point. The gauge's other points lie POINT_OFFSET_KM from it, so that their nearest working gauge
# within 10 km is their own gauge, and a neighbour's (3 km off) when their own one is silent.
ORIGIN_LON, ORIGIN_LAT = 103.0, 27.0  # the grid's south-west corner, in Sichuan and Chongqing
GAUGE_SPACING_KM = 3.0
POINT_OFFSET_KM = (0.3, 1.0)
KM_PER_DEGREE = 2 * math.pi * kernels.EARTH_RADIUS_M / 1000 / 360  # on the engine's sphere
COUNTY_GAUGES = 10  # a county is a square of 10 x 10 gauges, 30 km across


@dataclass
class EngineInput:
    """The fleet as `alerting.evaluate.load_window` returns it: the rows of the engine's queries and readings."""

    now: datetime
    points: list[dict]  # active_points rows: code, county_code, lon, lat, thresholds, monitoring_plan
    displacement_rows: list[dict]  # monitored_sensors rows, in the fleet's sensor order
    rain_rows: list[dict]  # gauges_near rows
    displacement: tuple[np.ndarray, np.ndarray, np.ndarray]  # idx, t_s, value
    rain: tuple[np.ndarray, np.ndarray, np.ndarray]

    def window(self) -> evaluate.Window:
        """A new Window on the same rows and arrays, as every evaluation loads one afresh (nothing cached)."""
        def family(rows, readings, n_bins):
            # As evaluate._family: n_bins hourly bins ending at now, the first starting 1 us after now - n_bins h
            # (evaluate.deformation lays out each displacement sensor's bins of its own).
            return evaluate.SensorSet(rows, *readings, NOW_S - BIN_S * n_bins + 1e-6, n_bins)

        return evaluate.Window(self.now, self.points, family(self.displacement_rows, self.displacement, WINDOW_BINS),
                               family(self.rain_rows, self.rain, RAIN_WINDOW_BINS))


def _table(row: np.ndarray) -> dict:
    """One threshold table as the API stores it (exclude_none): the levels that are set."""
    return {level: float(x) for level, x in zip(ALERT_LEVELS, row.tolist(), strict=True) if math.isfinite(x)}


def _json_text(tables: dict) -> str:
    """jsonb as the engine's connection returns it: text (it sets no json codec); empty tables left out."""
    return json.dumps({key: table for key, table in tables.items() if table})


def _places(fleet: Fleet, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's lon, lat (degrees) and county number, around its gauge on the gauge grid."""
    n_points = fleet.n_displacement
    columns = math.ceil(math.sqrt(fleet.n_rain))
    gauge = fleet.point_gauge
    gauge_x_km = (gauge % columns) * GAUGE_SPACING_KM
    gauge_y_km = (gauge // columns) * GAUGE_SPACING_KM
    first_of_gauge = np.r_[True, gauge[1:] != gauge[:-1]]
    offset_km = np.where(first_of_gauge, 0.0, rng.uniform(*POINT_OFFSET_KM, n_points))
    bearing = rng.uniform(0.0, 2 * math.pi, n_points)
    lat = ORIGIN_LAT + (gauge_y_km + offset_km * np.cos(bearing)) / KM_PER_DEGREE
    lon = ORIGIN_LON + (gauge_x_km + offset_km * np.sin(bearing)) / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    county_columns = math.ceil(columns / COUNTY_GAUGES)
    county = (gauge // columns) // COUNTY_GAUGES * county_columns + (gauge % columns) // COUNTY_GAUGES
    return np.round(lon, 6), np.round(lat, 6), county


def _interval_s(n: int, rates) -> np.ndarray:
    """Each gauge's reporting interval, from the readings-per-hour block it is in."""
    out = np.empty(n, dtype=np.int64)
    for first, stop, per_hour in _blocks(n, rates):
        out[first:stop] = 3600 // per_hour
    return out


def engine_input(fleet: Fleet, seed: int = 1) -> EngineInput:
    """The rows the engine's queries would return for this fleet, placed on the gauge grid (seeded)."""
    rng = np.random.default_rng([seed, 2])  # a stream of its own: the fleet's readings stay as they are
    lon, lat, county = _places(fleet, rng)
    default_24h = np.asarray(kernels.DEFAULT_RAIN_24H_MM, dtype=float)
    default_72h = np.asarray(kernels.DEFAULT_RAIN_72H_MM, dtype=float)
    codes, points = [], []
    for i in range(fleet.n_displacement):
        county_code = f"{510100 + int(county[i]):06d}"
        codes.append(f"{county_code}-HP-{i:06d}")
        tables = {}
        # A point's own table only where it is not the area default (a table left out uses the default).
        if not np.array_equal(fleet.rain_24h_thresholds[i], default_24h, equal_nan=True):
            tables["rain_24h_mm"] = _table(fleet.rain_24h_thresholds[i])
        if not np.array_equal(fleet.rain_72h_thresholds[i], default_72h, equal_nan=True):
            tables["rain_72h_mm"] = _table(fleet.rain_72h_thresholds[i])
        plan = {"rainfall_may_exceed_orange": True} if fleet.rainfall_may_exceed_orange[i] else {}
        points.append({"code": codes[-1], "county_code": county_code, "lon": float(lon[i]), "lat": float(lat[i]),
                       "thresholds": _json_text(tables), "monitoring_plan": _json_text(plan)})

    displacement_rows = [{**row, "hazard_point": codes[i], "lon": points[i]["lon"], "lat": points[i]["lat"]}
                         for i, row in enumerate(fleet.displacement_rows)]

    bound_point = np.searchsorted(fleet.point_gauge, np.arange(fleet.n_rain)).tolist()
    interval = _interval_s(fleet.n_rain, RAIN_READINGS_PER_HOUR).tolist()
    rain_rows = [{"device_id": f"RG-{g:06d}", "code": "L3_YL_1", "kind": "rain", "hazard_point": codes[i],
                  "v0_mm_per_day": None, "thresholds": "{}", "reporting_interval_s": interval[g],
                  "lon": points[i]["lon"], "lat": points[i]["lat"]}
                 for g, i in enumerate(min(i, fleet.n_displacement - 1) for i in bound_point)]
    return EngineInput(datetime.fromtimestamp(NOW_S, tz=timezone.utc), points, displacement_rows, rain_rows,
                       (fleet.displacement_idx, fleet.displacement_t_s, fleet.displacement_mm),
                       (fleet.rain_idx, fleet.rain_t_s, fleet.rain_mm))


def assess(engine: EngineInput) -> list:
    """The engine's evaluation of every point: levels with their evidence, from a freshly loaded Window."""
    return evaluate.assess(engine.window())


def assess_mismatches(fleet: Fleet, engine: EngineInput, assessments: list,
                      chain: dict) -> tuple[dict[str, np.ndarray], int]:
    """Where assess and the kernel chain disagree on a point's level, and on how many points they were compared:
    those whose rainfall comes from the fleet's gauge (assess lends a silent gauge's points the nearest working
    one, the chain does not). Sensor deformation levels are compared wherever assess had data."""
    by_point = {(a.hazard_point, a.type): a.explained() for a in assessments}
    gauge_names = [f"{r['device_id']}/{r['code']}" for r in engine.rain_rows]
    point, rainfall, same_gauge, sensor = [], [], [], []
    for i, p in enumerate(engine.points):
        d, r = by_point[p["code"], "deformation"], by_point[p["code"], "rainfall"]
        # The deformation alert carries the coupled raise and the rainfall alert the orange cap: the point's
        # level, the higher of the two, is the chain's point level (no data counts as none, as in the chain).
        point.append(max(d.level or 0, r.level or 0))
        rainfall.append(-1 if r.level is None else r.level)
        same_gauge.append(r.evidence.get("gauge") == gauge_names[fleet.point_gauge[i]])
        (entry,) = d.evidence["sensors"]  # one displacement sensor per point
        sensor.append(entry["level"])
    same_gauge = np.array(same_gauge)
    capped = np.where(fleet.rainfall_may_exceed_orange, chain["rainfall"],
                      np.minimum(chain["rainfall"], ORANGE))
    chain_sensor = [LEVEL_NAMES[x] for x in chain["deformation"].tolist()]
    out = {"point": np.flatnonzero(same_gauge & (np.array(point) != chain["point"])),
           "rainfall": np.flatnonzero(same_gauge & (np.array(rainfall) != capped)),
           "sensor deformation": np.flatnonzero([a not in ("no data", b) for a, b in zip(sensor, chain_sensor,
                                                                                           strict=True)])}
    return {name: where for name, where in out.items() if where.size}, int(same_gauge.sum())


# --- the reference, one sensor at a time ----------------------------------------------------------------------


@dataclass
class ReferenceInput:
    """The fleet in the reference's terms: per-sensor reading lists and settings, threshold tuples with None unset."""

    displacement: list[dict]  # per sensor, reference.deformation_level's keyword arguments (readings included)
    rain_readings: list[list[tuple[float, float]]]
    point_gauge: list[int]
    rain_24h_thresholds: list[tuple]
    rain_72h_thresholds: list[tuple]
    rainfall_may_exceed_orange: list[bool]


def _per_sensor(n, idx, t_s, value) -> list[list[tuple[float, float]]]:
    out = [[] for _ in range(n)]
    for i, t, v in zip(idx.tolist(), t_s.tolist(), value.tolist(), strict=True):
        out[i].append((t, v))
    return out


def _unset_as_none(rows) -> list:
    return [tuple(None if math.isnan(x) else x for x in row) for row in np.atleast_2d(rows).tolist()]


def reference_input(fleet: Fleet) -> ReferenceInput:
    readings = _per_sensor(fleet.n_displacement, fleet.displacement_idx, fleet.displacement_t_s,
                           fleet.displacement_mm)
    displacement = [
        {"readings": readings[i], "kind": row["kind"], "reporting_interval_s": row["reporting_interval_s"],
         "resolution_mm": row["resolution_mm"], "configured_v0": row["v0_mm_per_day"],
         "baseline_v0": row["baseline_v0_mm_per_day"], "reference_value": row["baseline_reference"],
         "velocity_thresholds": v_thr, "displacement_thresholds": d_thr}
        for i, (row, v_thr, d_thr) in enumerate(zip(fleet.displacement_rows,
                                                    _unset_as_none(fleet.velocity_thresholds),
                                                    _unset_as_none(fleet.displacement_thresholds), strict=True))]
    return ReferenceInput(
        displacement, _per_sensor(fleet.n_rain, fleet.rain_idx, fleet.rain_t_s, fleet.rain_mm),
        fleet.point_gauge.tolist(), _unset_as_none(fleet.rain_24h_thresholds),
        _unset_as_none(fleet.rain_72h_thresholds), fleet.rainfall_may_exceed_orange.tolist(),
    )


def reference_sensors(ref: ReferenceInput) -> list[reference.SensorLevels]:
    """Every displacement sensor's levels by the reference, one at a time."""
    return [reference.deformation_level(now_s=NOW_S, **sensor) for sensor in ref.displacement]


def reference_levels(ref: ReferenceInput, sensors: list[reference.SensorLevels] | None = None) -> dict[str, list]:
    """Every sensor's and point's level by the reference (and what decided them): each sensor on its own, then
    each point."""
    sensors = reference_sensors(ref) if sensors is None else sensors
    totals = [reference.rain_totals_mm(readings, START_S) for readings in ref.rain_readings]
    rainfall = [reference.rainfall_level(*totals[g], thr_24h, thr_72h)
                for g, thr_24h, thr_72h in zip(ref.point_gauge, ref.rain_24h_thresholds, ref.rain_72h_thresholds,
                                               strict=True)]
    point = [reference.point_level(sensor.level, rain, may_exceed)
             for sensor, rain, may_exceed in zip(sensors, rainfall, ref.rainfall_may_exceed_orange, strict=True)]
    return {"deformation": [s.level for s in sensors], "angle": [s.angle_level for s in sensors],
            "velocity": [s.velocity_level for s in sensors], "displacement": [s.displacement_level for s in sensors],
            "forecast": [s.forecast_level for s in sensors],
            "v0 source": [reference.V0_SOURCES.index(s.v0_source) for s in sensors],
            "changed rate": [s.changed_rate for s in sensors], "rainfall": rainfall, "point": point}


def coverage(fleet: Fleet, sensors: list[reference.SensorLevels]) -> dict[str, int]:
    """How many sensors took each path the levels depend on, by the reference: what a check on this fleet covers."""
    count = Counter()
    for i, s in enumerate(sensors):
        kind = KINDS[fleet.kind[i]]
        count[f"kind {kind}"] += 1
        count[f"bin {displacement_bin_s(fleet.interval_s[i]) // 3600} h"] += 1
        count[f"v0 {s.v0_source}"] += 1
        count["changed rate"] += s.changed_rate
        count["changed rate, orange or red by angle"] += s.changed_rate and s.angle_level >= reference.ORANGE
        count["forecast counted"] += s.forecast_hours is not None
        count[f"forecast {reference.LEVEL_NAMES[s.forecast_level]}"] += s.forecast_level > reference.NONE
        count["forecast raised the level"] += s.forecast_level > max(s.angle_level, s.velocity_level,
                                                                     s.displacement_level)
        count[f"angle {reference.LEVEL_NAMES[s.angle_level]}"] += 1
        count["tilt, reference set"] += kind == "tilt" and not math.isnan(fleet.baseline_reference[i])
        resolution = fleet.resolution_mm[i]
        count["judged by its noise"] += s.resolution_mm > (reference.KIND_RESOLUTION_MM[kind]
                                                            if math.isnan(resolution) else resolution)
        count["whole-mm flicker"] += int(fleet.displacement_mix[i] == FLICKER)
    return {name: n for name, n in sorted(count.items()) if n}


def mismatches(kernel: dict, ref: dict) -> dict[str, np.ndarray]:
    """Per kind of level, the points where the kernels and the reference differ."""
    out = {}
    for name, ref_levels in ref.items():
        differ = np.flatnonzero(np.asarray(kernel[name]) != np.asarray(ref_levels))
        if differ.size:
            out[name] = differ
    return out


def describe(fleet: Fleet, point: int) -> str:
    gauge = fleet.point_gauge[point]
    return (f"point {point}: {KINDS[fleet.kind[point]]} every {fleet.interval_s[point]} s, "
            f"{DISPLACEMENT_MIXES[fleet.displacement_mix[point]][0]}, {GAP_MIXES[fleet.gap_mix[point]][0]}; "
            f"gauge {gauge}: {RAIN_MIXES[fleet.rain_mix[gauge]][0]}")


# --- timing ---------------------------------------------------------------------------------------------------


def best_of(repeats, fn, *args) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - started)
    return best


def timed_assess(engine: EngineInput) -> tuple[float | None, str]:
    """Best of REPEATS of assess, or None and why it failed: the other sizes and checks still run."""
    try:
        return best_of(REPEATS, assess, engine), ""
    except MemoryError as e:
        return None, f"out of memory under --memory-limit-gb: {e}"
    except Exception as e:  # the engine's own failure is the finding: say what and where, and exit 1 at the end
        frame = traceback.extract_tb(e.__traceback__)[-1]
        return None, f"FAILED, {type(e).__name__}: {e} ({Path(frame.filename).name}:{frame.lineno}, {frame.name})"


def limit_memory(gb: float) -> None:
    """Cap the address space, so that an allocation too big for the machine fails here with MemoryError
    instead of waking the kernel's OOM killer, which may pick another process on a shared machine."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def report_assess_check(fleet: Fleet, engine: EngineInput, assessments: list, chain: dict) -> bool:
    """Print where assess and the kernel chain disagree (a few examples each); True when nowhere."""
    differ, own_gauge = assess_mismatches(fleet, engine, assessments, chain)
    by_point = {}
    for a in assessments:
        by_point.setdefault(a.hazard_point, {})[a.type] = a
    print(f"\nassess against the kernel chain on the same {fleet.n_displacement:,} points ({own_gauge:,} of them "
          f"rated by their own gauge, the others by a neighbour's or none, as a silent gauge's points are):")
    if not differ:
        print("  check: identical point, rainfall and sensor deformation levels")
        return True
    for name, where in differ.items():
        print(f"  MISMATCH {name} levels: {where.size} points")
        for i in where[:5]:
            got = {t: (a.level, a.reasons) for t, a in by_point[engine.points[i]["code"]].items() if t != "device"}
            print(f"    {describe(fleet, i)}; thresholds {engine.points[i]['thresholds']}\n"
                  f"      chain: point {chain['point'][i]}, deformation {chain['deformation'][i]}, "
                  f"rainfall {chain['rainfall'][i]}; assess: {got}")
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000,300000",
                        help="comma-separated sensor counts (default %(default)s)")
    parser.add_argument("--reference-sensors", type=int, default=2000,
                        help="sensors run through the pure-Python reference (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-limit-gb", type=float,
                        default=round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30 / 2, 1),
                        help="address-space cap of this process (default: half the memory, %(default)s)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    limit_memory(args.memory_limit_gb)
    ok = True

    print(f"engine, best of {REPEATS}; sensors: {DISPLACEMENT_SHARE:.0%} displacement (one per hazard point, "
          f"{N_BINS} of their own bins), the rest rain gauges ({HOURS} h); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"{'sensors':>9} {'readings':>9} | {'readings->levels':>16} {'us/sensor':>9} | {'assess':>8} "
          f"{'us/sensor':>9} | assess at 100,000")
    per_sensor_us, assess_us = {}, {}
    for n in sizes:
        fleet = synthetic_fleet(n, args.seed)
        fleet.displacement_rows  # the rows the engine's query returns: built before the clock starts
        from_readings_s = best_of(REPEATS, levels_from_readings, fleet)
        per_sensor_us[n] = from_readings_s / fleet.sensors * 1e6
        row = (f"{fleet.sensors:>9,} {fleet.readings / 1e6:>8.1f}M | {from_readings_s:>15.3f}s "
               f"{per_sensor_us[n]:>9.2f} |")
        engine = engine_input(fleet, args.seed)
        assess_s, failure = timed_assess(engine)
        if assess_s is None:
            ok = False
            print(f"{row} assess {failure}")
        else:
            assess_us[n] = assess_s / fleet.sensors * 1e6
            at_100k_s = assess_us[n] * 0.1
            print(f"{row} {assess_s:>7.3f}s {assess_us[n]:>9.2f} | {at_100k_s / TARGET_S_AT_100K:.2f}x the "
                  f"{TARGET_S_AT_100K:g} s target{'' if n == 100_000 else ' (scaled linearly)'}")
        del fleet, engine
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        print(f"growth {small:,} -> {large:,} sensors (x{large / small:g}): time per sensor x"
              f"{per_sensor_us[large] / per_sensor_us[small]:.2f} (1.00 is linear)")
        if small in assess_us and large in assess_us:
            print(f"  assess: time per sensor x{assess_us[large] / assess_us[small]:.2f}")
    if 100_000 in per_sensor_us:
        at_100k_s = per_sensor_us[100_000] * 0.1
        print(f"100,000 sensors, readings -> levels: {at_100k_s:.3f} s (target < {TARGET_S_AT_100K:g} s: "
              f"{'met' if at_100k_s < TARGET_S_AT_100K else 'NOT met'})")
        if 100_000 in assess_us:
            at_100k_s = assess_us[100_000] * 0.1
            print(f"100,000 sensors, assess (levels; evidence for changes only): {at_100k_s:.3f} s = "
                  f"{at_100k_s / TARGET_S_AT_100K:.2f}x the target (< {TARGET_S_AT_100K:g} s: "
                  f"{'met' if at_100k_s < TARGET_S_AT_100K else 'NOT met'})")
        else:
            print("100,000 sensors, assess (levels; evidence for changes only): no time (failed, above): target NOT met")

    fleet = synthetic_fleet(args.reference_sensors, args.seed)
    ref = reference_input(fleet)
    started = time.perf_counter()
    sensors = reference_sensors(ref)
    expected = reference_levels(ref, sensors)
    reference_s = time.perf_counter() - started
    kernel = levels_from_readings(fleet)
    print(f"\nreference against the kernels on the same {fleet.sensors:,} sensors ({fleet.readings:,} readings; "
          f"the reference took {reference_s / fleet.sensors * 1e6:,.0f} us/sensor), covering:")
    print("  " + ", ".join(f"{name} {n}" for name, n in coverage(fleet, sensors).items()))
    differ = mismatches(kernel, expected)
    checked = ", ".join(expected)
    if not differ:
        print(f"  check: identical ({checked}) for all {fleet.n_displacement:,} points")
    else:
        ok = False
        print(f"  check: differences on {fleet.n_displacement:,} points (compared: {checked}):")
        for name, where in differ.items():
            print(f"  MISMATCH {name}: {where.size} points")
            for i in where[:5]:
                print(f"    {describe(fleet, i)}: kernels {kernel[name][i]}, reference {expected[name][i]}")

    engine = engine_input(fleet, args.seed)
    try:
        assessments = assess(engine)
    except Exception as e:  # reported in the table already; nothing to compare
        print(f"\nassess against the kernel chain: not compared, assess failed ({type(e).__name__}: {e})")
        return 1
    return 0 if report_assess_check(fleet, engine, assessments, kernel) and ok else 1


if __name__ == "__main__":
    sys.exit(main())
