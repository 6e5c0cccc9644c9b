"""The pure-Python reference (bench/reference.py): SPEC 4.1-4.3 worked checks, and the same levels as the kernels."""

import math

import numpy as np
import pytest

from alerting import evaluate, kernels, rules
from bench import engine as bench_engine
from bench import reference
from bench.reference import BLUE, NONE, ORANGE, RED, YELLOW

HOUR_S = 3600.0
DAY_S = 86_400.0
NOW_S = 72 * HOUR_S  # an hourly sensor's window is [0, 72 h)
UNSET = (None,) * 4
RANDOM_SENSORS = 4000  # 3,000 displacement sensors (one per point) and 1,000 rain gauges
SEED = 1


def hourly(values):
    """Readings a minute into each hour of the window; None leaves the hour without a reading."""
    return [(h * HOUR_S + 60.0, v) for h, v in enumerate(values) if v is not None]


def deformation_of(series_mm, **settings) -> reference.SensorLevels:
    """The reference's levels of an hourly sensor (a crack gauge unless settings say otherwise) at its last bin."""
    return reference.deformation_level(hourly(series_mm), NOW_S, **settings)


def fits_of(series, resolution_mm, bin_s=HOUR_S, window_bins=reference.VELOCITY_WINDOW_BINS):
    return reference.velocities(series, bin_s, resolution_mm, window_bins)


def mm_per_day(fits):
    return [f.mm_per_day for f in fits]


# --- SPEC worked checks -------------------------------------------------------------------------------


WORKED_SERIES_MM = [0, 2, 4, 6, 9, 21, 51]


def test_tangent_angle_matches_spec_worked_check():
    # v0 = 2 mm/d, daily readings, a 1-bin window and a resolution small enough.
    fits = fits_of(WORKED_SERIES_MM, 1e-3, bin_s=DAY_S, window_bins=1)
    alpha = [reference.tangent_angle_deg(f.mm_per_day, 2.0) for f in fits]
    assert alpha[0] is None
    assert alpha[1:] == pytest.approx([45, 45, 45, 56.31, 80.54, 86.19], abs=0.01)


def test_spec_worked_series_is_orange_at_its_latest_bin():
    fits = fits_of(WORKED_SERIES_MM, 1e-3, bin_s=DAY_S, window_bins=1)
    (alpha_before, alpha), (v_before, v) = ([reference.tangent_angle_deg(f.mm_per_day, 2.0) for f in fits[-2:]],
                                            mm_per_day(fits[-2:]))
    assert not fits[-1].changed_rate  # a 1-bin window cannot be shortened
    assert reference.angle_level(alpha_before, alpha, v_before, v) == ORANGE  # 80.54 then 86.19 deg


def test_default_rain_thresholds_are_the_spec_table():
    assert reference.DEFAULT_RAIN_24H_MM == tuple(kernels.DEFAULT_RAIN_24H_MM) == (50, 80, 100, 150)
    assert reference.DEFAULT_RAIN_72H_MM == tuple(kernels.DEFAULT_RAIN_72H_MM) == (80, 120, 160, 250)


def test_the_reference_has_the_engines_defaults():
    assert reference.KIND_RESOLUTION_MM == rules.DEFAULT_RESOLUTION_MM
    assert reference.KIND_RESOLUTION_MM["gnss"] == 1.0 and reference.KIND_RESOLUTION_MM["crack"] == 0.1  # SPEC 4.1
    assert reference.KIND_V0_MM_PER_DAY == rules.DEFAULT_V0_MM_PER_DAY
    assert reference.DISPLACEMENT_BINS_S == rules.DISPLACEMENT_BINS_S
    assert (reference.N_BINS, reference.MAX_GAP_BINS, reference.VELOCITY_WINDOW_BINS) == (
        rules.WINDOW_BINS, rules.MAX_GAP_BINS, rules.SMOOTH_BINS)
    assert (reference.FORECAST_SHORT_BINS, reference.FORECAST_LONG_BINS, reference.FORECAST_MIN_BINS,
            reference.FORECAST_MIN_R2, reference.FORECAST_RED_H, reference.FORECAST_ORANGE_H) == (
        rules.FORECAST_SHORT_BINS, rules.FORECAST_LONG_BINS, rules.FORECAST_MIN_BINS, rules.FORECAST_MIN_R2,
        rules.FORECAST_RED_H, rules.FORECAST_ORANGE_H) == (3, 6, 6, 0.8, 24.0, 72.0)


@pytest.mark.parametrize(("interval_s", "bin_s"), [(60, 3600), (3600, 3600), (3601, 21_600), (21_600, 21_600),
                                                   (43_200, 86_400), (86_400, 86_400), (4 * 86_400, 4 * 86_400)])
