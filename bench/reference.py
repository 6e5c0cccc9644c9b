"""The warning science of SPEC 4.1-4.3 in plain Python, one sensor at a time: what the kernels must agree with.

Written from the spec (and the rules it leaves to the engine, as stated here), not from `alerting.kernels`, so
that the two can disagree: SPEC 8 asks the kernels for identical levels. Lists and `math` only; a missing value
is None, never NaN. Readings are (t_s, value) pairs in any order; thresholds are (blue, yellow, orange, red)
with None unset.

A displacement sensor, from its readings to its level:
1. Its bin is its reporting interval rounded up to 1 h, 6 h or 1 d (or its own interval beyond a day); its
   window is the N_BINS bins ending at the evaluation's `now`. Last reading per bin, gaps of up to 3 bins
   drawn as straight lines.
2. A tilt is the magnitude of its change from its reference (its quiet baseline's value, else its first value
   in the window): a slope may tilt either way.
3. The effective resolution is the sensor's resolution, or twice its reading noise where that is larger; the
   noise is a robust standard deviation from the median absolute second difference (a straight line, and a
   single change of rate, have none).
4. The velocity at a bin is the least-squares slope over the trailing window: VELOCITY_WINDOW_BINS bins, fewer
   where the series has not been unbroken that long. Where that window does not fit a straight line (rms
   residual above the resolution) and a shorter one of at least two bins fits it at least twice as tightly,
   the slope of the longest such shorter window is the velocity, and it is a change of rate. A displacement
   over the fitted window below two resolutions is no movement (0).
5. v0 is the configured value (if positive), else the quiet baseline's, else the kind's default; never below
   one resolution over the velocity window.
6. alpha = arctan(v / v0). Yellow above 45 + 5 deg; orange at 80 and red at 85 deg with the velocity not
   falling, held for two bins or reached by a change of rate (which has held for its window's bins already).
7. Where the angle level is yellow or above, the failure forecast (Fukuzono's inverse velocity) may raise it:
   1/v smoothed by trailing means of 3 and 6 bins; the onset of acceleration is where the short mean went
   below the long one and stayed below to the last bin; the short means from the onset, each placed at the
   time it stands for, are fitted with a line against time; where the line reaches 1/v = 0 is the failure.
   It counts with R^2 >= 0.8 over at least 6 bins and a failure still ahead: red within 24 h, orange within
   72 h.
8. The sensor's level is the highest of the angle, velocity-threshold, displacement-threshold and forecast
   levels.
"""

import math
from typing import NamedTuple

NONE, BLUE, YELLOW, ORANGE, RED = 0, 1, 2, 3, 4
LEVEL_NAMES = ("none", "blue", "yellow", "orange", "red")
SECONDS_PER_DAY = 86_400

BIN_S = 3600  # rain is binned hourly (SPEC 4.2); displacement bins follow the sensor (bin_seconds)
DISPLACEMENT_BINS_S = (3600, 6 * 3600, 86_400)
N_BINS = 72  # the window, in the series' own bins
MAX_GAP_BINS = 3
VELOCITY_WINDOW_BINS = 6
MOVEMENT_RESOLUTIONS = 2.0  # a displacement over the velocity window below this many resolutions is none
NOISE_SIGMAS = 2.0  # a sensor noisier than its resolution is judged by twice its reading noise
MAD_TO_SIGMA = 1.4826  # median absolute deviation to standard deviation, for normal noise
# Reading noise e_k gives a second difference e_k - 2 e_k-1 + e_k-2 with six times the variance of e.
SECOND_DIFFERENCE_VARIANCE = 6.0
CHANGE_FIT_FRACTION = 0.5  # a shorter window replaces a misfitting one only if it fits twice as tightly
STEADY_CREEP_DEG = 45.0
YELLOW_MARGIN_DEG = 5.0
ORANGE_DEG = 80.0
RED_DEG = 85.0
FORECAST_SHORT_BINS, FORECAST_LONG_BINS = 3, 6
FORECAST_MIN_BINS = 6
FORECAST_MIN_R2 = 0.8
FORECAST_RED_H, FORECAST_ORANGE_H = 24.0, 72.0
FORECAST_MIN_SPEED_UP = 1.5  # the velocity at the last bin of the fit at least 1.5 times the one at its onset
FORECAST_HORIZON_H = 365 * 24.0  # a failure further ahead than a year is no approach to failure
RAIN_24H_BINS, RAIN_72H_BINS = 24, 72
DEFAULT_RAIN_24H_MM = (50.0, 80.0, 100.0, 150.0)
DEFAULT_RAIN_72H_MM = (80.0, 120.0, 160.0, 250.0)
# SPEC 4.1: resolution by kind (mm; degrees for tilt) where the sensor has none configured, and the kind's v0
# (mm/d; deg/d) until the sensor has a configured one or a quiet baseline.
KIND_RESOLUTION_MM = {"crack": 0.1, "gnss": 1.0, "tilt": 0.01, "deep": 0.1}
KIND_V0_MM_PER_DAY = {"crack": 1.0, "gnss": 2.0, "tilt": 0.02, "deep": 1.0}
V0_SOURCES = ("configured", "baseline", "default")

