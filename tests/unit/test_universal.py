"""The universal-device protocol of SPEC 2.1: the `$dp` frame, data in three shapes, status, bad input."""

import math
from datetime import datetime, timedelta, timezone

import pytest

from sensors.native import MalformedMessage
from sensors.universal import (
    FRAME_DATA,
    FRAME_STATUS,
    TYPE_KINDS,
    decode_frame,
    encode_frame,
    parse_sensor_code,
)

DEVICE = "500113-HP-0042-D1"
T0 = "2026-07-01T08:00:00.000Z"
T1 = "2026-07-01T08:10:00.000Z"
T2 = "2026-07-01T08:20:00.000Z"
RECEIVED_AT = datetime(2026, 7, 1, 8, 25, tzinfo=timezone.utc)
FUTURE_TOLERANCE = timedelta(minutes=5)
RETENTION = timedelta(days=365)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


def decode(payload: bytes, **kwargs):
    return decode_frame(
        payload, received_at=RECEIVED_AT, future_tolerance=FUTURE_TOLERANCE, retention=RETENTION, **kwargs
    )


def data(sensors: dict, device: str = DEVICE, **kwargs):
    """Decode a data frame carrying `sensors` for `device`."""
    return decode(encode_frame(FRAME_DATA, {device: sensors}), **kwargs)


def status(status_object: object, device: str = DEVICE):
    """Decode a status frame carrying `status_object` as S1_ZT_1."""
    return decode(encode_frame(FRAME_STATUS, {device: {"S1_ZT_1": status_object}}))


def only_reading(frame):
    assert frame.rejected == []
    [reading] = frame.readings
    return reading


def malformed(payload: bytes) -> str:
    with pytest.raises(MalformedMessage) as caught:
        decode(payload)
    return str(caught.value)


# Realistic values from each sensor type, in each shape its firmware sends:
# (code, value as sent, kind, analysed value, stored fields)
GNSS_VALUE = math.hypot(3.215, -1.408)
SHAPES = [
    ("L1_LF_1", 12.43, "crack", 12.43, None),
    ("L1_LF_1", {"value": 12.43}, "crack", 12.43, None),
    ("L1_LF_1", "12.43", "crack", 12.43, None),
    ("L1_GP_1", {"gpsTotalX": 3.215, "gpsTotalY": -1.408, "gpsTotalZ": 0.512}, "gnss", GNSS_VALUE,
     {"gpsTotalX": 3.215, "gpsTotalY": -1.408, "gpsTotalZ": 0.512}),
    ("L1_GP_1", "3.215,-1.408,0.512", "gnss", GNSS_VALUE,
     {"gpsTotalX": 3.215, "gpsTotalY": -1.408, "gpsTotalZ": 0.512}),
    ("L1_QJ_1", {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "AZI": 271.5}, "tilt", 0.124,
     {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "AZI": 271.5}),
    ("L1_QJ_1", "0.120,-0.030,89.990,0.124,271.500", "tilt", 0.124,
     {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "AZI": 271.5}),
    ("L1_SW_1", {"dispsX": 4.21, "dispsY": -2.37}, "deep", math.hypot(4.21, -2.37),
     {"dispsX": 4.21, "dispsY": -2.37}),
    ("L1_SW_1", "4.21,-2.37", "deep", math.hypot(4.21, -2.37), {"dispsX": 4.21, "dispsY": -2.37}),
    ("L1_JS_1", {"gX": 1.2, "gY": -0.8, "gZ": 998.6}, "accel", math.hypot(1.2, -0.8, 998.6),
     {"gX": 1.2, "gY": -0.8, "gZ": 998.6}),
    ("L1_JS_1", "1.2,-0.8,998.6", "accel", math.hypot(1.2, -0.8, 998.6),
     {"gX": 1.2, "gY": -0.8, "gZ": 998.6}),
    ("L3_YL_1", 0.5, "rain", 0.5, None),
    ("L3_YL_1", {"value": 0.5, "totalValue": 123.5}, "rain", 0.5, {"value": 0.5, "totalValue": 123.5}),
    ("L3_YL_1", "0.5,123.5", "rain", 0.5, {"value": 0.5, "totalValue": 123.5}),
    ("L3_HS_1", 31.7, "soil_moisture", 31.7, None),
    ("L3_HS_1", {"value": 31.7}, "soil_moisture", 31.7, None),
    ("L3_HS_1", "31.7", "soil_moisture", 31.7, None),
    ("L3_TW_1", 18.4, "soil_temp", 18.4, None),
    ("L3_TW_1", {"value": 18.4}, "soil_temp", 18.4, None),
    ("L3_TW_1", "18.4", "soil_temp", 18.4, None),
    ("L3_SY_1", 42.75, "pore_pressure", 42.75, None),
    ("L3_SY_1", {"temp": 16.2, "value": 42.75}, "pore_pressure", 42.75, {"temp": 16.2, "value": 42.75}),
    ("L3_SY_1", "16.20,42.75", "pore_pressure", 42.75, {"temp": 16.2, "value": 42.75}),
]
SHAPE_IDS = [f"{kind}-{type(sent).__name__}" for _, sent, kind, _, _ in SHAPES]


