"""`geohazard replay-series`: one recorded monitoring series replayed through the live engine's own path.

The series (a CSV file) becomes the readings of one displacement sensor of one hazard point, fed in time
order through ingest's quality filter and writer (`SeriesQuality.flag`, `write_batch`) and evaluated as
`evaluate_once` does (`load_window`, `assess`, `record_assessments`) after each reading (or each bin), with
the lifecycle's hold times. As `geohazard replay`
does, it runs against temporary twins of the tables involved (registry, readings, alerts and the quiet
baselines), inside a transaction that is rolled back: any migrated database serves, and nothing real is
read or written. No duty officer acknowledges or confirms anything, so orange and red never fall.

What comes out: the evaluations, each with the sensor's evidence as the assessment gives it; the ones that
change the level make the timeline, and `summary` gives the first yellow, orange and red with their lead
time before a known failure, the episodes per level, and the failure forecast at fixed times before it.
"""

import csv
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from math import isfinite
from pathlib import Path

import asyncpg

from alerting.baseline import refresh_baselines
from alerting.engine import record_assessments
from alerting.evaluate import assess, load_window
from alerting.levels import ALERT_LEVELS, LEVEL_NAMES, NONE
from alerting.replay import parse_duration
from alerting.rules import displacement_bin_s
from ingest.quality import SeriesQuality
from ingest.writer import Batch, prepare, write_batch
from sensors.kinds import REQUIRED_FIELDS
from sensors.readings import build_reading_within
from sensors.timestamps import aware_utc
from sql import queries

Q = queries("replay_series")
ENGINE_Q = queries("engine")

KINDS = ("crack", "gnss", "tilt", "deep")
STEPS = ("reading", "bin")
# The value column when none is named: the first of these the file has.
VALUE_COLUMNS = ("displacement_mm", "deformation_mm", "value")
TIME_COLUMN_PREFIX = "t_"
# A column marking the failure: the first row with 1 in it is the failure, unless --failure-at says otherwise.
FAILURE_FLAG_COLUMN = "landslide_flag"
# Hours before the failure at which the failure forecast is reported.
FORECAST_HOURS_BEFORE = (24, 12, 8, 4, 2, 1)

POINT = "REPLAY-SERIES"
DEVICE = "replay-series"
SENSOR = "series"
TOPIC = "replay-series"
AUTHOR = "geohazard replay-series"
NO_DATA = "no data"
ORANGE_AND_RED_STAY = ("no duty officer acknowledges or confirms during a replay, so an orange or red alert never "
                       "falls (SPEC 4.3): once there, it stays to the end, and episodes count rises to a level "
                       "from below it")


class SeriesError(ValueError):
    """The series file or an option cannot be used as given."""


@dataclass(frozen=True)
class Series:
    """A monitoring series read from a CSV file, in time order."""

    path: str
    time_column: str
    value_column: str
    times: list[datetime]
    values: list[float]
    flagged_failure_at: datetime | None  # the first row of the landslide_flag column with 1
    rows_without_value: int

    def median_interval_s(self) -> int:
        """The median spacing of the readings, in whole seconds (at least 1)."""
        steps = [(b - a).total_seconds() for a, b in zip(self.times, self.times[1:]) if b > a]
        return max(1, round(statistics.median(steps))) if steps else 1


