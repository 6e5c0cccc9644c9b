"""The warning science held to real slopes (SPEC 4.1 and 8): series replayed through the engine, one table of targets.

Each case is replayed exactly as `geohazard replay-series` replays a file (the same functions, imported): its
readings go through ingest's quality filter into temporary tables and the live engine evaluates after every
reading, with defaults and no per-site tuning beyond the sensor's resolution and reporting interval.

- `dexing_gbsar.csv` (a real open-pit slope failure; GB-SAR every 7 min over its last 24.5 h): resolution 1 mm,
  the first 6 h as the quiet baseline, the failure at the row flagged landslide_flag 1.
- `baijialiang_gbsar.csv` (28 days of a slope that did not fail, whole millimetres every 10 min): resolution 1 mm.
- synthetic, generated here: a crack gauge read hourly whose rate jumps from 2 to 30 mm/d (v0 2 mm/d); an ideal
  Fukuzono approach to failure after three quiet days (1/v falling linearly to 0 at a known time); a steady
  creep with sensor noise; a quiet slope read in whole millimetres.

The real series are read from ../shared/science/ (never copied into the repository). A scratch database is
migrated on the configured server (GEOHAZARD_DATABASE_URL's) and dropped at the end, unless --database-url names
a migrated one to use instead (nothing is written to it either: replays roll back).

    .venv/bin/python bench/science.py [--database-url URL] [--science-dir ../shared/science]
"""

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import numpy as np
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repository, for alerting and sql

from alerting.levels import LEVEL_NAMES  # noqa: E402
from service.replay_series import (  # noqa: E402
    Series,
    SeriesError,
    SeriesReplay,
    plan_for,
    read_series,
    replay_series,
)
from alerting.rules import RULE_VERSION  # noqa: E402
from runtime.settings import Settings  # noqa: E402
from sql.migrate import migrate  # noqa: E402

SCIENCE_DIR = REPO.parent / "shared" / "science"
START = datetime(2026, 7, 1, tzinfo=timezone.utc)  # synthetic series start here
SEED = 1

# SPEC 8's targets.
DEXING_ORANGE_LEAD_H = 12.0
DEXING_RED_LEAD_H = 4.0
FORECAST_FROM_H = 4.0  # the forecast must be within FORECAST_WITHIN_H of the failure from this long before it
FORECAST_WITHIN_H = 2.0
BAIJIALIANG_MAX_RED = 1
BAIJIALIANG_MAX_ORANGE = 3
JUMP_RED_WITHIN_READINGS = 2


@dataclass(frozen=True)
class Check:
    """One figure of a case against its target: `measure(replay)` gives (what was measured, met)."""

    figure: str
    target: str
    measure: Callable[[SeriesReplay], tuple[str, bool]]


@dataclass(frozen=True)
class Case:
    name: str
    series: Callable[[], Series]
    options: dict
    checks: tuple[Check, ...]


# --- the figures --------------------------------------------------------------------------------

def lead_at_least(level: str, hours: float) -> Check:
    """The first alert at `level` comes at least `hours` before the failure."""

    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        first = replay.first_at(level)
        if first is None:
            return "never", False
        lead = (replay.plan.failure_at - first.at).total_seconds() / 3600
        return f"{lead:.2f} h before", lead >= hours

    return Check(f"first {level}", f">= {hours:g} h before failure", measure)


def forecast_within(from_h: float, within_h: float) -> Check:
    """Every evaluation from `from_h` before the failure forecasts it within `within_h`."""

    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        failure = replay.plan.failure_at
        late = [e for e in replay.evaluations if failure - timedelta(hours=from_h) <= e.at < failure]
        predicted = [e.predicted_failure_at() for e in late]
        errors = [abs((p - failure).total_seconds()) / 3600 for p in predicted if p is not None]
        missing = sum(p is None for p in predicted)
        if not errors:
            return f"no forecast in {len(late)} evaluations", False
        told = f"worst error {max(errors):.2f} h" + (f", {missing} of {len(late)} evaluations without one" if missing
                                                     else f" over {len(late)} evaluations")
        return told, not missing and max(errors) <= within_h

    return Check("failure forecast", f"within {within_h:g} h from {from_h:g} h before", measure)


def episodes_at_most(level: str, most: int) -> Check:
    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        n = replay.episodes()[level]
        return f"{n}", n <= most

    return Check(f"{level} episodes", f"<= {most}", measure)


