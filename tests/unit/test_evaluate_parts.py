"""Parts of `alerting.evaluate` that decide a level: whose thresholds apply, and how each displacement
sensor's settings and time scale enter its deformation criteria."""

import numpy as np

from alerting import kernels
from alerting.evaluate import SensorSet, _threshold_matrices, deformation, sensor_params
from alerting.levels import NONE, ORANGE, RED, YELLOW
from alerting.rules import DEFAULT_RESOLUTION_MM, DEFAULT_V0_MM_PER_DAY

NOW_S = 1_780_000_000.0
HOUR_S = 3600.0


def test_a_points_own_table_leaves_out_levels_and_others_take_the_defaults():
    defaults = (50.0, 80.0, 100.0, 150.0)
    [matrix] = _threshold_matrices([{"rain_24h_mm": {"blue": 40, "yellow": 70, "orange": 90}}, {}],
                                   ("rain_24h_mm", defaults))
    assert np.isnan(matrix[0, 3]) and matrix[0, :3].tolist() == [40, 70, 90]
    assert matrix[1].tolist() == list(defaults)
    # 156 mm in 24 h is orange for the point that set no red, red for the one on the defaults.
    levels = kernels.threshold_level(np.array([156.0, 156.0]), matrix)
    assert levels.tolist() == [ORANGE, RED]


def sensor(kind="crack", interval_s=3600, **settings) -> dict:
    """A monitored_sensors row: no thresholds, the kind's defaults unless settings say otherwise."""
    return {"device_id": "MD-1", "code": f"L1_{kind}", "kind": kind, "reporting_interval_s": interval_s,
            "thresholds": "{}", **settings}


def judged(row: dict, values, interval_s=None):
    """deformation() of one sensor whose readings are `values`, one every reporting interval, the last at now."""
    interval_s = row["reporting_interval_s"] if interval_s is None else interval_s
    t_s = NOW_S - interval_s * np.arange(len(values))[::-1] - 60.0
    readings = SensorSet([row], np.zeros(len(values), dtype=np.int64), t_s, np.asarray(values, dtype=float),
                         NOW_S - 72 * HOUR_S, 72)
    return deformation(readings, NOW_S, sensor_params([row]))


def test_a_sensors_bin_is_its_reporting_interval_rounded_up_to_1_h_6_h_or_1_d_or_its_own_beyond():
    rows = [sensor(interval_s=s) for s in (60, 600, 3600, 3601, 7200, 21_600, 43_200, 86_400, 5 * 86_400)]
    assert sensor_params(rows)["bin_s"].tolist() == [3600, 3600, 3600, 21_600, 21_600, 21_600, 86_400, 86_400,
                                                     5 * 86_400]


def test_a_sensor_without_its_own_resolution_or_v0_has_its_kinds():
    rows = [sensor("gnss"), sensor("crack", resolution_mm=1.0, v0_mm_per_day=0.5, baseline_v0_mm_per_day=0.8),
            sensor("tilt", baseline_v0_mm_per_day=0.01, baseline_reference=1.25)]
    params = sensor_params(rows)
    assert params["resolution"].tolist() == [DEFAULT_RESOLUTION_MM["gnss"], 1.0, DEFAULT_RESOLUTION_MM["tilt"]]
    assert params["default_v0"].tolist() == [DEFAULT_V0_MM_PER_DAY[k] for k in ("gnss", "crack", "tilt")]
    np.testing.assert_array_equal(params["configured_v0"], [np.nan, 0.5, np.nan])
    np.testing.assert_array_equal(params["baseline_v0"], [np.nan, 0.8, 0.01])
    np.testing.assert_array_equal(params["reference"], [np.nan, np.nan, 1.25])
    assert params["tilt"].tolist() == [False, False, True]


def crack_from_2_to_30_mm_per_day(fast_readings: int) -> list[float]:
    """Hourly crack readings at 2 mm/d for two days, then fast_readings at 30 mm/d."""
    slow = [round(10.0 + 2.0 * k / 24, 3) for k in range(49)]
    return slow + [round(slow[-1] + 30.0 * k / 24, 3) for k in range(1, fast_readings + 1)]


def test_a_crack_gauge_jumping_from_2_to_30_mm_per_day_is_red_by_its_second_reading_of_the_new_rate():
    row = sensor(v0_mm_per_day=2.0)
    before, first, second = (judged(row, crack_from_2_to_30_mm_per_day(n)) for n in (0, 1, 2))
    assert before.levels.level[0] == NONE
    assert first.levels.level[0] == YELLOW and not first.changed_rate[0]
    assert second.levels.level[0] == RED and second.changed_rate[0] and second.window_bins[0] == 2
    np.testing.assert_allclose(second.velocity[0, -1], 30.0, atol=0.01)


