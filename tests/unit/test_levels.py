"""`alerting.levels` is the one list of the warning levels: the tables kept per level name every one of them."""

import pytest

from alerting.channels import cap
from alerting.levels import ALERT_LEVELS, BLUE, LEVEL_NAMES, NONE, ORANGE, RED, YELLOW
from alerting.rules import HOLD
from alerting.scheduled import ACK_DEADLINE


def test_level_names_are_indexed_by_level():
    names = {level: LEVEL_NAMES[level] for level in (NONE, BLUE, YELLOW, ORANGE, RED)}
    assert names == {NONE: "none", BLUE: "blue", YELLOW: "yellow", ORANGE: "orange", RED: "red"}
    assert LEVEL_NAMES == ("none", *ALERT_LEVELS)


@pytest.mark.parametrize("table", [HOLD, ACK_DEADLINE, cap.URGENCY, cap.SEVERITY, cap.CERTAINTY, cap.RESPONSE,
                                   cap.LEVEL_ZH],
                         ids=["hold", "ack-deadline", "cap-urgency", "cap-severity", "cap-certainty", "cap-response",
                              "cap-level-zh"])
def test_a_table_by_level_names_every_alert_level(table):
    assert sorted(table, key=LEVEL_NAMES.index) == list(ALERT_LEVELS)