# --- the frame's bytes ----------------------------------------------------------------------------


def test_encode_frame_writes_type_byte_big_endian_length_then_utf8_json():
    assert encode_frame(FRAME_DATA, {"D1": {"L1_LF_1": 12.43}}) == b'\x02\x00\x18{"D1":{"L1_LF_1":12.43}}'


def test_encode_frame_writes_a_length_over_255_big_endian():
    frame = encode_frame(FRAME_STATUS, {"D1": {"S1_ZT_1": {"sw_version": "x" * 264}}})
    assert frame[:3] == b"\x01\x01\x2c"  # 300 bytes
    assert len(frame) == 3 + 300


def test_encode_frame_counts_utf8_bytes_not_characters():
    frame = encode_frame(FRAME_DATA, {"监测站": {"L1_LF_1": 1}})
    body = '{"监测站":{"L1_LF_1":1}}'.encode()
    assert frame == b"\x02" + len(body).to_bytes(2, "big") + body
    assert len(body) > len('{"监测站":{"L1_LF_1":1}}')


def test_encode_frame_refuses_an_unknown_frame_type():
    with pytest.raises(ValueError, match="frame type 3"):
        encode_frame(3, {"D1": {}})


def test_encode_frame_refuses_json_longer_than_the_16_bit_length():
    with pytest.raises(ValueError, match="16-bit length"):
        encode_frame(FRAME_DATA, {"D1": {"L9_XX_1": "1," * 40_000}})


def test_hand_written_data_frame_decodes():
    payload = b'\x02\x00\x1f{"DEV-01":{"L1_LF_1":"12.430"}}'
    assert len(payload) == 3 + 0x1F
    frame = decode(payload)
    reading = only_reading(frame)
    assert (frame.device_id, reading.sensor_code, reading.kind) == ("DEV-01", "L1_LF_1", "crack")
    assert reading.value == 12.43


def test_hand_written_timestamped_data_frame_decodes():
    body = b'{"DEV-01":{"L1_GP_1":{"2026-07-01T08:00:00.000Z":"3.215,-1.408,0.512"}}}'
    assert len(body) == 0x48
    reading = only_reading(decode(b"\x02\x00\x48" + body))
    assert reading.ts == utc(T0)
    assert reading.fields == {"gpsTotalX": 3.215, "gpsTotalY": -1.408, "gpsTotalZ": 0.512}


def test_hand_written_status_frame_decodes():
    body = b'{"DEV-01":{"S1_ZT_1":{"battery_dump_energy":87,"lon":"106.551234"}}}'
    assert len(body) == 0x44
    frame = decode(b"\x01\x00\x44" + body)
    assert (frame.status.battery_pct, frame.status.lon) == (87.0, 106.551234)


def test_encoded_frame_decodes_to_what_was_encoded():
    frame = data({"L1_LF_1": {T0: 12.43}, "L3_YL_1": {T0: "0.5,123.5"}})
    assert [(r.sensor_code, r.ts, r.value) for r in frame.readings] == [
        ("L1_LF_1", utc(T0), 12.43),
        ("L3_YL_1", utc(T0), 0.5),
    ]


# --- malformed frames: each reason says what is wrong ---------------------------------------------


def test_empty_payload_is_malformed():
    assert malformed(b"") == "frame is 0 bytes, shorter than the 3-byte header (type byte, 2-byte length)"


def test_frame_shorter_than_its_header_is_malformed():
    assert "frame is 2 bytes, shorter than the 3-byte header" in malformed(b"\x02\x00")


