"""The warning science of SPEC 4.1-4.3 in plain Python, one sensor at a time: the engine benchmark's baseline.

Written from the spec, not from `alerting.kernels`, so that the two can disagree: SPEC 8 asks the kernels
for identical levels at least 50x faster. Lists and `math` only; a missing value is None, never NaN.
Readings are (t_s, value) pairs in any order; thresholds are (blue, yellow, orange, red) with None unset.
"""

import math
from typing import NamedTuple

NONE, BLUE, YELLOW, ORANGE, RED = 0, 1, 2, 3, 4
SECONDS_PER_DAY = 86_400

BIN_S = 3600  # SPEC 4.1: resample to 1 h bins
N_BINS = 72  # the 72 h window, which the longest rain total needs
MAX_GAP_BINS = 3
SMOOTH_BINS = 6
V0_FLOOR_MM_PER_DAY = 0.1
STEADY_CREEP_DEG = 45.0
YELLOW_MARGIN_DEG = 5.0
ORANGE_DEG = 80.0
RED_DEG = 85.0
RAIN_24H_BINS, RAIN_72H_BINS = 24, 72
DEFAULT_RAIN_24H_MM = (50.0, 80.0, 100.0, 150.0)
DEFAULT_RAIN_72H_MM = (80.0, 120.0, 160.0, 250.0)

# Devices send decimals (0.01 mm displacement, 0.1 mm of rain) that binary floats hold only approximately,
# so a total of exactly 80 mm, or a velocity increment of exactly 0, comes out a few 1e-14 off. Within a
# nanometre (per day) a value is on its threshold. The angle thresholds need no such allowance: tan(50),
# tan(80) and tan(85 deg) are irrational, so no ratio of decimal velocities lands exactly on one.
TOLERANCE = 1e-9


class SensorLevels(NamedTuple):
    """A displacement sensor's level at the latest bin, and the level from each criterion."""

    level: int
    angle_level: int
    velocity_level: int
    displacement_level: int


def _bin_of(t_s, start_s, bin_s, n_bins):
    """The bin [start_s + i * bin_s, start_s + (i + 1) * bin_s) that holds t_s, else None."""
    i = math.floor((t_s - start_s) / bin_s)
    return i if 0 <= i < n_bins else None


def resample_last(readings, start_s, bin_s=BIN_S, n_bins=N_BINS):
    """The latest finite reading in each bin; of two at the same instant the one listed later."""
    series = [None] * n_bins
    latest_t = [-math.inf] * n_bins
    for t_s, value in readings:
        if not math.isfinite(value):
            continue
        i = _bin_of(t_s, start_s, bin_s, n_bins)
        if i is not None and t_s >= latest_t[i]:
            latest_t[i] = t_s
            series[i] = value
    return series


def resample_sum(readings, start_s, bin_s=BIN_S, n_bins=N_BINS):
    """The rain that fell in each bin: the sum of its finite readings, None where a gauge sent nothing."""
    series = [None] * n_bins
    for t_s, value in readings:
        if not math.isfinite(value):
            continue
        i = _bin_of(t_s, start_s, bin_s, n_bins)
        if i is not None:
            series[i] = value if series[i] is None else series[i] + value
    return series


def fill_gaps(series, max_gap_bins=MAX_GAP_BINS):
    """Gaps of up to max_gap_bins between two values become a straight line; longer gaps, and ends, stay None."""
    filled = list(series)
    previous = None  # index of the last value seen
    for i, value in enumerate(series):
        if value is None:
            continue
        if previous is not None and 1 < i - previous <= max_gap_bins + 1:
            left, span = series[previous], i - previous
            for step in range(1, span):
                filled[previous + step] = left + (value - left) * step / span
        previous = i
    return filled


def velocity_mm_per_day(series_mm, bin_s=BIN_S, smooth_bins=SMOOTH_BINS):
    """v_i, the mean of the last smooth_bins raw velocities (S_k - S_k-1) / dt, in mm/day.

    The mean telescopes to (S_i - S_i-w) / (w dt). It exists only where the whole window is unbroken:
    a gap the resampling left open breaks the series, and no velocity reaches across it.
    """
    window_days = smooth_bins * bin_s / SECONDS_PER_DAY
    velocity = [None] * len(series_mm)
    unbroken = 0  # values in a row, ending at i
    for i, value in enumerate(series_mm):
        unbroken = unbroken + 1 if value is not None else 0
        if unbroken > smooth_bins:
            velocity[i] = (value - series_mm[i - smooth_bins]) / window_days
    return velocity


