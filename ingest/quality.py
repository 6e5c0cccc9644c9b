"""Quality flags that need a sensor's history: spikes (robust median/MAD of increments) and stuck values.

Each ingest process keeps the last good values of the sensors it has seen, loaded from the database
the first time (or when its copy is old, as happens when workers share sensors). A reading far off
the sensor's recent trend is flagged `spike` and kept as the sensor's suspect; the next reading decides
what it was (SPEC 3):

- an isolated outlier, if the next reading returns towards the earlier trend: it is back at least
  half-way from where the suspect left that trend. The suspect stays flagged.
- ground movement otherwise: the next reading stays out at the suspect's level (a held step), or goes
  on beyond it (a new rate, in either direction). The flag is taken back, the history restarts from
  the suspect so the new rate becomes the trend, and the next reading is not flagged.

Half-way is the midpoint between the two things an outlier and a movement predict for the next reading
(the old trend, and at least the suspect's level), so neither is favoured; and since the suspect left
the trend by more than SPIKE_Z robust scales, the midpoint is more than SPIKE_Z / 2 scales from both,
far beyond the sensor's noise. So a flag delays a warning by one reading at most and never suppresses
it.

A reading that carries on the last good step is no spike either: a new rate whose first reading left
the old trend by a little less than a spike's margin leaves it by as much again at every reading (the
median step stays the old one for half a history), and noise would flag some of those readings later.

A noisy sensor repeating exactly the same value many times is flagged `stuck`.
"""

import asyncio
import time
from bisect import bisect_left, insort
from collections import deque
from itertools import islice, repeat
from operator import attrgetter, sub
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from sensors.readings import Reading
from sql import queries

Q = queries("ingest")

HISTORY = 24  # good values kept per sensor: four hours at the usual 10-minute interval
MIN_HISTORY = 6  # fewer than this and the trend is not known well enough to call anything a spike
SPIKE_Z = 10.0  # robust z-score of the increment; sensor noise stays far below, broken readings far above
# Below these the MAD is noise of the sensor's resolution, not of the ground: the smallest jump that
# can be a spike, per kind (mm, except tilt in degrees, soil moisture in %, pore pressure in kPa).
MIN_SCALE = {"crack": 0.05, "gnss": 1.0, "tilt": 0.02, "deep": 0.2, "soil_moisture": 0.5, "pore_pressure": 0.5}
# Analog sensors that always carry some noise; a crack gauge on a quiet slope legitimately repeats.
STUCK_KINDS = frozenset({"gnss", "tilt", "accel", "soil_moisture", "soil_temp", "pore_pressure"})
STUCK_RUN = 24  # identical values in a row
WHOLE_UNIT_KINDS = frozenset({"gnss"})  # kinds some firmware reports in whole millimetres
# A worker's copy of a sensor's history older than this is reloaded: another worker may have moved on.
HISTORY_TTL_S = 900.0
# Readings judged between yields to the event loop, so that a commit going on meanwhile is not held up.
YIELD_EVERY = 500

_BY_TS = attrgetter("ts")


def _median(data: list[float]) -> float:
    """statistics.median, without its generality: the same value for a non-empty list of floats."""
    data.sort()
    return _sorted_median(data)


def _sorted_median(data: list[float]) -> float:
    """The median of a non-empty list of floats already sorted."""
    n = len(data)
    i = n // 2
    return data[i] if n % 2 == 1 else (data[i - 1] + data[i]) / 2


@dataclass
class _Series:
    """A sensor's last good values, with their steps (differences) kept sorted for the median."""

    values: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    last_ts: datetime | None = None
    repeats: int = 0
    suspect: Reading | None = None  # a spike that the next reading may confirm as real movement
    refreshed: float = field(default_factory=time.monotonic)
    # The steps between consecutive values, sorted: a new value moves one step in and (once the history
    # is full) the oldest one out, instead of all of them being sorted for every reading.
    sorted_steps: list = field(init=False)

    def __post_init__(self):
        values = self.values
        self.sorted_steps = sorted(map(sub, islice(values, 1, None), values))

    def push(self, value: float) -> None:
        values, ordered = self.values, self.sorted_steps
        if values:
            if len(values) == values.maxlen:  # the oldest value goes, and the step after it
                del ordered[bisect_left(ordered, values[1] - values[0])]
            insort(ordered, value - values[-1])
        values.append(value)

    def restart(self, value: float) -> None:
        self.values.clear()
        self.sorted_steps.clear()
        self.values.append(value)


