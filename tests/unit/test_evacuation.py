"""`alerting.flows.parse_evacuation`: the API's evacuation model, strict, with a readable refusal per field."""

from datetime import datetime, timedelta, timezone

import pytest

from alerting.flows import InvalidEvacuation, parse_evacuation

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
GIVEN = {"people_moved": 38, "shelter": "Qiaokou school"}


def test_an_evacuation_defaults_to_the_actor_and_now_and_trims_the_shelter():
    moved = parse_evacuation({**GIVEN, "shelter": " Qiaokou school "}, actor="officer", now=NOW)
    assert (moved.people_moved, moved.shelter, moved.organised_by, moved.moved_at) == (
        38, "Qiaokou school", "officer", NOW)


def test_an_evacuation_takes_who_organised_it_and_an_iso_time():
    moved = parse_evacuation({**GIVEN, "organised_by": "village head Chen", "moved_at": "2026-07-01T19:10:00+08:00"},
                             actor="officer", now=NOW)
    assert (moved.organised_by, moved.moved_at) == ("village head Chen", NOW - timedelta(minutes=50))


@pytest.mark.parametrize(("fields", "message"), [
    ({"people_moved": True}, "people_moved True is not a whole number, 0 or more"),
    ({"people_moved": "3"}, "people_moved '3' is not a whole number, 0 or more"),
    ({"households_moved": -1}, "households_moved -1 is not a whole number, 0 or more"),
    ({"shelter": "  "}, "shelter (where the people went) is missing"),
    ({"organised_by": 5}, "organised_by 5 is not a name"),
    ({"moved_at": "tonight"}, "moved_at 'tonight' is not an ISO 8601 time"),
    ({"moved_at": "2026-07-01T19:10:00"}, "moved_at '2026-07-01T19:10:00' is not a time with its UTC offset"),
    ({"note": 5}, "note 5 is not text"),
    ({"bus": 2, "area": "A"}, "unknown field area, bus (it takes people_moved, shelter, households_moved, note, "
                              "organised_by, moved_at)"),
], ids=["bool", "text-number", "negative-households", "blank-shelter", "organiser", "not-iso", "no-offset", "note",
        "unknown"])
def test_a_refused_field_is_named_with_its_value(fields, message):
    with pytest.raises(InvalidEvacuation) as refused:
        parse_evacuation({**GIVEN, **fields}, actor="officer", now=NOW)
    assert refused.value.detail == f"evacuation: {message}"
