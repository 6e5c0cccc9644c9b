"""One evaluation: take each sensor's window of good readings (72 of its own bins for displacement, 11 days of
hours for rain), run the kernels, and assess every hazard point.

`load_window` is the only I/O (the readings come from the engine's rolling windows, `alerting.window`,
or straight from the database for replay); `assess` is numpy over all sensors at once and returns one Assessment
per (point, type) for `flows` to act on. Given the same readings and the same `now`, it gives the same
assessments: that is what makes replay reproduce live events.
"""

import gc
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache, partial
from math import isfinite
from operator import itemgetter

import asyncpg
import numpy as np

from alerting import kernels as k
from alerting.flows import Assessment
from alerting.levels import ALERT_LEVELS, BLUE, LEVEL_NAMES, NONE, ORANGE, RED, YELLOW
from alerting.rules import (
    ANGLE_ORANGE_DEG,
    ANGLE_RED_DEG,
    ANGLE_YELLOW_MARGIN_DEG,
    BIN_S,
    DEFAULT_RESOLUTION_MM,
    DEFAULT_V0_MM_PER_DAY,
    FORECAST_LONG_BINS,
    FORECAST_MIN_BINS,
    FORECAST_MIN_R2,
    FORECAST_MIN_SPEED_UP,
    FORECAST_ORANGE_H,
    FORECAST_RED_H,
    FORECAST_SHORT_BINS,
    GAUGE_SEARCH_RADIUS_M,
    MAX_GAP_BINS,
    RAIN_WINDOW_BINS,
    SMOOTH_BINS,
    STEADY_CREEP_DEG,
    WINDOW_BINS,
    displacement_bins_s,
)
from alerting.spatial import nearest_within
from alerting.window import SensorWindow, WindowStore
from sensors.kinds import DISPLACEMENT_KINDS
from sql import queries

Q = queries("engine")
_SILENT_AFTER = "3 reporting intervals, at least 1 h"
# The tangent-angle thresholds of the rule version, as the evidence states them.
_ANGLE_YELLOW_ABOVE_DEG = STEADY_CREEP_DEG + ANGLE_YELLOW_MARGIN_DEG
_ANGLE_THRESHOLDS = {"yellow": f"> {_ANGLE_YELLOW_ABOVE_DEG:g}", "orange": f">= {ANGLE_ORANGE_DEG:g}",
                     "red": f">= {ANGLE_RED_DEG:g}"}


@dataclass
class SensorSet:
    """The sensors of one family (displacement or rain) with their readings in the family's window."""

    rows: list  # monitored_sensors records, in array order
    idx: np.ndarray  # 0-based sensor position of each reading
    t_s: np.ndarray
    value: np.ndarray
    start_s: float  # rain bins are [start_s + k * BIN_S, ...), k < n_bins, the last ending at now (displacement
    # sensors lay out bins of their own, `deformation`)
    n_bins: int

    @cached_property
    def names(self) -> list[str]:
        return [sensor_name(r) for r in self.rows]


def sensor_name(row) -> str:
    """A sensor as evidence and reasons name it: device/code."""
    return f"{row['device_id']}/{row['code']}"


@dataclass
class Window:
    now: datetime
    points: list
    displacement: SensorSet
    rain: SensorSet


async def load_window(conn: asyncpg.Connection, now: datetime, points: list[str] | None = None,
                      store: WindowStore | None = None) -> Window:
    """Everything one evaluation needs; `points` limits it to those points. The readings come from the
    engine's rolling windows when a `store` is given (brought up to `now` first), else from the database."""
    point_rows = await conn.fetch(Q["active_points"], points)
    displacement_rows = await conn.fetch(Q["monitored_sensors"], list(DISPLACEMENT_KINDS), points)
    rain_rows = await conn.fetch(Q["gauges_near"], points)
    displacement_windows = family_windows(displacement_rows, displacement=True)
    rain_windows = family_windows(rain_rows, displacement=False)
    if store is None:
        displacement = await load_family(conn, displacement_rows, now, displacement_windows, WINDOW_BINS)
        rain = await load_family(conn, rain_rows, now, rain_windows, RAIN_WINDOW_BINS)
    else:
        await store.refresh(conn, displacement_windows + rain_windows, now)
        displacement = _family(displacement_rows, now, WINDOW_BINS, store.sensor_set(displacement_windows, now))
        rain = _family(rain_rows, now, RAIN_WINDOW_BINS, store.sensor_set(rain_windows, now))
    return Window(now, point_rows, displacement, rain)


async def load_family(conn: asyncpg.Connection, rows: list, now: datetime, windows: list[SensorWindow],
                      n_bins: int) -> SensorSet:
    """The family's good readings, each sensor's in (now - its horizon, now], read from the database."""
    horizon = np.array([w.horizon_s for w in windows]) if windows else np.zeros(0)
    frm = now - timedelta(seconds=float(horizon.max()) if len(horizon) else 0.0)
    data = await conn.fetchrow(Q["window_readings"], [r["device_id"] for r in rows], [r["code"] for r in rows],
                               frm, now)
    idx = np.asarray(data["idx"], dtype=np.int64) - 1
    t_s = np.asarray(data["t_s"], dtype=np.float64)
    value = np.asarray(data["value"], dtype=np.float64)
    keep = t_s > now.timestamp() - horizon[idx] if len(idx) else np.zeros(0, bool)
    return _family(rows, now, n_bins, (idx[keep], t_s[keep], value[keep]))