def test_unknown_frame_type_is_malformed():
    assert malformed(b"\x03\x00\x02{}") == "unknown frame type 0x03 (expected 1 = status or 2 = data)"


def test_bare_json_without_the_frame_header_is_malformed_saying_so():
    reason = malformed(b'{"DEV-01":{"L1_LF_1":12.43}}')
    assert reason.startswith("unknown frame type 0x7b")
    assert "looks like bare JSON without the frame header" in reason


def test_frame_declaring_more_bytes_than_it_carries_is_malformed():
    body = encode_frame(FRAME_DATA, {"DEV-01": {"L1_LF_1": {T0: 12.43}, "L3_YL_1": {T0: "0.5,123.5"}}})[3:]
    assert len(body) == 108
    assert malformed(b"\x02\x00\x78" + body) == "frame declares 120 bytes of JSON but carries 108"


def test_frame_declaring_fewer_bytes_than_it_carries_is_malformed():
    payload = encode_frame(FRAME_DATA, {"DEV-01": {"L1_LF_1": 12.43}}) + b"\x00\x00"
    assert malformed(payload) == "frame declares 28 bytes of JSON but carries 30"


def test_little_endian_length_is_malformed():
    body = b'{"DEV-01":{"L1_LF_1":"12.430"}}'
    assert malformed(b"\x02\x1f\x00" + body) == "frame declares 7936 bytes of JSON but carries 31"


def test_json_that_is_not_utf8_is_malformed():
    body = '{"DEV-01":{"L1_LF_1":"监"}}'.encode("gbk")
    reason = malformed(b"\x02" + len(body).to_bytes(2, "big") + body)
    assert reason.startswith("frame JSON is not valid UTF-8: ")


def test_json_that_does_not_parse_is_malformed():
    body = b'{"DEV-01":{"L1_LF_1":12.43}'
    assert malformed(b"\x02\x00\x1b" + body).startswith("frame JSON does not parse: ")


def test_json_that_is_not_an_object_is_malformed():
    body = b'[{"DEV-01":{}}]'
    assert malformed(b"\x02\x00\x0f" + body) == "frame JSON is a list, not an object keyed by the device id"


def test_json_with_no_device_id_is_malformed():
    reason = malformed(encode_frame(FRAME_DATA, {}))
    assert reason == "frame JSON has 0 top-level keys (none); it must have exactly one, the device id"


def test_json_with_two_device_ids_is_malformed():
    reason = malformed(encode_frame(FRAME_DATA, {"DEV-01": {}, "DEV-02": {}}))
    assert reason == (
        "frame JSON has 2 top-level keys ('DEV-01', 'DEV-02'); it must have exactly one, the device id"
    )


def test_empty_device_id_is_malformed():
    assert malformed(encode_frame(FRAME_DATA, {"": {"L1_LF_1": 1}})) == (
        "frame JSON's top-level key, the device id, is empty"
    )


def test_data_frame_whose_device_carries_no_object_is_malformed():
    assert malformed(encode_frame(FRAME_DATA, {"DEV-01": [12.43]})) == (
        "data frame of device 'DEV-01' carries a list, not an object of sensors"
    )


def test_status_frame_whose_device_carries_no_object_is_malformed():
    assert malformed(encode_frame(FRAME_STATUS, {"DEV-01": "ok"})) == (
        "status frame of device 'DEV-01' carries a string 'ok', not an object of S1_ZT_1"
    )


def test_status_frame_without_S1_ZT_1_is_malformed():
    assert malformed(encode_frame(FRAME_STATUS, {"DEV-01": {"S2_ZT_1": {}}})) == (
        "status frame of device 'DEV-01' has no S1_ZT_1 object (keys: 'S2_ZT_1')"
    )


def test_status_frame_whose_S1_ZT_1_is_not_an_object_is_malformed():
    assert malformed(encode_frame(FRAME_STATUS, {"DEV-01": {"S1_ZT_1": 87}})) == (
        "status frame of device 'DEV-01': S1_ZT_1 is a number 87, not an object"
    )


# --- sensor codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_code, kind", TYPE_KINDS.items())
def test_sensor_code_type_gives_the_kind(type_code, kind):
    assert parse_sensor_code(f"L1_{type_code}_1") == kind


def test_sensor_code_kind_ignores_the_group_and_number():
    assert parse_sensor_code("L3_YL_12") == "rain"


