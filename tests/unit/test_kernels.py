"""The warning science of SPEC 4.1 and 4.2: worked checks and edge cases of `alerting.kernels`."""

import numpy as np

from alerting import kernels
from alerting.levels import BLUE, NONE, ORANGE, RED, YELLOW

HOUR_S = 3600.0
DAY_S = 86_400.0
UNSET = np.full((1, 4), np.nan)


def _angle_level(alpha_deg, velocity):
    """The tangent-angle level of one sensor from its angle and velocity rows, thresholds unset."""
    alpha_deg = np.array([alpha_deg], dtype=float)
    velocity = np.array([velocity], dtype=float)
    levels = kernels.deformation_levels(alpha_deg, velocity, np.zeros_like(velocity), UNSET, UNSET)
    return int(levels.level[0])


# --- SPEC worked checks ---------------------------------------------------------------------------


def test_tangent_angle_matches_spec_worked_check():
    series_mm = np.array([[0, 2, 4, 6, 9, 21, 51]], dtype=float)
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=1)
    alpha = kernels.tangent_angle_deg(velocity, np.array([2.0]))
    assert np.isnan(alpha[0, 0])
    np.testing.assert_allclose(alpha[0, 1:], [45, 45, 45, 56.31, 80.54, 86.19], atol=0.01)


def test_soil_water_index_matches_spec_worked_check():
    swi = kernels.soil_water_index_mm(np.array([[30, 30, 30, 0, 0, 0]], dtype=float))
    np.testing.assert_allclose(swi[0], [30.0, 58.5, 84.51, 76.43, 72.02, 68.42], atol=0.01)


def test_soil_water_index_is_computed_per_sensor():
    rain = np.array([[30, 30, 30, 0, 0, 0], [0, 0, 0, 0, 0, 0]], dtype=float)
    swi = kernels.soil_water_index_mm(rain)
    np.testing.assert_allclose(swi[0, -1], 68.42, atol=0.01)
    np.testing.assert_array_equal(swi[1], 0.0)


def test_soil_water_index_counts_missing_rain_as_zero():
    swi = kernels.soil_water_index_mm(np.array([[30, np.nan, 30]], dtype=float))
    np.testing.assert_allclose(swi, kernels.soil_water_index_mm(np.array([[30, 0, 30]], dtype=float)))


def test_soil_water_index_does_not_modify_its_input():
    rain = np.array([[30, np.nan, 30]], dtype=float)  # one sensor: its transpose is already contiguous
    kernels.soil_water_index_mm(rain)
    assert np.isnan(rain[0, 1])


def test_effective_antecedent_rain_weights_past_days_by_k():
    daily_rain_mm = np.array([[10.0, 5.0, 20.0]])  # two days ago, yesterday, today
    r_eff = kernels.effective_antecedent_rain_mm(daily_rain_mm, k=0.8)
    np.testing.assert_allclose(r_eff, [20 + 0.8 * 5 + 0.64 * 10], atol=0.01)


def test_effective_antecedent_rain_counts_only_n_days_before_today():
    daily_rain_mm = np.ones((1, 15))
    r_eff = kernels.effective_antecedent_rain_mm(daily_rain_mm, k=0.8, n_days=10)
    np.testing.assert_allclose(r_eff, [sum(0.8**i for i in range(11))], atol=0.01)


def test_effective_antecedent_rain_counts_missing_days_as_zero():
    daily_rain_mm = np.array([[np.nan, 10.0, np.nan]])
    np.testing.assert_allclose(kernels.effective_antecedent_rain_mm(daily_rain_mm, k=0.8), [8.0], atol=0.01)


def test_caine_intensity_follows_power_law():
    intensity = kernels.caine_intensity_mm_per_h(np.array([1.0, 10.0, 24.0]))
    np.testing.assert_allclose(intensity, [14.82, 6.04, 4.29], atol=0.01)


# --- resampling -----------------------------------------------------------------------------------


def test_resample_last_takes_latest_reading_of_unsorted_input():
    sensor_idx = np.array([1, 0, 0, 1, 0])
    t_s = np.array([10.0, 50.0, 10.0, 30.0, 3700.0])
    value = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    series = kernels.resample_last(sensor_idx, t_s, value, n_sensors=2, start_s=0.0, bin_s=HOUR_S, n_bins=2)
    np.testing.assert_array_equal(series, [[2.0, 5.0], [4.0, np.nan]])


def test_resample_last_ignores_readings_outside_window():
    t_s = np.array([-1.0, 0.0, 2 * HOUR_S - 1, 2 * HOUR_S])
    value = np.array([9.0, 1.0, 2.0, 9.0])
    series = kernels.resample_last(np.zeros(4, int), t_s, value, n_sensors=1, start_s=0.0, bin_s=HOUR_S, n_bins=2)
    np.testing.assert_array_equal(series, [[1.0, 2.0]])