# Devices send decimals (0.01 mm displacement, 0.1 mm of rain) that binary floats hold only approximately,
# so a total of exactly 80 mm, a movement of exactly two resolutions or a velocity increment of exactly 0
# comes out a few 1e-14 off. Within a nanometre (per day) a value is on its threshold. The angle thresholds
# need no such allowance: tan(50), tan(80) and tan(85 deg) are irrational, so no ratio of decimal velocities
# lands exactly on one.
TOLERANCE = 1e-9
# Velocities are kept to a millionth of a mm/d: equal displacements over equal windows give equal velocities.
VELOCITY_DECIMALS = 6


class Velocity(NamedTuple):
    """The velocity at one bin (mm/d, None where the series is too short or broken) and its window."""

    mm_per_day: float | None
    window_bins: int  # bins of the window it was fitted over (0: none)
    longest_bins: int  # bins of the longest unbroken window up to VELOCITY_WINDOW_BINS

    @property
    def changed_rate(self) -> bool:
        """Fitted on a shortened window of two bins or more, because the longer one is not a straight line."""
        return 2 <= self.window_bins < self.longest_bins


class Forecast(NamedTuple):
    """A sensor's failure forecast: hours to the failure (None unless it counts), its fit and its level."""

    hours_to_failure: float | None
    r2: float | None
    fitted_bins: int
    level: int


NO_FORECAST = Forecast(None, None, 0, NONE)


class SensorLevels(NamedTuple):
    """A displacement sensor's level at the latest bin, the level from each criterion, and what decided them."""

    level: int
    angle_level: int
    velocity_level: int
    displacement_level: int
    forecast_level: int = NONE
    v0_mm_per_day: float | None = None
    v0_source: str = "default"
    resolution_mm: float | None = None  # effective: the sensor's, or twice its reading noise
    changed_rate: bool = False
    forecast_hours: float | None = None


def bin_seconds(reporting_interval_s) -> int:
    """A displacement sensor's bin: its reporting interval rounded up to 1 h, 6 h or 1 d, or its own beyond."""
    for bin_s in DISPLACEMENT_BINS_S:
        if reporting_interval_s <= bin_s:
            return bin_s
    return int(reporting_interval_s)


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


def tilt_magnitude(series, reference=None):
    """How far a tilt has turned from its reference (else its first value in the window), either way."""
    if reference is None:
        reference = next((value for value in series if value is not None), None)
    return [None if value is None else abs(value - reference) for value in series]


def median(values):
    """The middle value, or the mean of the two middle ones; None of nothing."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def reading_noise_mm(series):
    """A robust standard deviation of the reading noise: from the median absolute second difference of three
    values in a row; 0 where no three are."""
    second = [abs(c - 2.0 * b + a) for a, b, c in zip(series, series[1:], series[2:])
              if a is not None and b is not None and c is not None]
    if not second:
        return 0.0
    return MAD_TO_SIGMA * median(second) / math.sqrt(SECOND_DIFFERENCE_VARIANCE)


def effective_resolution_mm(series, resolution_mm):
    """The smallest displacement the sensor can tell: its resolution, or twice its reading noise if larger."""
    return max(resolution_mm, NOISE_SIGMAS * reading_noise_mm(series))


def line_fit(values) -> tuple[float, float]:
    """Least-squares line through values one bin apart: (slope per bin, rms residual)."""
    n = len(values)
    t_mean = (n - 1) / 2
    y_mean = math.fsum(values) / n
    sxx = math.fsum((t - t_mean) ** 2 for t in range(n))
    slope = math.fsum((t - t_mean) * (y - y_mean) for t, y in enumerate(values)) / sxx
    residuals = math.fsum((y - y_mean - slope * (t - t_mean)) ** 2 for t, y in enumerate(values))
    return slope, math.sqrt(residuals / n)


def velocity_at(series, i, bin_s, resolution_mm, window_bins=VELOCITY_WINDOW_BINS) -> Velocity:
    """The robust velocity (mm/d) at bin i of a gap-filled series, given the sensor's effective resolution."""
    longest = 0
    while longest < window_bins and i - longest - 1 >= 0 and series[i - longest] is not None \
            and series[i - longest - 1] is not None:
        longest += 1
    if longest == 0:
        return Velocity(None, 0, 0)
    window = longest
    slope, rms = line_fit(series[i - longest:i + 1])
    if rms > resolution_mm + TOLERANCE:  # not a straight line: has the rate changed within it?
        for w in range(longest - 1, 1, -1):
            shorter_slope, shorter_rms = line_fit(series[i - w:i + 1])
            if shorter_rms <= CHANGE_FIT_FRACTION * resolution_mm + TOLERANCE:
                window, slope = w, shorter_slope
                break
    if abs(slope) * window < MOVEMENT_RESOLUTIONS * resolution_mm - TOLERANCE:
        return Velocity(0.0, window, longest)
    return Velocity(_round_velocity(slope * (SECONDS_PER_DAY / bin_s)), window, longest)