@pytest.mark.parametrize("code", ["L1_XX_1", "L2_CJ_1", "S1_ZT_1"])
def test_sensor_code_of_an_unknown_type_is_other(code):
    assert parse_sensor_code(code) == "other"


@pytest.mark.parametrize("code", ["", "LF", "L1_LF", "L1_LF_x", "L1_LF_1_2", "L1-LF-1", "_LF_1", "l1_lf_1"])
def test_malformed_sensor_code_is_other(code):
    assert parse_sensor_code(code) == "other"


# --- data frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code, sent, kind, value, fields", SHAPES, ids=SHAPE_IDS)
def test_every_kind_decodes_from_each_value_shape_under_a_time_key(code, sent, kind, value, fields):
    reading = only_reading(data({code: {T0: sent}}))
    assert (reading.kind, reading.ts, reading.server_timed) == (kind, utc(T0), False)
    assert reading.value == pytest.approx(value)
    assert reading.fields == (pytest.approx(fields) if fields else None)
    assert reading.quality == []


@pytest.mark.parametrize("code, sent, kind, value, fields", SHAPES, ids=SHAPE_IDS)
def test_every_kind_without_the_time_level_is_server_timed_at_receipt(code, sent, kind, value, fields):
    reading = only_reading(data({code: sent}))
    assert (reading.kind, reading.ts, reading.server_timed) == (kind, RECEIVED_AT, True)
    assert reading.value == pytest.approx(value)
    assert reading.fields == (pytest.approx(fields) if fields else None)


def test_readings_carry_the_frames_device_id_and_the_sensor_code_as_sent():
    reading = only_reading(data({"L2_LF_07": {T0: 12.43}}, device="DEV-7"))
    assert (reading.device_id, reading.sensor_code, reading.kind) == ("DEV-7", "L2_LF_07", "crack")


def test_several_sensors_and_timestamps_in_one_frame_all_become_readings():
    frame = data({
        "L1_LF_1": {T0: 12.43, T1: 12.51, T2: 12.62},
        "L1_GP_1": {
            T0: "3.215,-1.408,0.512",
            T2: {"gpsTotalX": 3.301, "gpsTotalY": -1.452, "gpsTotalZ": 0.498},
        },
        "L3_YL_1": {T1: "0.5,123.5"},
    })
    assert frame.rejected == []
    assert [(r.sensor_code, r.ts) for r in frame.readings] == [
        ("L1_LF_1", utc(T0)), ("L1_LF_1", utc(T1)), ("L1_LF_1", utc(T2)),
        ("L1_GP_1", utc(T0)), ("L1_GP_1", utc(T2)),
        ("L3_YL_1", utc(T1)),
    ]


def test_timed_and_untimed_sensors_mix_in_one_frame():
    frame = data({"L1_LF_1": {T0: 12.43}, "L3_HS_1": 31.7})
    assert [(r.sensor_code, r.server_timed) for r in frame.readings] == [
        ("L1_LF_1", False), ("L3_HS_1", True),
    ]


def test_printf_integers_decode_in_every_shape():
    frame = data({
        "L1_LF_1": {T0: 12},
        "L3_YL_1": {T0: "1,1234"},
        "L1_JS_1": {T0: {"gX": 2, "gY": "-1", "gZ": 999}},
    })
    assert frame.rejected == []
    assert [r.value for r in frame.readings] == [12.0, 1.0, pytest.approx(math.hypot(2, -1, 999))]
    assert frame.readings[1].fields == {"value": 1.0, "totalValue": 1234.0}


def test_numeric_strings_in_an_object_of_fields_are_numbers():
    reading = only_reading(data({"L1_SW_1": {T0: {"dispsX": "4.210", "dispsY": "-2.370"}}}))
    assert reading.fields == {"dispsX": 4.21, "dispsY": -2.37}


def test_comma_string_tolerates_spaces_after_commas():
    reading = only_reading(data({"L1_SW_1": {T0: "4.21, -2.37"}}))
    assert reading.fields == {"dispsX": 4.21, "dispsY": -2.37}


def test_tilt_trend_is_stored_as_AZI():
    sent = {"X": 0.12, "Y": -0.03, "Z": 89.99, "angle": 0.124, "trend": 271.5}
    reading = only_reading(data({"L1_QJ_1": {T0: sent}}))
    assert reading.fields["AZI"] == 271.5
    assert "trend" not in reading.fields