def _family(rows: list, now: datetime, n_bins: int, readings: tuple[np.ndarray, np.ndarray, np.ndarray]) -> SensorSet:
    # Rain bins are (now - n_bins h, now] in 1 h steps, aligned to `now` so that the last bin is a full hour;
    # displacement sensors lay out bins of their own (deformation()).
    frm = now - timedelta(seconds=BIN_S * n_bins)
    return SensorSet(rows, *readings, frm.timestamp() + 1e-6, n_bins)


def family_windows(rows: list, *, displacement: bool) -> list[SensorWindow]:
    """The sensors' windows: a displacement sensor's reaches back WINDOW_BINS of its own bins, a rain gauge's
    RAIN_WINDOW_BINS hours."""
    if not displacement:
        return [SensorWindow(r["device_id"], r["code"], float(BIN_S * RAIN_WINDOW_BINS)) for r in rows]
    horizon_s = displacement_bins_s([r["reporting_interval_s"] for r in rows]) * float(WINDOW_BINS)
    return [SensorWindow(r["device_id"], r["code"], h) for r, h in zip(rows, horizon_s.tolist())]


def _threshold_matrices(dicts: list[dict], *tables: tuple[str, tuple]) -> list[np.ndarray]:
    """For each (key, default): [n, 4] blue..red thresholds from each row's JSON `{key: {"blue": .., ...}}`. A
    row without the table takes `default` (None: no threshold); in a row's own table a level left out is not
    warned on (NaN)."""
    # Most rows share a few JSON texts, parsed once into the same dict (_parsed): one table row per dict, and
    # the rows' tables found by the dicts' identities in C (map), not in a Python loop.
    ids = list(map(id, dicts))
    distinct = {id(d): d for d in dicts}
    position = {key_id: n for n, key_id in enumerate(distinct)}
    which = np.fromiter(map(position.__getitem__, ids), dtype=np.int64, count=len(ids))
    out = []
    for key, default in tables:
        unset = list(default or (np.nan,) * 4)
        rows = [[given.get(level, np.nan) for level in ALERT_LEVELS] if (given := d.get(key)) else unset
                for d in distinct.values()]
        out.append(np.array(rows, dtype=float).reshape(-1, 4)[which])
    return out


def _json(value) -> dict:
    return _parsed(value) if isinstance(value, str) else (value or {})


@lru_cache(maxsize=65_536)
def _parsed(text: str) -> dict:
    # Thresholds and plans are the same few JSON texts evaluation after evaluation; parse each once.
    # Callers only read the result.
    return json.loads(text)


def _round(x: float, digits: int = 2):
    x = float(x)
    return round(x, digits) if isfinite(x) else None


def assess(w: Window) -> list[Assessment]:
    """Assess every active hazard point for deformation and rainfall."""
    # An evaluation allocates a few objects per point (assessments, their explainers), none in a cycle; with
    # the registry's rows alive, the cycle collector would scan them all again and again meanwhile (at
    # 100,000 sensors it took 60% of the time of building the assessments).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _assess(w)
    finally:
        if enabled:
            gc.enable()


def _assess(w: Window) -> list[Assessment]:
    point_pos = {p["code"]: i for i, p in enumerate(w.points)}
    n_points = len(w.points)
    deformation, has_displacement, def_evidence = _assess_deformation(w, point_pos, n_points)
    rain_silent = _silent(w.rain, w.now)
    rain, rain_evidence = _assess_rain(w, point_pos, n_points, ~rain_silent)
    silent = _silent_by_point(point_pos, (w.displacement, _silent(w.displacement, w.now)), (w.rain, rain_silent))
    deformation_alert, rain_alert, coupled = _alert_levels(w.points, deformation, rain)
    explanation = _Explanation(def_evidence, rain_evidence, rain, rain_alert, coupled)
    explain_deformation, explain_rain = explanation.deformation, explanation.rainfall

    # Levels for every point; reasons and evidence only for the alerts that change (Assessment.explain).
    deformation_levels = _levels_or_none(deformation_alert)
    rain_levels = _levels_or_none(rain_alert)
    monitored = has_displacement.tolist()
    out = []
    append = out.append  # three assessments for each of up to 100,000 points: the loop itself counts
    for i, p in enumerate(w.points):
        code, county = p["code"], p["county_code"]
        if monitored[i]:
            append(Assessment(code, county, "deformation", deformation_levels[i],
                              explain=partial(explain_deformation, i)))
        append(Assessment(code, county, "rainfall", rain_levels[i], explain=partial(explain_rain, i)))
        append(_device_assessment(code, county, silent.get(i)))
    return out