def _round_velocity(mm_per_day: float) -> float:
    # Half-way cases to even, as the kernels' rounding: both keep the same millionths.
    return round(mm_per_day * 10**VELOCITY_DECIMALS) / 10**VELOCITY_DECIMALS


def velocities(series, bin_s, resolution_mm, window_bins=VELOCITY_WINDOW_BINS) -> list[Velocity]:
    """The robust velocity at every bin of the series."""
    return [velocity_at(series, i, bin_s, resolution_mm, window_bins) for i in range(len(series))]


def reference_creep_rate(configured_v0=None, baseline_v0=None, default_v0=1.0, floor_mm_per_day=0.0):
    """(v0, where it came from): the geologist's value if positive, else the quiet baseline's, else the kind's
    default; never below the floor."""
    if configured_v0 is not None and math.isfinite(configured_v0) and configured_v0 > 0:
        v0, source = configured_v0, "configured"
    elif baseline_v0 is not None and math.isfinite(baseline_v0):
        v0, source = baseline_v0, "baseline"
    else:
        v0, source = default_v0, "default"
    return max(v0, floor_mm_per_day), source


def tangent_angle_deg(velocity, v0):
    """Improved tangent angle (Xu Qiang 2009): T = S / v0, alpha = arctan(dT / dt) = arctan(v / v0), in degrees."""
    return None if velocity is None else math.degrees(math.atan(velocity / v0))


def reaches(value, threshold) -> bool:
    """Whether a measured value is at or above a threshold (an unset threshold is never reached)."""
    return value is not None and threshold is not None and value >= threshold - TOLERANCE


def threshold_level(value, thresholds) -> int:
    """The highest level whose threshold the value reaches, else none."""
    for level in (RED, ORANGE, YELLOW, BLUE):
        if reaches(value, thresholds[level - 1]):
            return level
    return NONE


def angle_level(alpha_before, alpha, velocity_before, velocity, changed_rate=False) -> int:
    """Yellow above 45 + 5 deg; orange (red) at 80 (85) deg while v is not falling, held for the last two bins
    or reached by a change of rate."""
    if alpha is None:
        return NONE
    steady_or_faster = velocity_before is not None and reaches(velocity - velocity_before, 0.0)
    for level, limit in ((RED, RED_DEG), (ORANGE, ORANGE_DEG)):
        held = changed_rate or (alpha_before is not None and alpha_before >= limit)
        if alpha >= limit and held and steady_or_faster:
            return level
    return YELLOW if alpha > STEADY_CREEP_DEG + YELLOW_MARGIN_DEG else NONE


def _trailing_mean(values, i, bins):
    """The mean of values[i - bins + 1 .. i], None if any is missing or the run starts before the series."""
    run = values[i - bins + 1:i + 1] if i >= bins - 1 else []
    if len(run) < bins or any(v is None for v in run):
        return None
    return math.fsum(run) / bins


def _falls_below(a, b) -> bool:
    # Means of equal values may differ in their last bits: below means below by more than that.
    return a is not None and b is not None and a < b - TOLERANCE * abs(b)


def last_bin_lag(readings, start_s, bin_s, n_bins) -> float:
    """How long before the window's end (in bins) the reading the last bin holds was taken; 0 for an empty bin."""
    in_last = [t_s for t_s, value in readings
               if math.isfinite(value) and _bin_of(t_s, start_s, bin_s, n_bins) == n_bins - 1]
    return (start_s + n_bins * bin_s - max(in_last)) / bin_s if in_last else 0.0


