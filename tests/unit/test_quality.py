"""SPEC 3's quality flags over a sensor's history: a spike is an isolated outlier; a change of rate or a
step that the next readings follow is ground movement, flagged for one reading at most."""

import asyncio
import time
from datetime import datetime, timedelta, timezone

import hypothesis
import pytest
from hypothesis import strategies as st

from ingest.quality import HISTORY_TTL_S, MIN_HISTORY, MIN_SCALE, SPIKE_Z, STUCK_KINDS, SeriesQuality
from sensors.readings import Reading

DEVICE, SENSOR = "GW-500113-0001", "CR-01"
START = datetime(2026, 7, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
# Enough random series to meet every kind, both directions and the edges of each range, the same ones
# every run.
PROPERTY = hypothesis.settings(max_examples=200, derandomize=True, deadline=None, database=None)
# A worker's copy of the history kept from reading to reading, or read again from the database before
# each, as happens at an hourly interval (longer than HISTORY_TTL_S).
EITHER_HISTORY = pytest.mark.parametrize("reloaded", [False, True], ids=["history kept", "history read again"])
FIRST_FAST = 25  # the first reading at 30 mm/d of the crack gauge of issue 12


def hourly(values: list[float], kind: str = "crack") -> list[Reading]:
    return [Reading(DEVICE, SENSOR, START + k * HOUR, kind, value, None, []) for k, value in enumerate(values)]


class StoredReadings:
    """What `recent_good_values` reads from the database: the sensor's last unflagged values, oldest first,
    and its newest reading if that one is flagged only as a spike."""

    def __init__(self):
        self.readings: list[Reading] = []

    async def fetch(self, query, device_ids, sensor_codes, limit):
        good = [r for r in self.readings if not r.quality][-limit:]
        rows = [{"device_id": r.device_id, "sensor_code": r.sensor_code, "ts": r.ts, "value": r.value,
                 "kind": r.kind, "suspect": False} for r in good]
        newest = self.readings[-1] if self.readings else None
        if newest is not None and newest.quality == ["spike"]:
            rows.append({"device_id": newest.device_id, "sensor_code": newest.sensor_code, "ts": newest.ts,
                         "value": newest.value, "kind": newest.kind, "suspect": True})
        return rows


def judged_one_by_one(readings: list[Reading], *, reloaded: bool = False):
    """Each reading judged as it arrives, on its own, then stored. Returns the flags each reading was stored
    with and, per reading, the earlier readings whose spike flag it took back. `reloaded`: the history is
    old by the time each reading comes, as at an hourly interval, and is read again from the database."""
    quality, stored = SeriesQuality(), StoredReadings()
    flags_when_stored, cleared = [], []

    async def judge():
        for r in readings:
            if reloaded:
                for series in quality._series.values():
                    series.refreshed = time.monotonic() - HISTORY_TTL_S - 1
            cleared.append(await quality.flag(stored, [r]))
            flags_when_stored.append(list(r.quality))
            stored.readings.append(r)

    asyncio.run(judge())
    return flags_when_stored, cleared


def key(r: Reading) -> tuple[str, str, datetime]:
    return r.device_id, r.sensor_code, r.ts


@st.composite
def series(draw, change: str):
    """(kind, values, first): a steady noisy trend of some kind, then from index `first` a change: `rate`,
    `rate at the threshold`, `step` or `outlier`."""
    kind = draw(st.sampled_from(sorted(MIN_SCALE)))
    floor = MIN_SCALE[kind]
    rng = draw(st.randoms(use_true_random=False))
    # A sensor's noise stays below its resolution floor; an analog one always has some, or it is stuck.
    noise = draw(st.floats(0.01 if kind in STUCK_KINDS else 0.0, 0.3)) * floor
    step = draw(st.floats(-5.0, 5.0)) * floor
    first = draw(st.integers(MIN_HISTORY + 2, 40))
    after = draw(st.integers(2, 15))
    if change in ("rate", "rate at the threshold"):
        if change == "rate":  # 2x to 100x the old rate, either way: faster, or reversed
            new_step = step * draw(st.floats(2.0, 100.0)) * draw(st.sampled_from([1, -1]))
        else:  # each reading leaves the old trend by about as much as a spike
            new_step = step + draw(st.floats(SPIKE_Z - 1, SPIKE_Z + 1)) * floor * draw(st.sampled_from([1, -1]))
        trend = [k * step if k < first else (first - 1) * step + (k - first + 1) * new_step
                 for k in range(first + after)]
    elif change == "step":  # a held offset, of any size, then the old rate again
        offset = draw(st.floats(1.0, 1000.0)) * floor * draw(st.sampled_from([1, -1]))
        trend = [k * step + (offset if k >= first else 0.0) for k in range(first + after)]
    else:  # one reading far enough off to be a spike, then the old trend
        offset = draw(st.floats(2 * SPIKE_Z, 1000.0)) * floor * draw(st.sampled_from([1, -1]))
        trend = [k * step + (offset if k == first else 0.0) for k in range(first + after)]
    return kind, [value + rng.uniform(-noise, noise) for value in trend], first


@EITHER_HISTORY
@pytest.mark.parametrize("change", ["rate", "rate at the threshold", "step"])
@PROPERTY
@hypothesis.given(data=st.data())
def test_a_new_rate_or_a_step_that_the_next_readings_follow_is_flagged_for_one_reading_at_most(change, reloaded, data):
    kind, values, first = data.draw(series(change))
    readings = hourly(values, kind)
    flags, cleared = judged_one_by_one(readings, reloaded=reloaded)
    assert flags[:first] == [[]] * first, "the steady history is never flagged"
    for k in range(len(readings) - 1):
        assert not flags[k] or cleared[k + 1] == [key(readings[k])], f"reading {k} kept its flag past the next"
        assert readings[k].quality == []
    assert flags[first + 1:] == [[]] * (len(readings) - first - 1), "a reading of the new trend was flagged"


@EITHER_HISTORY
@PROPERTY
@hypothesis.given(data=st.data())
def test_an_isolated_outlier_is_flagged_and_stays_flagged(reloaded, data):
    kind, values, first = data.draw(series("outlier"))
    readings = hourly(values, kind)
    flags, cleared = judged_one_by_one(readings, reloaded=reloaded)
    assert flags == [["spike"] if k == first else [] for k in range(len(readings))]
    assert cleared == [[]] * len(readings)
    assert readings[first].quality == ["spike"]


def crack_from_2_to_30_mm_per_day() -> list[float]:
    """Hourly crack readings at 2 mm/d for a day, then 13 at 30 mm/d from index FIRST_FAST (issue 12)."""
    slow = [round(10.0 + 2.0 * k / 24, 3) for k in range(FIRST_FAST)]
    return slow + [round(slow[-1] + 30.0 * k / 24, 3) for k in range(1, 14)]


@EITHER_HISTORY
def test_a_crack_gauge_going_from_2_to_30_mm_per_day_has_only_its_first_fast_reading_flagged_until_the_next(reloaded):
    readings = hourly(crack_from_2_to_30_mm_per_day())
    flags, cleared = judged_one_by_one(readings, reloaded=reloaded)
    assert flags == [["spike"] if k == FIRST_FAST else [] for k in range(len(readings))]
    assert cleared[FIRST_FAST + 1] == [key(readings[FIRST_FAST])]
    assert [r.quality for r in readings] == [[]] * len(readings)


def test_a_worker_started_between_a_suspect_and_the_next_reading_still_takes_the_flag_back():
    readings = hourly(crack_from_2_to_30_mm_per_day())
    stored = StoredReadings()

    async def judge(quality, batch):
        cleared = []
        for r in batch:
            cleared += await quality.flag(stored, [r])
            stored.readings.append(r)
        return cleared

    asyncio.run(judge(SeriesQuality(), readings[:FIRST_FAST + 1]))
    assert readings[FIRST_FAST].quality == ["spike"]
    # Ingest restarts (or another worker takes the sensor): a new process judges the next reading.
    cleared = asyncio.run(judge(SeriesQuality(), readings[FIRST_FAST + 1:]))
    assert cleared == [key(readings[FIRST_FAST])]
    assert [r.quality for r in readings[FIRST_FAST + 1:]] == [[]] * (len(readings) - FIRST_FAST - 1)


def test_a_suspect_is_dropped_when_the_database_has_a_good_reading_after_it():
    readings = hourly(crack_from_2_to_30_mm_per_day()[:FIRST_FAST + 1])
    quality, stored = SeriesQuality(), StoredReadings()
    sensor = (DEVICE, SENSOR)

    async def judge_then_reload():
        for r in readings:
            await quality.flag(stored, [r])
            stored.readings.append(r)
        assert quality._series[sensor].suspect is readings[-1]
        # Another worker stored a good reading after the suspect meanwhile: this copy of the history is old.
        stored.readings.append(Reading(DEVICE, SENSOR, readings[-1].ts + HOUR / 2, "crack", 12.0, None, []))
        quality._series[sensor].refreshed = time.monotonic() - HISTORY_TTL_S - 1
        await quality._load(stored, {sensor})

    asyncio.run(judge_then_reload())
    assert quality._series[sensor].suspect is None
    assert quality._series[sensor].last_ts == readings[-1].ts + HOUR / 2


def test_a_tilt_frozen_on_a_whole_number_is_stuck_but_a_whole_millimetre_gnss_is_not():
    tilt, _ = judged_one_by_one(hourly([0.0] * 30, kind="tilt"))
    gnss, _ = judged_one_by_one(hourly([12.0] * 30, kind="gnss"))
    assert tilt[23:] == [["stuck"]] * 7 and tilt[:23] == [[]] * 23
    assert gnss == [[]] * 30
