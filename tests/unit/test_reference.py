"""The pure-Python reference (bench/reference.py): SPEC 4.1-4.3 worked checks, and the same levels as the kernels."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from alerting import kernels
from bench import engine as bench_engine
from bench import reference
from bench.reference import BLUE, NONE, ORANGE, RED, YELLOW

HOUR_S = 3600.0
DAY_S = 86_400.0
UNSET = (None,) * 4
RANDOM_SENSORS = 4000  # 3,000 displacement sensors (one per point) and 1,000 rain gauges
SEED = 1

def hourly(values):
    """Readings a minute into each hour of the window; None leaves the hour without a reading."""
    return [(h * HOUR_S + 60.0, v) for h, v in enumerate(values) if v is not None]


def deformation_of(series_mm, **kwargs) -> reference.SensorLevels:
    return reference.deformation_level(hourly(series_mm), 0.0, **kwargs)


# --- SPEC worked checks -------------------------------------------------------------------------------


def test_tangent_angle_matches_spec_worked_check():
    velocity = reference.velocity_mm_per_day([0, 2, 4, 6, 9, 21, 51], bin_s=DAY_S, smooth_bins=1)
    alpha = reference.tangent_angle_deg(velocity, 2.0)
    assert alpha[0] is None
    assert alpha[1:] == pytest.approx([45, 45, 45, 56.31, 80.54, 86.19], abs=0.01)


def test_spec_worked_series_is_orange_at_its_latest_bin():
    velocity = reference.velocity_mm_per_day([0, 2, 4, 6, 9, 21, 51], bin_s=DAY_S, smooth_bins=1)
    alpha = reference.tangent_angle_deg(velocity, 2.0)
    assert reference.angle_level(alpha, velocity) == ORANGE  # 80.54 then 86.19 deg: not two bins at 85


def test_default_rain_thresholds_are_the_spec_table():
    assert reference.DEFAULT_RAIN_24H_MM == tuple(kernels.DEFAULT_RAIN_24H_MM) == (50, 80, 100, 150)
    assert reference.DEFAULT_RAIN_72H_MM == tuple(kernels.DEFAULT_RAIN_72H_MM) == (80, 120, 160, 250)


# --- resampling -----------------------------------------------------------------------------------------


def test_resample_last_takes_latest_reading_of_each_bin_in_any_order():
    readings = [(50.0, 2.0), (10.0, 3.0), (3700.0, 5.0), (30.0, 4.0)]
    assert reference.resample_last(readings, 0.0, HOUR_S, 3) == [2.0, 5.0, None]


def test_resample_last_skips_nan_readings_and_readings_outside_window():
    readings = [(-1.0, 9.0), (10.0, 1.0), (20.0, math.nan), (2 * HOUR_S, 9.0)]
    assert reference.resample_last(readings, 0.0, HOUR_S, 2) == [1.0, None]


def test_resample_sum_totals_each_bin_and_leaves_silent_bins_empty():
    readings = [(4000.0, 0.5), (10.0, 0.2), (20.0, 0.3)]
    assert reference.resample_sum(readings, 0.0, HOUR_S, 3) == [0.5, 0.5, None]


def test_gap_of_three_bins_is_interpolated():
    assert reference.fill_gaps([1.0, None, None, None, 5.0]) == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_gap_of_four_bins_breaks_the_series():
    series = [1.0, None, None, None, None, 6.0]
    assert reference.fill_gaps(series) == series


def test_leading_and_trailing_gaps_stay_empty():
    assert reference.fill_gaps([None, 1.0, None, 3.0, None]) == [None, 1.0, 2.0, 3.0, None]


# --- velocity and v0 ------------------------------------------------------------------------------------


def test_velocity_is_trailing_mean_of_raw_velocities():
    velocity = reference.velocity_mm_per_day([0.0, 1.0, 3.0, 6.0, 10.0], bin_s=HOUR_S, smooth_bins=3)
    assert velocity == [None, None, None, 48.0, 72.0]  # raw 24, 48, 72, 96 mm/d


def test_no_velocity_reaches_across_a_break():
    series = [0.0, 1.0, None, None, None, None, 6.0, 7.0, 8.0]
    velocity = reference.velocity_mm_per_day(series, bin_s=DAY_S, smooth_bins=2)
    assert velocity == [None, None, None, None, None, None, None, None, 1.0]


def test_v0_is_configured_value_when_set():
    assert reference.reference_creep_rate([1.0, 1.0, 1.0], configured_v0=2.0) == 2.0


def test_v0_is_median_velocity_when_not_configured():
    assert reference.reference_creep_rate([0.5, None, 1.5, 0.7, 3.0]) == pytest.approx(1.1)
    assert reference.reference_creep_rate([0.2, 0.4, 0.6], configured_v0=0.0) == pytest.approx(0.4)


def test_v0_is_never_below_floor():
    assert reference.reference_creep_rate([-0.5, -0.4, -0.6]) == 0.1
    assert reference.reference_creep_rate([None, None]) == 0.1
    assert reference.reference_creep_rate([1.0], configured_v0=0.05) == 0.1


# --- deformation levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha_deg", "velocity", "level"),
    [
        ([50.0, 50.0], [1.0, 1.0], NONE),  # at the 5 deg margin: not above it
        ([40.0, 50.5], [1.0, 1.2], YELLOW),
        ([70.0, 82.0], [3.0, 7.0], YELLOW),  # one bin at 82 deg
        ([82.0, 82.0], [7.0, 7.0], ORANGE),  # two bins, velocity not falling
        ([82.0, 81.0], [7.5, 7.0], YELLOW),  # two bins, velocity falling
        ([85.0, 86.0], [12.0, 14.0], RED),
        ([82.0, 86.0], [7.0, 14.0], ORANGE),
        ([None, 86.0], [None, 14.0], YELLOW),  # no angle the bin before
    ],
)
def test_angle_level_follows_spec(alpha_deg, velocity, level):
    assert reference.angle_level(alpha_deg, velocity) == level


def test_steady_decimal_creep_holds_its_angle_level():
    # Quiet for two days, then 0.05 mm/h: v0 is the floor, alpha 85.2 deg with every 6 h displacement 0.30 mm.
    series_mm = [round(10.0 + 0.05 * max(h - 47, 0), 2) for h in range(72)]
    assert deformation_of(series_mm).angle_level == RED


def test_velocity_threshold_reached_exactly_in_decimal_readings_sets_its_level():
    series_mm = [round(20.0 + 0.05 * h, 2) for h in range(72)]  # 0.30 mm per 6 h: 1.2 mm/d
    assert deformation_of(series_mm, velocity_thresholds=(0.6, 1.2, 5.0, 10.0)).velocity_level == YELLOW


def test_displacement_threshold_reached_exactly_sets_its_level():
    levels = deformation_of([30.0] * 72, displacement_thresholds=(10.0, 30.0, 50.0, 100.0))
    assert levels.displacement_level == YELLOW


def test_unset_thresholds_are_never_reached():
    levels = deformation_of([0.0] * 72, velocity_thresholds=UNSET, displacement_thresholds=(None, None, -1.0, None))
    assert (levels.velocity_level, levels.displacement_level) == (NONE, ORANGE)


def test_sensor_level_is_highest_criterion():
    series_mm = [round(0.05 * h, 2) for h in range(72)]  # 1.2 mm/d, steady: 45 deg
    levels = deformation_of(series_mm, velocity_thresholds=(1.0, 5.0, 10.0, 20.0),
                            displacement_thresholds=(1.0, 2.0, 3.0, 3.5))  # 3.55 mm at the latest bin
    assert levels == (RED, NONE, BLUE, RED)


def test_sensor_without_readings_has_no_level():
    assert deformation_of([None] * 72, displacement_thresholds=(0.0,) * 4).level == NONE


# --- rainfall and the point -------------------------------------------------------------------------------


def rainfall_of(rain_mm, *thresholds) -> int:
    return reference.rainfall_level(*reference.rain_totals_mm(hourly(rain_mm), 0.0), *thresholds)


def test_rain_totals_are_trailing_24h_and_72h_with_silent_hours_adding_nothing():
    rain_mm = [1.0] * 40 + [None] * 8 + [0.5] * 24
    assert reference.rain_totals_mm(hourly(rain_mm), 0.0) == (12.0, 52.0)


def test_24h_total_on_threshold_in_decimal_readings_reaches_it():
    rain_mm = [None] * 48 + [3.3] * 20 + [3.5] * 4  # 80 mm, which a naive float sum makes 79.99999999999997
    assert rainfall_of(rain_mm) == YELLOW


def test_rainfall_level_is_highest_of_24h_and_72h():
    assert rainfall_of([4.0] * 40 + [0.0] * 32) == ORANGE  # 72 h 160 mm, 24 h none
    assert rainfall_of([0.0] * 48 + [6.25] * 24) == RED  # 24 h 150 mm


def test_rainfall_level_without_thresholds_is_none():
    assert rainfall_of([50.0] * 72, UNSET, UNSET) == NONE


@pytest.mark.parametrize(
    ("deformation", "rainfall", "may_exceed", "level"),
    [
        (NONE, RED, False, ORANGE),  # rainfall alone stops at orange
        (NONE, RED, True, RED),  # debris-flow gully
        (YELLOW, YELLOW, False, ORANGE),  # both yellow+: one level up
        (ORANGE, YELLOW, False, RED),
        (RED, RED, True, RED),
        (ORANGE, BLUE, False, ORANGE),
        (BLUE, YELLOW, False, YELLOW),
    ],
)
def test_point_level_follows_spec(deformation, rainfall, may_exceed, level):
    assert reference.point_level(deformation, rainfall, may_exceed) == level


# --- the same levels as the kernels -----------------------------------------------------------------------


def kernel_deformation(series_mm, velocity_thresholds=UNSET) -> kernels.DeformationLevels:
    """alerting.evaluate's chain (as bench/engine.py runs it) for one sensor with hourly readings."""
    t_s, value = (np.array(column) for column in zip(*hourly(series_mm)))
    series = kernels.resample_last(np.zeros(t_s.size, dtype=int), t_s, value, 1, 0.0, HOUR_S, reference.N_BINS)
    sensor = SimpleNamespace(configured_v0=np.array([np.nan]), displacement_thresholds=np.full((1, 4), np.nan),
                             velocity_thresholds=np.array([[np.nan if x is None else x for x in velocity_thresholds]]))
    return bench_engine.deformation_levels(sensor, series)