def test_gnss_e_n_u_aliases_are_stored_as_gps_totals():
    reading = only_reading(data({"L1_GP_1": {T0: {"e": 3.215, "n": -1.408, "u": 0.512}}}))
    assert reading.fields == {"gpsTotalX": 3.215, "gpsTotalY": -1.408, "gpsTotalZ": 0.512}


def test_optional_fields_may_be_left_out_of_an_object():
    reading = only_reading(data({"L1_GP_1": {T0: {"gpsTotalX": 3.215, "gpsTotalY": -1.408}}}))
    assert reading.fields == {"gpsTotalX": 3.215, "gpsTotalY": -1.408}


def test_data_frame_with_no_sensors_has_no_readings_and_no_rejections():
    frame = data({})
    assert (frame.readings, frame.rejected, frame.status) == ([], [], None)


def test_data_frame_has_no_status():
    assert data({"L1_LF_1": 12.43}).status is None


# --- other: unknown codes are kept, never dropped ------------------------------------------------


def test_unknown_code_with_a_number_is_kept_as_other_with_that_value():
    reading = only_reading(data({"L1_CJ_1": {T0: 3.5}}))
    assert (reading.kind, reading.value, reading.fields) == ("other", 3.5, None)


def test_unknown_code_with_an_object_keeps_its_fields():
    reading = only_reading(data({"L2_DX_1": {T0: {"level": "2.31", "flow": 0.4}}}))
    assert (reading.kind, reading.value, reading.fields) == ("other", None, {"level": 2.31, "flow": 0.4})


def test_unknown_code_with_a_comma_string_gets_numbered_fields():
    reading = only_reading(data({"L1_CJ_1": {T0: "1.00,2.50,-3"}}))
    assert reading.fields == {"f1": 1.0, "f2": 2.5, "f3": -3.0}


def test_malformed_code_is_kept_as_other():
    reading = only_reading(data({"crackmeter-north": 12.43}))
    assert (reading.kind, reading.sensor_code, reading.value) == ("other", "crackmeter-north", 12.43)


def test_unknown_code_keeps_its_numeric_fields_and_names_the_rest():
    frame = data({"L2_DX_1": {T0: {"level": 2.31, "unit": "m"}}})
    assert frame.readings[0].fields == {"level": 2.31}
    assert frame.rejected == [
        f"L2_DX_1 at {T0}: field 'unit' is 'm', not a number; the other fields are kept"
    ]


def test_unknown_code_with_no_number_at_all_is_rejected():
    frame = data({"L2_DX_1": {T0: {"unit": "m"}}})
    assert frame.readings == []
    assert frame.rejected == [f"L2_DX_1 at {T0}: no numeric field in {{'unit': 'm'}}"]


# --- acceleration units ---------------------------------------------------------------------------


def test_acceleration_in_g_is_stored_in_mg():
    sent = {"gX": 0.0012, "gY": -0.0008, "gZ": 0.9986}
    reading = only_reading(data({"L1_JS_1": {T0: sent}}, accel_unit={DEVICE: "g"}))
    assert reading.fields == pytest.approx({"gX": 1.2, "gY": -0.8, "gZ": 998.6})
    assert reading.value == pytest.approx(math.hypot(1.2, -0.8, 998.6))


def test_acceleration_in_g_as_a_comma_string_is_stored_in_mg():
    reading = only_reading(data({"L1_JS_1": "0.001,-0.001,0.999"}, accel_unit={DEVICE: "g"}))
    assert reading.fields == pytest.approx({"gX": 1.0, "gY": -1.0, "gZ": 999.0})


def test_acceleration_in_g_is_range_checked_in_mg():
    reading = only_reading(data({"L1_JS_1": {T0: "0.5,0.2,17.0"}}, accel_unit={DEVICE: "g"}))
    assert reading.quality == ["out_of_range"]


def test_acceleration_is_taken_as_mg_by_default():
    reading = only_reading(data({"L1_JS_1": {T0: "1.2,-0.8,998.6"}}))
    assert reading.fields == {"gX": 1.2, "gY": -0.8, "gZ": 998.6}


def test_acceleration_unit_applies_only_to_its_device():
    reading = only_reading(data({"L1_JS_1": {T0: "1.2,-0.8,998.6"}}, accel_unit={"OTHER-DEVICE": "g"}))
    assert reading.fields == {"gX": 1.2, "gY": -0.8, "gZ": 998.6}


