"""Ingest through the real broker into the real database: stored, deduplicated, dead-lettered, quarantined."""

import asyncio
import hashlib
import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import asyncpg
import psycopg
import pytest

from ingest.consumer import Consumer
from ingest.quality import SeriesQuality
from ingest.quarantine import replay
from ingest.writer import KEPT_BYTES_PER_MESSAGE, KEPT_PAYLOAD_BYTES
from sensors.readings import Reading
from sensors.timestamps import format_utc
from tests.support import Publisher, fetch, forget_session, register, running, wait_until

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def crack(sensor="CR-01", minutes_ago=0, value=12.43):
    return {"sensor": sensor, "ts": format_utc(NOW - timedelta(minutes=minutes_ago)), "kind": "crack", "value": value}


@contextmanager
def running_ingest(settings):
    """Ingest running in this process with these settings; yields a publisher."""
    publisher = Publisher(settings)
    consumer = Consumer(settings)
    with running(consumer.run):
        assert consumer.subscribed.wait(10), "ingest did not subscribe"
        yield publisher
    publisher.close()
    forget_session(settings, settings.ingest_client_id)


@pytest.fixture
def ingest(settings):
    register(settings.database_url, sensors=(("CR-01", "crack", {}), ("GN-01", "gnss", {}), ("RG-01", "rain", {})))
    with running_ingest(settings) as publisher:
        yield publisher


def count(url, table):
    return fetch(url, f"SELECT count(*) FROM {table}")[0][0]


def test_readings_of_every_native_kind_are_stored_with_their_series_value(settings, ingest):
    ingest.readings("GW-500113-0001", [
        crack(value=12.43),
        {"sensor": "GN-01", "ts": format_utc(NOW), "kind": "gnss", "e": 3.0, "n": 4.0, "u": -1.0},
        {"sensor": "RG-01", "ts": format_utc(NOW), "kind": "rain", "value": 0.5},
    ])
    wait_until(lambda: count(settings.database_url, "reading") == 3, what="3 stored readings")
    rows = dict(fetch(settings.database_url, "SELECT sensor_code, value FROM reading"))
    assert rows == {"CR-01": 12.43, "GN-01": 5.0, "RG-01": 0.5}
    assert fetch(settings.database_url, "SELECT fields FROM reading WHERE sensor_code = 'GN-01'")[0][0] == {
        "gpsTotalX": 3.0, "gpsTotalY": 4.0, "gpsTotalZ": -1.0}


def test_a_redelivered_message_does_not_duplicate_readings(settings, ingest):
    for _ in range(3):
        ingest.readings("GW-500113-0001", [crack(minutes_ago=10), crack(minutes_ago=0)])
    ingest.readings("GW-500113-0001", [crack(minutes_ago=20)])
    wait_until(lambda: count(settings.database_url, "reading") == 3, what="3 distinct readings")
    assert count(settings.database_url, "reading") == 3


def test_more_messages_than_the_brokers_in_flight_window_are_all_stored(settings, ingest):
    # The shared broker sends a client at most 20 unacknowledged QoS 1 messages (Mosquitto's default):
    # the rest arrive only as ingest acknowledges what it has committed.
    for minute in range(100):
        ingest.readings("GW-500113-0001", [crack(minutes_ago=minute)])
    wait_until(lambda: count(settings.database_url, "reading") == 100, what="100 stored readings")


def test_a_malformed_message_is_dead_lettered_and_the_next_good_one_is_stored(settings, ingest):
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/readings"
    ingest.raw(topic, b"\x02\x00\x05{not json")
    ingest.readings("GW-500113-0001", [crack()])
    wait_until(lambda: count(settings.database_url, "reading") == 1, what="the good reading")
    letters = fetch(settings.database_url, "SELECT topic, payload, reason FROM dead_letter")
    assert len(letters) == 1
    assert letters[0][0] == topic
    assert bytes(letters[0][1]) == b"\x02\x00\x05{not json"
    assert letters[0][2].startswith("payload is not JSON")