def test_kernels_give_no_velocity_across_a_break():
    # 4 mm/d with hours 66-70 lost: a 5 h break just before the latest bin.
    series_mm = [round(50.0 + h / 6, 2) if not 66 <= h <= 70 else None for h in range(72)]
    thresholds = (1.0, 2.0, 5.0, 10.0)
    expected = deformation_of(series_mm, velocity_thresholds=thresholds)
    assert expected.velocity_level == NONE
    assert kernel_deformation(series_mm, velocity_thresholds=thresholds).velocity_level[0] == NONE


def test_kernels_hold_angle_level_of_steady_decimal_creep():
    series_mm = [round(10.0 + 0.05 * max(h - 47, 0), 2) for h in range(72)]  # 11.20 - 10.90 == 11.15 - 10.85
    assert deformation_of(series_mm).angle_level == RED
    assert kernel_deformation(series_mm).angle_level[0] == RED


@pytest.fixture(scope="module")
def random_fleet():
    """A few thousand seeded sensors of every mix, with the kernels' levels and the reference's."""
    fleet = bench_engine.synthetic_fleet(RANDOM_SENSORS, SEED)
    kernel = bench_engine.levels_from_readings(fleet)
    ref = bench_engine.reference_levels(bench_engine.reference_input(fleet))
    return fleet, kernel, ref


