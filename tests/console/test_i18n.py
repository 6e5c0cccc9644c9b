"""The console is Chinese by default: every message of its templates and code has a Chinese translation, and the
domain's words that pages translate from data are all in the catalogue."""

from typing import get_args

from alerting.levels import LEVEL_NAMES
from service.alerts.schemas import AlertState, AlertType
from service.auth.schemas import ROLES
from service.console import i18n, words
from service.console.web import templates
from service.devices.schemas import Protocol, SensorKind
from service.hazard_points.schemas import GRID_ROLES, HazardType, PointStatus, Scale
from service.patrols.schemas import FINDINGS, Judgement, Regime, TaskState


def test_every_message_of_the_console_has_a_chinese_translation():
    assert i18n.untranslated("zh") == []


def test_every_word_the_pages_translate_from_data_is_listed_for_translation():
    assert set(words.ROLES) == set(ROLES)
    assert set(words.LEVELS) == set(LEVEL_NAMES)
    assert set(words.ALERT_STATES) == set(get_args(AlertState))
    assert set(words.ALERT_TYPES) == set(get_args(AlertType))
    assert set(words.HAZARD_TYPES) == set(get_args(HazardType))
    assert set(words.GRID_ROLES) == set(GRID_ROLES)
    assert set(words.SCALES) == set(get_args(Scale))
    assert set(words.POINT_STATUSES) == set(get_args(PointStatus))
    assert set(words.PATROL_REGIMES) == set(get_args(Regime))
    assert set(words.JUDGEMENTS) == set(get_args(Judgement))
    assert set(words.FINDINGS) == set(FINDINGS)
    assert set(words.DEVICE_PROTOCOLS) == set(get_args(Protocol))
    assert set(words.SENSOR_KINDS) == set(get_args(SensorKind))
    assert set(words.TASK_STATES) == set(get_args(TaskState))


def test_chinese_is_the_default_and_english_the_only_other_choice():
    assert i18n.pick_locale(None) == "zh"
    assert i18n.pick_locale("fr") == "zh"
    assert i18n.gettext("zh", "Alert queue") == "告警队列"
    assert i18n.gettext("en", "Alert queue") == "Alert queue"


def test_a_word_from_the_data_is_translated_and_escaped_unlike_a_message_of_the_templates():
    env = templates("zh").env
    assert env.from_string("{{ level | word }}").render(level="red") == "红色"
    assert env.from_string("{{ level | word }}").render(level="<b>red</b>") == "&lt;b&gt;red&lt;/b&gt;"