def test_a_daily_sensor_is_judged_on_its_own_time_scale_not_left_without_data():
    row = sensor(interval_s=86_400, v0_mm_per_day=0.5)
    d = judged(row, [round(20.0 + 1.0 * k, 2) for k in range(72)])  # 1 mm/d for 72 days
    assert d.bin_s[0] == 86_400 and d.window_bins[0] == 6
    np.testing.assert_allclose(d.velocity[0], [1.0, 1.0])
    assert d.levels.angle_level[0] == YELLOW  # arctan(1 / 0.5) = 63.4 deg


def test_v0_is_never_below_one_resolution_over_the_velocity_window():
    # A GNSS station at rest (a quiet baseline of 0 mm/d) read in whole millimetres: v0 is 1 mm per 6 h.
    d = judged(sensor("gnss", baseline_v0_mm_per_day=0.0), [100.0] * 72)
    assert d.v0[0] == 4.0 and kernels.V0_SOURCES[d.v0_source[0]] == "baseline"


def test_a_single_whole_millimetre_step_raises_nothing():
    d = judged(sensor("gnss", baseline_v0_mm_per_day=0.0), [100.0] * 69 + [101.0] * 3)
    np.testing.assert_array_equal(d.velocity[0], [0.0, 0.0])
    assert d.levels.level[0] == NONE


def test_v0_says_where_it_came_from():
    rows = [sensor(v0_mm_per_day=1.5, baseline_v0_mm_per_day=0.7), sensor(baseline_v0_mm_per_day=0.7), sensor()]
    values = [round(10.0 + 0.5 * k / 24, 3) for k in range(72)]
    sources = [kernels.V0_SOURCES[judged(row, values).v0_source[0]] for row in rows]
    assert sources == ["configured", "baseline", "default"]


def test_a_tilt_turning_back_from_its_reference_is_judged_by_how_far_it_has_turned():
    # 0.5 deg/d the other way from its reference; v0 is one resolution (0.01 deg) per 6 h, 0.04 deg/d.
    row = sensor("tilt", baseline_reference=1.25)
    d = judged(row, [round(1.25 - 0.5 * k / 24, 4) for k in range(72)])
    np.testing.assert_allclose(d.series[0], [0.5 * 70 / 24, 0.5 * 71 / 24], atol=1e-4)
    np.testing.assert_allclose(d.velocity[0], [0.5, 0.5], atol=1e-3)
    assert d.v0[0] == 0.04 and d.levels.angle_level[0] == RED  # arctan(12.5) = 85.4 deg, held


def test_the_failure_forecast_is_tried_only_above_steady_creep():
    rows = [sensor(v0_mm_per_day=2.0), sensor(v0_mm_per_day=0.5)]
    values = [round(10.0 + 2.0 * k / 24, 3) for k in range(72)]
    tried = [judged(row, values).forecast_tried[0] for row in rows]
    assert tried == [False, True]  # at v0: 45 deg; at four times v0: 76 deg


def test_a_daily_sensors_forecast_counts_from_now_not_from_its_last_reading():
    # A daily survey whose 1/v falls linearly to zero 2 days after the last reading (Fukuzono), judged 0.01,
    # 6, 12 and 23 hours after that reading: the time left shrinks as the day goes by.
    days = np.arange(72.0)
    failure_day = days[-1] + 2.0
    values = [20.0 - 2.0 * np.log(failure_day - d) for d in days]
    row = sensor(interval_s=86_400, v0_mm_per_day=0.05)
    left = []
    for since_h in (0.01, 6.0, 12.0, 23.0):
        t_s = NOW_S - 86_400 * (71 - days) - since_h * HOUR_S
        readings = SensorSet([row], np.zeros(72, dtype=np.int64), t_s, np.asarray(values), NOW_S - 72 * 86_400, 72)
        d = deformation(readings, NOW_S, sensor_params([row]))
        d.fit_forecasts()
        left.append(d.forecast_hours[0])
    # Each later look finds as many hours fewer (before, the forecast stood still all day at 19 h) ...
    np.testing.assert_allclose(np.subtract(left[0], left), [0.0, 5.99, 11.99, 22.99], atol=0.01)
    # ... and the first is near the truth, the 6-day velocity windows of so steep an approach running a bit early.
    assert abs(left[0] - 48.0) < 0.15 * 48.0
