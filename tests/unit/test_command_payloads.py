"""Downlink commands of SPEC 2.1 and 2.2 on the wire: payloads, topics, parameter checks and answers."""

import json

import pytest
from paho.mqtt.client import topic_matches_sub

from sensors import commands
from sensors.commands import MalformedAnswer, build_command

SETSENSORTIME = {"sensor_id": "L1_LF_1", "sample_intv": 60, "upload_intv": 60, "plus_intv": 60}
WARNING = {"level": "red", "effective_time": "3600", "lon_range": "105.1,106.25", "lat_range": (29, 30.5)}


# --- payloads ----------------------------------------------------------------------------------


def test_setsensortime_is_the_spec_s_ascii_payload():
    payload = build_command("setsensortime", SETSENSORTIME).universal_payload()
    assert payload == "$cmd=setsensortime&sensor_id=L1_LF_1&sample_intv=60&upload_intv=60&plus_intv=60"


def test_getstatus_has_no_parameters():
    assert build_command("getstatus", {}).universal_payload() == "$cmd=getstatus"


def test_settime_names_the_time_server():
    assert build_command("settime", {"server": "ntp.example.cn"}).universal_payload() == \
        "$cmd=settime&server=ntp.example.cn"


def test_meteorological_warning_numbers_the_level_and_writes_ranges_as_two_numbers():
    payload = build_command("meteorologicalearlywarning", WARNING).universal_payload()
    assert payload == ("$cmd=meteorologicalearlywarning&level=0&effective_time=3600"
                       "&lon_range=105.1,106.25&lat_range=29,30.5")


def test_parameters_given_as_command_line_strings_become_numbers():
    command = build_command("setsensortime", {k: str(v) for k, v in SETSENSORTIME.items()})
    assert command.params == SETSENSORTIME


def test_native_payload_is_json_with_the_command_id_and_the_same_parameters():
    body = json.loads(build_command("setsensortime", SETSENSORTIME).native_payload("c-1"))
    assert body == {"command_id": "c-1", "cmd": "setsensortime", **SETSENSORTIME}


def test_native_payload_gives_ranges_as_json_arrays():
    body = json.loads(build_command("meteorologicalearlywarning", WARNING).native_payload("c-2"))
    assert body["lon_range"] == [105.1, 106.25] and body["level"] == 0


# --- parameter checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("reboot", {}, "unknown command 'reboot'; the commands are setsensortime, getstatus"),
        ("getstatus", {"now": "1"}, "getstatus: unknown now (it takes no parameters)"),
        ("settime", {}, "settime: missing server (it takes server)"),
        ("setsensortime", {**SETSENSORTIME, "sample_intv": 0},
         "setsensortime: sample_intv: 0 is not a whole number of seconds from 1 to 86400"),
        ("setsensortime", {**SETSENSORTIME, "upload_intv": "ten"},
         "setsensortime: upload_intv: 'ten' is not a whole number of seconds"),
        ("setsensortime", {**SETSENSORTIME, "sensor_id": "L1_LF_1&cmd=x"},
         "setsensortime: sensor_id: 'L1_LF_1&cmd=x' is not a sensor code"),
        ("settime", {"server": "ntp host"}, "settime: server: 'ntp host' is not a host name or address"),
        ("meteorologicalearlywarning", {**WARNING, "level": 4}, "level: 4 is not a warning level: 0 red"),
        ("meteorologicalearlywarning", {**WARNING, "lon_range": "106,105"},
         "lon_range: '106,105' is not a range a,b with -180 <= a <= b <= 180"),
        ("meteorologicalearlywarning", {**WARNING, "lat_range": "29"}, "lat_range: '29' is not two numbers 'a,b'"),
    ],
)
def test_bad_parameters_are_refused_with_a_readable_reason(name, params, message):
    with pytest.raises(ValueError) as raised:
        build_command(name, params)
    assert message in str(raised.value)


# --- topics ------------------------------------------------------------------------------------


def test_universal_commands_go_to_creq_with_the_command_id():
    topic = commands.request_topic("universal", topic_root="geohazard/v1", device_id="D1", command_id="c1")
    assert topic == "$creq/D1/c1"


def test_native_commands_go_to_the_gateway_s_cmd_topic():
    topic = commands.request_topic("native", topic_root="geohazard/v1", device_id="GW-1", command_id="c1")
    assert topic == "geohazard/v1/gateways/GW-1/cmd"


@pytest.mark.parametrize(
    ("topic", "source"),
    [
        ("$crsp/D1/c1", commands.AnswerSource("universal", "D1", "c1")),
        ("geohazard/v1/gateways/GW-1/cmd/result", commands.AnswerSource("native", "GW-1", None)),
        ("geohazard/v1/gateways/GW-1/readings", None),
        ("$crsp/D1", None),
        ("$dp", None),
    ],
)
def test_the_answer_topic_says_who_answered(topic, source):
    assert commands.answer_source(topic, "geohazard/v1") == source


@pytest.mark.parametrize("protocol", ["universal", "native"])
def test_every_answer_topic_is_covered_by_the_answer_subscriptions(protocol):
    topic = commands.answer_topic(protocol, topic_root="geohazard/v1", device_id="D1", command_id="c1")
    filters = commands.answer_subscriptions("geohazard/v1")
    assert any(topic_matches_sub(f, topic) for f in filters)


# --- answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("result", ["succ", "fail"])
def test_a_universal_answer_gives_the_command_and_its_result(result):
    answer = commands.parse_universal_answer(f"$cmd=setsensortime&result={result}".encode())
    assert (answer.name, answer.result) == ("setsensortime", result)


def test_a_universal_answer_may_end_with_a_line_break_or_nul():
    assert commands.parse_universal_answer(b"$cmd=getstatus&result=succ\r\n\x00").result == "succ"


@pytest.mark.parametrize("payload", [b"ok", b"$cmd=getstatus", b"$cmd=getstatus&result=maybe", b"\xff\xfe"])
def test_an_unreadable_universal_answer_is_malformed(payload):
    with pytest.raises(MalformedAnswer):
        commands.parse_universal_answer(payload)


def test_a_native_answer_gives_its_command_id():
    answer = commands.parse_native_answer(b'{"command_id": "c9", "cmd": "getstatus", "result": "fail"}')
    assert answer == commands.Answer("getstatus", "fail", "c9")


def test_a_native_answer_with_a_bad_result_still_names_its_command_id():
    with pytest.raises(MalformedAnswer) as raised:
        commands.parse_native_answer(b'{"command_id": "c9", "cmd": "getstatus", "result": "ok"}')
    assert raised.value.command_id == "c9"


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"cmd": "getstatus", "result": "succ"}'])
def test_a_native_answer_without_a_command_id_is_malformed(payload):
    with pytest.raises(MalformedAnswer):
        commands.parse_native_answer(payload)
