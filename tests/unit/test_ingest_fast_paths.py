"""The shortcuts ingest takes on its hot path give what the general code gives: readings, flags, reasons."""

import json
import random
from collections import deque
from datetime import datetime, timedelta, timezone
from statistics import median

import pytest

from ingest.quality import MIN_HISTORY, MIN_SCALE, SPIKE_Z, SeriesQuality, _Series
from ingest.routing import Limits, add_message
from ingest.writer import Batch
from sensors.native import MalformedMessage, _decode_general, _decode_plain, _timestamp, decode_readings
from sensors.readings import BadReading, Reading, build_reading, check_name
from sensors.timestamps import parse_utc

RECEIVED_AT = datetime(2026, 7, 1, 8, 25, tzinfo=timezone.utc)
TOLERANCE, RETENTION = timedelta(minutes=5), timedelta(days=365)
LIMITS = Limits("geohazard/v1", TOLERANCE, RETENTION)


def build(kind="crack", fields=None, device="GW-1", sensor="CR-01", ts=RECEIVED_AT):
    return build_reading(device_id=device, sensor_code=sensor, ts=ts, kind=kind,
                         raw_fields={"value": 1.5} if fields is None else fields, received_at=RECEIVED_AT,
                         future_tolerance=TOLERANCE, retention=RETENTION)


def test_a_name_checked_once_is_taken_again_and_a_bad_one_is_still_refused():
    assert check_name("sensor code", "CR-01") == "CR-01"
    assert build(sensor="CR-01").sensor_code == "CR-01"
    for bad in ("", "x" * 65, "CR\x00", "CR\ud800"):
        with pytest.raises(BadReading):
            build(sensor=bad)
        with pytest.raises(BadReading):
            build(fields={bad: 1.0} if bad else {"": 1.0})


@pytest.mark.parametrize("raw, message", [
    (float("nan"), "not a finite number"), (float("inf"), "not a finite number"), (10 ** 400, "not a finite number"),
    (True, "not a number"), (None, "not a number"), ("abc", "not a number"),
])
def test_numbers_that_are_not_finite_or_not_numbers_are_refused_by_name(raw, message):
    with pytest.raises(BadReading, match=message) as refused:
        build(fields={"value": raw})
    assert "'value'" in str(refused.value)


def test_ints_strings_and_floats_give_the_same_float():
    assert build(fields={"value": 2}).value == 2.0 and isinstance(build(fields={"value": 2}).value, float)
    assert build(fields={"value": "2.5"}).value == 2.5
    assert build(fields={"value": 2.5}).value == 2.5


def test_flags_series_values_and_fields_of_every_shape():
    assert build(fields={"value": 20_000}).quality == ["out_of_range"]
    assert build(fields={"value": 1.0}, ts=RECEIVED_AT + timedelta(minutes=6)).quality == ["future"]
    assert build(fields={"value": 1.0}, ts=RECEIVED_AT - timedelta(days=400)).quality == ["stale"]
    gnss = build(kind="gnss", fields={"e": 3.0, "n": 4.0, "u": 1e9})
    assert (gnss.value, gnss.fields, gnss.quality) == (5.0, {"gpsTotalX": 3.0, "gpsTotalY": 4.0, "gpsTotalZ": 1e9},
                                                       ["out_of_range"])
    rain = build(kind="rain", fields={"value": 1.0, "totalValue": 9.0})
    assert (rain.value, rain.fields) == (1.0, {"value": 1.0, "totalValue": 9.0})
    assert build(kind="crack", fields={"value": 1.0}).fields is None
    other = build(kind="other", fields={"a": 1, "value": 2})
    assert (other.value, other.fields, other.quality) == (2.0, {"a": 1.0, "value": 2.0}, [])
    with pytest.raises(BadReading, match="lacks field"):
        build(kind="gnss", fields={"e": 1.0})


@pytest.mark.parametrize("text", [
    "2026-07-01T08:00:00.000Z", "2026-07-01T08:00:00Z", "2026-07-01T08:00:00.123456Z",
    "2026-07-01T16:00:00+08:00", "2026-07-01T08:00:00+00:00",
])
def test_the_quick_timestamp_parser_agrees_with_parse_utc(text):
    for _ in range(2):  # the second time from its one-entry memory
        assert _timestamp(text) == parse_utc(text)
        assert _timestamp(text).utcoffset() == timedelta(0)


@pytest.mark.parametrize("raw", ["2026-07-01T08:00:00", "yesterday Z", "Z", "", 20260701, None,
                                 "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1969-12-31T23:59:59.000Z"])
def test_the_quick_timestamp_parser_refuses_what_parse_utc_refuses(raw):
    with pytest.raises(BadReading) as expected:
        parse_utc(raw)
    with pytest.raises(BadReading) as got:
        _timestamp(raw)
    assert str(got.value) == str(expected.value)