def test_resample_last_of_single_reading_fills_one_bin():
    series = kernels.resample_last([0], [5400.0], [7.5], n_sensors=1, start_s=0.0, bin_s=HOUR_S, n_bins=3)
    np.testing.assert_array_equal(series, [[np.nan, 7.5, np.nan]])


def test_resample_last_skips_nan_readings():
    t_s = np.array([10.0, 20.0, 3610.0])
    value = np.array([1.0, np.nan, np.nan])
    series = kernels.resample_last(np.zeros(3, int), t_s, value, n_sensors=1, start_s=0.0, bin_s=HOUR_S, n_bins=2)
    np.testing.assert_array_equal(series, [[1.0, np.nan]])


def test_resample_sum_totals_each_bin_and_leaves_empty_bins_nan():
    sensor_idx = np.array([0, 0, 0, 1])
    t_s = np.array([4000.0, 10.0, 20.0, 30.0])
    value = np.array([0.5, 0.2, 0.3, 1.0])
    series = kernels.resample_sum(sensor_idx, t_s, value, n_sensors=2, start_s=0.0, bin_s=HOUR_S, n_bins=3)
    np.testing.assert_allclose(series, [[0.5, 0.5, np.nan], [1.0, np.nan, np.nan]])


def test_resample_sum_of_rain_gauge_that_stops_is_nan_after_it_stops():
    t_s = np.arange(3) * HOUR_S + 60.0
    rain_mm = np.full(3, 2.0)
    series = kernels.resample_sum(np.zeros(3, int), t_s, rain_mm, n_sensors=1, start_s=0.0, bin_s=HOUR_S, n_bins=5)
    np.testing.assert_array_equal(series, [[2.0, 2.0, 2.0, np.nan, np.nan]])


# --- gaps and velocity ----------------------------------------------------------------------------


def test_fill_gaps_interpolates_gap_of_three_bins():
    series = np.array([[1.0, np.nan, np.nan, np.nan, 5.0]])
    np.testing.assert_allclose(kernels.fill_gaps(series, max_gap_bins=3), [[1.0, 2.0, 3.0, 4.0, 5.0]])


def test_fill_gaps_leaves_gap_of_four_bins():
    series = np.array([[1.0, np.nan, np.nan, np.nan, np.nan, 6.0]])
    np.testing.assert_array_equal(kernels.fill_gaps(series, max_gap_bins=3), series)


def test_fill_gaps_leaves_leading_and_trailing_nans():
    series = np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]])
    np.testing.assert_array_equal(kernels.fill_gaps(series), [[np.nan, 1.0, 2.0, 3.0, np.nan]])


def test_fill_gaps_treats_each_sensor_separately():
    series = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 3.0]])
    np.testing.assert_array_equal(kernels.fill_gaps(series), [[1.0, 2.0, 3.0], [np.nan, np.nan, 3.0]])


def test_fill_gaps_does_not_modify_its_input():
    series = np.array([[1.0, np.nan, 3.0]])
    kernels.fill_gaps(series)
    assert np.isnan(series[0, 1])


def test_velocity_is_the_least_squares_slope_over_the_trailing_window_shorter_at_the_start():
    series_mm = np.array([[0.0, 1.0, 3.0, 6.0, 10.0]])  # hourly increments 1, 2, 3, 4 mm
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=HOUR_S, smooth_bins=3)
    # Slopes of (0, 1), (0, 1, 3), (0, 1, 3, 6) and (1, 3, 6, 10): 1, 1.5, 2 and 3 mm/h.
    np.testing.assert_allclose(velocity, [[np.nan, 24.0, 36.0, 48.0, 72.0]])


def test_velocity_never_spans_a_break_and_its_window_regrows_after_one():
    series_mm = np.array([[0.0, np.nan, 2.0, 3.0, 4.0]])
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=2)
    # Index 2 would be (2 - 0) / 2 across the open gap at index 1: a broken series has no velocity there.
    np.testing.assert_array_equal(velocity, [[np.nan, np.nan, np.nan, 1.0, 1.0]])


def test_equal_decimal_displacements_give_equal_velocities():
    series_mm = np.array([[10.85, 10.90, 11.15, 11.20]])
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=2)
    assert velocity[0, 2] == velocity[0, 3]


# --- the robust velocity and a sensor's resolution ----------------------------------------------------


