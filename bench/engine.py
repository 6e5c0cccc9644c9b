"""The warning engine's kernels against SPEC 8: 100,000 sensors in under 1 s, 50x the pure-Python reference.

A seeded synthetic fleet of N sensors with 72 h of (mostly) hourly data: three quarters displacement sensors,
one per hazard point, a quarter rain gauges, each serving the neighbouring points; every mix of creep,
acceleration, flat, noisy, stepped and gappy series and of dry weather, storms and cloudbursts. The vectorised
chain of `alerting.evaluate` is timed best of 3 at each size, from the resampled [n, 72] arrays and from the
flat reading arrays the engine loads (resample_last and resample_sum included). Then, on a smaller fleet, the
same chain and `bench/reference.py` run side by side: the speed-up per sensor, and a check that every level is
identical (exit status 1 if not).

    .venv/bin/python bench/engine.py [--sizes 10000,30000,100000,300000] [--reference-sensors 2000] [--seed 1]
"""

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for alerting and bench

from alerting import kernels  # noqa: E402
from alerting.rules import BIN_S, MAX_GAP_BINS, SMOOTH_BINS, V0_FLOOR_MM_PER_DAY, WINDOW_BINS  # noqa: E402
from bench import reference  # noqa: E402

TARGET_S_AT_100K = 1.0
TARGET_RATIO = 50.0
REPEATS = 3  # best of 3: the machine has 2 cores and may be busy with other work
START_S = 1_700_000_000.0  # window start, epoch seconds; bins are [start + i h, start + (i + 1) h)
HOURS = WINDOW_BINS

