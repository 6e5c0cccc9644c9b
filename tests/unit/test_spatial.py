"""`alerting.spatial`: the gauge a hazard point borrows, the nearest within a radius."""

import math
import random

import numpy as np

from alerting.kernels import EARTH_RADIUS_M
from alerting.spatial import nearest_within

RADIUS_M = 10_000.0
KM_PER_DEGREE_OF_LATITUDE = 2 * math.pi * EARTH_RADIUS_M / 360 / 1000  # 111.2 km


def haversine_m(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def nearest(points, gauges, radius_m=RADIUS_M) -> list[int]:
    """nearest_within over (lon, lat) pairs."""
    p, g = (np.array(places, dtype=float).reshape(-1, 2) for places in (points, gauges))
    return nearest_within(p[:, 0], p[:, 1], g[:, 0], g[:, 1], radius_m).tolist()


def test_each_point_gets_the_nearest_gauge_within_the_radius_as_a_search_of_every_gauge_finds():
    rng = random.Random(7)
    for lat0 in (29.4, 59.5):  # Chongqing, and far north where a degree of longitude is short
        points = [(106 + rng.uniform(0, 1.5), lat0 + rng.uniform(0, 0.6)) for _ in range(400)]
        gauges = [(106 + rng.uniform(0, 1.5), lat0 + rng.uniform(0, 0.6)) for _ in range(120)]
        gauges += [gauges[5], gauges[40]]  # two gauges at the same place as earlier ones: ties
        points += [(109.0, lat0 + 0.3), (107.6, lat0 + 0.3)]  # far from every gauge, and just off the area
        points += [gauges[5], (gauges[40][0] + 0.01, gauges[40][1])]
        found = nearest(points, gauges)
        expected = []
        for p in points:
            distance, gauge = min((haversine_m(*p, *g), j) for j, g in enumerate(gauges))
            expected.append(gauge if distance <= RADIUS_M else -1)
        assert found == expected
        assert -1 in expected and len(set(expected)) > 50  # some points have no gauge near, most have their own
        assert found[-2:] == [5, 40]  # the first of two gauges at the same distance


def test_a_gauge_just_inside_the_radius_is_found_and_one_just_outside_is_not():
    inside_deg, outside_deg = (km / KM_PER_DEGREE_OF_LATITUDE for km in (9.99, 10.01))
    assert nearest([(106.0, 29.0)], [(106.0, 29.0 + inside_deg)]) == [0]
    assert nearest([(106.0, 29.0)], [(106.0, 29.0 + outside_deg)]) == [-1]


def test_a_degree_of_longitude_shortens_with_latitude():
    # 0.15 deg of longitude: 16.7 km at the equator, 8.3 km at 60 deg north.
    assert nearest([(106.0, 0.0)], [(106.15, 0.0)]) == [-1]
    assert nearest([(106.0, 60.0)], [(106.15, 60.0)]) == [0]
    # At 60 deg north the gauge 0.12 deg east (6.7 km) is nearer than the one 0.08 deg north (8.9 km).
    assert nearest([(106.0, 60.0)], [(106.0, 60.08), (106.12, 60.0)]) == [1]


def test_of_gauges_at_the_same_distance_the_lowest_index_wins():
    # Two gauges 5 km east and west of the point (exactly the same distance: the point is at 0, 0), either
    # way round, and two at the same place.
    step_deg = 5 / KM_PER_DEGREE_OF_LATITUDE
    east, west = (step_deg, 0.0), (-step_deg, 0.0)
    assert nearest([(0.0, 0.0)], [east, west]) == [0]
    assert nearest([(0.0, 0.0)], [west, east]) == [0]
    assert nearest([(0.0, 0.0)], [(2 * step_deg, 0.0), east, east]) == [1]  # the farther one listed first loses


def test_no_points_give_no_answers_and_no_gauges_leave_every_point_without_one():
    assert nearest([], [(106.0, 29.0)]) == []
    assert nearest([(106.0, 29.0), (107.0, 30.0)], []) == [-1, -1]
    assert nearest([], []) == []
