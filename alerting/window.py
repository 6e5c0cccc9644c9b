"""The engine's rolling windows: each monitored sensor's good readings over its family's window, in memory.

A sensor's window is read from the database the first time it is evaluated (the first full evaluation
after start-up reads them all), and from then on only what was stored since: every evaluation asks the
database, per sensor, for the readings from the sensor's cursor on (an index range scan that returns a
reading or two), where the cursor is the time of the last reading fetched. That last reading is read
again each time because ingest may still take back its spike flag when the next reading confirms the
jump. A gateway that empties its buffer after an outage stores readings older than the cursor; ingest's
notification gives each device's earliest new reading, and the next fetch for that device starts there.
Anything else written behind the engine's back (a quarantine replay, a manual correction) is picked up
by the full rebuild every `resync_s`.

Given the same stored readings, `sensor_set` gives exactly the arrays `evaluate.load_family` reads from
the database, which is what keeps the live engine and `geohazard replay` in agreement.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import numpy as np

from sql import queries

Q = queries("engine")
_EMPTY = np.empty(0)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(slots=True)
class _Series:
    t_s: np.ndarray  # epoch seconds of the good readings, ascending
    value: np.ndarray
    horizon_s: float  # how far back the sensor's family looks
    cursor: datetime  # the next fetch starts here (inclusive): the last reading fetched, of any quality
    cursor_good: bool  # that reading is in t_s/value (so an unchanged re-read changes nothing)
    late: datetime | None = None  # ingest stored a reading of the device this old since the last fetch


@dataclass(frozen=True, slots=True)
class SensorWindow:
    """A sensor to keep, and how far back its family looks."""

    device_id: str
    code: str
    horizon_s: float

    @property
    def key(self) -> tuple[str, str]:
        return self.device_id, self.code


class WindowStore:
    """Rolling windows of good readings per (device, sensor), fed by `refresh` before each evaluation."""

    def __init__(self, resync_s: float = 3600.0):
        self.resync_s = resync_s
        self._series: dict[tuple[str, str], _Series] = {}
        self._of_device: dict[str, list[_Series]] = {}
        # Devices whose windows are being read whole, and the notices that came for them meanwhile (the read
        # may not have seen those readings); applied to their windows when the read is done.
        self._loading: set[str] = set()
        self._late_while_loading: dict[str, datetime] = {}
        self._invalid = False
        self._built = time.monotonic()
        self.loaded = 0  # sensors read whole from the database (the tests check a fetch does not reread)

    def __len__(self) -> int:
        return len(self._series)

    def note_stored(self, earliest: dict[str, datetime | None]) -> None:
        """Ingest stored readings of these devices, the oldest at the given time (None: not told). The next
        fetch of each of the device's windows starts there if that is before its cursor."""
        for device_id, ts in earliest.items():
            if ts is None:
                continue
            parts = self._of_device.get(device_id, ())
            self._note_late(parts, [ts] * len(parts))
            if device_id in self._loading:
                known = self._late_while_loading.get(device_id)
                if known is None or ts < known:
                    self._late_while_loading[device_id] = ts

    @staticmethod
    def _note_late(parts: list[_Series], times: list[datetime | None]) -> None:
        for part, ts in zip(parts, times):
            if ts is not None and (part.late is None or ts < part.late):
                part.late = ts

    def invalidate(self) -> None:
        """Notices may have been missed (the engine was not listening): rebuild every window at the next refresh."""
        self._invalid = True

    def resync_due(self) -> bool:
        return time.monotonic() - self._built >= self.resync_s

    def clear(self) -> None:
        """Forget every window: the next evaluation of each sensor reads it whole from the database."""
        self._series.clear()
        self._of_device.clear()
        self._invalid = False
        self._built = time.monotonic()

    async def refresh(self, conn: asyncpg.Connection, sensors: list[SensorWindow], now: datetime) -> None:
        """Bring the windows of these sensors up to `now`: read new ones whole, the others from their cursors."""
        if self._invalid:
            self.clear()
        series = self._series
        cold = [s for s in sensors if s.key not in series]
        warm = [s for s in sensors if s.key in series]
        if cold:
            await self._load(conn, cold, now)
        if warm:
            await self._fetch(conn, warm, now)

    def sensor_set(self, sensors: list[SensorWindow], now: datetime):
        """(idx, t_s, value) of each sensor's good readings in (now - its horizon, now], as load_family reads them."""
        to = now.timestamp()
        parts = [self._series[s.key] for s in sensors]
        lengths = np.fromiter((len(p.t_s) for p in parts), dtype=np.int64, count=len(parts))
        if not lengths.sum():
            return np.empty(0, np.int64), _EMPTY, _EMPTY
        idx = np.repeat(np.arange(len(parts), dtype=np.int64), lengths)
        t_s = np.concatenate([p.t_s for p in parts])
        value = np.concatenate([p.value for p in parts])
        horizon = np.fromiter((s.horizon_s for s in sensors), dtype=np.float64, count=len(sensors))
        keep = (t_s > to - horizon[idx]) & (t_s <= to)
        return idx[keep], t_s[keep], value[keep]

    async def _load(self, conn: asyncpg.Connection, sensors: list[SensorWindow], now: datetime) -> None:
        # A window is (now - horizon, now]; timestamps have microseconds, so it starts 1 us after that.
        frm = [now - timedelta(seconds=s.horizon_s) for s in sensors]
        loading = {s.device_id for s in sensors}
        self._loading |= loading
        try:
            idx, t_s, value, good, bounds = await _readings_since(conn, sensors, [t + _MICROSECOND for t in frm],
                                                                  now)
        finally:
            self._loading -= loading
        late = {d: self._late_while_loading.pop(d) for d in loading if d in self._late_while_loading}
        for j, s in enumerate(sensors):
            lo, hi = bounds[j], bounds[j + 1]
            mask = good[lo:hi]
            if hi > lo:
                cursor, cursor_good = _utc(t_s[hi - 1]), bool(good[hi - 1])
            else:
                cursor, cursor_good = frm[j], False
            part = _Series(t_s[lo:hi][mask], value[lo:hi][mask], s.horizon_s, cursor, cursor_good, late.get(s.device_id))
            self._series[s.key] = part
            self._of_device.setdefault(s.device_id, []).append(part)
        self.loaded += len(sensors)

    async def _fetch(self, conn: asyncpg.Connection, sensors: list[SensorWindow], now: datetime) -> None:
        parts = [self._series[s.key] for s in sensors]
        taken = [part.late for part in parts]
        since = [part.cursor if late is None or late >= part.cursor else late for part, late in zip(parts, taken)]
        # Taken before the query: a notice that comes while it runs (its reading may be missed) sets it again.
        for part in parts:
            part.late = None
        try:
            idx, t_s, value, good, bounds = await _readings_since(conn, sensors, since, now)
        except BaseException:
            self._note_late(parts, taken)  # nothing was fetched: keep what was noted
            raise
        # Most sensors have nothing new: the one reading fetched is the cursor's, unchanged. Find the others
        # with array operations, and update only those.
        counts = np.diff(bounds)
        first = np.minimum(bounds[:-1], max(len(idx) - 1, 0))
        if len(idx):
            cursor_s = np.array([p.cursor.timestamp() for p in parts])
            cursor_good = np.array([p.cursor_good for p in parts])
            last_value = np.array([p.value[-1] if p.cursor_good and len(p.value) else np.nan for p in parts])
            from_cursor = np.array([a == p.cursor for a, p in zip(since, parts)])
            unchanged = ((counts == 1) & from_cursor & (t_s[first] == cursor_s) & (good[first] == cursor_good)
                         & (~cursor_good | (value[first] == last_value)))
            changed = np.flatnonzero((counts > 0) & ~unchanged).tolist()
        else:
            changed = []
        to = now.timestamp()
        for j in changed:
            part, lo, hi = parts[j], bounds[j], bounds[j + 1]
            start = since[j].timestamp()
            keep = np.searchsorted(part.t_s, start, side="left")  # drop what this fetch read again
            floor = np.searchsorted(part.t_s, to - part.horizon_s, side="right")  # and what left the window
            mask = good[lo:hi]
            part.t_s = np.concatenate((part.t_s[floor:keep], t_s[lo:hi][mask])) if floor < keep else t_s[lo:hi][mask]
            part.value = (np.concatenate((part.value[floor:keep], value[lo:hi][mask])) if floor < keep
                          else value[lo:hi][mask])
            if t_s[hi - 1] >= part.cursor.timestamp():
                part.cursor, part.cursor_good = _utc(t_s[hi - 1]), bool(good[hi - 1])


async def _readings_since(conn: asyncpg.Connection, sensors: list[SensorWindow], since: list[datetime],
                          now: datetime):
    """The readings of each sensor from its `since` (inclusive) to `now`, sorted by sensor then time:
    (idx, t_s, value, good, bounds), sensor j's readings being [bounds[j], bounds[j + 1])."""
    data = await conn.fetchrow(Q["window_since"], [s.device_id for s in sensors], [s.code for s in sensors],
                               since, now)
    idx = np.asarray(data["idx"], dtype=np.int64) - 1
    t_s = np.asarray(data["t_s"], dtype=np.float64)
    value = np.asarray(data["value"], dtype=np.float64)
    good = np.asarray(data["good"], dtype=bool)
    order = np.lexsort((t_s, idx))
    idx, t_s, value, good = idx[order], t_s[order], value[order], good[order]
    return idx, t_s, value, good, np.searchsorted(idx, np.arange(len(sensors) + 1))


def _utc(epoch_s: float) -> datetime:
    # Readings carry microseconds; epoch seconds as float8 keep them to well under half a microsecond at
    # today's magnitudes, and fromtimestamp rounds to the nearest one: the reading's own time, exactly.
    return datetime.fromtimestamp(float(epoch_s), tz=timezone.utc)