def test_a_sensors_bin_is_its_reporting_interval_rounded_up_to_1_h_6_h_or_1_d(interval_s, bin_s):
    assert reference.bin_seconds(interval_s) == rules.displacement_bin_s(interval_s) == bin_s


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


def test_a_tilt_is_the_magnitude_of_its_change_from_its_reference_either_way():
    assert reference.tilt_magnitude([None, 0.5, 0.4, 0.6]) == pytest.approx([None, 0.0, 0.1, 0.1])
    assert reference.tilt_magnitude([0.5, 0.4, 0.3], reference=0.4) == pytest.approx([0.1, 0.0, 0.1])


# --- velocity, resolution and v0 ------------------------------------------------------------------------


def test_velocity_is_the_least_squares_slope_over_the_trailing_window_shorter_at_the_start():
    fits = fits_of([0.0, 1.0, 3.0, 6.0, 10.0], 0.0, window_bins=3)
    assert mm_per_day(fits) == [None, 24.0, 36.0, 48.0, 72.0]
    assert [f.window_bins for f in fits] == [0, 1, 2, 3, 3]


def test_no_velocity_reaches_across_a_break():
    series = [0.0, 1.0, None, None, None, None, 6.0, 7.0, 8.0]
    assert mm_per_day(fits_of(series, 0.0, bin_s=DAY_S, window_bins=2)) == [None, 1.0] + [None] * 5 + [1.0, 1.0]


def test_a_rate_jump_is_followed_by_a_shorter_window_from_the_second_reading_of_the_new_rate():
    slow = [round(10.0 + 2.0 * k / 24, 3) for k in range(25)]
    series = slow + [round(slow[-1] + 30.0 * k / 24, 3) for k in range(1, 8)]
    fits = fits_of(series, 0.1)
    assert not fits[25].changed_rate
    assert fits[26] == (pytest.approx(30.0), 2, 6) and fits[26].changed_rate
    assert fits[31] == (pytest.approx(30.0), 6, 6) and not fits[31].changed_rate


def test_whole_millimetre_flicker_is_no_movement():
    flicker = [10.0 + k % 2 for k in range(72)]
    for resolution_mm in (1.0, 0.1):
        resolution = reference.effective_resolution_mm(flicker, resolution_mm)
        assert set(mm_per_day(fits_of(flicker, resolution))[1:]) == {0.0}


def test_a_displacement_of_exactly_two_resolutions_over_the_window_is_movement():
    series = [None] * 8 + [61.2, 61.3, 61.4]  # 0.2 mm over a 2-bin window
    assert fits_of(series, 0.1)[-1] == (2.4, 2, 2)
    assert fits_of(series, 0.1001)[-1] == (0.0, 2, 2)


def test_the_effective_resolution_is_twice_the_reading_noise_where_that_is_larger():
    # Second differences of +-0.6 mm: a noise of 1.4826 * 0.6 / sqrt(6) = 0.363 mm.
    series = [10.0 + (0.3 if k % 2 else 0.0) for k in range(20)]
    assert reference.reading_noise_mm(series) == pytest.approx(0.3632, abs=1e-4)
    assert reference.effective_resolution_mm(series, 0.1) == pytest.approx(0.7263, abs=1e-4)
    assert reference.effective_resolution_mm(series, 1.0) == 1.0
    assert reference.reading_noise_mm([1.0, 2.0, None, 4.0]) == 0.0  # no three in a row


@pytest.mark.parametrize(("configured", "baseline", "expected"), [
    (2.0, 0.5, (2.0, "configured")),
    (None, 0.5, (0.5, "baseline")),
    (0.0, 0.5, (0.5, "baseline")),  # configured as 0: not configured
    (None, None, (1.5, "default")),
    (0.05, None, (0.1, "configured")),  # never below the floor
    (None, -0.4, (0.1, "baseline")),  # a sensor creeping back
])
def test_v0_is_configured_else_the_quiet_baseline_else_the_kinds_default_never_below_the_floor(
        configured, baseline, expected):
    assert reference.reference_creep_rate(configured, baseline, 1.5, 0.1) == expected


def test_v0_of_whole_millimetre_readings_is_at_least_one_millimetre_per_velocity_window():
    levels = deformation_of([100.0] * 69 + [101.0] * 3, kind="gnss", baseline_v0=0.0)
    assert (levels.v0_mm_per_day, levels.v0_source, levels.level) == (4.0, "baseline", NONE)


