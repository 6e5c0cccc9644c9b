"""The warning science of SPEC 4.1 and 4.2 as pure numpy: [n_sensors, n_bins] arrays in, arrays out."""

from dataclasses import dataclass

import numpy as np

from alerting.levels import BLUE, NONE, ORANGE, RED, YELLOW
from alerting.rules import ANGLE_ORANGE_DEG, ANGLE_RED_DEG, ANGLE_YELLOW_MARGIN_DEG, STEADY_CREEP_DEG

SECONDS_PER_DAY = 86_400.0

# Rolling totals are differences of a cumulative sum, which carry ~1e-13 mm of rounding; rounding to a
# micrometre keeps a total that is exactly on a threshold (e.g. 50 mm) on it, far below a gauge's 0.1 mm tip.
ROLLING_SUM_DECIMALS = 6
# Velocities are compared for their increment; a millionth of a mm/d is far below any sensor's noise.
VELOCITY_DECIMALS = 6

# Default rainfall thresholds (blue, yellow, orange, red), SPEC 4.2, used where a point has no table.
DEFAULT_RAIN_24H_MM = (50, 80, 100, 150)
DEFAULT_RAIN_72H_MM = (80, 120, 160, 250)

# JMA three-tank Soil Water Index, nationally uniform constants (SPEC 4.2): outlet heights (mm) and
# outflow coefficients per hour, and the fraction of each tank that infiltrates into the next per hour.
TANK1_OUTLET_LOW_MM, TANK1_OUTLET_LOW_COEF = 15.0, 0.10
TANK1_OUTLET_HIGH_MM, TANK1_OUTLET_HIGH_COEF = 60.0, 0.15
TANK1_INFILTRATION = 0.12
TANK2_OUTLET_MM, TANK2_OUTLET_COEF = 15.0, 0.05
TANK2_INFILTRATION = 0.05
TANK3_OUTLET_MM, TANK3_OUTLET_COEF = 15.0, 0.01
TANK3_INFILTRATION = 0.01

# Caine (1980) global intensity-duration threshold I = a * D ** b (mm/h, h), reported as evidence only.
CAINE_A_MM_PER_H = 14.82
CAINE_EXPONENT = -0.39


@dataclass(frozen=True)
class DeformationLevels:
    """Per-sensor levels (int8 [n]) at the latest bin: overall, and from each criterion."""

    level: np.ndarray
    angle_level: np.ndarray
    velocity_level: np.ndarray
    displacement_level: np.ndarray


def _bin_readings(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins):
    """Flat bin index (sensor * n_bins + bin), time and value of the finite readings inside the window."""
    if bin_s <= 0:
        raise ValueError("bin_s must be positive")
    sensor_idx = np.asarray(sensor_idx).astype(np.int64, copy=False).ravel()
    t_s = np.asarray(t_s, dtype=np.float64).ravel()
    value = np.asarray(value, dtype=np.float64).ravel()
    bin_idx = np.floor((t_s - start_s) / bin_s)
    keep = (
        np.isfinite(value)
        & (bin_idx >= 0)
        & (bin_idx < n_bins)
        & (sensor_idx >= 0)
        & (sensor_idx < n_sensors)
    )
    flat = sensor_idx[keep] * n_bins + bin_idx[keep].astype(np.int64)
    return flat, t_s[keep], value[keep]


# Sensors per block of a kernel chain (in_sensor_blocks): a block's [sensors, bins] arrays stay in the CPU's
# cache from one kernel to the next. At 100,000 sensors, blocks of a few thousand cost half as much per sensor
# as one block of all, and the cost per sensor stops growing with the fleet.
SENSOR_BLOCK = 4096