def test_acceleration_unit_does_not_scale_other_kinds():
    reading = only_reading(data({"L1_LF_1": {T0: 12.43}}, accel_unit={DEVICE: "g"}))
    assert reading.value == 12.43


def test_acceleration_with_an_unknown_device_unit_is_rejected():
    frame = data({"L1_JS_1": {T0: "1.2,-0.8,998.6"}}, accel_unit={DEVICE: "m/s2"})
    assert frame.rejected == [f"L1_JS_1 at {T0}: the device's acceleration unit 'm/s2' is not one of mg, g"]


def test_acceleration_in_g_with_a_bad_number_is_rejected_by_name():
    frame = data({"L1_JS_1": {T0: "0.001,x,0.999"}}, accel_unit={DEVICE: "g"})
    assert frame.rejected == [f"L1_JS_1 at {T0}: field 'gY' is 'x', not a number"]


# --- per-reading problems: rejected, the rest of the frame kept -----------------------------------


def test_bad_number_is_rejected_and_the_other_readings_are_kept():
    frame = data({"L1_LF_1": {T0: 12.43, T1: "12.5a"}, "L3_YL_1": {T0: 0.5}})
    assert [(r.sensor_code, r.ts) for r in frame.readings] == [("L1_LF_1", utc(T0)), ("L3_YL_1", utc(T0))]
    assert frame.rejected == [f"L1_LF_1 at {T1}: field 'value' is '12.5a', not a number"]


def test_bad_timestamp_is_rejected_and_the_other_timestamps_are_kept():
    frame = data({"L1_LF_1": {T0: 12.43, "2026-07-01T25:00:00.000Z": 12.51}})
    assert [r.ts for r in frame.readings] == [utc(T0)]
    assert frame.rejected == [
        "L1_LF_1 at 2026-07-01T25:00:00.000Z: timestamp '2026-07-01T25:00:00.000Z' is not ISO 8601 "
        "(e.g. 2026-07-01T08:00:00.000Z)"
    ]


def test_timestamp_without_a_zone_is_rejected_not_stored_as_a_field():
    frame = data({"L1_CJ_1": {"2026-07-01T08:00:00": 3.5}})
    assert frame.readings == []
    assert frame.rejected == [
        "L1_CJ_1 at 2026-07-01T08:00:00: timestamp '2026-07-01T08:00:00' has no time zone; "
        "devices must send UTC with 'Z'"
    ]


def test_comma_string_with_the_wrong_count_is_rejected_naming_the_sensor_and_fields():
    frame = data({"L1_QJ_1": {T0: "0.120,-0.030,89.990"}})
    assert frame.rejected == [
        f"L1_QJ_1 at {T0}: 3 comma-separated numbers in '0.120,-0.030,89.990', "
        "but tilt takes 5: X, Y, Z, angle, AZI"
    ]


def test_comma_string_with_a_trailing_comma_is_rejected():
    frame = data({"L1_SW_1": {T0: "4.21,-2.37,"}})
    assert frame.rejected == [
        f"L1_SW_1 at {T0}: 3 comma-separated numbers in '4.21,-2.37,', but deep takes 2: dispsX, dispsY"
    ]


def test_bare_number_for_a_kind_with_several_required_fields_is_rejected():
    frame = data({"L1_GP_1": {T0: 3.215}})
    assert frame.rejected == [
        f"L1_GP_1 at {T0}: a bare number 3.215, but gnss takes fields gpsTotalX, gpsTotalY, gpsTotalZ"
    ]


def test_missing_required_field_is_rejected():
    frame = data({"L1_QJ_1": {T0: {"X": 0.12, "Y": -0.03}}})
    assert frame.rejected == [f"L1_QJ_1 at {T0}: tilt reading lacks field(s) angle"]


@pytest.mark.parametrize("sent, shape", [([12.43], "a list"), (None, "null"), (True, "true")])
def test_value_of_the_wrong_shape_is_rejected(sent, shape):
    frame = data({"L1_LF_1": {T0: sent}})
    assert frame.rejected == [
        f"L1_LF_1 at {T0}: value is {shape}, not a number, an object of fields or a comma-separated string"
    ]