def median(values):
    """The middle value, or the mean of the two middle ones; None of nothing."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def reference_creep_rate(velocity, configured_v0=None, floor_mm_per_day=V0_FLOOR_MM_PER_DAY):
    """v0: the geologist's value if configured, else the median velocity of the baseline; never below the floor."""
    if configured_v0 is not None and math.isfinite(configured_v0) and configured_v0 > 0:
        v0 = configured_v0
    else:
        v0 = median([v for v in velocity if v is not None])
    return floor_mm_per_day if v0 is None or v0 < floor_mm_per_day else v0


def tangent_angle_deg(velocity, v0):
    """Improved tangent angle (Xu Qiang 2009): T = S / v0, alpha = arctan(dT / dt) = arctan(v / v0), in degrees."""
    return [None if v is None else math.degrees(math.atan(v / v0)) for v in velocity]


def reaches(value, threshold) -> bool:
    """Whether a measured value is at or above a threshold (an unset threshold is never reached)."""
    return value is not None and threshold is not None and value >= threshold - TOLERANCE


def threshold_level(value, thresholds) -> int:
    """The highest level whose threshold the value reaches, else none."""
    for level in (RED, ORANGE, YELLOW, BLUE):
        if reaches(value, thresholds[level - 1]):
            return level
    return NONE


def angle_level(alpha_deg, velocity) -> int:
    """Yellow above 45 + 5 deg; orange (red) at 80 (85) deg held for the last two bins while v is not falling."""
    alpha, alpha_before = alpha_deg[-1], (alpha_deg[-2] if len(alpha_deg) > 1 else None)
    if alpha is None:
        return NONE
    if alpha_before is not None and reaches(velocity[-1] - velocity[-2], 0.0):
        held = min(alpha, alpha_before)
        if held >= RED_DEG:
            return RED
        if held >= ORANGE_DEG:
            return ORANGE
    return YELLOW if alpha > STEADY_CREEP_DEG + YELLOW_MARGIN_DEG else NONE


def sensor_levels(alpha_deg, velocity, series_mm, velocity_thresholds, displacement_thresholds) -> SensorLevels:
    """The sensor's level at its latest bin: the highest of the tangent angle, velocity and displacement levels."""
    by_angle = angle_level(alpha_deg, velocity)
    by_velocity = threshold_level(velocity[-1], velocity_thresholds)
    by_displacement = threshold_level(series_mm[-1], displacement_thresholds)
    return SensorLevels(max(by_angle, by_velocity, by_displacement), by_angle, by_velocity, by_displacement)


def deformation_level(readings, start_s, configured_v0=None, velocity_thresholds=(None,) * 4,
                      displacement_thresholds=(None,) * 4, bin_s=BIN_S, n_bins=N_BINS) -> SensorLevels:
    """One displacement sensor from its readings in the window to its level (SPEC 4.1)."""
    series_mm = fill_gaps(resample_last(readings, start_s, bin_s, n_bins))
    velocity = velocity_mm_per_day(series_mm, bin_s)
    v0 = reference_creep_rate(velocity, configured_v0)
    alpha_deg = tangent_angle_deg(velocity, v0)
    return sensor_levels(alpha_deg, velocity, series_mm, velocity_thresholds, displacement_thresholds)


def trailing_total_mm(hourly_mm, window_bins) -> float:
    """Rain over the last window_bins bins (fewer if the series is shorter); a bin without readings adds nothing."""
    return math.fsum(mm for mm in hourly_mm[max(len(hourly_mm) - window_bins, 0):] if mm is not None)


def rain_totals_mm(readings, start_s, bin_s=BIN_S, n_bins=N_BINS) -> tuple[float, float]:
    """One rain gauge from its readings in the window to its 24 h and 72 h totals at the latest bin (SPEC 4.2)."""
    hourly_mm = resample_sum(readings, start_s, bin_s, n_bins)
    return trailing_total_mm(hourly_mm, RAIN_24H_BINS), trailing_total_mm(hourly_mm, RAIN_72H_BINS)


def rainfall_level(total_24h_mm, total_72h_mm, thresholds_24h_mm=DEFAULT_RAIN_24H_MM,
                   thresholds_72h_mm=DEFAULT_RAIN_72H_MM) -> int:
    """A point's rainfall level from its gauge's totals: the higher of the 24 h and 72 h levels."""
    return max(threshold_level(total_24h_mm, thresholds_24h_mm), threshold_level(total_72h_mm, thresholds_72h_mm))


def point_level(deformation, rainfall, rainfall_may_exceed_orange=False) -> int:
    """A hazard point's level (SPEC 4.3): the higher of the two, rain alone stopping at orange; both yellow+: one up."""
    level = max(deformation, rainfall if rainfall_may_exceed_orange else min(rainfall, ORANGE))
    if deformation >= YELLOW and rainfall >= YELLOW:
        level = min(level + 1, RED)
    return level