def test_a_bad_reading_is_dead_lettered_and_the_good_ones_in_its_message_are_kept(settings, ingest):
    ingest.readings("GW-500113-0001", [crack(value=1.0), {"sensor": "CR-01", "ts": "yesterday", "kind": "crack",
                                                          "value": 2.0}, crack(minutes_ago=5, value=3.0)])
    wait_until(lambda: count(settings.database_url, "dead_letter") == 1, what="the dead letter")
    assert sorted(v for (v,) in fetch(settings.database_url, "SELECT value FROM reading")) == [1.0, 3.0]
    reason = fetch(settings.database_url, "SELECT reason FROM dead_letter")[0][0]
    assert reason.startswith("readings[1]: timestamp 'yesterday' is not ISO 8601")


def native_payload(gateway: str, readings: list[dict]) -> bytes:
    return json.dumps({"gateway": gateway, "seq": 1, "readings": readings}, separators=(",", ":")).encode()


def test_a_message_larger_than_ingest_decodes_is_dead_lettered_with_its_size_hash_and_beginning(settings):
    settings = settings.model_copy(update={"ingest_max_message_bytes": 200_000})
    register(settings.database_url, sensors=(("CR-01", "crack", {}),))
    # Both from a device not registered: readings that would be quarantined, each message over 64 KiB.
    quarantined = native_payload("GW-NEW", [crack(minutes_ago=m) for m in range(2000)])
    too_large = native_payload("GW-NEW", [crack(minutes_ago=m) for m in range(2000, 6000)])
    assert 65_538 < len(quarantined) < 200_000 < len(too_large)
    with running_ingest(settings) as ingest:
        ingest.raw(f"{settings.topic_root}/gateways/GW-NEW/readings", quarantined)
        ingest.raw(f"{settings.topic_root}/gateways/GW-NEW/readings", too_large)
        ingest.readings("GW-500113-0001", [crack()])
        wait_until(lambda: count(settings.database_url, "dead_letter") == 1
                   and count(settings.database_url, "reading") == 1
                   and count(settings.database_url, "quarantine") == 2000, what="the dead letter and readings")
    # The message a device could send is quarantined whole, reading by reading, replayable once registered.
    assert fetch(settings.database_url, "SELECT min(ts), max(ts) FROM quarantine")[0] == (
        NOW - timedelta(minutes=1999), NOW)
    # The other is not decoded: a dead letter with its beginning, whole size and hash, and why.
    [(payload, size, sha256, reason)] = fetch(
        settings.database_url, "SELECT payload, payload_bytes, payload_sha256, reason FROM dead_letter")
    assert bytes(payload) == too_large[:KEPT_PAYLOAD_BYTES]
    assert (size, bytes(sha256)) == (len(too_large), hashlib.sha256(too_large).digest())
    assert reason == (f"message of {len(too_large)} bytes, larger than the 200000 bytes ingest decodes "
                      "(GEOHAZARD_INGEST_MAX_MESSAGE_BYTES; the largest universal frame is 65538 bytes): not decoded, "
                      f"only its first {KEPT_PAYLOAD_BYTES} bytes are kept")


def test_the_dead_letters_of_a_message_of_many_bad_readings_keep_its_bytes_a_bounded_number_of_times(
        settings, ingest):
    bad = [{"sensor": "CR-01", "ts": "yesterday", "kind": "crack", "value": n} for n in range(1000)]
    payload = native_payload("GW-500113-0001", [crack(), *bad])
    ingest.raw(f"{settings.topic_root}/gateways/GW-500113-0001/readings", payload)
    wait_until(lambda: count(settings.database_url, "dead_letter") == 1000, what="1000 dead letters")
    assert count(settings.database_url, "reading") == 1
    letters = fetch(settings.database_url, "SELECT length(payload), payload_bytes, payload_sha256 FROM dead_letter")
    assert {(size, bytes(sha256)) for _, size, sha256 in letters} == {(len(payload), hashlib.sha256(payload).digest())}
    kept = sorted((k for k, _, _ in letters), reverse=True)
    whole = KEPT_BYTES_PER_MESSAGE // len(payload)
    assert kept == [len(payload)] * whole + [0] * (1000 - whole)