def test_a_native_message_decodes_the_same_twice_and_keeps_per_reading_reasons():
    payload = json.dumps({"gateway": "GW-1", "seq": 1, "readings": [
        {"sensor": "CR-01", "ts": "2026-07-01T08:00:00.000Z", "kind": "crack", "value": 1.0},
        {"sensor": "CR-02", "ts": "2026-07-01T08:00:00.000Z", "kind": "crack", "value": "x"},
        {"sensor": "CR-03", "ts": "not a time", "kind": "crack", "value": 1.0},
        {"sensor": "CR-04", "kind": "warp", "value": 1.0},
        {"sensor": "CR-05", "kind": "crack", "value": 1.0},
    ]}).encode()
    first, second = (decode_readings(payload, topic_gateway="GW-1", received_at=RECEIVED_AT,
                                     future_tolerance=TOLERANCE, retention=RETENTION) for _ in range(2))
    assert first == second
    assert [r.sensor_code for r in first.readings] == ["CR-01", "CR-05"]
    assert first.readings[1].server_timed and first.readings[1].ts == RECEIVED_AT
    assert [reason.split(":")[0] for reason in first.rejected] == ["readings[1]", "readings[2]", "readings[3]"]


@pytest.mark.parametrize("bad", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"])
def test_a_reading_stamped_year_1_is_rejected_alone_and_the_good_one_beside_it_is_kept(bad):
    # Year 1 with +01:00 overflowed converting to UTC and dropped the whole message; with Z it was stored as
    # PostgreSQL's -infinity.
    payload = json.dumps({"gateway": "GW-1", "seq": 1, "readings": [
        {"sensor": "CR-01", "ts": "2026-07-01T08:00:00.000Z", "kind": "crack", "value": 1.0},
        {"sensor": "CR-02", "ts": bad, "kind": "crack", "value": 1.0},
    ]}).encode()
    decoded = decode_readings(payload, topic_gateway="GW-1", received_at=RECEIVED_AT, future_tolerance=TOLERANCE,
                              retention=RETENTION)
    assert [r.sensor_code for r in decoded.readings] == ["CR-01"]
    assert decoded.rejected == [f"readings[1]: timestamp {bad!r} is before 1970: a device clock that was never set"]


def _random_message(rng: random.Random) -> bytes:
    """A native readings message, mostly of the plain shape, now and then broken in one of the ways devices do."""
    def pick(good: list, odd: list, odds: float = 0.1):
        return rng.choice(odd if rng.random() < odds else good)

    def value():
        return pick([round(rng.uniform(-5, 50), rng.randint(0, 6)), rng.randint(-3, 20), -0.0, 0.1 + 0.2],
                    [1e300 * 1e300, 10 ** 400, 12_000.5, -1_000.0, 10_000, 600, "2.5", True, None, [1]])

    def ts():
        at = RECEIVED_AT + timedelta(seconds=rng.randint(-400 * 86400, 600))
        return pick([at.strftime("%Y-%m-%dT%H:%M:%SZ"), at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), at.isoformat()],
                    ["2026-07-01T08:00:00", "noon Z", 20260701, None])

    readings = []
    for _ in range(rng.randint(0, 4)):
        item = {"sensor": pick(["CR-01", "CR-02", "RG-01"], ["", "x" * 70, "CR\u0001", 7], 0.03),
                "kind": pick(["crack", "rain", "soil_moisture", "soil_temp", "pore_pressure"],
                             ["gnss", "other", "warp", None], 0.03),
                "value": value()}
        if rng.random() < 0.8:
            item["ts"] = ts()
        if rng.random() < 0.02:
            item["temp"] = 20.0
        if rng.random() < 0.02:
            del item[rng.choice(["sensor", "kind", "value"])]
        readings.append(item)
    body = {"gateway": pick(["GW-1"], ["GW-2", 3, ""], 0.03),
            "seq": pick([1, None], [2 ** 70, "LONG", True, "7", 1.0]),
            "readings": pick([readings], [{"x": readings}], 0.02)}
    # Infinity and NaN as Python writes them, which json takes and msgspec does not; an integer longer
    # than json takes (Python cannot even build it).
    text = json.dumps(body).replace('"LONG"', "9" * 4301)
    if rng.random() < 0.1:  # a member this service does not read, which json still checks
        extra = pick(['"1.2"', "[[[]]]"], ["1" * 4301, "[" * 1200 + "]" * 1200, '"\\udcff"', '"\udcff"'], 0.5)
        text = f'{text[:-1]}, "fw": {extra}}}'
    text = pick([text], [text.replace("1.0", "1.", 1), "\ufeff" + text, text + ","], 0.05)
    return text.encode("utf-8", "surrogateescape")  # a lone \udcff becomes the invalid byte \xff