@dataclass(frozen=True)
class ReplayPlan:
    """The sensor the series is replayed as, and what is known about the slope."""

    kind: str
    interval_s: int
    resolution_mm: float | None = None
    v0_mm_per_day: float | None = None
    baseline_until: datetime | None = None
    failure_at: datetime | None = None
    step: str = "reading"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: the sensor's assessed level and evidence, and the deformation alert's level after it."""

    at: datetime
    level: str
    alert_level: str
    reasons: list[str]
    sensor: dict  # the assessment's evidence entry for the sensor
    changed: bool = True  # the sensor's level or the alert's level differs from the evaluation before

    def line(self, failure_at: datetime | None) -> dict:
        """The timeline's JSON object for this evaluation: the named figures first, then every other field
        the evidence has."""
        e = self.sensor
        out = {"at": _iso(self.at), "hours_before_failure": _hours_before(self.at, failure_at),
               "level": self.level, "alert_level": self.alert_level, "reasons": self.reasons,
               "v_mm_per_day": e.get("velocity_mm_per_day"), "v0_mm_per_day": e.get("v0_mm_per_day"),
               "v0_source": e.get("v0_source"), "tangent_angle_deg": e.get("tangent_angle_deg"),
               "failure_forecast": e.get("failure_forecast")}
        shown = {"sensor", "kind", "level", "velocity_mm_per_day"} | out.keys()
        out.update((key, value) for key, value in e.items() if key not in shown)
        return out

    def predicted_failure_at(self) -> datetime | None:
        """The failure time the evidence forecasts, when it records one as a prediction."""
        forecast = self.sensor.get("failure_forecast") or {}
        predicted = forecast.get("predicted_failure_at")
        return datetime.fromisoformat(predicted) if predicted else None


@dataclass
class SeriesReplay:
    """What replaying a series gave: every evaluation, and the readings flagged."""

    series: Series
    plan: ReplayPlan
    evaluations: list[Evaluation] = field(default_factory=list)
    flagged: list[tuple[datetime, list[str]]] = field(default_factory=list)  # left flagged at the end
    flagged_on_arrival: list[tuple[datetime, list[str]]] = field(default_factory=list)  # some taken back later

    def first_at(self, level: str) -> Evaluation | None:
        """The first evaluation after which the deformation alert is at least at `level`."""
        rank = LEVEL_NAMES.index(level)
        return next((e for e in self.evaluations if LEVEL_NAMES.index(e.alert_level) >= rank), None)

    def episodes(self) -> dict[str, int]:
        """Per level, how many times the alert rose to at least that level from below it."""
        counts = dict.fromkeys(ALERT_LEVELS, 0)
        before = 0
        for e in self.evaluations:
            now = LEVEL_NAMES.index(e.alert_level)
            for rank in range(before + 1, now + 1):
                counts[LEVEL_NAMES[rank]] += 1
            before = now
        return counts

    def forecast_before(self, hours: float) -> dict:
        """The failure forecast of the last evaluation at least `hours` before the failure, with its error."""
        failure = self.plan.failure_at
        checkpoint = failure - timedelta(hours=hours)
        last = next((e for e in reversed(self.evaluations) if e.at <= checkpoint), None)
        predicted = last.predicted_failure_at() if last else None
        return {"hours_before": hours, "evaluated_at": _iso(last.at) if last else None,
                "predicted_failure_at": _iso(predicted) if predicted else None,
                "error_h": _round((predicted - failure).total_seconds() / 3600) if predicted else None}

    def summary(self) -> dict:
        """The figures of the replay as one JSON object."""
        s, plan, failure = self.series, self.plan, self.plan.failure_at
        last = self.evaluations[-1] if self.evaluations else None
        first = {}
        for level in ("yellow", "orange", "red"):
            e = self.first_at(level)
            first[level] = {"at": _iso(e.at), "hours_before_failure": _hours_before(e.at, failure)} if e else None
        return {
            "file": s.path, "time_column": s.time_column, "value_column": s.value_column, "kind": plan.kind,
            "readings": len(s.values), "rows_without_value": s.rows_without_value,
            "first_reading_at": _iso(s.times[0]), "last_reading_at": _iso(s.times[-1]),
            "interval_s": plan.interval_s, "resolution_mm": plan.resolution_mm, "v0_mm_per_day": plan.v0_mm_per_day,
            "baseline_until": _iso(plan.baseline_until) if plan.baseline_until else None, "step": plan.step,
            "evaluations": len(self.evaluations),
            "flagged_on_arrival": _flag_counts(self.flagged_on_arrival),
            "flagged_at_the_end": _flag_counts(self.flagged),
            "failure_at": _iso(failure) if failure else None,
            "first": first,
            "episodes": self.episodes(),
            "forecasts": [self.forecast_before(h) for h in FORECAST_HOURS_BEFORE] if failure else [],
            "final": {"level": last.level, "alert_level": last.alert_level} if last else None,
            "note": ORANGE_AND_RED_STAY,
        }


# --- reading the file and the options ----------------------------------------------------------

def read_series(path: str | Path, *, time_column: str | None = None, value_column: str | None = None) -> Series:
    """The series of a CSV file with a header row; SeriesError saying what is wrong otherwise."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            if not columns:
                raise SeriesError(f"{path} is empty: a header row naming the columns is needed")
            time_column = _column(path, columns, time_column, "--time-column",
                                  [c for c in columns if c.startswith(TIME_COLUMN_PREFIX)],
                                  f"no time column: none of the columns starts with {TIME_COLUMN_PREFIX!r}")
            value_column = _column(path, columns, value_column, "--value-column",
                                   [c for c in VALUE_COLUMNS if c in columns],
                                   f"no value column: none of {', '.join(VALUE_COLUMNS)}")
            flag_column = FAILURE_FLAG_COLUMN if FAILURE_FLAG_COLUMN in columns else None
            rows, skipped, flagged_at = [], 0, None
            for line, row in enumerate(reader, start=2):
                at = parse_time(row[time_column] or "", f"line {line} of {path}, column {time_column!r}:")
                text = (row[value_column] or "").strip()
                if not text:
                    skipped += 1
                    continue
                try:
                    value = float(text)
                except ValueError:
                    value = float("nan")
                if not isfinite(value):
                    raise SeriesError(f"line {line} of {path}, column {value_column!r}: {text!r} is not a number")
                rows.append((at, value))
                if flag_column and flagged_at is None and _is_one(row[flag_column]):
                    flagged_at = at
    except OSError as exc:
        raise SeriesError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SeriesError(f"{path} is not a UTF-8 text (CSV) file") from None
    if len(rows) < 2:
        raise SeriesError(f"{path} has {len(rows)} reading(s) with a value; a series needs at least two")
    rows.sort(key=lambda r: r[0])
    return Series(str(path), time_column, value_column, [r[0] for r in rows], [r[1] for r in rows], flagged_at,
                  skipped)