def test_empty_object_is_rejected():
    assert data({"L1_LF_1": {}}).rejected == ["L1_LF_1: an empty object carries no fields"]


def test_non_finite_number_is_rejected():
    body = b'{"DEV-01":{"L1_LF_1":{"2026-07-01T08:00:00.000Z":NaN}}}'
    frame = decode(b"\x02" + len(body).to_bytes(2, "big") + body)
    assert frame.rejected == [f"L1_LF_1 at {T0}: field 'value' is nan, not a finite number"]


def test_rejection_without_a_time_level_names_only_the_sensor():
    frame = data({"L1_GP_1": "3.215,oops,0.512"})
    assert frame.rejected == ["L1_GP_1: field 'gpsTotalY' is 'oops', not a number"]


def test_empty_sensor_code_is_rejected():
    frame = data({"": 12.43, "L1_LF_1": 12.43})
    assert [r.sensor_code for r in frame.readings] == ["L1_LF_1"]
    assert frame.rejected == ["a sensor with an empty code: every sensor needs <group>_<type>_<n>"]


# --- quality flags: stored, not dropped -----------------------------------------------------------


def test_out_of_range_value_is_kept_and_flagged():
    reading = only_reading(data({"L1_LF_1": {T0: "65535"}}))
    assert (reading.value, reading.quality) == (65535.0, ["out_of_range"])


def test_timestamp_beyond_the_future_tolerance_is_kept_and_flagged():
    reading = only_reading(data({"L1_LF_1": {"2026-07-01T08:31:00.000Z": 12.43}}))
    assert reading.quality == ["future"]


def test_timestamp_older_than_retention_is_kept_and_flagged():
    reading = only_reading(data({"L1_LF_1": {"2025-06-01T08:00:00.000Z": 12.43}}))
    assert reading.quality == ["stale"]


# --- status frames --------------------------------------------------------------------------------

FULL_STATUS = {
    "ext_power_volt": 12.31,
    "solar_volt": "18.60",
    "battery_dump_energy": 87,
    "temp": 23.5,
    "humidity": 61.2,
    "lon": "106.551234",
    "lat": "29.563009",
    "signal_4g": -79,
    "signal_NB": -95,
    "signal_bd": 42,
    "sw_version": "V2.1.7",
    "sensor_state": {"L1_LF_1": 0, "L1_GP_1": -1, "L1_QJ_1": -2, "L3_YL_1": -3},
}


def test_status_frame_decodes_every_field():
    frame = status(FULL_STATUS)
    s = frame.status
    assert frame.rejected == []
    assert (s.device_id, s.supply_v, s.solar_v, s.battery_pct, s.temp_c, s.humidity_pct) == (
        DEVICE, 12.31, 18.6, 87.0, 23.5, 61.2
    )
    assert (s.lon, s.lat) == (106.551234, 29.563009)
    assert (s.signal_4g, s.signal_nb, s.signal_bd, s.sw_version) == (-79.0, -95.0, 42.0, "V2.1.7")
    assert s.sensor_state == {"L1_LF_1": 0, "L1_GP_1": -1, "L1_QJ_1": -2, "L3_YL_1": -3}


def test_status_without_a_time_key_is_at_the_time_of_receipt():
    assert status(FULL_STATUS).status.at == RECEIVED_AT


def test_status_wrapped_in_a_time_key_is_at_that_time():
    frame = status({T0: FULL_STATUS})
    assert frame.rejected == []
    assert (frame.status.at, frame.status.battery_pct) == (utc(T0), 87.0)


def test_status_with_several_time_keys_keeps_the_latest():
    frame = status({T1: {"battery_dump_energy": 80}, T0: {"battery_dump_energy": 90}})
    assert (frame.status.at, frame.status.battery_pct) == (utc(T1), 80.0)


def test_status_with_a_bad_time_key_is_kept_at_the_time_of_receipt():
    frame = status({"2026-07-01T08:00:00": {"battery_dump_energy": 87}})
    assert (frame.status.at, frame.status.battery_pct) == (RECEIVED_AT, 87.0)
    assert frame.rejected == [
        "S1_ZT_1 at 2026-07-01T08:00:00: timestamp '2026-07-01T08:00:00' has no time zone; "
        "devices must send UTC with 'Z'; using the time of receipt"
    ]