def red_within_readings_of(jump_at: datetime, readings: int) -> Check:
    """Red comes with at most `readings` readings of the new trend (those after jump_at)."""

    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        first = replay.first_at("red")
        if first is None:
            return "never", False
        n = sum(jump_at < t <= first.at for t in replay.series.times)
        return f"at reading {n} of the new trend", n <= readings

    return Check("red after the jump", f"within {readings} readings", measure)


def none_flagged_after(jump_at: datetime) -> Check:
    """No reading of the new trend keeps a flag (SPEC 8), and none but its first is flagged even on arrival: a
    spike flag may wait for the next reading to be taken back, and that is all it may do (SPEC 3)."""

    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        arrived = sorted(t for t, _ in replay.flagged_on_arrival if t > jump_at)
        left = sum(t > jump_at for t, _ in replay.flagged)
        first = min((t for t in replay.series.times if t > jump_at), default=None)
        return (f"{len(arrived)} flagged on arrival (the first of the trend: {arrived == [first]}), {left} still "
                "flagged after the next reading", left == 0 and arrived in ([], [first]))

    return Check("readings of the new trend flagged", "none kept past the next reading", measure)


def highest_alert_below(level: str) -> Check:
    def measure(replay: SeriesReplay) -> tuple[str, bool]:
        top = max((e.alert_level for e in replay.evaluations), key=LEVEL_NAMES.index, default="none")
        return f"highest alert {top}", LEVEL_NAMES.index(top) < LEVEL_NAMES.index(level)

    return Check(f"no {level}", f"alert stays below {level}", measure)


# --- the synthetic series ------------------------------------------------------------------------

def synthetic(name: str, hours: np.ndarray, mm: np.ndarray) -> Series:
    return Series(f"synthetic: {name}", "t", "mm", [START + timedelta(hours=float(h)) for h in hours],
                  [round(float(v), 4) for v in mm], None, 0)


JUMP_AFTER_H = 72  # 3 days at 2 mm/d, then 30 mm/d


def jump() -> Series:
    hours = np.arange(0, JUMP_AFTER_H + 13)
    mm = np.where(hours <= JUMP_AFTER_H, 2.0 * hours / 24, 2.0 * JUMP_AFTER_H / 24 + 30.0 * (hours - JUMP_AFTER_H) / 24)
    return synthetic("crack gauge, 2 then 30 mm/d", hours, mm)


FUKUZONO_QUIET_H = 72
FUKUZONO_TO_FAILURE_H = 48
FUKUZONO_V_MM_PER_DAY = 1.0


def fukuzono() -> Series:
    """Quiet creep at 1 mm/d, then v = v0 * T / (t_f - t): 1/v falls linearly to 0 at t_f; read up to 1 h before."""
    hours = np.arange(0, FUKUZONO_QUIET_H + FUKUZONO_TO_FAILURE_H)
    to_failure = FUKUZONO_QUIET_H + FUKUZONO_TO_FAILURE_H - hours
    quiet_mm = FUKUZONO_V_MM_PER_DAY * hours / 24
    scale = FUKUZONO_V_MM_PER_DAY * FUKUZONO_TO_FAILURE_H / 24
    accelerating_mm = (FUKUZONO_V_MM_PER_DAY * FUKUZONO_QUIET_H / 24
                       + scale * np.log(FUKUZONO_TO_FAILURE_H / np.maximum(to_failure, 1)))
    return synthetic("ideal Fukuzono", hours, np.where(hours <= FUKUZONO_QUIET_H, quiet_mm, accelerating_mm))


FUKUZONO_FAILURE_AT = START + timedelta(hours=FUKUZONO_QUIET_H + FUKUZONO_TO_FAILURE_H)


def steady_creep() -> Series:
    """Two weeks of 1 mm/d read hourly by a crack gauge with 0.02 mm of noise."""
    hours = np.arange(0, 14 * 24 + 1)
    noise = np.random.default_rng(SEED).normal(0.0, 0.02, hours.size)
    return synthetic("steady creep 1 mm/d, hourly, 0.02 mm noise", hours, 1.0 * hours / 24 + noise)


def whole_millimetres() -> Series:
    """Two weeks of a slope creeping 0.3 mm/d, read every 10 min in whole millimetres with 0.3 mm of noise."""
    hours = np.arange(0, 14 * 24 * 6 + 1) / 6
    noise = np.random.default_rng(SEED + 1).normal(0.0, 0.3, hours.size)
    return synthetic("quiet slope 0.3 mm/d, every 10 min, whole mm", hours, np.round(20.0 + 0.3 * hours / 24 + noise))