def crack_from_2_to_30_mm_per_day() -> np.ndarray:
    """Hourly crack readings (0.001 mm) at 2 mm/d for a day, then 13 at 30 mm/d (SPEC 8); the first fast one
    is at index FIRST_FAST."""
    slow = [round(10.0 + 2.0 * k / 24, 3) for k in range(25)]
    return np.array([slow + [round(slow[-1] + 30.0 * k / 24, 3) for k in range(1, 14)]])


FIRST_FAST = 25


def _robust(series_mm, resolution_mm, bin_s=HOUR_S) -> kernels.Velocity:
    series_mm = np.asarray(series_mm, dtype=float)
    return kernels.robust_velocity(series_mm, bin_s, kernels.effective_resolution_mm(series_mm, resolution_mm))


def test_a_rate_jump_from_2_to_30_mm_per_day_is_followed_from_the_second_reading_of_the_new_rate():
    velocity = _robust(crack_from_2_to_30_mm_per_day(), 0.1)
    v, changed = velocity.mm_per_day[0], velocity.changed_rate[0]
    np.testing.assert_allclose(v[FIRST_FAST - 1], 2.0, atol=0.01)  # steady creep: the whole window
    assert not changed[FIRST_FAST]  # one fast reading is no new rate yet
    np.testing.assert_allclose(v[FIRST_FAST + 1:FIRST_FAST + 5], 30.0, atol=0.01)
    assert changed[FIRST_FAST + 1] and velocity.window_bins[0, FIRST_FAST + 1] == 2
    # Once the whole window is on the new rate it is steady creep again, fitted over all of it.
    assert not changed[FIRST_FAST + 6] and velocity.window_bins[0, FIRST_FAST + 6] == 6


def test_whole_millimetre_flicker_is_no_movement():
    flicker = np.array([[10.0 + k % 2 for k in range(72)]])  # 10, 11, 10, 11 ... mm
    for resolution_mm in (1.0, 0.1):  # registered as whole millimetres, or left at the crack gauge's 0.1 mm
        v = _robust(flicker, resolution_mm).mm_per_day[0]
        np.testing.assert_array_equal(v[1:], 0.0)


def test_a_single_whole_millimetre_step_is_no_movement():
    series_mm = np.array([[10.0] * 40 + [11.0] * 32])
    np.testing.assert_array_equal(_robust(series_mm, 1.0).mm_per_day[0, 1:], 0.0)


def test_a_displacement_below_two_resolutions_over_the_window_is_no_movement():
    creep = np.array([[10.0 + 0.03 * k for k in range(12)]])  # 0.18 mm per 6 h: under 2 x 0.1 mm
    np.testing.assert_array_equal(_robust(creep, 0.1).mm_per_day[0, 6:], 0.0)
    np.testing.assert_allclose(_robust(creep, 0.05).mm_per_day[0, 6:], 0.72)


def test_a_displacement_of_exactly_two_resolutions_over_the_window_is_movement():
    # 0.05 mm an hour in 0.01 mm readings: 0.20 mm over a 4-bin window (a break before it), 0.10 mm over a
    # 2-bin one; with a resolution of 0.1 mm both are two resolutions, which is movement (SPEC 4.1: only
    # smaller counts as none). Binary floats must not decide it.
    series_mm = np.array([[np.nan] * 6 + [33.85, 33.90, 33.95, 34.00, 34.05],
                          [np.nan] * 8 + [61.2, 61.3, 61.4]])
    velocity = kernels.robust_velocity(series_mm, HOUR_S, np.array([0.1, 0.1]))
    assert velocity.window_bins[:, -1].tolist() == [4, 2]
    np.testing.assert_allclose(velocity.mm_per_day[:, -1], [1.2, 2.4])


def test_a_shorter_window_that_fits_exactly_twice_as_tightly_is_taken_whatever_came_before_it():
    # The last four readings fit a line with an rms residual of exactly 0.05 mm, half the resolution: the
    # 3-bin window is the change of rate (11.76 mm/d), whatever the sensor read earlier in its window.
    readings = [66.07, 66.51, 66.71, 67.57, 68.16, 68.65, 69.04]
    series_mm = np.array([[np.nan, np.nan] + readings, [10.0, np.nan] + readings, [50.0, np.nan] + readings,
                          [60.0, np.nan] + readings])
    velocity = kernels.robust_velocity(series_mm, HOUR_S, np.full(4, 0.1), last=1)
    assert velocity.window_bins[:, 0].tolist() == [3, 3, 3, 3]
    np.testing.assert_array_equal(velocity.mm_per_day[:, 0], 11.76)