# What the fleet is made of: (name, share). Shares of each family sum to 1.
DISPLACEMENT_MIXES = (
    ("steady creep", 0.25),
    ("accelerating", 0.20),
    ("creep onset", 0.10),  # quiet, then a new steady rate: a high angle held with an unchanging velocity
    ("flat", 0.15),
    ("noisy", 0.15),
    ("step", 0.15),  # a sudden slip: velocity thresholds
)
STEADY, ACCELERATING, ONSET, FLAT, NOISY, STEP = range(len(DISPLACEMENT_MIXES))
GAP_MIXES = (
    ("complete", 0.70),
    ("gappy", 0.20),  # up to three gaps of 1 to 8 h: filled up to 3 h, longer ones break the series
    ("stopped", 0.05),  # silent for the last 1 to 12 h
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
# Sampling: devices report hourly, but a few report faster (accelerated sampling, 10-minute gauges), so that
# several readings share a bin. They are the last blocks of the index order, which keeps readings sensor-major.
DISPLACEMENT_READINGS_PER_HOUR = ((1, 0.95), (4, 0.05))
RAIN_READINGS_PER_HOUR = ((1, 0.90), (6, 0.10))
NAN_READING_SHARE = 0.002


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
    configured_v0: np.ndarray  # [n_displacement] mm/d, NaN (or <= 0) where the geologist set none
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


def _choose(rng, n, mixes) -> np.ndarray:
    return rng.choice(len(mixes), size=n, p=[share for _, share in mixes])


def _blocks(n, rates) -> list[tuple[int, int, int]]:
    """(first, stop, readings per hour) of consecutive index blocks sized by each rate's share."""
    out, first = [], 0
    for k, (per_hour, share) in enumerate(rates):
        stop = n if k == len(rates) - 1 else first + round(n * share)
        out.append((first, stop, per_hour))
        first = stop
    return out


def _hours(rng, m, per_hour) -> np.ndarray:
    """[m, 72 * per_hour] reading times in hours since the window start, one at random in each sub-slot."""
    slots = np.arange(HOURS * per_hour, dtype=np.float64)
    return (slots + rng.uniform(0.02, 0.98, (m, slots.size))) / per_hour


def _gap_mask(rng, hours, gap_mix) -> np.ndarray:
    """Which readings survive the sensor's gaps."""
    m = hours.shape[0]
    keep = np.ones(hours.shape, dtype=bool)
    gappy = (gap_mix == GAPPY)[:, None]
    for _ in range(3):
        first = rng.integers(0, HOURS, m)[:, None]
        length = rng.integers(1, 9, m)[:, None]
        keep &= ~(gappy & (hours >= first) & (hours < first + length))
    silent_h = rng.integers(1, 13, m)[:, None]
    keep &= ~((gap_mix == STOPPED)[:, None] & (hours >= HOURS - silent_h))
    keep &= ~((gap_mix == SPARSE)[:, None] & (rng.random(hours.shape) < 0.7))
    return keep


def _flatten(first, hours, values, keep):
    rows, cols = np.nonzero(keep)
    return rows + first, START_S + hours[rows, cols] * BIN_S, values[rows, cols]


def _displacement_mm(rng, hours, mix) -> np.ndarray:
    """Displacement (mm) at each reading time for the sensors' mixes, quantised like the devices that send it."""
    m = hours.shape[0]
    days = hours / 24.0

    def column(values, where):
        return np.where(where, values, 0.0)[:, None]

    s0 = rng.uniform(0.0, 120.0, m)[:, None]
    rate = column(np.exp(rng.uniform(np.log(0.05), np.log(5.0), m)), np.isin(mix, (STEADY, ACCELERATING, NOISY, STEP)))
    series = s0 + rate * days
    # Accelerating: v grows as exp(t / tau), tau 6-30 h, so the latest angle spreads over yellow to red.
    tau_h = rng.uniform(6.0, 30.0, m)[:, None]
    v_start = column(np.exp(rng.uniform(np.log(0.1), np.log(2.0), m)), mix == ACCELERATING)
    series += v_start * tau_h / 24.0 * np.expm1(hours / tau_h)
    onset_h = rng.uniform(30.0, 66.0, m)[:, None]
    new_rate = column(np.exp(rng.uniform(np.log(0.5), np.log(10.0), m)), mix == ONSET)
    series += new_rate * np.maximum(hours - onset_h, 0.0) / 24.0
    step_h = rng.uniform(40.0, 72.0, m)[:, None]
    series += column(rng.uniform(1.0, 20.0, m), mix == STEP) * (hours >= step_h)
    noise_mm = np.where(mix == NOISY, rng.uniform(0.05, 1.0, m), np.where(mix == FLAT, 0.0, 0.003))[:, None]
    series += noise_mm * rng.standard_normal(hours.shape)
    # 0.01 mm crack meters mostly, some 0.1 mm; GNSS resultants are not decimals at all.
    decimals = rng.choice([2, 1, -1], size=m, p=[0.7, 0.1, 0.2])
    for d in (2, 1):
        series[decimals == d] = np.round(series[decimals == d], d)
    return series


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
    intensity += np.where((mix == LONG_RAIN)[:, None], rng.uniform(0.5, 4.0, m)[:, None] * rng.random(hours.shape) * 2, 0.0)
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


def synthetic_fleet(n_sensors: int, seed: int = 1) -> Fleet:
    """A seeded fleet of n_sensors with every displacement and rain mix of the module constants."""
    rng = np.random.default_rng(seed)
    n_displacement = max(round(n_sensors * DISPLACEMENT_SHARE), 1)
    n_rain = max(n_sensors - n_displacement, 1)
    n_points = n_displacement
    displacement_mix = _choose(rng, n_displacement, DISPLACEMENT_MIXES)
    gap_mix = _choose(rng, n_displacement, GAP_MIXES)
    rain_mix = _choose(rng, n_rain, RAIN_MIXES)
    rain_gap_mix = np.where(rng.random(n_rain) < 0.85, COMPLETE, _choose(rng, n_rain, GAP_MIXES))

    configured_v0 = np.full(n_displacement, np.nan)
    choice = rng.random(n_displacement)
    configured_v0[choice < 0.25] = np.exp(rng.uniform(np.log(0.05), np.log(5.0), (choice < 0.25).sum()))
    configured_v0[(choice >= 0.25) & (choice < 0.30)] = 0.0  # "configured" as zero: unset
    velocity_thresholds = _thresholds(rng, n_displacement, np.array([1.0, 2.0, 5.0, 10.0]),
                                      rng.choice([0.5, 1.0, 2.0, 5.0], n_displacement), 0.5)
    displacement_thresholds = _thresholds(rng, n_displacement, np.array([50.0, 80.0, 100.0, 150.0]),
                                          rng.choice([0.5, 1.0, 1.5], n_displacement), 0.5)

    point_gauge = np.arange(n_points) * n_rain // n_points  # neighbouring points share a gauge
    custom = rng.random(n_points) < 0.2
    rain_24h = np.tile(np.asarray(kernels.DEFAULT_RAIN_24H_MM, dtype=float), (n_points, 1))
    rain_72h = np.tile(np.asarray(kernels.DEFAULT_RAIN_72H_MM, dtype=float), (n_points, 1))
    rain_24h[custom] = _thresholds(rng, n_points, np.array([30.0, 50.0, 70.0, 100.0]), np.ones(n_points), 1.0)[custom]
    rain_72h[custom] = _thresholds(rng, n_points, np.array([60.0, 90.0, 120.0, 200.0]), np.ones(n_points), 1.0)[custom]
    first_point_of_gauge = np.searchsorted(point_gauge, np.arange(n_rain))

    displacement, rain = [], []
    for first, stop, per_hour in _blocks(n_displacement, DISPLACEMENT_READINGS_PER_HOUR):
        hours = _hours(rng, stop - first, per_hour)
        values = _displacement_mm(rng, hours, displacement_mix[first:stop])
        values[rng.random(values.shape) < NAN_READING_SHARE] = np.nan
        displacement.append(_flatten(first, hours, values, _gap_mask(rng, hours, gap_mix[first:stop])))
    for first, stop, per_hour in _blocks(n_rain, RAIN_READINGS_PER_HOUR):
        hours = _hours(rng, stop - first, per_hour)
        thresholds_24h = rain_24h[np.minimum(first_point_of_gauge[first:stop], n_points - 1)]
        values = _rain_readings_mm(rng, hours, rain_mix[first:stop], per_hour, thresholds_24h)
        rain.append(_flatten(first, hours, values, _gap_mask(rng, hours, rain_gap_mix[first:stop])))

    return Fleet(
        n_displacement, n_rain, *(np.concatenate(part) for part in zip(*displacement)),
        *(np.concatenate(part) for part in zip(*rain)),
        configured_v0=configured_v0, velocity_thresholds=velocity_thresholds,
        displacement_thresholds=displacement_thresholds, point_gauge=point_gauge, rain_24h_thresholds=rain_24h,
        rain_72h_thresholds=rain_72h, rainfall_may_exceed_orange=rng.random(n_points) < 0.1,
        displacement_mix=displacement_mix, gap_mix=gap_mix, rain_mix=rain_mix,
    )


# --- the vectorised chain, as alerting.evaluate runs it -------------------------------------------------------


def resample(fleet: Fleet) -> tuple[np.ndarray, np.ndarray]:
    """The displacement series (last reading per bin) and hourly rain (sum per bin), [sensors, 72] each."""
    series_mm = kernels.resample_last(fleet.displacement_idx, fleet.displacement_t_s, fleet.displacement_mm,
                                      fleet.n_displacement, START_S, BIN_S, WINDOW_BINS)
    hourly_rain_mm = kernels.resample_sum(fleet.rain_idx, fleet.rain_t_s, fleet.rain_mm, fleet.n_rain, START_S,
                                          BIN_S, WINDOW_BINS)
    return series_mm, hourly_rain_mm


def deformation_levels(fleet: Fleet, series_mm: np.ndarray) -> kernels.DeformationLevels:
    series_mm = kernels.fill_gaps(series_mm, MAX_GAP_BINS)
    velocity = kernels.velocity_mm_per_day(series_mm, BIN_S, SMOOTH_BINS)
    v0 = kernels.reference_creep_rate(velocity, fleet.configured_v0, V0_FLOOR_MM_PER_DAY)
    alpha = kernels.tangent_angle_deg(velocity, v0)
    return kernels.deformation_levels(alpha, velocity, series_mm, fleet.velocity_thresholds,
                                      fleet.displacement_thresholds)


def rainfall_levels(fleet: Fleet, hourly_rain_mm: np.ndarray) -> np.ndarray:
    """Each point's rainfall level from its gauge's totals and its own thresholds."""
    total_24h_mm = kernels.rolling_sum(hourly_rain_mm, 24)[:, -1]
    total_72h_mm = kernels.rolling_sum(hourly_rain_mm, 72)[:, -1]
    return kernels.rainfall_levels(total_24h_mm[fleet.point_gauge], total_72h_mm[fleet.point_gauge],
                                   fleet.rain_24h_thresholds, fleet.rain_72h_thresholds)


def levels_from_bins(fleet: Fleet, series_mm, hourly_rain_mm) -> dict[str, np.ndarray]:
    """Every sensor's and point's level from the resampled arrays."""
    deformation = deformation_levels(fleet, series_mm)
    rainfall = rainfall_levels(fleet, hourly_rain_mm)
    point = kernels.point_levels(deformation.level, rainfall, fleet.rainfall_may_exceed_orange)
    return {"deformation": deformation.level, "angle": deformation.angle_level,
            "velocity": deformation.velocity_level, "displacement": deformation.displacement_level,
            "rainfall": rainfall, "point": point}


def levels_from_readings(fleet: Fleet) -> dict[str, np.ndarray]:
    """Every sensor's and point's level from the flat reading arrays, resampling included."""
    return levels_from_bins(fleet, *resample(fleet))


# --- the reference, one sensor at a time ----------------------------------------------------------------------


@dataclass
class ReferenceInput:
    """The fleet in the reference's terms: per-sensor reading lists, threshold tuples with None unset."""

    displacement_readings: list[list[tuple[float, float]]]
    configured_v0: list
    velocity_thresholds: list[tuple]
    displacement_thresholds: list[tuple]
    rain_readings: list[list[tuple[float, float]]]
    point_gauge: list[int]
    rain_24h_thresholds: list[tuple]
    rain_72h_thresholds: list[tuple]
    rainfall_may_exceed_orange: list[bool]


def _per_sensor(n, idx, t_s, value) -> list[list[tuple[float, float]]]:
    out = [[] for _ in range(n)]
    for i, t, v in zip(idx.tolist(), t_s.tolist(), value.tolist()):
        out[i].append((t, v))
    return out


def _unset_as_none(rows) -> list:
    return [tuple(None if math.isnan(x) else x for x in row) for row in np.atleast_2d(rows).tolist()]


def reference_input(fleet: Fleet) -> ReferenceInput:
    return ReferenceInput(
        _per_sensor(fleet.n_displacement, fleet.displacement_idx, fleet.displacement_t_s, fleet.displacement_mm),
        [v0 for (v0,) in _unset_as_none(fleet.configured_v0[:, None])],
        _unset_as_none(fleet.velocity_thresholds), _unset_as_none(fleet.displacement_thresholds),
        _per_sensor(fleet.n_rain, fleet.rain_idx, fleet.rain_t_s, fleet.rain_mm), fleet.point_gauge.tolist(),
        _unset_as_none(fleet.rain_24h_thresholds), _unset_as_none(fleet.rain_72h_thresholds),
        fleet.rainfall_may_exceed_orange.tolist(),
    )


def reference_levels(ref: ReferenceInput) -> dict[str, list[int]]:
    """Every sensor's and point's level by the reference: each sensor on its own, then each point."""
    sensors = [reference.deformation_level(readings, START_S, v0, v_thr, d_thr) for readings, v0, v_thr, d_thr
               in zip(ref.displacement_readings, ref.configured_v0, ref.velocity_thresholds,
                      ref.displacement_thresholds)]
    totals = [reference.rain_totals_mm(readings, START_S) for readings in ref.rain_readings]
    rainfall = [reference.rainfall_level(*totals[g], thr_24h, thr_72h)
                for g, thr_24h, thr_72h in zip(ref.point_gauge, ref.rain_24h_thresholds, ref.rain_72h_thresholds)]
    point = [reference.point_level(sensor.level, rain, may_exceed)
             for sensor, rain, may_exceed in zip(sensors, rainfall, ref.rainfall_may_exceed_orange)]
    return {"deformation": [s.level for s in sensors], "angle": [s.angle_level for s in sensors],
            "velocity": [s.velocity_level for s in sensors], "displacement": [s.displacement_level for s in sensors],
            "rainfall": rainfall, "point": point}


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
    return (f"point {point}: {DISPLACEMENT_MIXES[fleet.displacement_mix[point]][0]}, "
            f"{GAP_MIXES[fleet.gap_mix[point]][0]}; gauge {gauge}: {RAIN_MIXES[fleet.rain_mix[gauge]][0]}")


# --- timing ---------------------------------------------------------------------------------------------------


def best_of(repeats, fn, *args) -> float:
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000,300000",
                        help="comma-separated sensor counts (default %(default)s)")
    parser.add_argument("--reference-sensors", type=int, default=2000,
                        help="sensors run through the pure-Python reference (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"engine chain, best of {REPEATS}, {HOURS} hourly bins; sensors: {DISPLACEMENT_SHARE:.0%} displacement "
          f"(one per hazard point), the rest rain gauges; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print(f"{'sensors':>9} {'readings':>9} | {'bins->levels':>12} {'us/sensor':>9} | {'resample':>9} "
          f"{'readings->levels':>16} {'us/sensor':>9}")
    per_sensor_us = {}
    for n in sizes:
        fleet = synthetic_fleet(n, args.seed)
        series_mm, hourly_rain_mm = resample(fleet)
        from_bins_s = best_of(REPEATS, levels_from_bins, fleet, series_mm, hourly_rain_mm)
        resample_s = best_of(REPEATS, resample, fleet)
        from_readings_s = best_of(REPEATS, levels_from_readings, fleet)
        per_sensor_us[n] = from_readings_s / fleet.sensors * 1e6
        print(f"{fleet.sensors:>9,} {fleet.readings / 1e6:>8.1f}M | {from_bins_s:>11.3f}s "
              f"{from_bins_s / fleet.sensors * 1e6:>9.2f} | {resample_s:>8.3f}s {from_readings_s:>15.3f}s "
              f"{per_sensor_us[n]:>9.2f}")
        del fleet, series_mm, hourly_rain_mm
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        print(f"growth {small:,} -> {large:,} sensors (x{large / small:g}): time per sensor x"
              f"{per_sensor_us[large] / per_sensor_us[small]:.2f} (1.00 is linear)")
    if 100_000 in per_sensor_us:
        at_100k_s = per_sensor_us[100_000] * 0.1
        print(f"100,000 sensors, readings -> levels: {at_100k_s:.3f} s (target < {TARGET_S_AT_100K:g} s: "
              f"{'met' if at_100k_s < TARGET_S_AT_100K else 'NOT met'})")

    fleet = synthetic_fleet(args.reference_sensors, args.seed)
    ref = reference_input(fleet)
    kernel_s = best_of(REPEATS, levels_from_readings, fleet)
    reference_s = best_of(REPEATS, reference_levels, ref)
    kernel_us, reference_us = kernel_s / fleet.sensors * 1e6, reference_s / fleet.sensors * 1e6
    print(f"\nreference against kernels on the same {fleet.sensors:,} sensors ({fleet.readings:,} readings), "
          f"readings -> levels, best of {REPEATS}:")
    print(f"  pure-Python reference {reference_us:9.2f} us/sensor")
    print(f"  kernels               {kernel_us:9.2f} us/sensor   speed-up {reference_us / kernel_us:6.1f}x "
          f"(target >= {TARGET_RATIO:g}x: {'met' if reference_us / kernel_us >= TARGET_RATIO else 'NOT met'})")
    for n, us in per_sensor_us.items():
        print(f"  kernels at {n:>9,} {us:9.2f} us/sensor   speed-up {reference_us / us:6.1f}x")

    kernel, expected = levels_from_readings(fleet), reference_levels(ref)
    differ = mismatches(kernel, expected)
    checked = ", ".join(expected)
    if not differ:
        print(f"  check: identical levels ({checked}) for all {fleet.n_displacement:,} points")
        return 0
    print(f"  check: levels differ on {fleet.n_displacement:,} points (compared: {checked}):")
    for name, where in differ.items():
        print(f"  MISMATCH {name}: {where.size} points")
        for i in where[:5]:
            print(f"    {describe(fleet, i)}: kernels {kernel[name][i]}, reference {expected[name][i]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