def _assert_same(random_fleet, names):
    fleet, kernel, ref = random_fleet
    differ = {name: where for name, where in bench_engine.mismatches(kernel, ref).items() if name in names}
    report = [f"{name} at {bench_engine.describe(fleet, i)}: kernels {kernel[name][i]}, reference {ref[name][i]}"
              for name, where in differ.items() for i in where[:5]]
    assert not differ, "\n".join(report)


def test_random_fleet_reaches_every_level(random_fleet):
    _, _, ref = random_fleet
    for name in ("deformation", "angle", "velocity", "displacement", "rainfall", "point"):
        assert set(ref[name]) >= {NONE, YELLOW, ORANGE, RED}, name


def test_rainfall_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"rainfall"})


def test_displacement_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"displacement"})


def test_deformation_and_point_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"deformation", "angle", "velocity", "point"})


def test_point_levels_match_kernels_for_every_combination():
    deformation, rainfall, may_exceed = (np.array(column) for column in zip(
        *[(d, r, m) for d in range(5) for r in range(5) for m in (False, True)]))
    expected = [reference.point_level(int(d), int(r), bool(m)) for d, r, m in zip(deformation, rainfall, may_exceed)]
    assert kernels.point_levels(deformation, rainfall, may_exceed).tolist() == expected