# --- deformation levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha_deg", "velocity", "changed_rate", "level"),
    [
        ([50.0, 50.0], [1.0, 1.0], False, NONE),  # at the 5 deg margin: not above it
        ([40.0, 50.5], [1.0, 1.2], False, YELLOW),
        ([70.0, 82.0], [3.0, 7.0], False, YELLOW),  # one bin at 82 deg
        ([70.0, 82.0], [3.0, 7.0], True, ORANGE),  # ... reached by a change of rate
        ([82.0, 82.0], [7.0, 7.0], False, ORANGE),  # two bins, velocity not falling
        ([82.0, 81.0], [7.5, 7.0], False, YELLOW),  # two bins, velocity falling
        ([88.0, 84.0], [40.0, 20.0], True, YELLOW),  # a change of rate that slows down
        ([85.0, 86.0], [12.0, 14.0], False, RED),
        ([70.0, 86.0], [5.0, 30.0], True, RED),
        ([82.0, 86.0], [7.0, 14.0], False, ORANGE),
        ([None, 86.0], [None, 14.0], False, YELLOW),  # no angle the bin before
    ],
)
def test_angle_level_follows_spec(alpha_deg, velocity, changed_rate, level):
    assert reference.angle_level(*alpha_deg, *velocity, changed_rate) == level


def test_steady_decimal_creep_holds_its_angle_level():
    # Quiet for two days, then 0.05 mm/h: alpha 85.2 deg with every 6 h displacement 0.30 mm.
    series_mm = [round(10.0 + 0.05 * max(h - 47, 0), 2) for h in range(72)]
    assert deformation_of(series_mm, resolution_mm=0.01, configured_v0=0.1).angle_level == RED


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
    series_mm = [round(0.05 * h, 2) for h in range(72)]  # 1.2 mm/d, steady at v0: 45 deg
    levels = deformation_of(series_mm, configured_v0=1.2, velocity_thresholds=(1.0, 5.0, 10.0, 20.0),
                            displacement_thresholds=(1.0, 2.0, 3.0, 3.5))  # 3.55 mm at the latest bin
    assert levels[:4] == (RED, NONE, BLUE, RED)


def test_sensor_without_readings_has_no_level():
    assert deformation_of([None] * 72, displacement_thresholds=(0.0,) * 4).level == NONE


def crack_from_2_to_30_mm_per_day(fast_readings: int) -> list[float]:
    """72 hourly crack readings: 2 mm/d, then the last fast_readings at 30 mm/d."""
    slow = [round(10.0 + 2.0 * k / 24, 3) for k in range(72 - fast_readings)]
    return slow + [round(slow[-1] + 30.0 * k / 24, 3) for k in range(1, fast_readings + 1)]


def test_a_crack_gauge_jumping_from_2_to_30_mm_per_day_is_red_by_its_second_reading():
    first, second = (deformation_of(crack_from_2_to_30_mm_per_day(n), configured_v0=2.0) for n in (1, 2))
    assert (first.level, first.changed_rate) == (YELLOW, False)
    assert (second.level, second.changed_rate) == (RED, True)


def test_a_daily_sensor_is_judged_on_its_own_time_scale():
    readings = [(k * DAY_S + 60.0, 20.0 + 1.0 * k) for k in range(72)]
    levels = reference.deformation_level(readings, 72 * DAY_S, reporting_interval_s=86_400, configured_v0=0.5)
    assert levels.angle_level == YELLOW  # 1 mm/d against 0.5: 63.4 deg


# --- failure forecast -------------------------------------------------------------------------------------


def test_an_ideal_fukuzono_approach_is_forecast_within_a_few_percent():
    t_fail = 71 + 12.0  # 1/v reaches zero 12 h after the last bin
    series = [round(10.0 + 1.0 / 24 * t_fail * math.log(t_fail / (t_fail - t)), 2) for t in range(72)]
    forecast = reference.failure_forecast(fits_of(series, 0.1), HOUR_S)
    assert forecast.hours_to_failure == pytest.approx(12.0, rel=0.03)
    assert forecast.level == RED and forecast.r2 > 0.99


def test_a_steady_velocity_is_no_onset_of_acceleration():
    fits = [reference.Velocity(12.0, 6, 6)] * 30 + [reference.Velocity(v, 6, 6) for v in (14.0, 16.0, 19.0)]
    assert reference.failure_forecast(fits, HOUR_S).fitted_bins == 3


def test_a_forecast_is_made_only_above_steady_creep():
    t_fail = 71 + 12.0
    series = [round(10.0 + 1.0 / 24 * t_fail * math.log(t_fail / (t_fail - t)), 2) for t in range(72)]
    at_creep = deformation_of(series, configured_v0=1e6)  # a velocity far below v0: the forecast is not made
    assert at_creep.forecast_hours is None and at_creep.level == NONE
    above = deformation_of(series, configured_v0=2.0)
    assert above.forecast_level == RED and above.level == RED


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


def kernel_deformation(series_mm, **row) -> evaluate.Deformation:
    """alerting.evaluate's deformation criteria for one hourly crack gauge (row settings as the registry's)."""
    t_s, value = (np.array(column) for column in zip(*hourly(series_mm)))
    sensor = {"device_id": "MD-1", "code": "L1_LF_1", "kind": "crack", "reporting_interval_s": 3600,
              "thresholds": "{}", **row}
    readings = evaluate.SensorSet([sensor], np.zeros(t_s.size, dtype=np.int64), t_s, value, 1e-6, 72)
    return evaluate.deformation(readings, NOW_S, evaluate.sensor_params([sensor]))