def test_status_fields_left_out_are_none():
    s = status({"battery_dump_energy": 87}).status
    assert s.battery_pct == 87.0
    assert (s.supply_v, s.solar_v, s.temp_c, s.humidity_pct, s.lon, s.lat) == (None,) * 6
    assert (s.signal_4g, s.signal_nb, s.signal_bd, s.sw_version) == (None,) * 4
    assert s.sensor_state == {}


def test_empty_status_object_is_a_status_with_nothing_known():
    frame = status({})
    assert (frame.rejected, frame.status.battery_pct, frame.status.raw) == ([], None, {})


def test_status_numeric_strings_are_numbers():
    s = status({"ext_power_volt": "12.31", "signal_4g": "-79", "battery_dump_energy": "87"}).status
    assert (s.supply_v, s.signal_4g, s.battery_pct) == (12.31, -79.0, 87.0)


def test_status_null_or_empty_string_counts_as_missing():
    frame = status({"lon": "", "lat": None, "battery_dump_energy": 87})
    assert (frame.status.lon, frame.status.lat, frame.rejected) == (None, None, [])


def test_status_unparseable_field_is_ignored_and_named_and_the_rest_kept():
    frame = status({"battery_dump_energy": "full", "ext_power_volt": 12.31})
    assert (frame.status.battery_pct, frame.status.supply_v) == (None, 12.31)
    assert frame.rejected == ["S1_ZT_1: field 'battery_dump_energy' is 'full', not a number; ignored"]


def test_status_position_out_of_range_is_ignored_and_named():
    frame = status({"lon": "1065.51234", "lat": "29.563009"})
    assert (frame.status.lon, frame.status.lat) == (None, 29.563009)
    assert frame.rejected == ["S1_ZT_1: field 'lon' is '1065.51234', not a number in [-180, 180]; ignored"]


def test_status_sensor_state_values_are_ints():
    state = status({"sensor_state": {"L1_LF_1": "0", "L1_GP_1": "-1", "L3_YL_1": -3.0}}).status.sensor_state
    assert state == {"L1_LF_1": 0, "L1_GP_1": -1, "L3_YL_1": -3}
    assert all(type(code) is int for code in state.values())


def test_status_sensor_state_that_is_not_an_integer_is_ignored_and_named():
    frame = status({"sensor_state": {"L1_LF_1": 0, "L1_GP_1": "err", "L1_QJ_1": -1.5}})
    assert frame.status.sensor_state == {"L1_LF_1": 0}
    assert frame.rejected == [
        "S1_ZT_1: sensor_state of 'L1_GP_1' is 'err', not an integer code; ignored",
        "S1_ZT_1: sensor_state of 'L1_QJ_1' is -1.5, not an integer code; ignored",
    ]


def test_status_sensor_state_that_is_not_an_object_is_ignored_and_named():
    frame = status({"sensor_state": [0, -1], "battery_dump_energy": 87})
    assert (frame.status.sensor_state, frame.status.battery_pct) == ({}, 87.0)
    assert frame.rejected == ["S1_ZT_1: field 'sensor_state' is a list, not an object; ignored"]


def test_status_sw_version_sent_as_a_number_is_kept_as_text():
    assert status({"sw_version": 2.1}).status.sw_version == "2.1"


def test_status_sw_version_that_is_an_object_is_ignored_and_named():
    frame = status({"sw_version": {"major": 2}})
    assert frame.status.sw_version is None
    assert frame.rejected == ["S1_ZT_1: field 'sw_version' is {'major': 2}, not a version; ignored"]


def test_status_raw_is_the_status_object_as_sent():
    sent = {**FULL_STATUS, "vendor_field": "abc"}
    assert status({T0: sent}).status.raw == sent


def test_status_frame_beside_other_objects_names_them_and_keeps_the_status():
    body = {DEVICE: {"S1_ZT_1": {"battery_dump_energy": 87}, "S2_ZT_1": {}}}
    frame = decode(encode_frame(FRAME_STATUS, body))
    assert frame.status.battery_pct == 87.0
    assert frame.rejected == ["status frame: ignored 'S2_ZT_1', which is not S1_ZT_1"]


def test_status_frame_has_no_readings():
    assert status(FULL_STATUS).readings == []


def test_status_time_key_is_found_beside_stray_keys():
    frame = status({"vendor": "x", T0: {"battery_dump_energy": 87}})
    assert (frame.status.at, frame.status.battery_pct) == (utc(T0), 87.0)
