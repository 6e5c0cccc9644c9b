"""The console is Chinese by default: every message of its templates and code has a Chinese translation, and the
domain's words that pages translate from data are all in the catalogue."""

from typing import get_args

from alerting.levels import LEVEL_NAMES
from alerting.scheduled import GRID_CHAIN
from service.alerts.schemas import AlertState, AlertType
from service.auth.schemas import ROLES
from service.console import i18n, words
from service.hazard_points.schemas import HazardType
from service.patrols.schemas import FINDINGS, Judgement, Regime, TaskState


def test_every_message_of_the_console_has_a_chinese_translation():
    assert i18n.untranslated("zh") == []


def test_every_word_the_pages_translate_from_data_is_listed_for_translation():
    assert set(words.ROLES) == set(ROLES)
    assert set(words.LEVELS) == set(LEVEL_NAMES)
    assert set(words.ALERT_STATES) == set(get_args(AlertState))
    assert set(words.ALERT_TYPES) == set(get_args(AlertType))
    assert set(words.HAZARD_TYPES) == set(get_args(HazardType))
    assert set(words.REGIMES) == set(get_args(Regime))
    assert set(words.TASK_STATES) == set(get_args(TaskState))
    assert set(words.FINDINGS) == set(FINDINGS)
    assert set(words.JUDGEMENTS) == set(get_args(Judgement))
    assert words.GRID_CHAIN == GRID_CHAIN


def test_chinese_is_the_default_and_english_the_only_other_choice():
    assert i18n.pick_locale(None) == "zh"
    assert i18n.pick_locale("fr") == "zh"
    assert i18n.gettext("zh", "Alert queue") == "告警队列"
    assert i18n.gettext("en", "Alert queue") == "Alert queue"