def test_a_gateway_publishing_for_another_is_dead_lettered(settings, ingest):
    ingest.readings("GW-500113-0001", [crack()], topic_gateway="GW-500113-9999")
    wait_until(lambda: count(settings.database_url, "dead_letter") == 1, what="the dead letter")
    assert "does not match the topic's gateway" in fetch(settings.database_url, "SELECT reason FROM dead_letter")[0][0]
    assert count(settings.database_url, "reading") == 0


def test_readings_of_unregistered_sensors_are_quarantined_not_analysed(settings, ingest):
    ingest.readings("GW-500113-0001", [crack(sensor="CR-99")])
    ingest.readings("GW-UNKNOWN", [crack()])
    wait_until(lambda: count(settings.database_url, "quarantine") == 2, what="2 quarantined readings")
    reasons = sorted(r for (r,) in fetch(settings.database_url, "SELECT reason FROM quarantine"))
    assert reasons == ["device GW-UNKNOWN is not registered", "sensor GW-500113-0001/CR-99 is not registered"]
    assert count(settings.database_url, "reading") == 0


def test_a_reading_of_another_kind_than_its_sensors_is_quarantined_beside_the_good_ones(settings, ingest):
    rain_on_crack_gauge = {"sensor": "CR-01", "ts": format_utc(NOW), "kind": "rain", "value": 0.5}
    ingest.readings("GW-500113-0001", [rain_on_crack_gauge, crack(minutes_ago=5)])
    wait_until(lambda: count(settings.database_url, "quarantine") == 1, what="the quarantined reading")
    assert fetch(settings.database_url, "SELECT reason FROM quarantine") == [
        ("sensor GW-500113-0001/CR-01 is registered as crack but sent a rain reading",)]
    assert fetch(settings.database_url, "SELECT kind, ts FROM reading") == [("crack", NOW - timedelta(minutes=5))]


def test_suspect_readings_are_stored_with_quality_flags(settings, ingest):
    future = {"sensor": "CR-01", "ts": format_utc(NOW + timedelta(hours=2)), "kind": "crack", "value": 1.0}
    out_of_range = {"sensor": "RG-01", "ts": format_utc(NOW), "kind": "rain", "value": 900.0}
    ingest.readings("GW-500113-0001", [future, out_of_range])
    wait_until(lambda: count(settings.database_url, "reading") == 2, what="2 flagged readings")
    flags = dict(fetch(settings.database_url, "SELECT sensor_code, quality FROM reading"))
    assert flags == {"CR-01": ["future"], "RG-01": ["out_of_range"]}


def test_a_reading_updates_the_devices_last_seen_and_the_sensors_last_reading(settings, ingest):
    ingest.readings("GW-500113-0001", [crack(minutes_ago=3)])
    wait_until(lambda: fetch(settings.database_url, "SELECT last_seen FROM device")[0][0], what="last_seen")
    assert fetch(settings.database_url, "SELECT last_reading_at FROM sensor WHERE code = 'CR-01'")[0][0] == \
        NOW - timedelta(minutes=3)


def test_a_native_status_message_updates_device_health_and_sensor_states(settings, ingest):
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/status"
    ingest.raw(topic, json.dumps({"battery_pct": 81.5, "supply_v": 12.2, "signal": -71, "temp_c": 18.0,
                                  "sensor_state": {"CR-01": 0, "GN-01": -2}}))
    wait_until(lambda: fetch(settings.database_url, "SELECT battery_pct FROM device")[0][0] == 81.5,
               what="the battery level")
    assert fetch(settings.database_url, "SELECT supply_v, signal, temp_c FROM device")[0] == (12.2, -71.0, 18.0)
    states = dict(fetch(settings.database_url, "SELECT code, state FROM sensor"))
    assert states == {"CR-01": 0, "GN-01": -2, "RG-01": 0}


def test_readings_of_a_sensor_its_device_reports_faulty_are_flagged(settings, ingest):
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/status"
    ingest.raw(topic, json.dumps({"sensor_state": {"CR-01": -1}}))
    ingest.readings("GW-500113-0001", [crack()])
    wait_until(lambda: count(settings.database_url, "reading") == 1, what="the reading")
    assert fetch(settings.database_url, "SELECT quality FROM reading")[0][0] == ["sensor_state"]


