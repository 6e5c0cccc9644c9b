"""The database's warning levels are alerting.levels': its level functions and the CHECKs on level columns."""

import re

from alerting.levels import ALERT_LEVELS, LEVEL_NAMES


def test_the_database_ranks_the_levels_as_alerting_levels(db):
    assert db.execute("SELECT alert_levels()").fetchone()[0] == list(ALERT_LEVELS)
    ranks = db.execute("SELECT name, alert_level_rank(name) FROM unnest(%s::text[]) AS name", (list(LEVEL_NAMES),))
    # none is no alert: rank 0 in Python, no position (NULL) in SQL.
    assert dict(ranks.fetchall()) == {name: rank or None for rank, name in enumerate(LEVEL_NAMES)}


def test_every_check_on_a_level_column_lists_alerting_levels_in_order(db):
    checks = db.execute("SELECT conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)"
                        " FROM pg_constraint WHERE contype = 'c' AND pg_get_constraintdef(oid) LIKE '%''yellow''%'")
    listed = {name: tuple(re.findall(r"'(\w+)'::text", definition)) for name, definition in checks.fetchall()}
    assert listed == {"alert.alert_level_check": ALERT_LEVELS, "alert.alert_pending_level_check": LEVEL_NAMES,
                      "webhook.webhook_min_level_check": ALERT_LEVELS,
                      "weather_warning.weather_warning_level_check": ALERT_LEVELS}


def test_only_alert_levels_spells_the_levels_among_the_functions(db):
    functions = db.execute("SELECT proname FROM pg_proc WHERE prokind = 'f' AND pronamespace = 'public'::regnamespace"
                           " AND pg_get_functiondef(oid) LIKE '%''yellow''%'")
    assert functions.fetchall() == [("alert_levels",)]
