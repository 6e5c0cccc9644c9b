"""`geohazard replay-series` as a geologist meets it: a recorded series in, the level timeline and lead times out,
nothing of it kept, and a readable word on a file it cannot use."""

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from service.replay_series import read_series
from tests.support import fetch, register
from tests.cli.test_cli import geohazard

START = datetime(2026, 7, 1, tzinfo=timezone.utc)
TIMELINE_KEYS = {"at", "hours_before_failure", "level", "alert_level", "reasons", "v_mm_per_day", "v0_mm_per_day",
                 "v0_source", "tangent_angle_deg", "failure_forecast"}


def write_series(path, rows, header=("t_utc_s", "displacement_mm")):
    path.write_text("\n".join([",".join(header), *(",".join(map(str, row)) for row in rows)]) + "\n")
    return path


def hourly(days: float, mm_per_day: float, start: datetime = START, value: float = 0.0):
    """A steady creep read every hour: (epoch seconds, mm) rows."""
    return [(int((start + timedelta(hours=h)).timestamp()), round(value + mm_per_day * h / 24, 4))
            for h in range(int(days * 24) + 1)]


def failing(failure_at: datetime, onset_h: int = 25, mm_per_day: float = 1.0):
    """A slope creeping at mm_per_day, read every hour, until onset_h hours before failure_at; from then on
    Fukuzono's approach to failure (1/v falling linearly to 0 at failure_at), read up to an hour before it."""
    onset = failure_at - timedelta(hours=onset_h)
    quiet = hourly((onset - START).total_seconds() / 86400, mm_per_day)
    return quiet + [(int((failure_at - timedelta(hours=h)).timestamp()),
                     round(quiet[-1][1] + mm_per_day * onset_h / 24 * math.log(onset_h / h), 4))
                    for h in range(onset_h - 1, 0, -1)]


def replay(database_url, path, *options):
    """The timeline lines and the summary of `geohazard replay-series --json`."""
    result = geohazard("replay-series", str(path), "--json", *options, env={"GEOHAZARD_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines[:-1], lines[-1]["summary"]


def test_a_steady_creep_at_its_reference_rate_raises_no_alert(database_url, tmp_path):
    path = write_series(tmp_path / "creep.csv", hourly(3, 2.0))
    timeline, summary = replay(database_url, path, "--v0", "2")
    assert summary["readings"] == 73 and summary["evaluations"] == 73
    assert {line["alert_level"] for line in timeline} == {"none"}
    assert summary["first"] == {"yellow": None, "orange": None, "red": None}
    assert summary["episodes"] == {"blue": 0, "yellow": 0, "orange": 0, "red": 0}


@pytest.mark.parametrize("reference", [("--v0", "1"), ("--baseline-until", "2d")], ids=["configured v0", "baseline"])
def test_an_accelerating_slope_reaches_yellow_before_the_failure_with_its_time(database_url, tmp_path, reference):
    failure = START + timedelta(days=3)
    path = write_series(tmp_path / "failing.csv", failing(failure))
    timeline, summary = replay(database_url, path, *reference, "--failure-at", failure.isoformat())
    assert all(TIMELINE_KEYS <= line.keys() for line in timeline)
    first = summary["first"]["yellow"]
    assert first is not None and first["hours_before_failure"] > 0
    # The timeline has the evaluation that raised the alert to yellow (or above), at the time reported.
    raised = next(line for line in timeline if line["alert_level"] in ("yellow", "orange", "red"))
    assert raised["at"] == first["at"]
    assert raised["hours_before_failure"] == first["hours_before_failure"]
    assert summary["episodes"]["yellow"] >= 1
    assert [f["hours_before"] for f in summary["forecasts"]] == [24, 12, 8, 4, 2, 1]


def test_a_replay_leaves_the_real_tables_as_they_were(database_url, tmp_path):
    register(database_url)  # a real point whose sensor has a reading; the replay neither sees nor changes it
    fetch(database_url, "INSERT INTO reading (device_id, sensor_code, ts, kind, value) "
                        "VALUES ('GW-500113-0001', 'CR-01', %s, 'crack', 1.0) RETURNING 1", START)
    tables = ("hazard_point", "device", "sensor", "reading", "alert", "alert_event")
    counts = {t: fetch(database_url, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    failure = START + timedelta(days=3)
    path = write_series(tmp_path / "failing.csv", failing(failure))
    replay(database_url, path, "--v0", "1")
    assert {t: fetch(database_url, f"SELECT count(*) FROM {t}")[0][0] for t in tables} == counts


def test_step_bin_evaluates_once_a_bin_rather_than_at_every_reading(database_url, tmp_path):
    ten_minutes = [(int((START + timedelta(minutes=10 * i)).timestamp()), round(0.01 * i, 3))
                   for i in range(6 * 12 + 1)]
    path = write_series(tmp_path / "ten-minutes.csv", ten_minutes)
    _, summary = replay(database_url, path, "--step", "bin")
    assert summary["interval_s"] == 600
    assert summary["evaluations"] == 12  # 12 hours, one 1-hour bin each


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path):
    path = write_series(tmp_path / "series.csv", hourly(1, 1.0), header=("t_utc_s", "opening_mm"))
    result = geohazard("replay-series", str(path))
    assert result.returncode == 1
    assert "no value column" in result.stderr and "t_utc_s, opening_mm" in result.stderr
    assert "Traceback" not in result.stderr
    result = geohazard("replay-series", str(path), "--value-column", "width_mm")
    assert result.returncode == 1
    assert "no column 'width_mm'" in result.stderr and "t_utc_s, opening_mm" in result.stderr


def test_an_unparseable_time_names_its_line(tmp_path):
    rows = hourly(1, 1.0)
    rows[2] = ("yesterday", rows[2][1])
    result = geohazard("replay-series", str(write_series(tmp_path / "series.csv", rows)))
    assert result.returncode == 1
    assert "line 4 of" in result.stderr and "'yesterday'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_time_without_offset_is_refused_and_iso_with_offset_is_taken(tmp_path):
    rows = [("2026-07-01T08:00:00+08:00", 1.0), ("2026-07-01T09:00:00+08:00", 1.1)]
    series = read_series(write_series(tmp_path / "iso.csv", rows, header=("t_local", "value")))
    assert series.times[0] == datetime(2026, 7, 1, 0, tzinfo=timezone.utc)
    rows[1] = ("2026-07-01T09:00:00", 1.1)
    result = geohazard("replay-series", str(write_series(tmp_path / "naive.csv", rows, header=("t_local", "value"))))
    assert result.returncode == 1
    assert "line 3 of" in result.stderr and "no time zone" in result.stderr


def test_the_first_row_flagged_as_landslide_is_the_failure(tmp_path):
    rows = [(t, mm, int(i >= 5)) for i, (t, mm) in enumerate(hourly(0.5, 1.0))]
    series = read_series(write_series(tmp_path / "flagged.csv", rows, header=("t_utc_s", "displacement_mm",
                                                                                "landslide_flag")))
    assert series.flagged_failure_at == datetime.fromtimestamp(rows[5][0], tz=timezone.utc)