def test_a_noisy_series_has_an_effective_resolution_that_rises_with_its_noise():
    rng = np.random.default_rng(1)
    creep = 5.0 + 0.05 * np.arange(72)
    medians = []
    for noise_mm in (0.0, 0.2, 0.5):
        series_mm = np.round(creep + noise_mm * rng.standard_normal((200, 72)), 2)
        medians.append(float(np.median(kernels.effective_resolution_mm(series_mm, 0.1))))
    assert medians[0] == 0.1  # a clean series: the sensor's own resolution
    np.testing.assert_allclose(medians[1:], [0.4, 1.0], rtol=0.05)  # twice the noise


def test_a_single_change_of_rate_is_no_reading_noise():
    series_mm = np.array([np.r_[0.1 * np.arange(36), 3.5 + 1.0 * np.arange(1, 37)]])
    np.testing.assert_array_equal(kernels.reading_noise_mm(series_mm), [0.0])
    np.testing.assert_array_equal(kernels.effective_resolution_mm(series_mm, 0.1), [0.1])


def test_noisy_steady_creep_is_fitted_over_the_whole_window_not_chased_by_short_ones():
    rng = np.random.default_rng(2)
    series_mm = np.round(10.0 + 2.0 * np.arange(72) / 24 + 0.2 * rng.standard_normal((1000, 72)), 2)
    velocity = _robust(series_mm, 0.1)
    # A shorter window fits three noisy points tightly now and then (about 1 bin in 2,000).
    assert (velocity.window_bins[:, 6:] == 6).mean() > 0.999


def test_a_tilt_turning_back_is_a_positive_magnitude_of_its_change():
    t_s = np.arange(6) * HOUR_S + 60.0
    tilt_deg = np.array([0.50, 0.48, 0.46, 0.44, 0.42, 0.40])  # decreasing: turning the other way
    crack_mm = np.array([1.0, 1.2, 1.4, 1.6, 1.8, 2.0])
    series = kernels.displacement_series(np.repeat([0, 1], 6), np.tile(t_s, 2), np.r_[tilt_deg, crack_mm], 2, 0.0,
                                         HOUR_S, 6, magnitude_rows=[0])
    np.testing.assert_allclose(series[0], [0.0, 0.02, 0.04, 0.06, 0.08, 0.10], atol=1e-12)
    np.testing.assert_array_equal(series[1], crack_mm)  # not a tilt: as read


def test_a_tilt_is_measured_from_its_reference_and_through_it_either_way():
    t_s = np.arange(5) * HOUR_S + 60.0
    series = kernels.displacement_series(np.zeros(5, int), t_s, np.array([0.52, 0.51, 0.50, 0.49, 0.47]), 1, 0.0,
                                         HOUR_S, 5, magnitude_rows=[0], reference=np.array([0.50]))
    np.testing.assert_allclose(series[0], [0.02, 0.01, 0.0, 0.01, 0.03], atol=1e-12)


# --- reference creep rate -------------------------------------------------------------------------


def _v0(configured, baseline, default=1.0, floor=0.1):
    v0, source = kernels.reference_creep_rate(np.array([configured]), np.array([baseline]), default, floor)
    return float(v0[0]), kernels.V0_SOURCES[source[0]]


def test_reference_creep_rate_is_the_configured_value_before_the_baseline_and_the_default():
    assert _v0(2.0, 0.5) == (2.0, "configured")


def test_reference_creep_rate_without_a_configured_value_is_the_quiet_baselines():
    assert _v0(np.nan, 0.5) == (0.5, "baseline")
    assert _v0(0.0, 0.5) == (0.5, "baseline")  # configured as 0: not configured


def test_reference_creep_rate_without_a_baseline_is_the_kinds_default():
    assert _v0(np.nan, np.nan, default=2.0) == (2.0, "default")


def test_reference_creep_rate_is_never_below_the_floor_whatever_its_source():
    assert _v0(0.05, np.nan) == (0.1, "configured")
    assert _v0(np.nan, -0.4) == (0.1, "baseline")  # a sensor creeping back
    assert _v0(np.nan, np.nan, default=0.02) == (0.1, "default")


def test_reference_creep_rate_takes_each_sensors_own_settings():
    v0, source = kernels.reference_creep_rate(np.array([np.nan, 3.0, np.nan]), np.array([0.4, 0.4, np.nan]),
                                              np.array([1.0, 1.0, 2.0]), np.array([0.1, 0.1, 4.0]))
    np.testing.assert_array_equal(v0, [0.4, 3.0, 4.0])
    assert [kernels.V0_SOURCES[x] for x in source] == ["baseline", "configured", "default"]


# --- deformation levels ---------------------------------------------------------------------------