def _silent_by_point(point_pos: dict, *families: tuple[SensorSet, np.ndarray]) -> dict[int, list[str]]:
    """The silent sensors (each family's mask) of each point that has any: few points, so a dict of them."""
    silent: dict[int, list[str]] = {}
    for family, family_silent in families:
        for j in np.flatnonzero(family_silent).tolist():
            row = family.rows[j]
            i = point_pos.get(row["hazard_point"])
            if i is not None:
                silent.setdefault(i, []).append(sensor_name(row))
    return silent


def _alert_levels(points: list, deformation: np.ndarray, rain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point, from its deformation and rainfall levels (-1: no data): the levels of its deformation and
    rainfall alerts (-1: no data), and whether the two were coupled. Rainfall alone stops at orange unless the
    point allows more; deformation and rainfall both yellow or above raise the point one level."""
    may_exceed = np.array([bool(_json(p["monitoring_plan"]).get("rainfall_may_exceed_orange")) for p in points],
                          dtype=bool)
    def_known = deformation >= 0
    rain_known = rain >= 0
    capped_rain = np.where(may_exceed, rain, np.minimum(rain, ORANGE))
    coupled = def_known & rain_known & (deformation >= YELLOW) & (rain >= YELLOW)
    # The coupled raise lifts the point one level above the higher of the two; the deformation alert
    # carries it, so the point's level (the highest open alert) is exactly kernels.point_levels.
    deformation_alert = np.where(coupled, k.point_levels(deformation, rain, may_exceed), deformation)
    return np.where(def_known, deformation_alert, -1), np.where(rain_known, capped_rain, -1), coupled


@dataclass
class _Explanation:
    """Builds point i's (reasons, evidence, thresholds) for its deformation or rainfall alert (Assessment.explain)."""

    deformation_evidence: Callable[[int], dict] | None  # None without displacement sensors: never asked then
    rain_evidence: Callable[[int], dict]
    rain: np.ndarray  # [n_points]: the rainfall level, -1 for no data
    rain_alert: np.ndarray  # [n_points]: the rainfall alert's level, -1 for no data
    coupled: np.ndarray  # [n_points]: deformation raised one level by rainfall

    def deformation(self, i: int) -> tuple[list[str], dict, dict]:
        evidence = self.deformation_evidence(i) | {"coupled_with_rainfall": bool(self.coupled[i])}
        reasons, thresholds = evidence.pop("reasons"), evidence.pop("thresholds")
        if self.coupled[i]:
            reasons.append(f"raised one level: rainfall is {LEVEL_NAMES[self.rain[i]]} at the same time")
        return reasons, evidence, thresholds

    def rainfall(self, i: int) -> tuple[list[str], dict, dict]:
        evidence = self.rain_evidence(i)
        reasons, thresholds = evidence.pop("reasons"), evidence.pop("thresholds")
        if self.rain_alert[i] < self.rain[i]:  # capped (no data is -1 in both)
            reasons.append("rainfall alone stops at orange for this point")
        return reasons, evidence, thresholds


def _levels_or_none(levels: np.ndarray) -> list[int | None]:
    """Levels as Assessment takes them: None for no data (-1)."""
    return [None if level < 0 else level for level in levels.tolist()]


def _device_assessment(code: str, county: str, silent: list[str] | None) -> Assessment:
    """A device alert (blue) while any of the point's own sensors is silent; it never lowers the others."""
    if not silent:  # nearly every point: its reasons and evidence are built only if they are recorded
        return Assessment(code, county, "device", NONE, explain=_all_reporting)
    return Assessment(code, county, "device", BLUE, *_device_explanation(silent))


def _device_explanation(silent: list[str]) -> tuple[list[str], dict, dict]:
    reasons = [f"{name}: no data for more than three reporting intervals" for name in silent]
    return reasons, {"silent_sensors": silent}, {"silent_after": _SILENT_AFTER}


def _all_reporting() -> tuple[list[str], dict, dict]:
    return _device_explanation([])


def _silent(s: "SensorSet", now: datetime) -> np.ndarray:
    """Which sensors of the set have no good reading within three reporting intervals (at least an hour)."""
    n = len(s.rows)
    last_t = np.full(n, -np.inf)
    np.maximum.at(last_t, s.idx, s.t_s)
    interval_s = np.fromiter((r["reporting_interval_s"] for r in s.rows), dtype=float, count=n)
    return now.timestamp() - last_t > np.maximum(3 * interval_s, 3600.0)


@dataclass
class Deformation:
    """Per displacement sensor (rows of a SensorSet), what the deformation criteria saw at the last bin."""

    series: np.ndarray  # [n, 2]: displacement at the last two bins
    velocity: np.ndarray  # [n, 2]: robust velocity (mm/d) at the last two bins
    window_bins: np.ndarray  # [n]: bins of the last velocity's window
    changed_rate: np.ndarray  # [n]: the last velocity follows a change of rate
    bin_s: np.ndarray  # [n]
    resolution: np.ndarray  # [n]: effective resolution (mm)
    v0: np.ndarray  # [n]
    v0_source: np.ndarray  # [n]: index into kernels.V0_SOURCES
    v0_floor: np.ndarray  # [n]: one stated resolution over the velocity window, below which v0 never goes
    alpha: np.ndarray  # [n, 2]
    levels: k.DeformationLevels
    lag_bins: np.ndarray  # [n]: how long before now (in bins) the last bin's reading was taken
    full_series: dict  # bin_s -> (the sensors' rows, their [rows, WINDOW_BINS] series)
    forecast_hours: np.ndarray = field(init=False)  # [n]: hours to the predicted failure, NaN unless counted
    forecast_r2: np.ndarray = field(init=False)  # [n]
    forecast_bins: np.ndarray = field(init=False)  # [n]: bins from the onset of acceleration, 0 without one
    forecast_level: np.ndarray = field(init=False)  # [n]: the level a counted forecast sets
    forecast_fitted: np.ndarray = field(init=False)  # [n]: its forecast has been fitted

    def __post_init__(self):
        n = len(self.v0)
        self.forecast_hours, self.forecast_r2 = np.full(n, np.nan), np.full(n, np.nan)
        self.forecast_bins = np.zeros(n, dtype=np.int64)
        self.forecast_level = np.zeros(n, dtype=np.int8)
        self.forecast_fitted = np.zeros(n, dtype=bool)

    @property
    def forecast_tried(self) -> np.ndarray:
        """[n]: the sensor is above steady creep (angle yellow or more), where a forecast applies."""
        return self.levels.angle_level >= YELLOW

    def fit_forecasts(self, sensors=None) -> None:
        """Fit the forecasts that apply and are not fitted yet, of these sensors (a mask or indices; all when
        None): the evidence of a sensor red by another criterion asks for its forecast only when it is built."""
        due = self.forecast_tried & ~self.forecast_fitted
        if sensors is not None:
            only = np.zeros_like(due)
            only[sensors] = True
            due &= only
        for bin_s, (rows, series) in self.full_series.items():
            pick = rows[due[rows]]
            if not pick.size:
                continue
            f = _forecast(series[due[rows]], bin_s, self.resolution[pick], self.lag_bins[pick])
            self.forecast_hours[pick], self.forecast_r2[pick], self.forecast_bins[pick], self.forecast_level[pick] = (
                f.hours_to_failure, f.r2, f.fitted_bins, f.level)
            self.forecast_fitted[pick] = True


_PARAM_COLUMNS = ("reporting_interval_s", "resolution_mm", "v0_mm_per_day", "baseline_v0_mm_per_day",
                  "baseline_reference")
_PARAMS_OF = itemgetter(*_PARAM_COLUMNS)


def sensor_params(rows: list) -> dict[str, np.ndarray]:
    """Per sensor: its bin, resolution (configured, else the kind's), v0 as configured, from its quiet baseline
    and the kind's default, and whether its series is a tilt."""
    n = len(rows)
    kinds = np.array(list(map(itemgetter("kind"), rows)), dtype=object)
    # One pass over the rows (the engine's query returns every column; a row made by hand may leave some out);
    # None becomes NaN in a float array.
    try:
        values = list(map(_PARAMS_OF, rows))
    except KeyError:
        values = [tuple(r.get(c) for c in _PARAM_COLUMNS) for r in rows]
    table = np.array(values, dtype=float).reshape(n, len(_PARAM_COLUMNS))
    interval, resolution, configured, baseline, reference = table.T
    kind_resolution = np.full(n, 0.1)
    default_v0 = np.ones(n)
    for kind, value in DEFAULT_RESOLUTION_MM.items():
        kind_resolution[kinds == kind] = value
    for kind, value in DEFAULT_V0_MM_PER_DAY.items():
        default_v0[kinds == kind] = value
    return {
        "bin_s": displacement_bins_s(interval),
        "resolution": np.where(np.isfinite(resolution), resolution, kind_resolution),
        "configured_v0": configured,
        "baseline_v0": baseline,
        "default_v0": default_v0,
        "reference": reference,
        "tilt": kinds == "tilt",
    }


def by_bin(params: dict, idx: np.ndarray):
    """For each bin size among the sensors: (bin_s, the sensors' rows, each sensor's position among them, the
    readings' positions in idx). With one bin size (the usual fleet) the readings are all of them, uncopied."""
    sizes, group = np.unique(params["bin_s"], return_inverse=True)
    position = np.empty(len(group), dtype=np.int64)
    rows_of = [np.flatnonzero(group == g) for g in range(len(sizes))]
    for rows in rows_of:
        position[rows] = np.arange(len(rows))
    group_of_reading = group[idx] if len(sizes) > 1 else None
    for g, bin_s in enumerate(sizes.tolist()):
        readings = slice(None) if group_of_reading is None else np.flatnonzero(group_of_reading == g)
        yield int(bin_s), rows_of[g], position, readings


def _forecast(series: np.ndarray, bin_s: int, resolution: np.ndarray, lag_bins: np.ndarray) -> k.FailureForecast:
    """The failure forecast of these sensors' displacement series (rows), from their robust velocity history;
    the history is fitted only for the sensors whose acceleration still holds at the last bin (the rest have
    no forecast, whatever came before)."""
    n = len(series)
    out = k.FailureForecast(np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=np.int64),
                            np.zeros(n, dtype=np.int8))
    recent = k.robust_velocity(series, bin_s, resolution, SMOOTH_BINS, last=FORECAST_SHORT_BINS + FORECAST_LONG_BINS)
    pick = np.flatnonzero(k.accelerating_now(recent.mm_per_day, FORECAST_SHORT_BINS, FORECAST_LONG_BINS))
    if not pick.size:
        return out
    history = k.robust_velocity(series[pick], bin_s, resolution[pick], SMOOTH_BINS)
    f = k.failure_forecast(history.mm_per_day, bin_s, FORECAST_SHORT_BINS, FORECAST_LONG_BINS, FORECAST_MIN_BINS,
                           FORECAST_MIN_R2, FORECAST_RED_H, FORECAST_ORANGE_H, history.window_bins,
                           FORECAST_MIN_SPEED_UP, lag_bins=lag_bins[pick])
    for mine, theirs in zip((out.hours_to_failure, out.r2, out.fitted_bins, out.level),
                            (f.hours_to_failure, f.r2, f.fitted_bins, f.level)):
        mine[pick] = theirs
    return out


