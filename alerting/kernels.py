"""The warning science of SPEC 4.1 and 4.2 as pure numpy: [n_sensors, n_bins] arrays in, arrays out."""

from dataclasses import dataclass

import numpy as np

NONE, BLUE, YELLOW, ORANGE, RED = 0, 1, 2, 3, 4
LEVEL_NAMES = ("none", "blue", "yellow", "orange", "red")

SECONDS_PER_DAY = 86_400.0

# 45 deg is steady creep (v == v0); the margin keeps ordinary noise around it from reading as yellow.
STEADY_CREEP_DEG = 45.0

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


def velocity_mm_per_day(series_mm, bin_s, smooth_bins=6) -> np.ndarray:
    """Trailing mean of the last smooth_bins raw velocities, (S_i - S_{i-w}) / (w * bin_days); NaN where undefined."""
    if smooth_bins < 1:
        raise ValueError("smooth_bins must be at least 1")
    series_mm = np.asarray(series_mm, dtype=np.float64)
    w = min(smooth_bins, series_mm.shape[1])
    out = np.empty(series_mm.shape)
    out[:, :w] = np.nan
    np.subtract(series_mm[:, w:], series_mm[:, :-w], out=out[:, w:])
    out[:, w:] /= smooth_bins * bin_s / SECONDS_PER_DAY
    # A gap that fill_gaps left open breaks the series: no velocity spans it (S_i and S_{i-w} may both
    # exist with the break between them).
    missing = np.cumsum(np.isnan(series_mm), axis=1, dtype=np.int32)
    out[:, w:][missing[:, w - 1:-1] - missing[:, :-w] > 0] = np.nan
    # Readings are decimals that binary floats cannot hold: equal displacements over equal windows must
    # give equal velocities, or a steady velocity reads as a falling one (and orange as yellow).
    return np.round(out, VELOCITY_DECIMALS, out=out)


def _row_nanmedian(values) -> np.ndarray:
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


def reference_creep_rate(velocity, configured_v0, floor_mm_per_day=0.1) -> np.ndarray:
    """Per-sensor v0 (mm/d): the configured value if positive, else the baseline's median, never below the floor."""
    velocity = np.asarray(velocity, dtype=np.float64)
    n_sensors = velocity.shape[0]
    configured = np.broadcast_to(np.asarray(configured_v0, dtype=np.float64), (n_sensors,))
    use_configured = np.isfinite(configured) & (configured > 0)
    v0 = configured.copy()
    v0[~use_configured] = _row_nanmedian(velocity[~use_configured])
    # fmax ignores NaN, so an all-NaN baseline (and a negative median: a sensor creeping back) gives the floor.
    return np.fmax(v0, floor_mm_per_day)


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
    yellow_margin_deg=5.0,
    orange_deg=80.0,
    red_deg=85.0,
) -> DeformationLevels:
    """Each sensor's level at its latest bin: the highest of the tangent-angle, velocity and displacement levels."""
    alpha_last, alpha_prev = _last_two(alpha_deg)
    v_last, v_prev = _last_two(velocity)
    # Orange and red need the angle held for two bins and a velocity that is not falling.
    not_decelerating = (v_last - v_prev) >= 0
    angle_level = np.full(alpha_last.shape, NONE, dtype=np.int8)
    angle_level[alpha_last > STEADY_CREEP_DEG + yellow_margin_deg] = YELLOW
    angle_level[(alpha_last >= orange_deg) & (alpha_prev >= orange_deg) & not_decelerating] = ORANGE
    angle_level[(alpha_last >= red_deg) & (alpha_prev >= red_deg) & not_decelerating] = RED
    velocity_level = threshold_level(v_last, velocity_thresholds)
    displacement_level = threshold_level(np.asarray(displacement_mm, dtype=np.float64)[:, -1], displacement_thresholds)
    level = np.maximum(np.maximum(angle_level, velocity_level), displacement_level)
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


FORECAST_HORIZON_DAYS = 365.0


def inverse_velocity_forecast(t_days, velocity_mm_per_day) -> tuple[float, float]:
    """Fukuzono (1985): fit 1/v against t and return (t where 1/v reaches 0, R^2); NaN when not converging.

    For one sensor's accelerating stretch (the caller picks it); the forecast informs, it sets no level.
    """
    t = np.asarray(t_days, dtype=np.float64)
    v = np.asarray(velocity_mm_per_day, dtype=np.float64)
    usable = np.isfinite(t) & np.isfinite(v) & (v > 0)
    t, inverse = t[usable], 1.0 / v[usable]
    if t.size < 3 or np.ptp(t) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(t, inverse, 1)
    if slope >= 0:  # 1/v not falling: no approach to failure
        return float("nan"), float("nan")
    t_fail = float(-intercept / slope)
    # A steady velocity fits a slope of float noise, which "predicts" failure in millions of years: 1/v that
    # would not reach zero within FORECAST_HORIZON_DAYS of the last reading is no approach to failure either.
    if not t[0] <= t_fail <= t[-1] + FORECAST_HORIZON_DAYS:
        return float("nan"), float("nan")
    fitted = slope * t + intercept
    total = float(((inverse - inverse.mean()) ** 2).sum())
    r2 = 1.0 - float(((inverse - fitted) ** 2).sum()) / total if total > 0 else float("nan")
    return t_fail, r2


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