def _column(path, columns: list[str], named: str | None, option: str, candidates: list[str], none_found: str) -> str:
    if named is not None:
        if named not in columns:
            raise SeriesError(f"{path} has no column {named!r}; its columns are: {', '.join(columns)}")
        return named
    if not candidates:
        raise SeriesError(f"{path}: {none_found} (its columns are: {', '.join(columns)}); name one with {option}")
    return candidates[0]


def _is_one(text: str | None) -> bool:
    try:
        return float(text) == 1.0
    except (TypeError, ValueError):
        return False


def parse_time(text: str, what: str) -> datetime:
    """Epoch seconds, or ISO 8601 with a UTC offset, as an aware UTC datetime; else SeriesError saying why."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    if not text:
        raise SeriesError(f"{what} no time given")
    try:
        return aware_utc(text, what, "add +08:00 for Beijing time or Z for UTC")
    except ValueError as exc:
        raise SeriesError(f"{exc}; epoch seconds are taken too") from None


def plan_for(series: Series, *, kind: str = "crack", interval: str | None = None, resolution_mm: float | None = None,
             v0_mm_per_day: float | None = None, baseline_until: str | None = None, failure_at: str | None = None,
             step: str = "reading") -> ReplayPlan:
    """The replay of `series` the options ask for (durations and times as given on the command line)."""
    if kind not in KINDS:
        raise SeriesError(f"kind {kind!r} is not a displacement kind: one of {', '.join(KINDS)}")
    if step not in STEPS:
        raise SeriesError(f"step {step!r} is 'reading' (evaluate after every reading) or 'bin'")
    for name, number in (("--resolution-mm", resolution_mm), ("--v0", v0_mm_per_day)):
        if number is not None and not (isfinite(number) and number > 0):
            raise SeriesError(f"{name} must be a positive number of mm (or mm/d), not {number}")
    if v0_mm_per_day is not None and baseline_until is not None:
        raise SeriesError("give either --v0 (a configured v0) or --baseline-until (a quiet baseline), not both")
    try:
        interval_s = int(parse_duration(interval).total_seconds()) if interval else series.median_interval_s()
    except ValueError as exc:
        raise SeriesError(f"--interval: {exc}") from None
    until = _moment(baseline_until, series, "--baseline-until") if baseline_until else None
    if until is not None and until <= series.times[0]:
        raise SeriesError(f"--baseline-until {baseline_until} is not after the first reading ({_iso(series.times[0])})")
    failure = _moment(failure_at, series, "--failure-at") if failure_at else series.flagged_failure_at
    return ReplayPlan(kind, interval_s, resolution_mm, v0_mm_per_day, until, failure, step)


def _moment(text: str, series: Series, option: str) -> datetime:
    """A time, or a duration after the series' first reading (`6h`)."""
    try:
        return series.times[0] + parse_duration(text)
    except ValueError:
        return parse_time(text, f"{option}:")


