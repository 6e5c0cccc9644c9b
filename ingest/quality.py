"""Quality flags that need a sensor's history: spikes (robust median/MAD of increments) and stuck values.

Each ingest process keeps the last good values of the sensors it has seen, loaded from the database
the first time (or when its copy is old, as happens when workers share sensors). A reading far off
the sensor's recent trend is flagged `spike`; if the next reading confirms the new level, the jump was
real ground movement and the flag is taken back, so a sudden acceleration is excluded from warning
evaluation for one reporting interval at most. A noisy sensor repeating exactly the same value many
times is flagged `stuck`.
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
# A worker's copy of a sensor's history older than this is reloaded: another worker may have moved on.
HISTORY_TTL_S = 900.0
# Readings judged between yields to the event loop, so that a commit going on meanwhile is not held up.
YIELD_EVERY = 500

_BY_TS = attrgetter("ts")


def _median(data: list[float]) -> float:
    """statistics.median, without its generality: the same value for a non-empty list of floats."""
    data.sort()
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
        for row in rows:  # oldest first within each sensor
            series = fresh[(row["device_id"], row["sensor_code"])]
            series.push(row["value"])
            series.last_ts = row["ts"]
        self._series.update(fresh)

    def _check(self, s: _Series, r: Reading, cleared: list[tuple[str, str, datetime]]) -> bool:
        """Judge r after the series s; add the readings whose spike flag r takes back to `cleared`.
        True if r's value joined the series' history."""
        if r.quality or r.value is None or (s.last_ts is not None and r.ts <= s.last_ts):
            return False  # already flagged, or late: judged against a history it does not follow
        if s.suspect is not None:
            if not self._is_spike(s, r, reference=s.suspect.value):
                # The jump held: it was movement, not a broken reading. Restart the trend from it.
                s.suspect.quality.remove("spike")
                cleared.append((s.suspect.device_id, s.suspect.sensor_code, s.suspect.ts))
                s.restart(s.suspect.value)
            s.suspect = None
        if r.kind in MIN_SCALE and self._is_spike(s, r):
            r.quality.append("spike")
            s.suspect = r
            s.last_ts = r.ts
            return False
        if r.kind in STUCK_KINDS:
            s.repeats = s.repeats + 1 if s.values and r.value == s.values[-1] else 0
            if s.repeats >= STUCK_RUN - 1:
                r.quality.append("stuck")
        s.push(r.value)
        s.last_ts = r.ts
        return True

    @staticmethod
    def _is_spike(s: _Series, r: Reading, reference: float | None = None) -> bool:
        if len(s.values) < MIN_HISTORY:
            return False
        # Plain Python: for two dozen values numpy's per-call overhead costs more than the arithmetic,
        # and this runs for every reading.
        steps = s.sorted_steps
        n = len(steps)
        i = n // 2
        median_step = steps[i] if n % 2 == 1 else (steps[i - 1] + steps[i]) / 2
        expected = (s.values[-1] if reference is None else reference) + median_step
        off = abs(r.value - expected)
        floor = MIN_SCALE[r.kind]
        if off / floor <= SPIKE_Z:
            return False  # the scale is never below the floor, so no scale can make this a spike
        scale = max(1.4826 * _median(list(map(abs, map(sub, steps, repeat(median_step))))), floor)
        return off / scale > SPIKE_Z
