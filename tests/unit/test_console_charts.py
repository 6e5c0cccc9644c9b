"""A point's chart data: velocity from consecutive buckets, rain summed up, the sensor's thresholds as lines and the
point's alerts as periods (service.console.charts)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from service.console.charts import sensor_chart, velocity_per_day

T0 = datetime(2026, 7, 1, tzinfo=UTC)
HOUR = 3600


def buckets(*values):
    return [SimpleNamespace(bucket=T0 + timedelta(hours=i), value=v) for i, v in enumerate(values)]


def test_velocity_is_the_change_per_day_since_the_previous_bucket_with_a_value():
    times = [0, HOUR, 2 * HOUR, 4 * HOUR]
    assert velocity_per_day(times, [10.0, 10.5, None, 11.5]) == [None, pytest.approx(12.0), None, pytest.approx(8.0)]


def test_a_displacement_chart_has_displacement_velocity_and_a_line_per_threshold_level():
    chart = sensor_chart(kind="crack", buckets=buckets(1.0, 2.0), alerts=[], from_=T0, to=T0 + timedelta(days=1),
                         thresholds={"velocity_mm_per_day": {"yellow": 10, "red": 50}, "displacement_mm": {"red": 400}})
    assert chart["series"] == {"displacement": [1.0, 2.0], "velocity": [None, pytest.approx(24.0)]}
    assert [(line["series"], line["level"], line["value"]) for line in chart["thresholds"]] == [
        ("velocity", "yellow", 10), ("velocity", "red", 50), ("displacement", "red", 400)]
    assert chart["t"] == [int(T0.timestamp()), int(T0.timestamp()) + HOUR] and chart["unit"] == "mm"


def test_a_rain_chart_sums_its_buckets_and_an_alert_still_open_runs_to_now():
    alert = {"id": 7, "type": "rainfall", "level": "orange", "raised_at": T0, "resolved_at": None}
    chart = sensor_chart(kind="rain", buckets=buckets(2.0, None, 3.5), thresholds={}, alerts=[alert], from_=T0,
                         to=T0 + timedelta(days=1))
    assert chart["series"] == {"rain": [2.0, None, 3.5], "cumulative": [2.0, 2.0, 5.5]}
    assert chart["alerts"] == [{"id": 7, "type": "rainfall", "level": "orange", "from": int(T0.timestamp()),
                                "to": None}]