def in_sensor_blocks(chain, sensor_idx, t_s, value, n_sensors: int, block: int = SENSOR_BLOCK) -> tuple:
    """Run `chain(idx, t_s, value, first, stop)` on the readings of sensors first..stop-1, block by block, and
    join its outputs (arrays with a row per sensor) in sensor order; `idx` counts from the block's first sensor.

    Readings are grouped by sensor first if they are not (a stable sort: each sensor's keep their order);
    readings of sensors outside 0..n_sensors-1 are left out, as the resampling kernels leave them out.
    """
    sensor_idx = np.asarray(sensor_idx).astype(np.int64, copy=False).ravel()
    t_s = np.asarray(t_s, dtype=np.float64).ravel()
    value = np.asarray(value, dtype=np.float64).ravel()
    if sensor_idx.size > 1 and (sensor_idx[1:] < sensor_idx[:-1]).any():
        order = np.argsort(sensor_idx, kind="stable")
        sensor_idx, t_s, value = sensor_idx[order], t_s[order], value[order]
    starts = list(range(0, n_sensors, block)) or [0]
    edges = np.searchsorted(sensor_idx, starts + [n_sensors]).tolist()
    out = None
    for b, first in enumerate(starts):
        stop = min(first + block, n_sensors)
        lo, hi = edges[b], edges[b + 1]
        results = chain(sensor_idx[lo:hi] - first, t_s[lo:hi], value[lo:hi], first, stop)
        if out is None:
            out = [np.empty((n_sensors, *r.shape[1:]), dtype=r.dtype) for r in results]
        for joined, part in zip(out, results):
            joined[first:stop] = part
    return tuple(out)


def resample_last(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins) -> np.ndarray:
    """Latest finite reading per sensor and equal-width bin, [n_sensors, n_bins], NaN where a bin is empty."""
    flat, t_s, value = _bin_readings(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins)
    out = np.full(n_sensors * n_bins, np.nan)
    # No sort (a sort of millions of readings costs ten times the rest of the chain): find each bin's
    # latest time, keep the readings at it, and scatter them. Numpy's fancy assignment writes in order,
    # so of readings sharing the latest instant the one given later wins, as documented.
    latest_t = np.full(n_sensors * n_bins, -np.inf)
    np.maximum.at(latest_t, flat, t_s)
    at_latest = t_s == latest_t[flat]
    out[flat[at_latest]] = value[at_latest]
    return out.reshape(n_sensors, n_bins)