def test_spec_worked_series_is_orange_at_its_latest_bin():
    series_mm = np.array([[0, 2, 4, 6, 9, 21, 51]], dtype=float)
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=1)
    alpha = kernels.tangent_angle_deg(velocity, np.array([2.0]))
    levels = kernels.deformation_levels(alpha, velocity, series_mm, UNSET, UNSET)
    assert levels.angle_level[0] == ORANGE  # 80.54 then 86.19 deg, accelerating: not two bins at 85


def test_flat_series_has_zero_angle_and_no_level():
    series_mm = np.full((1, 12), 4.2)
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=HOUR_S)
    alpha = kernels.tangent_angle_deg(velocity, np.array([1.0]))
    levels = kernels.deformation_levels(alpha, velocity, series_mm, UNSET, UNSET)
    np.testing.assert_array_equal(alpha[0, 6:], 0.0)
    assert levels.level[0] == NONE


def test_negative_creep_has_negative_angle_and_no_level():
    series_mm = np.array([[10.0, 8.0, 6.0, 4.0]])
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=1)
    alpha = kernels.tangent_angle_deg(velocity, np.array([0.1]))
    levels = kernels.deformation_levels(alpha, velocity, series_mm, UNSET, UNSET)
    assert alpha[0, -1] < -85.0
    assert levels.level[0] == NONE


def test_single_reading_gives_no_level():
    series_mm = kernels.resample_last([0], [100.0], [3.0], n_sensors=1, start_s=0.0, bin_s=HOUR_S, n_bins=72)
    series_mm = kernels.fill_gaps(series_mm)
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=HOUR_S)
    alpha = kernels.tangent_angle_deg(velocity, np.array([1.0]))
    levels = kernels.deformation_levels(alpha, velocity, series_mm, UNSET, UNSET)
    assert levels.level[0] == NONE


def test_angle_at_margin_is_not_yellow():
    assert _angle_level([50.0, 50.0], [1.0, 1.0]) == NONE


def test_angle_above_margin_is_yellow():
    assert _angle_level([40.0, 50.5], [1.0, 1.2]) == YELLOW


def test_one_bin_at_82_deg_is_only_yellow():
    assert _angle_level([70.0, 82.0], [3.0, 7.0]) == YELLOW


def test_two_bins_at_82_deg_with_non_negative_increment_are_orange():
    assert _angle_level([82.0, 82.0], [7.0, 7.0]) == ORANGE


def test_two_bins_at_82_deg_with_falling_velocity_are_yellow():
    assert _angle_level([82.0, 81.0], [7.5, 7.0]) == YELLOW


def test_two_bins_at_85_deg_accelerating_are_red():
    assert _angle_level([85.0, 86.0], [12.0, 14.0]) == RED


def test_one_bin_at_86_deg_after_82_deg_is_orange():
    assert _angle_level([82.0, 86.0], [7.0, 14.0]) == ORANGE


def test_velocity_threshold_reached_exactly_sets_its_level():
    velocity = np.array([[1.0, 10.0]])
    thresholds = np.array([[1.0, 5.0, 10.0, 20.0]])
    levels = kernels.deformation_levels(np.zeros((1, 2)), velocity, np.zeros((1, 2)), thresholds, UNSET)
    assert levels.velocity_level[0] == ORANGE
    assert levels.level[0] == ORANGE


def test_displacement_threshold_reached_exactly_sets_its_level():
    displacement_mm = np.array([[0.0, 30.0]])
    thresholds = np.array([[10.0, 30.0, 50.0, 100.0]])
    levels = kernels.deformation_levels(np.zeros((1, 2)), np.zeros((1, 2)), displacement_mm, UNSET, thresholds)
    assert levels.displacement_level[0] == YELLOW


def test_unset_thresholds_are_never_reached():
    thresholds = np.array([[np.nan, np.nan, 5.0, np.nan]])
    levels = kernels.deformation_levels(np.zeros((1, 2)), np.full((1, 2), 100.0), np.zeros((1, 2)), thresholds, UNSET)
    assert levels.velocity_level[0] == ORANGE


def test_nan_latest_values_give_no_level():
    nan_row = np.array([[90.0, np.nan]])
    thresholds = np.array([[0.0, 0.0, 0.0, 0.0]])
    levels = kernels.deformation_levels(nan_row, nan_row, nan_row, thresholds, thresholds)
    assert (levels.angle_level[0], levels.velocity_level[0], levels.displacement_level[0]) == (NONE, NONE, NONE)