def test_the_retained_online_flag_and_last_will_are_recorded(settings, ingest):
    topic = f"{settings.topic_root}/gateways/GW-500113-0001/online"
    ingest.raw(topic, b"1")
    wait_until(lambda: fetch(settings.database_url, "SELECT online FROM device")[0][0] is True, what="online")
    ingest.raw(topic, b"0")
    wait_until(lambda: fetch(settings.database_url, "SELECT online FROM device")[0][0] is False, what="offline")


def test_a_bad_status_or_online_message_is_dead_lettered(settings, ingest):
    root = f"{settings.topic_root}/gateways/GW-500113-0001"
    ingest.raw(f"{root}/status", json.dumps({"battery_pct": "full"}))
    ingest.raw(f"{root}/online", b"yes")
    wait_until(lambda: count(settings.database_url, "dead_letter") == 2, what="2 dead letters")
    reasons = sorted(r for (r,) in fetch(settings.database_url, "SELECT reason FROM dead_letter"))
    assert reasons == ["online payload is b'yes', not 1 or 0", "status field 'battery_pct' is 'full', not a number"]


def test_quarantined_readings_are_replayed_once_the_sensor_is_registered(settings, ingest):
    ingest.readings("GW-500113-0001", [crack(sensor="CR-02", minutes_ago=m) for m in (0, 10)])
    wait_until(lambda: count(settings.database_url, "quarantine") == 2, what="2 quarantined readings")
    assert replay(settings.database_url) == 0
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("INSERT INTO sensor (device_id, code, kind, hazard_point) "
                     "VALUES ('GW-500113-0001', 'CR-02', 'crack', '500113-HP-0042')")
    assert replay(settings.database_url) == 2
    assert count(settings.database_url, "reading") == 2
    assert fetch(settings.database_url, "SELECT count(*) FROM quarantine WHERE replayed_at IS NULL")[0][0] == 0
    assert replay(settings.database_url) == 0


def creep(sensor, kind, start_minutes_ago, count, step_mm, start_mm=10.0, **extra):
    """`count` readings every 10 minutes, ending `start_minutes_ago - 10*(count-1)` minutes ago."""
    return [{"sensor": sensor, "kind": kind, "ts": format_utc(NOW - timedelta(minutes=start_minutes_ago - 10 * i)),
             "value": round(start_mm + step_mm * i + 0.01 * (i % 3), 3), **extra} for i in range(count)]


def quality_of(url, sensor):
    return [q for (q,) in fetch(url, "SELECT quality FROM reading WHERE sensor_code = %s ORDER BY ts", sensor)]


def test_a_lone_spike_is_flagged_and_the_series_goes_on(settings, ingest):
    history = creep("CR-01", "crack", 200, 12, 0.1)
    ingest.readings("GW-500113-0001", history)
    wait_until(lambda: count(settings.database_url, "reading") == 12, what="the history")
    spike = {"sensor": "CR-01", "kind": "crack", "ts": format_utc(NOW - timedelta(minutes=80)), "value": 65.0}
    back = {"sensor": "CR-01", "kind": "crack", "ts": format_utc(NOW - timedelta(minutes=70)), "value": 11.3}
    ingest.readings("GW-500113-0001", [spike])
    ingest.readings("GW-500113-0001", [back])
    wait_until(lambda: count(settings.database_url, "reading") == 14, what="spike and return")
    assert quality_of(settings.database_url, "CR-01")[-2:] == [["spike"], []]


def test_a_jump_confirmed_by_the_next_reading_is_movement_not_a_spike(settings, ingest):
    ingest.readings("GW-500113-0001", creep("CR-01", "crack", 200, 12, 0.1))
    wait_until(lambda: count(settings.database_url, "reading") == 12, what="the history")
    jump = {"sensor": "CR-01", "kind": "crack", "ts": format_utc(NOW - timedelta(minutes=80)), "value": 40.0}
    holds = {"sensor": "CR-01", "kind": "crack", "ts": format_utc(NOW - timedelta(minutes=70)), "value": 40.2}
    ingest.readings("GW-500113-0001", [jump])
    wait_until(lambda: count(settings.database_url, "reading") == 13, what="the jump")
    assert quality_of(settings.database_url, "CR-01")[-1] == ["spike"]
    ingest.readings("GW-500113-0001", [holds])
    wait_until(lambda: count(settings.database_url, "reading") == 14, what="the confirmation")
    assert quality_of(settings.database_url, "CR-01")[-2:] == [[], []]