def evaluation_times(series: Series, plan: ReplayPlan) -> list[datetime]:
    """When the engine evaluates: at every reading, or at the end of every bin after the first reading and at
    the last reading."""
    if plan.step == "reading":
        return sorted(set(series.times))
    first, last, width = series.times[0], series.times[-1], timedelta(seconds=displacement_bin_s(plan.interval_s))
    times = [first + width * i for i in range(1, int((last - first) / width) + 1)]
    return times if times and times[-1] == last else [*times, last]


# --- the replay -------------------------------------------------------------------------------

Progress = Callable[[int, int, Evaluation], None]


async def replay_series(conn: asyncpg.Connection, series: Series, plan: ReplayPlan,
                        progress: Progress | None = None) -> SeriesReplay:
    """Replay the series through ingest and the engine against shadow tables; nothing is kept.
    `progress(done, total, evaluation)` is called after each evaluation."""
    result = SeriesReplay(series, plan)
    times = evaluation_times(series, plan)
    if not await conn.fetchval(Q["has_sensor_baseline"]):
        raise SeriesError("this database has no quiet baselines (sensor_baseline) yet: run `geohazard migrate`")
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(ENGINE_Q["shadow_alert_tables"])
        await conn.execute(Q["shadow_tables"])
        await conn.execute(Q["insert_point"], POINT, f"replayed series ({AUTHOR})", AUTHOR)
        await conn.execute(Q["insert_device"], DEVICE, POINT, AUTHOR)
        await conn.execute(Q["insert_sensor"], DEVICE, SENSOR, plan.kind, POINT, plan.interval_s, plan.v0_mm_per_day,
                           plan.resolution_mm)
        await prepare(conn)
        quality = SeriesQuality()
        alert_level, done, before = LEVEL_NAMES[NONE], 0, None
        for n, at in enumerate(times, start=1):
            upto = done
            while upto < len(series.times) and series.times[upto] <= at:
                upto += 1
            result.flagged_on_arrival += await _ingest(conn, quality, plan.kind, series.times[done:upto],
                                                       series.values[done:upto])
            done = upto
            # As the live engine does before its evaluations: the baseline is recomputed once it is a day old
            # (or, with a baseline period, every time, from the readings of that period).
            if plan.baseline_until is None:
                await refresh_baselines(conn, at)
            else:
                await refresh_baselines(conn, at, until=plan.baseline_until, min_days=0)
            # evaluate_once, with the assessments kept for the sensor's evidence.
            assessments = assess(await load_window(conn, at))
            reasons, sensor = _sensor_evidence(assessments)
            for change in await record_assessments(conn, assessments, at):
                if change.type == "deformation":
                    alert_level = change.to_level or LEVEL_NAMES[NONE]
            level = sensor.get("level", NO_DATA)
            evaluation = Evaluation(at, level, alert_level, reasons, sensor, (level, alert_level) != before)
            before = (level, alert_level)
            result.evaluations.append(evaluation)
            if progress is not None:
                progress(n, len(times), evaluation)
        result.flagged = [(r["ts"], list(r["quality"])) for r in await conn.fetch(Q["flagged_readings"])]
    finally:
        await transaction.rollback()
    return result