def deformation(s: SensorSet, now_s: float, params: dict) -> Deformation:
    """The deformation criteria of SPEC 4.1 for every sensor of the set, each on its own time scale."""
    n = len(s.rows)
    series2 = np.full((n, 2), np.nan)
    velocity2 = np.full((n, 2), np.nan)
    window_bins = np.zeros(n, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    resolution = np.zeros(n)
    lag_bins = np.zeros(n)
    full_series: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for bin_s, rows, position, readings in by_bin(params, s.idx):
        start_s = now_s - bin_s * WINDOW_BINS + 1e-6
        tilt = params["tilt"][rows]
        reference = params["reference"][rows]
        sens_res = params["resolution"][rows]

        def chain(idx, t_s, value, first, stop):
            count = stop - first
            series = k.displacement_series(idx, t_s, value, count, start_s, bin_s, WINDOW_BINS,
                                           np.flatnonzero(tilt[first:stop]), reference[first:stop], MAX_GAP_BINS)
            res = k.effective_resolution_mm(series, sens_res[first:stop])
            v = k.robust_velocity(series, bin_s, res, SMOOTH_BINS, last=2)
            lag = k.last_bin_lag(idx, t_s, value, count, start_s, bin_s, WINDOW_BINS)
            return series, res, v.mm_per_day, v.window_bins[:, -1], v.changed_rate[:, -1], lag

        series, res, v, wb, ch, lag = k.in_sensor_blocks(chain, position[s.idx[readings]], s.t_s[readings],
                                                          s.value[readings], len(rows))
        full_series[bin_s] = (rows, series)
        series2[rows], velocity2[rows], window_bins[rows], changed[rows], resolution[rows], lag_bins[rows] = (
            series[:, -2:], v, wb, ch, res, lag)
    # v0 is never below one resolution over the velocity window (over which the baseline's velocities are
    # measured too): a single step of whole millimetres is creep. The stated resolution, not the noise of the
    # window being judged, which never sets its own reference.
    floor = params["resolution"] / (SMOOTH_BINS * params["bin_s"] / k.SECONDS_PER_DAY)
    v0, v0_source = k.reference_creep_rate(params["configured_v0"], params["baseline_v0"], params["default_v0"],
                                           floor)
    alpha = k.tangent_angle_deg(velocity2, v0)
    thresholds = [_json(r["thresholds"]) for r in s.rows]
    v_thr, d_thr = _threshold_matrices(thresholds, ("velocity_mm_per_day", None), ("displacement_mm", None))
    without_forecast = k.deformation_levels(alpha, velocity2, series2, v_thr, d_thr, changed_rate=changed)
    d = Deformation(series2, velocity2, window_bins, changed, params["bin_s"], resolution, v0, v0_source, floor, alpha,
                    without_forecast, lag_bins, full_series)
    # The forecast sets a level only above steady creep; fitted now where it can raise the level, and for the
    # evidence of a sensor already red only when that evidence is built.
    d.fit_forecasts(without_forecast.level < RED)
    d.levels = k.deformation_levels(alpha, velocity2, series2, v_thr, d_thr, changed_rate=changed,
                                    forecast_level=d.forecast_level)
    return d


def _assess_deformation(w: Window, point_pos: dict, n_points: int):
    """Per point: the highest sensor level (-1 when every sensor is without data), whether the point has
    displacement sensors at all, and a function building point i's evidence."""
    s = w.displacement
    if len(s.rows) == 0:
        return np.full(n_points, -1, dtype=np.int8), np.zeros(n_points, dtype=bool), None
    d = deformation(s, w.now.timestamp(), sensor_params(s.rows))
    # A sensor has data when its velocity is known at the last bin, or, just after a break in its series
    # (velocity not known yet), when its displacement alone reaches a threshold: that raises, and a sensor
    # without a level from it stays "no data", which never lowers a level.
    has_data = np.isfinite(d.velocity[:, -1]) | (np.isfinite(d.series[:, -1]) & (d.levels.level > 0))
    point_of_sensor = np.array([point_pos.get(r["hazard_point"], -1) for r in s.rows], dtype=np.int64)
    level_by_point, has_sensor = _highest_by_point(d.levels.level, has_data, point_of_sensor, n_points)
    evidence = _DeformationEvidence(w.now, s, d, has_data, point_of_sensor, n_points)
    return level_by_point, has_sensor, evidence.of_point


def _highest_by_point(level: np.ndarray, has_data: np.ndarray, point_of_sensor: np.ndarray,
                      n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the highest level of its sensors with data (-1 for none), and whether it has any sensor."""
    level_by_point = np.full(n_points, -1, dtype=np.int8)
    has_sensor = np.zeros(n_points, dtype=bool)
    ours = point_of_sensor >= 0
    has_sensor[point_of_sensor[ours]] = True
    counted = ours & has_data
    np.maximum.at(level_by_point, point_of_sensor[counted], level[counted].astype(np.int8))
    return level_by_point, has_sensor


class _DeformationEvidence:
    """A point's deformation evidence: each of its sensors' figures, thresholds and reasons."""

    def __init__(self, now: datetime, s: SensorSet, d: Deformation, has_data: np.ndarray,
                 point_of_sensor: np.ndarray, n_points: int):
        self.now, self.s, self.d, self.has_data = now, s, d, has_data
        # Each point's sensors, in row order (sensors of points not evaluated sort last).
        key = np.where(point_of_sensor >= 0, point_of_sensor, n_points)
        self.by_point = np.argsort(key, kind="stable")
        self.bounds = np.searchsorted(key[self.by_point], np.arange(n_points + 1))

    def of_point(self, i: int) -> dict:
        ev = {"sensors": [], "reasons": [], "thresholds": {}}
        for j in self.by_point[self.bounds[i]:self.bounds[i + 1]].tolist():
            name = self.s.names[j]
            ev["sensors"].append(self._figures(j))  # first: it fits the forecast that a reason may name
            ev["thresholds"][name] = self._thresholds(j)
            if not self.has_data[j]:
                ev["reasons"].append(f"{name}: no velocity at the last bin (no reading in it, or too few since a gap)")
            elif self.d.levels.level[j] > 0:
                ev["reasons"].append(_deformation_reason(name, self.d, j))
        return ev

    def _figures(self, j: int) -> dict:
        """What sensor j's criteria saw at the last bin."""
        d, r, level = self.d, self.s.rows[j], int(self.d.levels.level[j])
        return {
            "sensor": self.s.names[j], "kind": r["kind"],
            "level": LEVEL_NAMES[level] if self.has_data[j] else "no data",
            "displacement_mm": _round(d.series[j, -1]), "velocity_mm_per_day": _round(d.velocity[j, -1]),
            "velocity_window_bins": int(d.window_bins[j]), "bin_h": _round(d.bin_s[j] / 3600.0, 3),
            "changed_rate": bool(d.changed_rate[j]), "resolution_mm": _round(d.resolution[j], 3),
            "v0_mm_per_day": _round(d.v0[j], 3), "v0_source": k.V0_SOURCES[d.v0_source[j]],
            "v0_floor_mm_per_day": _round(d.v0_floor[j], 3),
            "tangent_angle_deg": _round(d.alpha[j, -1]),
            "failure_forecast": _forecast_evidence(d, j, self.now),
        }

    def _thresholds(self, j: int) -> dict:
        own = _json(self.s.rows[j]["thresholds"])
        return {"velocity_mm_per_day": own.get("velocity_mm_per_day"), "displacement_mm": own.get("displacement_mm"),
                "tangent_angle_deg": _ANGLE_THRESHOLDS,
                "failure_forecast_h": {"orange": FORECAST_ORANGE_H, "red": FORECAST_RED_H}}


def _forecast_evidence(d: Deformation, j: int, now: datetime) -> dict:
    """Sensor j's failure forecast as evidence: a prediction only when it counted (SPEC 4.1)."""
    method = "Fukuzono inverse velocity from the onset of acceleration"
    d.fit_forecasts([j])
    if not d.forecast_tried[j]:
        return {"method": method, "predicted_failure_at": None,
                "note": f"tangent angle not above {_ANGLE_YELLOW_ABOVE_DEG:g} deg (steady creep and its margin): "
                        "no approach to failure"}
    if not d.forecast_bins[j]:
        return {"method": method, "predicted_failure_at": None,
                "note": "no onset of acceleration holding at the last bin (short mean of 1/v not below the long one)"}
    if not np.isfinite(d.forecast_hours[j]):
        return {"method": method, "predicted_failure_at": None, "r2": _round(d.forecast_r2[j], 3),
                "fitted_bins": int(d.forecast_bins[j]),
                "note": f"not counted: needs R^2 >= {FORECAST_MIN_R2} over >= {FORECAST_MIN_BINS} bins since the "
                        "onset of acceleration, and a failure still ahead"}
    at = now + timedelta(hours=float(d.forecast_hours[j]))
    return {"method": method, "predicted_failure_at": at.isoformat(timespec="minutes"),
            "hours_to_failure": _round(d.forecast_hours[j], 1), "r2": _round(d.forecast_r2[j], 3),
            "fitted_bins": int(d.forecast_bins[j])}


def _deformation_reason(name: str, d: Deformation, j: int) -> str:
    levels, parts = d.levels, []
    if levels.angle_level[j]:
        change = " after a change of rate" if d.changed_rate[j] else ""
        parts.append(f"tangent angle {d.alpha[j, -1]:.1f} deg{change} ({LEVEL_NAMES[levels.angle_level[j]]})")
    if levels.velocity_level[j]:
        parts.append(f"velocity {d.velocity[j, -1]:.2f} mm/d ({LEVEL_NAMES[levels.velocity_level[j]]})")
    if levels.displacement_level[j]:
        parts.append(f"displacement {d.series[j, -1]:.1f} mm ({LEVEL_NAMES[levels.displacement_level[j]]})")
    if np.isfinite(d.forecast_hours[j]) and levels.level[j] > max(levels.angle_level[j], levels.velocity_level[j],
                                                                 levels.displacement_level[j]):
        parts.append(f"failure forecast in {d.forecast_hours[j]:.1f} h (R^2 {d.forecast_r2[j]:.2f})")
    elif np.isfinite(d.forecast_hours[j]):
        parts.append(f"failure forecast in {d.forecast_hours[j]:.1f} h")
    return (f"{name} {LEVEL_NAMES[levels.level[j]]}: " + ", ".join(parts)
            + f"; v0 {d.v0[j]:.2f} mm/d ({k.V0_SOURCES[d.v0_source[j]]}"
            + (", raised to one resolution over the velocity window)" if d.v0[j] <= d.v0_floor[j] else ")"))


def _assess_rain(w: Window, point_pos: dict, n_points: int, working: np.ndarray):
    """Per point: the rainfall level from its own working gauge (one not silent), else the nearest within 10 km,
    and a function building point i's evidence."""
    s = w.rain
    level_by_point = np.full(n_points, -1, dtype=np.int8)
    thresholds = _RainThresholds.of(w.points)
    if len(s.rows) == 0 or n_points == 0:
        return level_by_point, thresholds.no_data
    totals = _RainTotals.of(s)
    gauge = _gauge_for_points(w, s, working, point_pos, n_points)
    has_gauge = gauge >= 0
    g = np.where(has_gauge, gauge, 0)
    levels = np.maximum(k.rainfall_levels(totals.rain_24h_mm[g], totals.rain_72h_mm[g], thresholds.rain_24h_mm,
                                          thresholds.rain_72h_mm),
                        k.threshold_level(totals.r_eff_mm[g], thresholds.r_eff_mm))
    level_by_point[has_gauge] = levels[has_gauge]
    return level_by_point, _RainEvidence(thresholds, s, totals, has_gauge, g, levels).of_point


@dataclass
class _RainThresholds:
    """Each point's rainfall thresholds: its own table, and [n_points, 4] blue..red per criterion."""

    tables: list[dict]
    rain_24h_mm: np.ndarray
    rain_72h_mm: np.ndarray
    r_eff_mm: np.ndarray

    @classmethod
    def of(cls, points: list) -> "_RainThresholds":
        tables = [_json(p["thresholds"]) for p in points]
        # No default table for R_eff: it is judged only where a point configures it.
        return cls(tables, *_threshold_matrices(tables, ("rain_24h_mm", k.DEFAULT_RAIN_24H_MM),
                                                ("rain_72h_mm", k.DEFAULT_RAIN_72H_MM), ("r_eff_mm", None)))

    def no_data(self, i: int) -> dict:
        """Point i's rainfall evidence without a working gauge."""
        return {"reasons": ["no working rain gauge bound to the point or within 10 km: rainfall state is no data"],
                "state": "no data",
                "thresholds": {"rain_24h_mm": dict(zip(ALERT_LEVELS, map(_round, self.rain_24h_mm[i]))),
                               "rain_72h_mm": dict(zip(ALERT_LEVELS, map(_round, self.rain_72h_mm[i]))),
                               "r_eff_mm": self.tables[i].get("r_eff_mm")}}


@dataclass
class _RainTotals:
    """Per gauge (rows of the rain SensorSet): its hourly rain and the totals its level is judged on."""

    hourly: np.ndarray  # [n, n_bins] mm
    rain_24h_mm: np.ndarray
    rain_72h_mm: np.ndarray
    r_eff_mm: np.ndarray  # effective antecedent rainfall

    @classmethod
    def of(cls, s: SensorSet) -> "_RainTotals":
        return cls(*k.in_sensor_blocks(partial(_rain_chain, s.start_s, s.n_bins), s.idx, s.t_s, s.value, len(s.rows)))


def _rain_chain(start_s: float, n_bins: int, idx, t_s, value, first: int, stop: int) -> tuple:
    """_RainTotals of gauges first..stop-1 (kernels.in_sensor_blocks)."""
    hourly = k.resample_sum(idx, t_s, value, stop - first, start_s, BIN_S, n_bins)
    total_24h, total_72h = k.trailing_totals(hourly, 24, 72)
    # Days end at now: today is the last 24 h. R_eff weighs the ten days before it by 0.8^i.
    days = n_bins // 24
    daily = np.nansum(hourly[:, -days * 24:].reshape(stop - first, days, 24), axis=2)
    return hourly, total_24h, total_72h, k.effective_antecedent_rain_mm(daily)


@dataclass
class _RainEvidence:
    """A point's rainfall evidence: the figures of the gauge it uses, or no data."""

    thresholds: _RainThresholds
    gauges: SensorSet
    totals: _RainTotals
    has_gauge: np.ndarray  # [n_points]
    gauge: np.ndarray  # [n_points]: the gauge each point uses (0 for none)
    level: np.ndarray  # [n_points]: the rainfall level from that gauge

    def of_point(self, i: int) -> dict:
        ev = self.thresholds.no_data(i)
        if not self.has_gauge[i]:
            return ev
        j, totals = self.gauge[i], self.totals
        ev.update(state="ok", gauge=self.gauges.names[j], gauge_point=self.gauges.rows[j]["hazard_point"],
                  **_rain_figures(totals, j))
        ev["reasons"] = []
        if self.level[i] > 0:
            ev["reasons"].append(f"{self.gauges.names[j]} {LEVEL_NAMES[self.level[i]]}: "
                                 f"24 h {totals.rain_24h_mm[j]:.1f} mm, 72 h {totals.rain_72h_mm[j]:.1f} mm")
        return ev


def _rain_figures(totals: _RainTotals, j: int) -> dict:
    """Gauge j's figures as evidence."""
    # The figures that only inform, for this gauge alone: the kernels work row by row, so they are the
    # same as computed for every gauge at once.
    one = totals.hourly[j:j + 1]
    duration_h = k.storm_duration_h(one)[0]
    storm_total = np.nansum(one[0, one.shape[1] - int(duration_h):]) if duration_h else 0.0
    intensity = storm_total / duration_h if duration_h > 0 else 0.0
    caine = k.caine_intensity_mm_per_h(np.maximum(duration_h, 1.0))
    return dict(rain_1h_mm=_round(np.nan_to_num(one[0, -1])), rain_3h_mm=_round(k.trailing_totals(one, 3)[0][0]),
                rain_24h_mm=_round(totals.rain_24h_mm[j]), rain_72h_mm=_round(totals.rain_72h_mm[j]),
                effective_antecedent_rain_mm=_round(totals.r_eff_mm[j]),
                soil_water_index_mm=_round(k.soil_water_index_mm(one)[0, -1]),
                rain_event_duration_h=int(duration_h), rain_event_intensity_mm_per_h=_round(intensity),
                caine_threshold_mm_per_h=_round(caine),
                above_caine_threshold=bool(duration_h > 0 and intensity >= caine))


def _gauge_for_points(w: Window, s: SensorSet, working, point_pos, n_points) -> np.ndarray:
    """Index of the gauge each point uses (-1 for none): a bound working gauge, else the nearest one."""
    # The first working gauge bound to each point, in row order.
    n = len(s.rows)
    point_of_gauge = np.fromiter((point_pos.get(r["hazard_point"], -1) for r in s.rows), dtype=np.int64, count=n)
    bound = np.flatnonzero((point_of_gauge >= 0) & working)
    first = np.full(n_points, n, dtype=np.int64)
    np.minimum.at(first, point_of_gauge[bound], bound)
    gauge = np.where(first < n, first, -1)
    need = np.flatnonzero(gauge < 0)
    usable = np.flatnonzero(working)
    if need.size and usable.size:
        p_lon = np.fromiter((p["lon"] for p in w.points), dtype=float, count=n_points)
        p_lat = np.fromiter((p["lat"] for p in w.points), dtype=float, count=n_points)
        g_lon = np.fromiter((r["lon"] for r in s.rows), dtype=float, count=n)
        g_lat = np.fromiter((r["lat"] for r in s.rows), dtype=float, count=n)
        nearest = nearest_within(p_lon[need], p_lat[need], g_lon[usable], g_lat[usable], GAUGE_SEARCH_RADIUS_M)
        found = nearest >= 0
        gauge[need[found]] = usable[nearest[found]]
    return gauge