def test_the_plain_shape_decoder_gives_what_the_general_one_gives():
    rng = random.Random(11)
    bounds = RECEIVED_AT + TOLERANCE, RECEIVED_AT - RETENTION
    plain_taken = 0
    for _ in range(4000):
        payload = _random_message(rng)
        try:
            expected = _decode_general(payload, "GW-1", RECEIVED_AT, *bounds)
        except MalformedMessage as refused:
            expected = str(refused)
        try:
            got = decode_readings(payload, topic_gateway="GW-1", received_at=RECEIVED_AT,
                                  future_tolerance=TOLERANCE, retention=RETENTION)
        except MalformedMessage as refused:
            got = str(refused)
        assert repr(got) == repr(expected), payload  # repr: 1 is not 1.0, nor a tuple a Reading
        plain_taken += _decode_plain(payload, "GW-1", RECEIVED_AT, *bounds) is not None
    assert 500 < plain_taken < 3500  # both ways were exercised


def test_a_readings_topic_met_before_still_dead_letters_bad_payloads_and_other_channels_still_route():
    topic = "geohazard/v1/gateways/GW-1/readings"
    good = json.dumps({"gateway": "GW-1", "readings": [{"sensor": "CR-01", "kind": "crack", "value": 1}]}).encode()
    for _ in range(2):
        batch = Batch()
        add_message(batch, topic, good, RECEIVED_AT, LIMITS, {})
        assert len(batch.readings) == 1 and batch.devices_seen == {"GW-1": RECEIVED_AT}
    batch = Batch()
    add_message(batch, topic, b"{not json", RECEIVED_AT, LIMITS, {})
    assert len(batch.dead_letters) == 1 and not batch.devices_seen
    batch = Batch()
    add_message(batch, "geohazard/v1/gateways/GW-1/online", b"1", RECEIVED_AT, LIMITS, {})
    add_message(batch, "other/v1/gateways/GW-1/readings", good, RECEIVED_AT, Limits("other/v1", TOLERANCE, RETENTION), {})
    assert batch.online == {"GW-1": True} and len(batch.readings) == 1


def _reference_is_spike(values: list[float], value: float, kind: str) -> bool:
    """The spike test written plainly, as SeriesQuality had it before its shortcuts."""
    if len(values) < MIN_HISTORY:
        return False
    steps = [b - a for a, b in zip(values, values[1:])]
    median_step = median(steps)
    scale = max(1.4826 * median([abs(d - median_step) for d in steps]), MIN_SCALE[kind])
    return abs(value - (values[-1] + median_step)) / scale > SPIKE_Z


def test_the_spike_test_agrees_with_its_plain_form():
    rng = random.Random(7)
    for _ in range(3000):
        kind = rng.choice(list(MIN_SCALE))
        n = rng.randint(0, 24)
        noise = rng.choice([0.0, 0.001, 0.05, 1.0])
        values = [round(rng.uniform(-1, 1) * noise + i * rng.choice([0, 0.1]), 3) for i in range(n)]
        value = (values[-1] if values else 0.0) + rng.choice([0.0, 0.01, 0.5, 3.0, -40.0]) * rng.random()
        series = _Series(values=deque(values, maxlen=24))
        reading = Reading("GW-1", "S", RECEIVED_AT, kind, value, None, [])
        assert SeriesQuality._is_spike(series, reading) == _reference_is_spike(values, value, kind)


def test_a_series_keeps_its_steps_sorted_as_values_come_and_go():
    rng = random.Random(5)
    series = _Series()
    full = 0
    for _ in range(5000):
        if rng.random() < 0.02:
            series.restart(rng.uniform(-10, 10))
        else:
            series.push(rng.choice([0.0, -0.0, 1.0, round(rng.uniform(-10, 10), rng.randint(0, 3))]))
        values = list(series.values)
        assert series.sorted_steps == sorted(b - a for a, b in zip(values, values[1:]))
        full += len(values) == 24
    assert full > 2000  # the history was often full: the oldest step went out as a new one came in


async def _flag(quality: SeriesQuality, readings: list[Reading]):
    class NoHistory:
        async def fetch(self, *args):
            return []
    return await quality.flag(NoHistory(), readings)


def test_readings_of_several_sensors_out_of_order_are_judged_in_time_order_per_sensor():
    import asyncio

    t = [RECEIVED_AT - timedelta(minutes=10 * (30 - i)) for i in range(30)]
    readings = []
    for sensor in ("B", "A"):
        for i in reversed(range(30)):  # newest first: must be judged oldest first
            readings.append(Reading("GW-1", sensor, t[i], "crack", 50.0 if i == 20 else i * 0.1, None, []))
    cleared = asyncio.run(_flag(SeriesQuality(), readings))
    assert cleared == []
    flagged = sorted((r.sensor_code, r.ts) for r in readings if r.quality)
    assert flagged == [("A", t[20]), ("B", t[20])]
