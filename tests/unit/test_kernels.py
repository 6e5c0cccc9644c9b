"""The warning science of SPEC 4.1 and 4.2: worked checks and edge cases of `alerting.kernels`."""

import numpy as np

from alerting import kernels
from alerting.kernels import BLUE, NONE, ORANGE, RED, YELLOW

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


def test_velocity_is_trailing_mean_of_raw_velocities():
    series_mm = np.array([[0.0, 1.0, 3.0, 6.0, 10.0]])  # raw hourly increments 1, 2, 3, 4 mm
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=HOUR_S, smooth_bins=3)
    np.testing.assert_allclose(velocity, [[np.nan, np.nan, np.nan, 48.0, 72.0]])


def test_velocity_is_nan_where_window_reaches_or_spans_a_gap():
    series_mm = np.array([[0.0, np.nan, 2.0, 3.0, 4.0]])
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=2)
    # Index 2 would be (2 - 0) / 2 across the open gap at index 1: a broken series has no velocity there.
    np.testing.assert_array_equal(velocity, [[np.nan, np.nan, np.nan, np.nan, 1.0]])


def test_equal_decimal_displacements_give_equal_velocities():
    series_mm = np.array([[10.85, 10.90, 11.15, 11.20]])
    velocity = kernels.velocity_mm_per_day(series_mm, bin_s=DAY_S, smooth_bins=2)
    assert velocity[0, 2] == velocity[0, 3]


# --- reference creep rate -------------------------------------------------------------------------


def test_reference_creep_rate_prefers_configured_value():
    velocity = np.array([[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(kernels.reference_creep_rate(velocity, np.array([2.0])), [2.0])


def test_reference_creep_rate_falls_back_to_baseline_median():
    velocity = np.array([[0.5, np.nan, 1.5, 0.7, 3.0], [0.2, 0.4, 0.6, np.nan, np.nan]])
    v0 = kernels.reference_creep_rate(velocity, np.array([np.nan, 0.0]))
    np.testing.assert_allclose(v0, [1.1, 0.4])


def test_reference_creep_rate_of_negative_creep_is_the_floor():
    velocity = np.array([[-0.5, -0.4, -0.6]])
    v0 = kernels.reference_creep_rate(velocity, np.array([np.nan]), floor_mm_per_day=0.1)
    np.testing.assert_array_equal(v0, [0.1])


def test_reference_creep_rate_without_baseline_is_the_floor():
    velocity = np.full((1, 4), np.nan)
    v0 = kernels.reference_creep_rate(velocity, np.array([np.nan]), floor_mm_per_day=0.1)
    np.testing.assert_array_equal(v0, [0.1])


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
    alpha = kernels.tangent_angle_deg(velocity, kernels.reference_creep_rate(velocity, np.array([np.nan])))
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
    alpha = kernels.tangent_angle_deg(velocity, kernels.reference_creep_rate(velocity, np.array([np.nan])))
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


def test_level_names_are_indexed_by_level():
    names = {level: kernels.LEVEL_NAMES[level] for level in (NONE, BLUE, YELLOW, ORANGE, RED)}
    assert names == {NONE: "none", BLUE: "blue", YELLOW: "yellow", ORANGE: "orange", RED: "red"}


def test_a_chain_run_in_sensor_blocks_gives_what_it_gives_on_all_sensors_at_once():
    rng = np.random.default_rng(5)
    n_sensors, n_bins = 50, 12
    idx = rng.integers(-2, n_sensors + 2, 3000)  # shuffled, and some readings of sensors outside the set
    t_s = rng.uniform(0, n_bins * 3600.0, idx.size)
    value = np.round(rng.normal(10, 3, idx.size), 2)

    def chain(idx, t_s, value, first, stop):
        series = kernels.fill_gaps(kernels.resample_last(idx, t_s, value, stop - first, 0.0, 3600, n_bins), 3)
        hourly = kernels.resample_sum(idx, t_s, value, stop - first, 0.0, 3600, n_bins)
        # The hourly totals stand in for daily ones in R_eff: what matters is that no row depends on the others.
        return (series, kernels.velocity_mm_per_day(series, 3600, 6), kernels.trailing_totals(hourly, 6)[0],
                kernels.effective_antecedent_rain_mm(hourly))

    whole = chain(idx, t_s, value, 0, n_sensors)
    for block in (7, 16, 50, 64):
        for joined, expected in zip(kernels.in_sensor_blocks(chain, idx, t_s, value, n_sensors, block), whole):
            assert np.array_equal(joined, expected, equal_nan=True)