def last_bin_lag(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins) -> np.ndarray:
    """[n]: how long before the end of the last bin (in bins) the reading that bin holds was taken; 0 where
    the last bin is empty. A bin's value is its last reading, not a reading at its end."""
    flat, t_s, _ = _bin_readings(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins)
    last = flat % n_bins == n_bins - 1
    latest_t = np.full(n_sensors, np.nan)
    if last.any():
        latest_t.fill(-np.inf)
        np.maximum.at(latest_t, flat[last] // n_bins, t_s[last])
    end_s = start_s + n_bins * bin_s
    return np.where(np.isfinite(latest_t), (end_s - latest_t) / bin_s, 0.0)


def resample_sum(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins) -> np.ndarray:
    """Sum of the finite readings per sensor and equal-width bin, [n_sensors, n_bins], NaN where a bin is empty."""
    flat, _, value = _bin_readings(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins)
    size = n_sensors * n_bins
    total = np.bincount(flat, weights=value, minlength=size)
    count = np.bincount(flat, minlength=size)
    return np.where(count > 0, total, np.nan).reshape(n_sensors, n_bins)


def fill_gaps(series, max_gap_bins=3) -> np.ndarray:
    """Linearly interpolate interior NaN runs of at most max_gap_bins along axis 1; longer runs break the series."""
    out = np.array(series, dtype=np.float64)
    n_sensors, n_bins = out.shape
    # Work on the runs, not the bins: a present sentinel bin at each end of every row keeps each NaN run
    # within its row when the mask is flattened, and only the (few) NaN bins are then touched.
    padded_bins = n_bins + 2
    missing = np.zeros((n_sensors, padded_bins), dtype=np.int8)
    missing[:, 1:-1] = np.isnan(out)
    edges = np.diff(missing.ravel())
    run_start = np.flatnonzero(edges == 1) + 1
    run_bins = np.flatnonzero(edges == -1) + 1 - run_start
    row, first_bin = np.divmod(run_start, padded_bins)
    first_bin -= 1
    interior = (first_bin > 0) & (first_bin + run_bins < n_bins) & (run_bins <= max_gap_bins)
    row, first_bin, run_bins = row[interior], first_bin[interior], run_bins[interior]
    left_value = out[row, first_bin - 1]
    right_value = out[row, first_bin + run_bins]
    # One entry per bin to fill: its run, and its step (1..run_bins) from the bin before the run.
    run = np.repeat(np.arange(run_bins.size), run_bins)
    step = np.arange(run.size) - np.repeat(np.cumsum(run_bins) - run_bins, run_bins) + 1
    fraction = step / (run_bins[run] + 1)
    out[row[run], first_bin[run] + step - 1] = left_value[run] + (right_value[run] - left_value[run]) * fraction
    return out


# A reading strays by up to about two standard deviations of its noise: a sensor noisier than its stated
# resolution is judged by that instead (SPEC 4.1's "movement below 2 resolutions counts as none").
NOISE_SIGMAS = 2.0
# A shortened window replaces a long one that does not fit a line only if it fits at least this much
# more tightly: a change of rate needs clearer evidence than steady creep.
CHANGE_FIT_FRACTION = 0.5


def displacement_series(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins, magnitude_rows=None,
                        reference=None, max_gap_bins=3) -> np.ndarray:
    """[n, n_bins] displacement per bin: the last reading of each bin, short gaps interpolated. The rows in
    `magnitude_rows` (tilts) become the magnitude of the change from `reference` (NaN: the row's first value in
    the window), since a slope may tilt either way."""
    series = fill_gaps(resample_last(sensor_idx, t_s, value, n_sensors, start_s, bin_s, n_bins), max_gap_bins)
    if magnitude_rows is not None and len(magnitude_rows):
        rows = np.asarray(magnitude_rows, dtype=np.int64)
        part = series[rows]
        origin = np.full(len(rows), np.nan) if reference is None else np.asarray(reference, dtype=np.float64)[rows]
        present = np.isfinite(part)
        first = part[np.arange(len(rows)), np.argmax(present, axis=1)]
        origin = np.where(np.isfinite(origin), origin, first)
        series[rows] = np.abs(part - origin[:, None])
    return series


def reading_noise_mm(series_mm) -> np.ndarray:
    """Per sensor, a robust standard deviation of reading noise: from the median absolute second difference,
    which a straight trend (and a single change of rate) leaves alone; 0 where it cannot be told."""
    series_mm = np.asarray(series_mm, dtype=np.float64)
    if series_mm.shape[1] < 3:
        return np.zeros(series_mm.shape[0])
    second = np.abs(series_mm[:, 2:] - 2.0 * series_mm[:, 1:-1] + series_mm[:, :-2])
    return np.nan_to_num(1.4826 * row_nanmedian(second) / np.sqrt(6.0))


def effective_resolution_mm(series_mm, resolution_mm) -> np.ndarray:
    """Per sensor, the smallest displacement it can tell: its resolution, or twice its reading noise if larger."""
    resolution_mm = np.broadcast_to(np.asarray(resolution_mm, dtype=np.float64), (np.shape(series_mm)[0],))
    return np.fmax(resolution_mm, NOISE_SIGMAS * reading_noise_mm(series_mm))


@dataclass(frozen=True)
class Velocity:
    """Robust velocities at the last bins of each sensor's series, with the window each was fitted over."""

    mm_per_day: np.ndarray  # [n, E], NaN where too few readings
    window_bins: np.ndarray  # [n, E] bins of the fitted window
    longest_bins: np.ndarray  # [n, E] bins of the longest window the readings allowed (<= window_bins asked)

    @property
    def changed_rate(self) -> np.ndarray:
        """[n, E]: the velocity is a change of rate, fitted on a shortened window of at least two bins that
        the longer window does not fit (so the new rate has held for that many bins)."""
        return (self.window_bins < self.longest_bins) & (self.window_bins >= 2)


# Comparisons on a limit (two resolutions, a fit's rms against the resolution, one mean of 1/v against another)
# allow this much (mm, or its inverse): decimal readings that land exactly on a limit must count as reaching it,
# whatever the binary rounding of the sums.
TIE_TOLERANCE = 1e-9


def robust_velocity(series_mm, bin_s, resolution_mm, window_bins=6, last=None) -> Velocity:
    """Least-squares velocity (mm/d) over a trailing window of up to window_bins bins, at each of the last
    `last` bins (every bin when None), given each sensor's effective resolution (mm).

    The window is the longest the readings allow, unless that window does not fit a straight line (rms
    residual above the resolution) and a shorter one of at least two bins fits it twice as tightly: a change
    of rate that the readings continue is then followed at once instead of being averaged with the old rate.
    A displacement over the window smaller than two resolutions counts as no movement (0).
    """
    series = np.asarray(series_mm, dtype=np.float64)
    n, n_bins = series.shape
    window_bins = max(int(window_bins), 1)
    ends = n_bins if last is None else min(int(last), n_bins)
    resolution = np.broadcast_to(np.asarray(resolution_mm, dtype=np.float64), (n,))[:, None]
    first = n_bins - ends
    # Each window's values are taken relative to its last one: small sums whose rounding does not depend on
    # readings outside the window. Sums over the lags k = 1..w back from each end grow one lag at a time.
    end = series[:, first:]
    whole = np.isfinite(end)
    sum_y = np.zeros((n, ends))
    sum_yy = np.zeros((n, ends))
    sum_ky = np.zeros((n, ends))
    slopes, rmss, wholes = [None], [None], [None]
    for w in range(1, window_bins + 1):
        lag = np.full((n, ends), np.nan)
        take_from = max(first - w, 0)
        lag[:, take_from - (first - w):] = series[:, take_from:n_bins - w]
        y = lag - end
        whole = whole & np.isfinite(y)
        y = np.where(whole, y, 0.0)
        sum_y += y
        sum_yy += y * y
        sum_ky += w * y
        points = w + 1
        sxx = points * (points * points - 1) / 12.0
        # x = w / 2 - k is time from the window's middle; the last point (k = 0, y = 0) adds nothing.
        b = (0.5 * w * sum_y - sum_ky) / sxx
        ssr = np.maximum(sum_yy - sum_y * sum_y / points - b * b * sxx, 0.0)
        slopes.append(np.where(whole, b, np.nan))
        rmss.append(np.where(whole, np.sqrt(ssr / points), np.nan))
        wholes.append(whole)
    longest = np.zeros((n, ends), dtype=np.int64)
    for w in range(1, window_bins + 1):
        longest += wholes[w]
    rms_longest = np.full((n, ends), np.nan)
    for w in range(1, window_bins + 1):
        rms_longest = np.where(longest == w, rmss[w], rms_longest)
    chosen = longest.copy()
    decided = ~(rms_longest > resolution + TIE_TOLERANCE)
    tight = CHANGE_FIT_FRACTION * resolution + TIE_TOLERANCE
    for w in range(window_bins - 1, 1, -1):
        fits = ~decided & (w < longest) & (rmss[w] <= tight)
        chosen[fits] = w
        decided |= fits
    per_bin = np.full((n, ends), np.nan)
    for w in range(1, window_bins + 1):
        per_bin = np.where(chosen == w, slopes[w], per_bin)
    moved = np.abs(per_bin) * chosen >= 2.0 * resolution - TIE_TOLERANCE
    velocity = np.where(np.isnan(per_bin) | moved, per_bin, 0.0) * (SECONDS_PER_DAY / bin_s)
    # Readings are decimals that binary floats cannot hold: equal displacements over equal windows must
    # give equal velocities, or a steady velocity reads as a falling one (and orange as yellow).
    return Velocity(np.round(velocity, VELOCITY_DECIMALS), chosen, longest)


def velocity_mm_per_day(series_mm, bin_s, smooth_bins=6) -> np.ndarray:
    """Robust velocity (mm/d) at every bin, for a sensor of negligible resolution: robust_velocity's values."""
    return robust_velocity(series_mm, bin_s, 0.0, smooth_bins).mm_per_day


def row_nanmedian(values) -> np.ndarray:
    """Median of each row's non-NaN values, NaN for an all-NaN row, without np.nanmedian's warning or slow path."""
    n_rows, n_cols = values.shape
    count = (~np.isnan(values)).sum(axis=1)
    if n_cols == 0:
        return np.full(n_rows, np.nan)
    ordered = np.sort(values, axis=1)  # NaN sorts last
    low = np.maximum((count - 1) // 2, 0)[:, None]
    high = np.maximum(count // 2, 0)[:, None]
    median = 0.5 * (np.take_along_axis(ordered, low, 1) + np.take_along_axis(ordered, high, 1))[:, 0]
    return np.where(count > 0, median, np.nan)


V0_CONFIGURED, V0_BASELINE, V0_DEFAULT = 0, 1, 2
V0_SOURCES = ("configured", "baseline", "default")


def reference_creep_rate(configured_v0, baseline_v0, default_v0, floor_mm_per_day) -> tuple[np.ndarray, np.ndarray]:
    """Per-sensor v0 (mm/d) and its source: the configured value if positive, else the quiet baseline's, else
    the kind's default; never below the floor (one resolution over the velocity window)."""
    configured = np.asarray(configured_v0, dtype=np.float64)
    baseline = np.broadcast_to(np.asarray(baseline_v0, dtype=np.float64), configured.shape)
    default = np.broadcast_to(np.asarray(default_v0, dtype=np.float64), configured.shape)
    use_configured = np.isfinite(configured) & (configured > 0)
    use_baseline = ~use_configured & np.isfinite(baseline)
    v0 = np.where(use_configured, configured, np.where(use_baseline, baseline, default))
    source = np.where(use_configured, V0_CONFIGURED, np.where(use_baseline, V0_BASELINE, V0_DEFAULT)).astype(np.int8)
    # fmax ignores NaN, and a negative baseline (a sensor creeping back) gives the floor.
    return np.fmax(v0, floor_mm_per_day), source


def tangent_angle_deg(velocity, v0) -> np.ndarray:
    """Improved tangent angle (Xu Qiang et al., 2009): degrees(arctan(v / v0)), 45 deg being steady creep."""
    ratio = np.asarray(velocity, dtype=np.float64) / np.asarray(v0, dtype=np.float64)[:, None]
    # In place: at 100,000 sensors a fresh temporary per step costs as much as the arithmetic.
    return np.degrees(np.arctan(ratio, out=ratio), out=ratio)


def threshold_level(value, thresholds) -> np.ndarray:
    """Highest level (1..4) whose threshold value reaches, else none; NaN values and thresholds never reach."""
    value = np.asarray(value, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    reached = value[:, None] >= thresholds
    return (reached * np.arange(BLUE, RED + 1, dtype=np.int8)).max(axis=1, initial=NONE).astype(np.int8)


def _last_two(series) -> tuple[np.ndarray, np.ndarray]:
    """Latest and previous column of a [n, T] array; the previous is NaN when T < 2."""
    series = np.asarray(series, dtype=np.float64)
    previous = series[:, -2] if series.shape[1] >= 2 else np.full(series.shape[0], np.nan)
    return series[:, -1], previous


def deformation_levels(
    alpha_deg,
    velocity,
    displacement_mm,
    velocity_thresholds,
    displacement_thresholds,
    yellow_margin_deg=ANGLE_YELLOW_MARGIN_DEG,
    orange_deg=ANGLE_ORANGE_DEG,
    red_deg=ANGLE_RED_DEG,
    changed_rate=None,
    forecast_level=None,
) -> DeformationLevels:
    """Each sensor's level at its latest bin: the highest of the tangent-angle, velocity, displacement and
    failure-forecast levels.

    Orange and red by angle need the angle held for two bins and a velocity that is not falling. A change of
    rate fitted over two bins or more (`changed_rate`, from robust_velocity) has held for those bins already.
    """
    alpha_last, alpha_prev = _last_two(alpha_deg)
    v_last, v_prev = _last_two(velocity)
    held = np.zeros(alpha_last.shape, dtype=bool) if changed_rate is None else np.asarray(changed_rate, dtype=bool)
    not_decelerating = (v_last - v_prev) >= 0
    angle_level = np.full(alpha_last.shape, NONE, dtype=np.int8)
    angle_level[alpha_last > STEADY_CREEP_DEG + yellow_margin_deg] = YELLOW
    angle_level[(alpha_last >= orange_deg) & ((alpha_prev >= orange_deg) | held) & not_decelerating] = ORANGE
    angle_level[(alpha_last >= red_deg) & ((alpha_prev >= red_deg) | held) & not_decelerating] = RED
    velocity_level = threshold_level(v_last, velocity_thresholds)
    displacement_level = threshold_level(np.asarray(displacement_mm, dtype=np.float64)[:, -1], displacement_thresholds)
    level = np.maximum(np.maximum(angle_level, velocity_level), displacement_level)
    if forecast_level is not None:
        # The forecast sets the level only while the velocity is above steady creep: on steady creep 1/v
        # wanders, and a short falling stretch of it fits a line by chance.
        level = np.maximum(level, np.where(angle_level >= YELLOW, np.asarray(forecast_level, dtype=np.int8), NONE))
    return DeformationLevels(
        level=level,
        angle_level=angle_level,
        velocity_level=velocity_level,
        displacement_level=displacement_level,
    )


def _nan_as_zero(values) -> np.ndarray:
    """A float64 copy of values with NaN replaced by 0 (missing rain counts as none)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(values), 0.0, values)


def rolling_sum(rain_mm, window_bins) -> np.ndarray:
    """Trailing totals over window_bins along axis 1 (fewer at the start), NaN counted as 0, shape preserved."""
    if window_bins < 1:
        raise ValueError("window_bins must be at least 1")
    # In place: at 100,000 sensors every fresh [n, T] array costs as much as the arithmetic. NumPy buffers
    # the overlapping operands of the subtraction, so each total uses the cumulative sums before it.
    totals = _nan_as_zero(rain_mm)
    np.cumsum(totals, axis=1, out=totals)
    totals[:, window_bins:] -= totals[:, :-window_bins]
    return np.round(totals, ROLLING_SUM_DECIMALS, out=totals)


def trailing_totals(rain_mm, *window_bins) -> list[np.ndarray]:
    """The last column of rolling_sum(rain_mm, w) for each w, bit for bit, from one cumulative sum: what an
    evaluation needs without the [n, T] array of every bin's total."""
    cumulative = np.cumsum(_nan_as_zero(rain_mm), axis=1)
    last = cumulative[:, -1]
    out = []
    for w in window_bins:
        if w < 1:
            raise ValueError("window_bins must be at least 1")
        total = last - cumulative[:, -1 - w] if w < cumulative.shape[1] else last.copy()
        out.append(np.round(total, ROLLING_SUM_DECIMALS, out=total))
    return out


def effective_antecedent_rain_mm(daily_rain_mm, k=0.8, n_days=10) -> np.ndarray:
    """R_eff = r_0 + sum_{i=1..n_days} k^i r_i per sensor, the last column being today; NaN days count as 0."""
    daily_rain_mm = np.asarray(daily_rain_mm, dtype=np.float64)
    newest_first = _nan_as_zero(daily_rain_mm[:, ::-1][:, : n_days + 1])
    # Term by term, in one order: a sensor's R_eff is then the same whichever other sensors are evaluated
    # with it (a matrix product's summation order depends on how many rows it is given).
    total = np.zeros(newest_first.shape[0])
    for i in range(newest_first.shape[1]):
        total += newest_first[:, i] * k**i
    return total


def _outflow_mm(storage_mm, outlet_mm, coefficient) -> np.ndarray:
    """Hourly outflow through a side outlet: coefficient times the storage above the outlet."""
    return coefficient * np.maximum(storage_mm - outlet_mm, 0.0)


def soil_water_index_mm(rain_mm_per_h) -> np.ndarray:
    """JMA three-tank Soil Water Index after each hour, [n, T], from empty tanks; NaN rain counts as 0."""
    # One contiguous row per hour: reading a column of [n, T] per step would stride through all of memory.
    rain_mm_per_h = np.asarray(rain_mm_per_h, dtype=np.float64)
    rain_by_hour = np.array(rain_mm_per_h.T, order="C", copy=True)
    rain_by_hour[np.isnan(rain_by_hour)] = 0.0
    n_hours, n_sensors = rain_by_hour.shape
    s1, s2, s3 = np.zeros(n_sensors), np.zeros(n_sensors), np.zeros(n_sensors)
    swi_by_hour = np.empty((n_hours, n_sensors))
    for hour in range(n_hours):
        # Outflows and infiltrations all come from the storage at the start of the hour.
        q1 = _outflow_mm(s1, TANK1_OUTLET_LOW_MM, TANK1_OUTLET_LOW_COEF) + _outflow_mm(
            s1, TANK1_OUTLET_HIGH_MM, TANK1_OUTLET_HIGH_COEF
        )
        q2 = _outflow_mm(s2, TANK2_OUTLET_MM, TANK2_OUTLET_COEF)
        q3 = _outflow_mm(s3, TANK3_OUTLET_MM, TANK3_OUTLET_COEF)
        s1, s2, s3 = (
            (1 - TANK1_INFILTRATION) * s1 - q1 + rain_by_hour[hour],
            (1 - TANK2_INFILTRATION) * s2 - q2 + TANK1_INFILTRATION * s1,
            (1 - TANK3_INFILTRATION) * s3 - q3 + TANK2_INFILTRATION * s2,
        )
        np.add(s1, s2, out=swi_by_hour[hour])
        swi_by_hour[hour] += s3
    return swi_by_hour.T


def storm_duration_h(rain_mm_per_h, wet_mm_per_h=0.5) -> np.ndarray:
    """Hours of the rain event still going on at the last column: trailing bins with rain >= wet_mm_per_h."""
    wet = _nan_as_zero(rain_mm_per_h) >= wet_mm_per_h
    dry_from_end = ~wet[:, ::-1]
    # Index of the first dry bin counted from the end; a row that is wet throughout is wet for all of it.
    return np.where(dry_from_end.any(axis=1), dry_from_end.argmax(axis=1), wet.shape[1]).astype(np.float64)


EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres between WGS84 positions (degrees), element-wise for arrays."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = (np.sin((phi2 - phi1) / 2) ** 2
         + np.cos(phi1) * np.cos(phi2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2)
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


# A forecast further ahead than a year is no approach to failure: 1/v barely falling, or float noise.
FORECAST_HORIZON_H = 365 * 24.0


@dataclass(frozen=True)
class FailureForecast:
    """Per sensor: Fukuzono's inverse-velocity forecast from the onset of acceleration. Counted forecasts have
    a finite `hours_to_failure`; the others keep their fit (r2, bins) for the evidence."""

    hours_to_failure: np.ndarray  # [n], NaN unless counted
    r2: np.ndarray  # [n], NaN where nothing could be fitted
    fitted_bins: np.ndarray  # [n] bins from the onset to the last bin
    level: np.ndarray  # [n] int8: RED within red_h, ORANGE within orange_h, else NONE


def _trailing_mean(values, bins) -> np.ndarray:
    """Mean of each run of `bins` values ending at each column, NaN where the run is short or holds a NaN."""
    n, n_bins = values.shape
    out = np.full((n, n_bins), np.nan)
    if bins > n_bins:
        return out
    present = np.isfinite(values)
    total = np.cumsum(np.where(present, values, 0.0), axis=1)
    count = np.cumsum(present, axis=1)
    total = np.concatenate((np.zeros((n, 1)), total), axis=1)
    count = np.concatenate((np.zeros((n, 1), dtype=count.dtype), count), axis=1)
    full = (count[:, bins:] - count[:, :-bins]) == bins
    out[:, bins - 1:] = np.where(full, (total[:, bins:] - total[:, :-bins]) / bins, np.nan)
    return out


def _inverse_below(v: np.ndarray, short_bins: int, long_bins: int):
    """1/v (NaN for no movement), its short trailing mean, and where that mean is below the long one."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.where(v > 0, 1.0 / v, np.nan)
    short = _trailing_mean(inverse, short_bins)
    long = _trailing_mean(inverse, long_bins)
    return inverse, short, short < long - TIE_TOLERANCE * np.abs(long)  # NaN compares False: breaks the run


def accelerating_now(velocity_mm_per_day, short_bins=3, long_bins=6) -> np.ndarray:
    """[n]: the short trailing mean of 1/v is below the long one at the last bin, which every failure forecast
    needs (an onset of acceleration that still holds). Given at least the last short + long bins of velocity,
    it is what failure_forecast finds at that bin, so a caller can skip the sensors where it is not."""
    v = np.asarray(velocity_mm_per_day, dtype=np.float64)
    return _inverse_below(v, short_bins, long_bins)[2][:, -1] if v.shape[1] else np.zeros(v.shape[0], dtype=bool)


def failure_forecast(velocity_mm_per_day, bin_s, short_bins=3, long_bins=6, min_bins=6, min_r2=0.8,
                     red_h=24.0, orange_h=72.0, window_bins=None, min_speed_up=1.5,
                     horizon_h=FORECAST_HORIZON_H, lag_bins=None) -> FailureForecast:
    """Fukuzono (1985) with Carla et al. (2017)'s filtering and start: 1/v smoothed by short and long trailing
    means; the onset of acceleration is where the short mean fell below the long one and stayed below to the
    last bin; the short mean of 1/v from the onset is fitted against time, and where it reaches zero is the
    predicted failure. Counted only with R^2 >= min_r2 over at least min_bins bins, a failure still ahead (within
    horizon_h; one less than a bin ago is due now, 0 h), and a real acceleration: the fitted velocity at the last bin at least min_speed_up times the one
    at the onset. Consecutive velocities share most of their window and are smoothed again, so six bins of a
    steady but noisy creep hold few independent values and fit a falling line now and then; a slope heading
    for failure speeds up by far more than its noise.

    Velocities of no movement (0 or less, NaN) have no inverse and break the stretch. A velocity fitted over
    a trailing window of w bins (`window_bins`, [n, T]) is the rate at the window's middle, and a trailing
    mean's value is that of its middle bin: each is placed there, or the forecast would run late by both lags.
    And a bin's value is its last reading, taken `lag_bins` ([n], last_bin_lag) before the bin's end: the time
    to failure counts from the last bin's end (now), not from that reading.
    """
    v = np.asarray(velocity_mm_per_day, dtype=np.float64)
    n, n_bins = v.shape
    inverse, short, below = _inverse_below(v, short_bins, long_bins)
    # The onset: one past the last bin that was not below (the long mean is undefined in the first bins).
    not_below = ~below
    last_not_below = np.where(not_below.any(axis=1), n_bins - 1 - np.argmax(not_below[:, ::-1], axis=1), -1)
    onset = last_not_below + 1
    column = np.arange(n_bins)[None, :]
    lag = (short_bins - 1) / 2.0 + (0.0 if window_bins is None else _trailing_mean(
        np.asarray(window_bins, dtype=np.float64), short_bins) / 2.0)
    x = column - lag
    weight = (column >= onset[:, None]) & np.isfinite(short) & np.isfinite(x)
    x = np.where(weight, x, 0.0)
    y = np.where(weight, short, 0.0)
    count = weight.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_mean = (weight * x).sum(axis=1) / count
        y_mean = y.sum(axis=1) / count
        dx = np.where(weight, x - x_mean[:, None], 0.0)
        dy = np.where(weight, y - y_mean[:, None], 0.0)
        sxx = (dx * dx).sum(axis=1)
        sxy = (dx * dy).sum(axis=1)
        syy = (dy * dy).sum(axis=1)
        slope = sxy / sxx
        r2 = np.where(syy > 0, sxy * sxy / (sxx * syy), np.nan)
        # Bins after the last one until the fitted 1/v reaches zero.
        lag = 0.0 if lag_bins is None else np.asarray(lag_bins, dtype=np.float64)
        bins_ahead = (x_mean - y_mean / slope) - (n_bins - 1) - lag
        x_first = np.where(weight, x, np.inf).min(axis=1)
        x_last = np.where(weight, x, -np.inf).max(axis=1)
        # The fitted 1/v at the onset over the one at the last bin: how many times faster the slope now moves.
        speed_up = (y_mean + slope * (x_first - x_mean)) / (y_mean + slope * (x_last - x_mean))
    fitted = np.where(below[:, -1], n_bins - onset, 0) if n_bins else np.zeros(n, dtype=np.int64)
    counted = ((below[:, -1] if n_bins else np.zeros(n, bool)) & (count >= min_bins) & (slope < 0)
               & (r2 >= min_r2) & (bins_ahead > -1.0) & (bins_ahead * bin_s / 3600.0 <= horizon_h)
               & (speed_up >= min_speed_up - TIE_TOLERANCE))
    # A failure the line puts less than a bin ago is due now: the fit is good to a bin, and a slope that fast
    # is the one most in need of its red.
    hours = np.where(counted, np.maximum(bins_ahead, 0.0) * bin_s / 3600.0, np.nan)
    level = np.full(n, NONE, dtype=np.int8)
    level[hours <= orange_h] = ORANGE
    level[hours <= red_h] = RED
    return FailureForecast(hours, np.where(count >= 2, r2, np.nan), fitted.astype(np.int64), level)


def caine_intensity_mm_per_h(duration_h) -> np.ndarray:
    """Caine (1980) threshold intensity for a rainfall duration: 14.82 * D ** -0.39 (mm/h, h)."""
    duration_h = np.asarray(duration_h, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return CAINE_A_MM_PER_H * duration_h**CAINE_EXPONENT


def rainfall_levels(total_24h_mm, total_72h_mm, thresholds_24h_mm, thresholds_72h_mm) -> np.ndarray:
    """Per point, int8 [n]: the highest level whose 24 h or 72 h rainfall threshold is reached."""
    return np.maximum(
        threshold_level(total_24h_mm, thresholds_24h_mm),
        threshold_level(total_72h_mm, thresholds_72h_mm),
    )


def point_levels(deformation_level, rainfall_level, rainfall_may_exceed_orange) -> np.ndarray:
    """Per hazard point, int8: the higher of deformation and (capped) rainfall, one level up when both are yellow+."""
    deformation_level = np.asarray(deformation_level, dtype=np.int8)
    rainfall_level = np.asarray(rainfall_level, dtype=np.int8)
    # Rainfall alone stops at orange except where configured otherwise (debris-flow gullies).
    rainfall_capped = np.where(rainfall_may_exceed_orange, rainfall_level, np.minimum(rainfall_level, ORANGE))
    level = np.maximum(deformation_level, rainfall_capped)
    coupled = (deformation_level >= YELLOW) & (rainfall_level >= YELLOW)
    return np.where(coupled, np.minimum(level + 1, RED), level).astype(np.int8)