class SeriesQuality:
    """Flags spikes and stuck values on readings before they are stored."""

    def __init__(self):
        self._series: dict[tuple[str, str], _Series] = {}

    async def flag(self, conn: asyncpg.Connection, readings: list[Reading]) -> list[tuple[str, str, datetime]]:
        """Flag the readings in place; returns earlier readings whose spike flag must be taken back.

        Each reading is judged once: flagging the same readings again finds them judged and returns nothing.
        """
        groups = self._groups(readings)
        if groups:
            await self._load(conn, set(groups))
        return await self._check_groups(groups)

    async def flag_known(self, readings: list[Reading]) -> list[tuple[str, str, datetime]] | None:
        """flag() without the database: None, and nothing flagged, if some sensor's history must be read first."""
        groups = self._groups(readings)
        if self._stale(groups):
            return None
        return await self._check_groups(groups)

    def _stale(self, keys) -> list[tuple[str, str]]:
        """The sensors whose history this process does not have, or had too long ago."""
        now = time.monotonic()
        return [k for k in keys if k not in self._series or now - self._series[k].refreshed > HISTORY_TTL_S]

    @staticmethod
    def _groups(readings: list[Reading]) -> dict[tuple[str, str], list[Reading]]:
        groups: dict[tuple[str, str], list[Reading]] = {}
        for r in readings:
            if r.kind in MIN_SCALE or r.kind in STUCK_KINDS:
                key = (r.device_id, r.sensor_code)
                group = groups.get(key)
                if group is None:
                    groups[key] = [r]
                else:
                    group.append(r)
        return groups

    async def _check_groups(self, groups: dict[tuple[str, str], list[Reading]]) -> list[tuple[str, str, datetime]]:
        # Each sensor's readings in time order (stable: equal times keep their arrival order), the sensors
        # in (device, sensor) order: the same order as sorting all of them by (device, sensor, time).
        cleared: list[tuple[str, str, datetime]] = []
        by_ts, check, now = _BY_TS, self._check, time.monotonic()
        since_yield = 0
        for key in sorted(groups):
            series, group = self._series[key], groups[key]
            if len(group) > 1:
                group.sort(key=by_ts)
            grew = False
            for r in group:
                grew |= check(series, r, cleared)
            if grew:
                series.refreshed = now
            since_yield += len(group)
            if since_yield >= YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)
        return cleared

    async def _load(self, conn: asyncpg.Connection, keys: set[tuple[str, str]]) -> None:
        stale = self._stale(keys)
        if not stale:
            return
        rows = await conn.fetch(Q["recent_good_values"], [k[0] for k in stale], [k[1] for k in stale], HISTORY)
        fresh = {k: _Series() for k in stale}
        for row in rows:  # oldest first within each sensor, a suspect last
            series = fresh[(row["device_id"], row["sensor_code"])]
            if row["suspect"]:
                # Flagged by a worker before this one (or before a restart): the next reading still decides.
                series.suspect = Reading(row["device_id"], row["sensor_code"], row["ts"], row["kind"], row["value"],
                                         None, ["spike"])
            else:
                series.push(row["value"])
            series.last_ts = row["ts"]
        for key, series in fresh.items():
            # Nothing stored after what this copy last judged: no other worker moved on, and this copy knows
            # more than the database, which keeps no suspect and no restart of the trend after a movement.
            # At an hourly interval the copy is always old by the next reading, and reading the database's
            # history instead would judge every reading of a new rate against the old one again.
            old = self._series.get(key)
            if old is None or old.last_ts is None:
                continue
            if series.last_ts is None or series.last_ts <= old.last_ts:
                old.refreshed = series.refreshed
                fresh[key] = old
        self._series.update(fresh)

    def _check(self, s: _Series, r: Reading, cleared: list[tuple[str, str, datetime]]) -> bool:
        """Judge r after the series s; add the readings whose spike flag r takes back to `cleared`.
        True if r's value joined the series' history."""
        if r.quality or r.value is None or (s.last_ts is not None and r.ts <= s.last_ts):
            return False  # already flagged, or late: judged against a history it does not follow
        suspect = s.suspect
        if suspect is not None:
            s.suspect = None
            if _follows(s, suspect.value, r.value):
                # Movement, not a broken reading: back into evaluation, and the trend restarts from it.
                suspect.quality.remove("spike")
                cleared.append((suspect.device_id, suspect.sensor_code, suspect.ts))
                s.restart(suspect.value)
        if r.kind in MIN_SCALE and self._is_spike(s, r) and not _continues(s, r):
            r.quality.append("spike")
            s.suspect = r
            s.last_ts = r.ts
            return False
        # A GNSS receiver printing whole millimetres (%.0f firmware) repeats its value for days on a quiet slope,
        # and calling that stuck would hide it from the engine. Other kinds report finer than their units, and a
        # dead one often freezes on a whole number (a tilt at 0.0): those stay judged.
        if r.kind in STUCK_KINDS and not (r.kind in WHOLE_UNIT_KINDS and r.value.is_integer()):
            s.repeats = s.repeats + 1 if s.values and r.value == s.values[-1] else 0
            if s.repeats >= STUCK_RUN - 1:
                r.quality.append("stuck")
        s.push(r.value)
        s.last_ts = r.ts
        return True

    @staticmethod
    def _is_spike(s: _Series, r: Reading) -> bool:
        if len(s.values) < MIN_HISTORY:
            return False
        # Plain Python: for two dozen values numpy's per-call overhead costs more than the arithmetic,
        # and this runs for every reading.
        steps = s.sorted_steps
        n = len(steps)  # _sorted_median, inline: the call would cost every reading a few percent more
        i = n // 2
        median_step = steps[i] if n % 2 == 1 else (steps[i - 1] + steps[i]) / 2
        off = abs(r.value - (s.values[-1] + median_step))
        floor = MIN_SCALE[r.kind]
        if off / floor <= SPIKE_Z:
            return False  # the scale is never below the floor, so no scale can make this a spike
        return off / _robust_scale(steps, median_step, floor) > SPIKE_Z