def cases(science: Path) -> list[Case]:
    jump_at = START + timedelta(hours=JUMP_AFTER_H)
    dexing_targets = (lead_at_least("orange", DEXING_ORANGE_LEAD_H), lead_at_least("red", DEXING_RED_LEAD_H),
                      forecast_within(FORECAST_FROM_H, FORECAST_WITHIN_H))
    return [
        Case("dexing_gbsar.csv", lambda: read_series(science / "dexing_gbsar.csv"),
             {"kind": "crack", "resolution_mm": 1.0, "baseline_until": "6h"}, dexing_targets),
        Case("baijialiang_gbsar.csv", lambda: read_series(science / "baijialiang_gbsar.csv"),
             {"kind": "crack", "resolution_mm": 1.0},
             (episodes_at_most("red", BAIJIALIANG_MAX_RED), episodes_at_most("orange", BAIJIALIANG_MAX_ORANGE))),
        Case("jump 2 -> 30 mm/d", jump, {"kind": "crack", "v0_mm_per_day": 2.0},
             (red_within_readings_of(jump_at, JUMP_RED_WITHIN_READINGS), none_flagged_after(jump_at))),
        # The ideal approach to failure must meet what the real one (Dexing) must.
        Case("ideal Fukuzono", fukuzono,
             {"kind": "crack", "baseline_until": f"{FUKUZONO_QUIET_H}h",
              "failure_at": FUKUZONO_FAILURE_AT.isoformat()}, dexing_targets),
        Case("steady creep", steady_creep, {"kind": "crack"}, (highest_alert_below("red"),)),
        Case("whole-mm quiet", whole_millimetres, {"kind": "crack", "resolution_mm": 1.0},
             (highest_alert_below("red"),)),
    ]


# --- running them ------------------------------------------------------------------------------

@dataclass
class Row:
    case: str
    figure: str
    target: str
    measured: str
    met: str


async def run_case(conn: asyncpg.Connection, case: Case) -> list[Row]:
    started = time.monotonic()
    try:
        series = case.series()
        plan = plan_for(series, **case.options)
        print(f"{case.name}: replaying {len(series.values)} readings ...", file=sys.stderr, flush=True)
        replay = await replay_series(conn, series, plan)
    except SeriesError as exc:
        return [Row(case.name, check.figure, check.target, f"error: {exc}", "not met") for check in case.checks]
    print(f"{case.name}: {len(replay.evaluations)} evaluations in {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)
    rows = []
    for check in case.checks:
        measured, met = check.measure(replay)
        rows.append(Row(case.name, check.figure, check.target, measured, "met" if met else "not met"))
    return rows


def table(rows: list[Row]) -> str:
    header = Row("case", "figure", "target", "measured", "met")
    columns = list(vars(header))
    widths = {c: max(len(getattr(r, c)) for r in [header, *rows]) for c in columns}

    def line(r: Row) -> str:
        return "| " + " | ".join(getattr(r, c).ljust(widths[c]) for c in columns) + " |"

    return "\n".join([line(header), "| " + " | ".join("-" * widths[c] for c in columns) + " |", *map(line, rows)])


async def run_all(database_url: str, science: Path) -> list[Row]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = []
        for case in cases(science):
            rows += await run_case(conn, case)
        return rows
    finally:
        await conn.close()


def scratch_database(server_url: str) -> str:
    """A freshly migrated database of its own on the server of server_url."""
    url = urlsplit(server_url)._replace(path=f"/geohazard_science_{uuid.uuid4().hex[:10]}").geturl()
    migrate(url)
    return url


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(psycopg.conninfo.make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a migrated database to replay against (default: a scratch database "
                                               "on GEOHAZARD_DATABASE_URL's server, dropped at the end)")
    parser.add_argument("--science-dir", type=Path, default=SCIENCE_DIR,
                        help=f"where the real series are (default {SCIENCE_DIR})")
    args = parser.parse_args()
    url = args.database_url or scratch_database(Settings().database_url)
    started = time.monotonic()
    try:
        rows = asyncio.run(run_all(url, args.science_dir))
    finally:
        if not args.database_url:
            drop_database(url)
    met = sum(r.met == "met" for r in rows)
    print(f"Warning science on replayed series (SPEC 8), rule version {RULE_VERSION}, "
          f"{datetime.now(timezone.utc):%Y-%m-%d}, {time.monotonic() - started:.0f} s:\n")
    print(table(rows))
    print(f"\n{met} of {len(rows)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
