"""The universal-device protocol (`$dp` binary frames) through the real broker into the real database."""

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from ingest.consumer import Consumer
from runtime.commands import send_command
from sensors.timestamps import format_utc
from sensors.universal import DP_TOPIC, FRAME_DATA, FRAME_STATUS, encode_frame
from tests.support import Publisher, fetch, forget_session, register, running, wait_until

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def device(settings):
    """A universal device (its id unique to this test: `$dp` is one topic for every device)."""
    device_id = f"DEV-{uuid.uuid4().hex[:8]}"
    register(settings.database_url, gateway=device_id, protocol="universal", sensors=(
        ("L1_LF_1", "crack", {}), ("L1_GP_1", "gnss", {}), ("L1_QJ_1", "tilt", {}), ("L3_YL_1", "rain", {})))
    register(settings.database_url, gateway=f"{device_id}-G", protocol="universal", accel_unit="g",
             sensors=(("L1_JS_1", "accel", {}),))
    return device_id


@pytest.fixture
def not_universal(settings):
    """A native gateway and a manual device at another point, registered before ingest starts (it reads the
    registry's protocols at start and then every minute): (gateway, manual device)."""
    gateway, manual = f"GW-{uuid.uuid4().hex[:8]}", f"MAN-{uuid.uuid4().hex[:8]}"
    register(settings.database_url, point="500113-HP-0099", gateway=gateway, sensors=(("L1_LF_1", "crack", {}),))
    register(settings.database_url, point="500113-HP-0099", gateway=manual, protocol="manual",
             sensors=(("L1_LF_1", "crack", {}),))
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE device SET battery_pct = 88 WHERE id = %s", (gateway,))
    return gateway, manual


@pytest.fixture
def dp(settings, device, not_universal):
    publisher = Publisher(settings)
    consumer = Consumer(settings)
    with running(consumer.run):
        assert consumer.subscribed.wait(10)
        yield lambda frame: publisher.raw(DP_TOPIC, frame)
    publisher.close()
    forget_session(settings, settings.ingest_client_id)


def stored(url):
    return {code: (value, fields, server_timed) for code, value, fields, server_timed in
            fetch(url, "SELECT sensor_code, value, fields, server_timed FROM reading ORDER BY sensor_code")}


def test_a_data_frame_with_every_value_shape_is_stored(settings, device, dp):
    t = format_utc(NOW)
    dp(encode_frame(FRAME_DATA, {device: {
        "L1_LF_1": {t: 12.43},
        "L1_GP_1": {t: "3.000,4.000,-1.000"},
        "L1_QJ_1": {t: {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "trend": 271.5}},
        "L3_YL_1": {t: "0.5,120.5"},
    }}))
    wait_until(lambda: len(stored(settings.database_url)) == 4, what="4 readings")
    rows = stored(settings.database_url)
    assert rows["L1_LF_1"] == (12.43, None, False)
    assert rows["L1_GP_1"][0] == 5.0
    assert rows["L1_QJ_1"][1]["AZI"] == 271.5
    assert rows["L3_YL_1"][1] == {"value": 0.5, "totalValue": 120.5}


def test_a_frame_without_the_time_level_is_server_timed(settings, device, dp):
    dp(encode_frame(FRAME_DATA, {device: {"L1_LF_1": 12.3}}))
    wait_until(lambda: stored(settings.database_url), what="the reading")
    assert stored(settings.database_url)["L1_LF_1"] == (12.3, None, True)


def test_acceleration_from_a_device_set_to_g_is_stored_in_mg(settings, device, dp):
    dp(encode_frame(FRAME_DATA, {f"{device}-G": {"L1_JS_1": {format_utc(NOW): "0.001,0.002,1.000"}}}))
    wait_until(lambda: stored(settings.database_url), what="the reading")
    assert stored(settings.database_url)["L1_JS_1"][1] == {"gX": 1.0, "gY": 2.0, "gZ": 1000.0}