def test_kernels_give_no_velocity_across_a_break():
    # 4 mm/d with hours 66-70 lost: a 5 h break just before the latest bin.
    series_mm = [round(50.0 + h / 6, 2) if not 66 <= h <= 70 else None for h in range(72)]
    thresholds = (1.0, 2.0, 5.0, 10.0)
    expected = deformation_of(series_mm, velocity_thresholds=thresholds)
    assert expected.velocity_level == NONE
    d = kernel_deformation(series_mm, thresholds='{"velocity_mm_per_day": {"blue": 1, "yellow": 2, "orange": 5}}')
    assert np.isnan(d.velocity[0, -1]) and d.levels.velocity_level[0] == NONE


def test_kernels_hold_angle_level_of_steady_decimal_creep():
    series_mm = [round(10.0 + 0.05 * max(h - 47, 0), 2) for h in range(72)]  # 11.20 - 10.90 == 11.15 - 10.85
    assert deformation_of(series_mm, resolution_mm=0.01, configured_v0=0.1).angle_level == RED
    d = kernel_deformation(series_mm, resolution_mm=0.01, v0_mm_per_day=0.1)
    assert d.levels.angle_level[0] == RED


def test_kernels_count_exactly_two_resolutions_as_movement():
    # 0.05 mm/h resumed after a break: 0.20 mm over the 4 bins since, two resolutions of 0.1 mm.
    series_mm = [30.0] * 60 + [None] * 7 + [33.85, 33.90, 33.95, 34.00, 34.05]
    expected = reference.velocity_at(reference.fill_gaps(series_mm), 71, HOUR_S, 0.1)
    assert expected == (1.2, 4, 4)
    assert kernel_deformation(series_mm).velocity[0, -1] == expected.mm_per_day


@pytest.fixture(scope="module")
def random_fleet():
    """A few thousand seeded sensors of every mix, with the kernels' levels and the reference's."""
    fleet = bench_engine.synthetic_fleet(RANDOM_SENSORS, SEED)
    kernel = bench_engine.levels_from_readings(fleet)
    ref_input = bench_engine.reference_input(fleet)
    sensors = bench_engine.reference_sensors(ref_input)
    return fleet, kernel, bench_engine.reference_levels(ref_input, sensors), sensors


def _assert_same(random_fleet, names):
    fleet, kernel, ref, _ = random_fleet
    differ = {name: where for name, where in bench_engine.mismatches(kernel, ref).items() if name in names}
    report = [f"{name} at {bench_engine.describe(fleet, i)}: kernels {kernel[name][i]}, reference {ref[name][i]}"
              for name, where in differ.items() for i in where[:5]]
    assert not differ, "\n".join(report)


def test_random_fleet_reaches_every_level(random_fleet):
    _, _, ref, _ = random_fleet
    for name in ("deformation", "angle", "velocity", "displacement", "rainfall", "point"):
        assert set(ref[name]) >= {NONE, YELLOW, ORANGE, RED}, name
    assert set(ref["forecast"]) == {NONE, ORANGE, RED}


def test_random_fleet_takes_every_path_of_the_deformation_science(random_fleet):
    fleet, _, _, sensors = random_fleet
    covered = bench_engine.coverage(fleet, sensors)
    for path in ("v0 configured", "v0 baseline", "v0 default", "kind crack", "kind gnss", "kind tilt", "kind deep",
                 "bin 1 h", "bin 6 h", "bin 24 h", "bin 72 h", "tilt, reference set", "whole-mm flicker"):
        assert covered.get(path, 0) >= 20, path
    assert covered["changed rate, orange or red by angle"] >= 20
    assert covered["forecast counted"] >= 50 and covered["forecast raised the level"] >= 20
    assert covered["judged by its noise"] >= 100


def test_rainfall_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"rainfall"})


def test_displacement_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"displacement"})


def test_deformation_and_point_levels_match_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"deformation", "angle", "velocity", "forecast", "point"})


def test_what_decided_the_levels_matches_kernels_on_random_fleet(random_fleet):
    _assert_same(random_fleet, {"v0 source", "changed rate"})


def test_point_levels_match_kernels_for_every_combination():
    deformation, rainfall, may_exceed = (np.array(column) for column in zip(
        *[(d, r, m) for d in range(5) for r in range(5) for m in (False, True)]))
    expected = [reference.point_level(int(d), int(r), bool(m)) for d, r, m in zip(deformation, rainfall, may_exceed)]
    assert kernels.point_levels(deformation, rainfall, may_exceed).tolist() == expected