def test_sensor_level_is_highest_criterion():
    alpha = np.array([[60.0, 60.0], [60.0, 60.0]])
    velocity = np.array([[1.0, 1.0], [1.0, 30.0]])
    displacement_mm = np.array([[0.0, 12.0], [0.0, 0.0]])
    velocity_thresholds = np.array([[10.0, 20.0, 30.0, 40.0]])
    displacement_thresholds = np.array([[10.0, 50.0, 80.0, 100.0]])
    levels = kernels.deformation_levels(alpha, velocity, displacement_mm, velocity_thresholds, displacement_thresholds)
    np.testing.assert_array_equal(levels.level, [YELLOW, ORANGE])
    assert levels.level.dtype == np.int8


def test_a_change_of_rate_reaches_orange_and_red_without_the_bin_before():
    alpha = np.array([[70.0, 86.0], [70.0, 82.0], [70.0, 86.0]])
    velocity = np.array([[5.0, 30.0], [5.0, 12.0], [5.0, 30.0]])
    levels = kernels.deformation_levels(alpha, velocity, np.zeros((3, 2)), UNSET, UNSET,
                                        changed_rate=np.array([True, True, False]))
    np.testing.assert_array_equal(levels.angle_level, [RED, ORANGE, YELLOW])


def test_a_change_of_rate_that_slows_down_is_not_orange():
    levels = kernels.deformation_levels(np.array([[88.0, 84.0]]), np.array([[40.0, 20.0]]), np.zeros((1, 2)), UNSET,
                                        UNSET, changed_rate=np.array([True]))
    assert levels.angle_level[0] == YELLOW


def test_a_forecast_sets_the_level_only_above_steady_creep():
    alpha = np.array([[40.0, 45.0], [55.0, 56.0]])
    velocity = np.array([[2.0, 2.0], [3.0, 3.0]])
    levels = kernels.deformation_levels(alpha, velocity, np.zeros((2, 2)), UNSET, UNSET,
                                        forecast_level=np.array([RED, RED], dtype=np.int8))
    np.testing.assert_array_equal(levels.level, [NONE, RED])
    np.testing.assert_array_equal(levels.angle_level, [NONE, YELLOW])


# --- failure forecast -----------------------------------------------------------------------------


def fukuzono_mm(hours_to_failure: float, n_bins: int = 72, quiet_bins: int = 0, v_start=1.0) -> np.ndarray:
    """Hourly displacement (0.01 mm) whose velocity after quiet_bins is v_start * t_f / (t_f - t): 1/v falls
    linearly to zero hours_to_failure after the last bin."""
    t = np.maximum(np.arange(n_bins, dtype=float) - quiet_bins, 0.0)
    t_fail = n_bins - 1 - quiet_bins + hours_to_failure
    return np.round(10.0 + v_start / 24 * t_fail * np.log(t_fail / (t_fail - t)), 2)[None, :]


def _forecast(series_mm, resolution_mm=0.1) -> kernels.FailureForecast:
    velocity = _robust(series_mm, resolution_mm)
    return kernels.failure_forecast(velocity.mm_per_day, HOUR_S, window_bins=velocity.window_bins)


def test_an_ideal_fukuzono_approach_is_forecast_within_a_few_percent_of_the_failure():
    for hours, quiet_bins, level in ((12.0, 0, RED), (20.0, 24, RED), (48.0, 24, ORANGE)):
        forecast = _forecast(fukuzono_mm(hours, quiet_bins=quiet_bins))
        np.testing.assert_allclose(forecast.hours_to_failure, [hours], rtol=0.03)
        assert forecast.r2[0] > 0.99 and forecast.level[0] == level


def test_an_exactly_linear_inverse_velocity_is_forecast_exactly():
    t = np.arange(72.0)
    velocity = 1.0 / (0.05 * (71.0 + 10.0 - t))  # 1/v reaches zero 10 bins after the last
    forecast = kernels.failure_forecast(velocity[None, :], HOUR_S)
    np.testing.assert_allclose(forecast.hours_to_failure, [10.0])
    assert forecast.level[0] == RED and forecast.fitted_bins[0] == 67


def test_a_failure_the_line_puts_less_than_a_bin_ago_is_due_now_and_one_further_back_is_none():
    t = np.arange(72.0)
    for behind, counted in ((0.5, True), (1.5, False)):
        # 1/v falls linearly and would have reached zero `behind` bins before the last one; the last velocities
        # are the fastest yet, so the onset still holds.
        inverse = 0.05 * (71.0 - behind - t)
        velocity = np.where(inverse > 0, 1.0 / np.maximum(inverse, 1e-9), 1e9)
        forecast = kernels.failure_forecast(velocity[None, :60], HOUR_S)
        assert np.isfinite(forecast.hours_to_failure[0])  # a control: well ahead, it is counted
        forecast = kernels.failure_forecast(np.minimum(velocity, 1e6)[None, :], HOUR_S)
        assert (forecast.hours_to_failure[0] == 0.0 and forecast.level[0] == RED) if counted \
            else np.isnan(forecast.hours_to_failure[0])