def _robust_scale(sorted_steps: list[float], median_step: float, floor: float) -> float:
    """The steps' spread: 1.4826 MAD (their standard deviation if normal, unmoved by outliers), at least `floor`."""
    return max(1.4826 * _median(list(map(abs, map(sub, sorted_steps, repeat(median_step))))), floor)


def _continues(s: _Series, r: Reading) -> bool:
    """True if r is within SPIKE_Z robust scales of the series' last step carried on."""
    values, steps = s.values, s.sorted_steps
    off = abs(r.value - (2 * values[-1] - values[-2]))
    return off / _robust_scale(steps, _sorted_median(steps), MIN_SCALE[r.kind]) <= SPIKE_Z


def _follows(s: _Series, suspect: float, value: float) -> bool:
    """True if `value`, the reading after the suspect, follows it rather than return towards the trend before it."""
    # The old trend, extrapolated in steps of readings like the spike test itself: the suspect was
    # expected one median step after the last good value, the reading after it two.
    last, step = s.values[-1], _sorted_median(s.sorted_steps)
    left = suspect - (last + step)  # how far, and which way, the suspect left the trend
    out = value - (last + 2 * step)  # the same for the reading after it
    # Still out on the suspect's side by more than half the suspect's departure: a held step (out == left)
    # and a continuing new rate (out about 2 * left, or more) are well past that. Multiplied, not divided:
    # should a history read again put the suspect on the trend (left == 0), it stays flagged, no error.
    return out * left > 0.5 * left * left