def failure_forecast(fits: list[Velocity], bin_s, lag_bins=0.0) -> Forecast:
    """Fukuzono's inverse-velocity forecast from the onset of acceleration (Carla et al. 2017's filtering)."""
    inverse = [1.0 / f.mm_per_day if f.mm_per_day is not None and f.mm_per_day > 0 else None for f in fits]
    n = len(fits)
    below = [_falls_below(_trailing_mean(inverse, i, FORECAST_SHORT_BINS),
                          _trailing_mean(inverse, i, FORECAST_LONG_BINS)) for i in range(n)]
    if not n or not below[-1]:
        return NO_FORECAST
    onset = n - 1
    while onset > 0 and below[onset - 1]:
        onset -= 1
    # A velocity fitted over w bins is the rate at the middle of its window, and a mean of three bins' values
    # stands for the middle one: each smoothed 1/v is placed at the time it describes.
    t, y = [], []
    for i in range(onset, n):
        windows = [fits[j].window_bins for j in range(i - FORECAST_SHORT_BINS + 1, i + 1)]
        t.append(i - (FORECAST_SHORT_BINS - 1) / 2 - math.fsum(windows) / len(windows) / 2)
        y.append(_trailing_mean(inverse, i, FORECAST_SHORT_BINS))
    m = len(t)
    t_mean, y_mean = math.fsum(t) / m, math.fsum(y) / m
    sxx = math.fsum((a - t_mean) ** 2 for a in t)
    syy = math.fsum((b - y_mean) ** 2 for b in y)
    sxy = math.fsum((a - t_mean) * (b - y_mean) for a, b in zip(t, y))
    r2 = sxy * sxy / (sxx * syy) if m >= 2 and sxx > 0 and syy > 0 else None
    if m < FORECAST_MIN_BINS or r2 is None or r2 < FORECAST_MIN_R2 or sxy >= 0:
        return Forecast(None, r2, m, NONE)
    slope = sxy / sxx
    # Counted from the window's end (now), not from the last bin's reading, taken lag_bins before it.
    bins_ahead = t_mean - y_mean / slope - (n - 1) - lag_bins
    hours = max(bins_ahead, 0.0) * bin_s / 3600  # less than a bin ago: due now
    # A real acceleration: the fitted velocity at the last bin 1.5 times the one at the onset (the fitted 1/v at
    # the onset over the fitted 1/v at the last bin); and a failure ahead, within a year, or less than a bin ago.
    speed_up = (y_mean + slope * (t[0] - t_mean)) / (y_mean + slope * (t[-1] - t_mean))
    if bins_ahead <= -1 or hours > FORECAST_HORIZON_H or speed_up < FORECAST_MIN_SPEED_UP - TOLERANCE:
        return Forecast(None, r2, m, NONE)
    level = RED if hours <= FORECAST_RED_H else ORANGE if hours <= FORECAST_ORANGE_H else NONE
    return Forecast(hours, r2, m, level)


def deformation_level(readings, now_s, kind="crack", reporting_interval_s=3600, resolution_mm=None,
                      configured_v0=None, baseline_v0=None, reference_value=None, velocity_thresholds=(None,) * 4,
                      displacement_thresholds=(None,) * 4, n_bins=N_BINS) -> SensorLevels:
    """One displacement sensor from its readings in its window to its level at `now_s` (SPEC 4.1)."""
    bin_s = bin_seconds(reporting_interval_s)
    start_s = now_s - bin_s * n_bins + 1e-6  # the last bin ends at now
    series = fill_gaps(resample_last(readings, start_s, bin_s, n_bins))
    if kind == "tilt":
        series = tilt_magnitude(series, reference_value)
    stated = KIND_RESOLUTION_MM[kind] if resolution_mm is None else resolution_mm
    resolution = effective_resolution_mm(series, stated)
    before, last = (velocity_at(series, i, bin_s, resolution) for i in (n_bins - 2, n_bins - 1))
    window_days = VELOCITY_WINDOW_BINS * bin_s / SECONDS_PER_DAY
    # The floor comes from the sensor's stated resolution, not from the noise of the window being judged: that
    # window never sets its own reference.
    v0, v0_source = reference_creep_rate(configured_v0, baseline_v0, KIND_V0_MM_PER_DAY[kind], stated / window_days)
    by_angle = angle_level(tangent_angle_deg(before.mm_per_day, v0), tangent_angle_deg(last.mm_per_day, v0),
                           before.mm_per_day, last.mm_per_day, last.changed_rate)
    # On steady creep 1/v wanders, and a short falling stretch of it fits a line by chance: the forecast is
    # made only where the velocity is above steady creep.
    forecast = failure_forecast(velocities(series, bin_s, resolution), bin_s,
                                last_bin_lag(readings, start_s, bin_s, n_bins)) if by_angle >= YELLOW else NO_FORECAST
    by_velocity = threshold_level(last.mm_per_day, velocity_thresholds)
    by_displacement = threshold_level(series[-1], displacement_thresholds)
    return SensorLevels(max(by_angle, by_velocity, by_displacement, forecast.level), by_angle, by_velocity,
                        by_displacement, forecast.level, v0, v0_source, resolution, last.changed_rate,
                        forecast.hours_to_failure)


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