def test_a_noisy_sensor_repeating_one_value_is_flagged_stuck(settings, ingest):
    readings = [{"sensor": "GN-01", "kind": "gnss", "ts": format_utc(NOW - timedelta(minutes=300 - 10 * i)),
                 "e": 3.12, "n": 4.05, "u": 1.0} for i in range(26)]
    ingest.readings("GW-500113-0001", readings)
    wait_until(lambda: count(settings.database_url, "reading") == 26, what="26 readings")
    flags = quality_of(settings.database_url, "GN-01")
    assert flags[:23] == [[]] * 23
    assert flags[23:] == [["stuck"]] * 3


def test_whole_millimetre_readings_repeating_on_a_quiet_slope_are_not_stuck(settings, ingest):
    readings = [{"sensor": "GN-01", "kind": "gnss", "ts": format_utc(NOW - timedelta(minutes=300 - 10 * i)),
                 "e": 3.0, "n": 4.0, "u": 1.0} for i in range(26)]
    ingest.readings("GW-500113-0001", readings)
    wait_until(lambda: count(settings.database_url, "reading") == 26, what="26 readings")
    assert quality_of(settings.database_url, "GN-01") == [[]] * 26


def test_a_sensor_silent_for_three_intervals_is_offline_until_it_reports_again(settings):
    register(settings.database_url, sensors=(("CR-01", "crack", {}), ("GN-01", "gnss", {})))
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE sensor SET last_reading_at = now() - interval '31 minutes' WHERE code = 'CR-01'")
        conn.execute("UPDATE sensor SET last_reading_at = now() - interval '29 minutes' WHERE code = 'GN-01'")
    publisher = Publisher(settings)
    consumer = Consumer(settings)
    with running(consumer.run):
        assert consumer.subscribed.wait(10)
        wait_until(lambda: fetch(settings.database_url, "SELECT offline FROM sensor WHERE code = 'CR-01'")[0][0],
                   what="CR-01 offline")
        assert fetch(settings.database_url, "SELECT offline FROM sensor WHERE code = 'GN-01'")[0][0] is False
        publisher.readings("GW-500113-0001", [crack()])
        wait_until(lambda: not fetch(settings.database_url, "SELECT offline FROM sensor WHERE code = 'CR-01'")[0][0],
                   what="CR-01 back online")
    publisher.close()
    forget_session(settings, settings.ingest_client_id)


def test_a_restarted_ingest_still_takes_back_the_spike_flag_its_predecessor_set(database_url):
    """The suspect is read back from the database with the history: a worker that did not flag it decides it."""
    register(database_url, sensors=(("CR-01", "crack", {}),))
    start = NOW - timedelta(hours=30)
    # A day of 2 mm/d hourly, then a jump to a new rate: the first fast reading was stored flagged.
    values = [2.0 / 24 * k for k in range(24)] + [2.0 / 24 * 23 + 1.25]
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY reading (device_id, sensor_code, ts, kind, value, quality) FROM STDIN") as copy:
            for k, value in enumerate(values):
                copy.write_row(("GW-500113-0001", "CR-01", start + timedelta(hours=k), "crack", value,
                                ["spike"] if k == 24 else []))
    following = Reading("GW-500113-0001", "CR-01", start + timedelta(hours=25), "crack", values[-1] + 1.25, None, [])

    async def judge():
        conn = await asyncpg.connect(database_url)
        try:
            return await SeriesQuality().flag(conn, [following])
        finally:
            await conn.close()

    assert asyncio.run(judge()) == [("GW-500113-0001", "CR-01", start + timedelta(hours=24))]
    assert following.quality == []