def test_a_forecast_is_counted_from_the_onset_of_acceleration_not_from_the_start():
    forecast = _forecast(fukuzono_mm(20.0, quiet_bins=40))
    assert 20 <= forecast.fitted_bins[0] <= 32  # from the onset (bin 40), less the smoothing's start


def test_steady_creep_with_noise_gives_no_counted_forecast():
    # A crack gauge (0.01 mm readings, resolution 0.1 mm) creeping steadily with 0.05 mm of reading noise:
    # 1/v wanders, and no stretch of it is an approach to failure.
    rng = np.random.default_rng(7)
    series_mm = np.round(10.0 + 2.0 * np.arange(72) / 24 + 0.05 * rng.standard_normal((500, 72)), 2)
    forecast = _forecast(series_mm)
    counted = np.flatnonzero(np.isfinite(forecast.hours_to_failure))
    assert counted.size == 0, (f"{counted.size} of 500 counted, e.g. in {forecast.hours_to_failure[counted[:3]]} h "
                               f"(R^2 {forecast.r2[counted[:3]]}, {forecast.fitted_bins[counted[:3]]} bins)")


def test_a_steady_velocity_forecasts_no_failure():
    for velocity in (0.1, 0.3, 2.9, 12.0, 7.0 / 3):
        forecast = kernels.failure_forecast(np.full((1, 72), velocity), HOUR_S)
        assert np.isnan(forecast.hours_to_failure[0]) and forecast.level[0] == NONE


# Velocities (mm/d) of an accelerating whole-millimetre crack gauge over its last 21 hourly bins: at the
# 16th the six before are all 12 mm/d, so the short mean of 1/v equals the long one there.
STEADY_BEFORE_ACCELERATING = [8.571429, 0.0, 0.0, 8.571429, 0.0, 0.0, 8.571429, 10.285714, 9.428571] + [12.0] * 7 + [
    14.571429, 16.285714, 19.714286, 18.857143, 19.714286]


def test_an_inverse_velocity_equal_to_its_long_mean_is_no_onset_of_acceleration():
    # The acceleration starts after the steady 12 mm/d and has lasted 5 bins, not the 6 a forecast needs:
    # rounding in the means must not make the equal averages "below" and count a red forecast in 3 h.
    velocity = np.array([STEADY_BEFORE_ACCELERATING])
    forecast = kernels.failure_forecast(velocity, HOUR_S, window_bins=np.full(velocity.shape, 6))
    assert forecast.fitted_bins[0] == 5
    assert np.isnan(forecast.hours_to_failure[0]) and forecast.level[0] == NONE


def test_a_poor_fit_is_no_forecast_though_its_fit_is_kept():
    # 1/v falling from bin 50 with jitter of a tenth of its value: seven bins below the long mean, R^2 0.74.
    t = np.arange(72.0)
    jitter = np.where(t >= 50, np.random.default_rng(9).uniform(-0.06, 0.06, 72), 0.0)
    velocity = 1.0 / (0.5 - 0.004 * np.maximum(t - 50, 0.0) + jitter)
    forecast = kernels.failure_forecast(velocity[None, :], HOUR_S)
    assert forecast.fitted_bins[0] >= 6 and forecast.r2[0] < 0.8
    assert np.isnan(forecast.hours_to_failure[0]) and forecast.level[0] == NONE


def test_a_failure_already_past_is_no_forecast():
    t = np.arange(72.0)
    velocity = 1.0 / (0.05 * (80.0 - t))
    velocity[-10:] = velocity[-11]  # 1/v's line reaches zero at bin 80; the last ten bins steady
    forecast = kernels.failure_forecast(velocity[None, :], HOUR_S)
    assert np.isnan(forecast.hours_to_failure[0])


# --- rainfall -------------------------------------------------------------------------------------


def test_rolling_sum_is_trailing_total():
    rain_mm = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(kernels.rolling_sum(rain_mm, 2), [[1.0, 3.0, 5.0, 7.0]])


def test_trailing_totals_are_the_last_rolling_sums_bit_for_bit():
    rng = np.random.default_rng(3)
    rain_mm = np.round(rng.exponential(2.0, (200, 264)), 1)
    rain_mm[rng.random(rain_mm.shape) < 0.1] = np.nan
    windows = (1, 3, 24, 72, 264, 300)
    for window, total in zip(windows, kernels.trailing_totals(rain_mm, *windows)):
        assert np.array_equal(total, kernels.rolling_sum(rain_mm, window)[:, -1])


