"""Parts of `alerting.evaluate` that decide a level: which gauge a point borrows, whose thresholds apply,
and what a steady slope's failure forecast says."""

import math
import random

import numpy as np

from alerting import kernels
from alerting.evaluate import _nearest_within, _threshold_matrix
from alerting.kernels import EARTH_RADIUS_M


def haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def test_the_gauge_search_finds_each_points_nearest_gauge_within_the_radius_and_the_first_on_a_tie():
    rng = random.Random(7)
    for lat0 in (29.4, 59.5):  # Chongqing, and far north where a degree of longitude is short
        points = [(106 + rng.uniform(0, 1.5), lat0 + rng.uniform(0, 0.6)) for _ in range(400)]
        gauges = [(106 + rng.uniform(0, 1.5), lat0 + rng.uniform(0, 0.6)) for _ in range(120)]
        gauges += [gauges[5], gauges[40]]  # two gauges at the same place as earlier ones: ties
        points += [(109.0, lat0 + 0.3), (107.6, lat0 + 0.3)]  # far from every gauge, and just off the area
        points += [gauges[5], (gauges[40][0] + 0.01, gauges[40][1])]
        p_lon, p_lat = map(np.array, zip(*points))
        g_lon, g_lat = map(np.array, zip(*gauges))
        found = _nearest_within(p_lon, p_lat, g_lon, g_lat, 10_000.0).tolist()
        expected = []
        for p in points:
            distance, gauge = min((haversine_m(*p, *g), j) for j, g in enumerate(gauges))
            expected.append(gauge if distance <= 10_000.0 else -1)
        assert found == expected
        assert -1 in expected and len(set(expected)) > 50  # some points have no gauge near, most have their own
        assert found[-2:] == [5, 40]  # the first of two gauges at the same distance


def test_a_points_own_table_leaves_out_levels_and_others_take_the_defaults():
    defaults = (50.0, 80.0, 100.0, 150.0)
    matrix = _threshold_matrix([{"rain_24h_mm": {"blue": 40, "yellow": 70, "orange": 90}}, {}],
                               "rain_24h_mm", defaults)
    assert np.isnan(matrix[0, 3]) and matrix[0, :3].tolist() == [40, 70, 90]
    assert matrix[1].tolist() == list(defaults)
    # 156 mm in 24 h is orange for the point that set no red, red for the one on the defaults.
    levels = kernels.threshold_level(np.array([156.0, 156.0]), matrix)
    assert levels.tolist() == [kernels.ORANGE, kernels.RED]


def test_a_steady_velocity_forecasts_no_failure_rather_than_one_in_a_million_years():
    t = np.arange(24) / 24.0
    assert all(math.isnan(x) for x in kernels.inverse_velocity_forecast(t, np.full(24, 30.0)))
    # 1/v falling linearly to zero one day after the last reading: that is a forecast.
    t_fail, r2 = kernels.inverse_velocity_forecast(t, 1.0 / (0.1 * (t[-1] + 1.0 - t)))
    assert abs(t_fail - (t[-1] + 1.0)) < 1e-6 and r2 > 0.999