async def _ingest(conn: asyncpg.Connection, quality: SeriesQuality, kind: str, times: list[datetime],
                  values: list[float]) -> list[tuple[datetime, list[str]]]:
    """Store readings as live ingest does: judged by the quality filter, then written with the spike flags
    they take back. Returns the readings flagged as they arrived, with their flags."""
    if not times:
        return []
    names = REQUIRED_FIELDS[kind]
    readings = []
    for at, value in zip(times, values):
        # A kind analysed as the resultant of two components gets the series as its first, 0 as its second.
        fields = {names[0]: value, **dict.fromkeys(names[1:], 0.0)}
        readings.append(build_reading_within(DEVICE, SENSOR, at, kind, fields, at, at, False))
    cleared = await quality.flag(conn, readings)
    await write_batch(conn, Batch(readings=[(TOPIC, r) for r in readings], devices_seen={DEVICE: times[-1]},
                                  cleared_spikes=cleared))
    return [(r.ts, list(r.quality)) for r in readings if r.quality]


def _sensor_evidence(assessments: list) -> tuple[list[str], dict]:
    """The deformation assessment's reasons and the sensor's evidence entry."""
    for assessment in assessments:
        if assessment.hazard_point == POINT and assessment.type == "deformation":
            assessment.explained()
            entries = assessment.evidence.get("sensors") or [{}]
            entry = next((e for e in entries if e.get("sensor") == f"{DEVICE}/{SENSOR}"), entries[0])
            return list(assessment.reasons or []), entry
    return [], {}


# --- telling a person -------------------------------------------------------------------------

def describe(replay: SeriesReplay) -> list[str]:
    """The summary as lines for a person."""
    s = replay.summary()
    failure = replay.plan.failure_at
    resolution = f"{s['resolution_mm']} mm" if s["resolution_mm"] is not None else "the kind's default"
    if s["v0_mm_per_day"] is not None:
        v0 = f"configured v0 {s['v0_mm_per_day']} mm/d"
    elif s["baseline_until"]:
        v0 = f"quiet baseline up to {s['baseline_until']}"
    else:
        v0 = "v0 as the engine finds it (baseline or the kind's default)"
    arrived, left = (", ".join(f"{n} {flag}" for flag, n in s[key].items()) or "none"
                     for key in ("flagged_on_arrival", "flagged_at_the_end"))
    lines = [f"{s['file']}: {s['readings']} readings of {s['value_column']} from {s['first_reading_at']} to "
             f"{s['last_reading_at']}, replayed as a {s['kind']} sensor reporting every {s['interval_s']} s, "
             f"resolution {resolution}, {v0}",
             f"{s['evaluations']} evaluations (every {s['step']}); readings flagged on arrival: {arrived}; "
             f"left flagged at the end: {left}",
             f"failure: {s['failure_at'] or 'none known'}"]
    for level, first in s["first"].items():
        if first is None:
            lines.append(f"first {level:<6}  never")
        else:
            lead = f" ({first['hours_before_failure']} h before the failure)" if failure else ""
            lines.append(f"first {level:<6}  {first['at']}{lead}")
    lines.append("episodes (the deformation alert rising to at least the level): "
                 + ", ".join(f"{level} {n}" for level, n in s["episodes"].items()))
    if s["forecasts"]:
        lines.append("failure forecast  (hours before the failure: forecast, error = forecast - real)")
        for f in s["forecasts"]:
            told = (f"{f['predicted_failure_at']}, error {f['error_h']:+.2f} h" if f["predicted_failure_at"]
                    else "none" if f["evaluated_at"] else "no evaluation yet")
            lines.append(f"  {f['hours_before']:>3} h: {told}")
    if s["final"]:
        lines.append(f"at the end: sensor {s['final']['level']}, deformation alert {s['final']['alert_level']}")
    lines.append(f"note: {s['note']}")
    return lines


def _flag_counts(flagged: list[tuple[datetime, list[str]]]) -> dict[str, int]:
    return dict(Counter(flag for _, flags in flagged for flag in flags))


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def _round(x: float) -> float:
    return round(x, 2)


def _hours_before(at: datetime, failure_at: datetime | None) -> float | None:
    return _round((failure_at - at).total_seconds() / 3600) if failure_at else None