def test_rolling_sum_keeps_rain_that_fell_before_gauge_stopped():
    rain_mm = np.array([[5.0, 5.0, np.nan, np.nan]])
    np.testing.assert_allclose(kernels.rolling_sum(rain_mm, 3), [[5.0, 10.0, 10.0, 5.0]])


def test_rolling_sum_reaching_threshold_exactly_sets_its_level():
    rain_mm = np.concatenate([np.full(20, 3.3), np.full(4, 3.5)])[None, :]  # 80 mm, summed naively to 79.99999
    total_24h_mm = kernels.rolling_sum(rain_mm, 24)[:, -1]
    levels = kernels.rainfall_levels(total_24h_mm, total_24h_mm, kernels.DEFAULT_RAIN_24H_MM, UNSET)
    assert total_24h_mm[0] == 80.0
    assert levels[0] == YELLOW


def test_rainfall_level_is_highest_of_24h_and_72h():
    levels = kernels.rainfall_levels(
        np.array([50.0, 150.0]),
        np.array([160.0, 0.0]),
        kernels.DEFAULT_RAIN_24H_MM,
        kernels.DEFAULT_RAIN_72H_MM,
    )
    np.testing.assert_array_equal(levels, [ORANGE, RED])
    assert levels.dtype == np.int8


def test_rainfall_level_with_unset_thresholds_is_none():
    levels = kernels.rainfall_levels(np.array([200.0]), np.array([300.0]), UNSET, UNSET)
    np.testing.assert_array_equal(levels, [NONE])


def test_rainfall_level_with_missing_totals_is_none():
    levels = kernels.rainfall_levels(np.array([np.nan]), np.array([np.nan]), np.zeros((1, 4)), np.zeros((1, 4)))
    np.testing.assert_array_equal(levels, [NONE])


# --- a hazard point's level -----------------------------------------------------------------------


def test_rainfall_alone_stops_at_orange():
    level = kernels.point_levels(np.array([NONE]), np.array([RED]), np.array([False]))
    np.testing.assert_array_equal(level, [ORANGE])


def test_rainfall_may_exceed_orange_where_configured():
    level = kernels.point_levels(np.array([NONE]), np.array([RED]), np.array([True]))
    np.testing.assert_array_equal(level, [RED])


def test_deformation_and_rainfall_at_yellow_raise_point_one_level():
    level = kernels.point_levels(np.array([YELLOW, ORANGE]), np.array([YELLOW, YELLOW]), np.array([False, False]))
    np.testing.assert_array_equal(level, [ORANGE, RED])


def test_coupled_raise_is_capped_at_red():
    level = kernels.point_levels(np.array([RED]), np.array([RED]), np.array([True]))
    np.testing.assert_array_equal(level, [RED])


def test_rainfall_below_yellow_does_not_raise_deformation():
    level = kernels.point_levels(np.array([ORANGE, BLUE]), np.array([BLUE, YELLOW]), np.array([False, False]))
    np.testing.assert_array_equal(level, [ORANGE, YELLOW])
    assert level.dtype == np.int8


def test_a_chain_run_in_sensor_blocks_gives_what_it_gives_on_all_sensors_at_once():
    rng = np.random.default_rng(5)
    n_sensors, n_bins = 50, 12
    idx = rng.integers(-2, n_sensors + 2, 3000)  # shuffled, and some readings of sensors outside the set
    t_s = rng.uniform(0, n_bins * 3600.0, idx.size)
    value = np.round(rng.normal(10, 3, idx.size), 2)

    def chain(idx, t_s, value, first, stop):
        tilts = np.flatnonzero(np.arange(first, stop) % 5 == 0)  # every fifth sensor is a tilt meter
        series = kernels.displacement_series(idx, t_s, value, stop - first, 0.0, 3600, n_bins, tilts)
        resolution = kernels.effective_resolution_mm(series, 0.1)
        velocity = kernels.robust_velocity(series, 3600, resolution, 6)
        forecast = kernels.failure_forecast(velocity.mm_per_day, 3600, window_bins=velocity.window_bins)
        hourly = kernels.resample_sum(idx, t_s, value, stop - first, 0.0, 3600, n_bins)
        # The hourly totals stand in for daily ones in R_eff: what matters is that no row depends on the others.
        return (series, resolution, velocity.mm_per_day, velocity.window_bins, forecast.r2,
                kernels.trailing_totals(hourly, 6)[0], kernels.effective_antecedent_rain_mm(hourly))

    whole = chain(idx, t_s, value, 0, n_sensors)
    for block in (7, 16, 50, 64):
        for joined, expected in zip(kernels.in_sensor_blocks(chain, idx, t_s, value, n_sensors, block), whole):
            assert np.array_equal(joined, expected, equal_nan=True)