def test_a_status_frame_updates_device_health(settings, device, dp):
    dp(encode_frame(FRAME_STATUS, {device: {"S1_ZT_1": {
        "ext_power_volt": 12.1, "solar_volt": 18.2, "battery_dump_energy": 76, "temp": 21.5, "humidity": 60,
        "lon": "106.52", "lat": "29.40", "signal_4g": -80, "sw_version": "2.1.3",
        "sensor_state": {"L1_LF_1": 0, "L1_GP_1": -3}}}}))
    wait_until(lambda: fetch(settings.database_url, "SELECT battery_pct FROM device WHERE id = %s", device)[0][0],
               what="the battery level")
    health = fetch(settings.database_url,
                   "SELECT battery_pct, supply_v, solar_v, signal, sw_version FROM device WHERE id = %s", device)[0]
    assert health == (76.0, 12.1, 18.2, -80.0, "2.1.3")
    assert dict(fetch(settings.database_url, "SELECT code, state FROM sensor WHERE device_id = %s", device)) == {
        "L1_LF_1": 0, "L1_GP_1": -3, "L1_QJ_1": 0, "L3_YL_1": 0}


def test_a_frame_whose_declared_length_is_wrong_is_dead_lettered(settings, device, dp):
    frame = encode_frame(FRAME_DATA, {device: {"L1_LF_1": 1.0}})
    dp(frame[:-3])
    dp(encode_frame(FRAME_DATA, {device: {"L1_LF_1": {format_utc(NOW - timedelta(minutes=10)): 2.0}}}))
    wait_until(lambda: stored(settings.database_url), what="the good reading")
    letters = fetch(settings.database_url, "SELECT topic, reason FROM dead_letter")
    assert len(letters) == 1
    assert letters[0][0] == DP_TOPIC
    assert "declares" in letters[0][1]


def test_a_devices_answer_to_a_command_is_recorded_with_it(settings, device, dp):
    publisher = Publisher(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        command_id = send_command(conn, publisher.client, settings=settings, device_id=device, name="getstatus",
                                  params={}, sent_by="test")
    dp_answer = f"$crsp/{device}/{command_id}"
    publisher.raw(dp_answer, b"$cmd=getstatus&result=succ")
    wait_until(lambda: fetch(settings.database_url, "SELECT result FROM device_command")[0][0], what="the answer")
    assert fetch(settings.database_url, "SELECT name, result, answer FROM device_command")[0] == (
        "getstatus", "succ", "$cmd=getstatus&result=succ")
    publisher.close()


def test_an_answer_to_a_command_never_sent_is_dead_lettered(settings, device, dp):
    publisher = Publisher(settings)
    publisher.raw(f"$crsp/{device}/no-such-command", b"$cmd=getstatus&result=succ")
    wait_until(lambda: fetch(settings.database_url, "SELECT reason FROM dead_letter"), what="the dead letter")
    assert "which was not sent" in fetch(settings.database_url, "SELECT reason FROM dead_letter")[0][0]
    publisher.close()


def _dead_letters(url):
    return [reason for (reason,) in fetch(url, "SELECT reason FROM dead_letter ORDER BY id")]


def test_a_status_frame_naming_a_native_gateway_is_dead_lettered_and_its_battery_kept(settings, device, not_universal,
                                                                                        dp):
    gateway, _ = not_universal
    dp(encode_frame(FRAME_STATUS, {gateway: {"S1_ZT_1": {"battery_dump_energy": 1}}}))
    dp(encode_frame(FRAME_DATA, {device: {"L1_LF_1": 12.3}}))  # a real device's frame, after it
    wait_until(lambda: fetch(settings.database_url, "SELECT 1 FROM reading WHERE device_id = %s", device),
               what="the real device's reading")
    assert fetch(settings.database_url, "SELECT battery_pct FROM device WHERE id = %s", gateway)[0][0] == 88.0
    assert _dead_letters(settings.database_url) == [
        f"$dp frame names device {gateway!r}, which the registry has as a native device: only universal devices "
        "send $dp frames, so another device may be posing as it; nothing of it is stored"]


def test_a_data_frame_naming_a_manual_device_is_dead_lettered_and_nothing_stored(settings, device, not_universal, dp):
    _, manual = not_universal
    dp(encode_frame(FRAME_DATA, {manual: {"L1_LF_1": {format_utc(NOW): 99.9}}}))
    dp(encode_frame(FRAME_DATA, {device: {"L1_LF_1": 12.3}}))
    wait_until(lambda: fetch(settings.database_url, "SELECT 1 FROM reading WHERE device_id = %s", device),
               what="the real device's reading")
    assert fetch(settings.database_url, "SELECT device_id, value FROM reading") == [(device, 12.3)]
    [reason] = _dead_letters(settings.database_url)
    assert f"names device {manual!r}, which the registry has as a manual device" in reason
