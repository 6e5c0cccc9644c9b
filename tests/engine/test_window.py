"""The engine's in-memory windows against the database: after any mix of what ingest does (new readings,
late readings from a gateway's buffer, spike flags taken back, flagged readings, readings from the
future), the windows hold exactly what the database path reads. That is what keeps the live engine and
`geohazard replay` in agreement."""

import asyncio
import random
from datetime import datetime, timedelta, timezone

import asyncpg
import psycopg

from alerting.evaluate import assess, family_windows, load_family, load_window
from alerting.rules import RAIN_WINDOW_BINS, WINDOW_BINS
from alerting.window import WindowStore
from ingest import quarantine
from ingest.writer import lay_out, stored_notices
from runtime.notices import parse_stored_notice
from sensors.readings import Reading
from tests.support import register

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
GW = "GW-500113-0001"
SENSORS = (("CR-01", "crack", {}), ("CR-02", "crack", {}), ("GN-01", "gnss", {}), ("RG-01", "rain", {}))
INSERT = ("INSERT INTO reading (device_id, sensor_code, ts, kind, value, quality) VALUES ($1, $2, $3, $4, $5, $6) "
          "ON CONFLICT DO NOTHING")


def as_sets(readings, rows):
    """{(sensor, t_s, value)} of (idx, t_s, value) arrays, so the order of the rows does not matter."""
    idx, t_s, value = readings
    names = [f"{r['device_id']}/{r['code']}" for r in rows]
    return sorted((names[i], t, v) for i, t, v in zip(idx.tolist(), t_s.tolist(), value.tolist()))


async def compare(conn, store: WindowStore, now: datetime) -> int:
    """Refresh the store at `now` and check both families against the database; how many readings."""
    window = await load_window(conn, now, None, store)
    total = 0
    for family, n_bins, displacement in ((window.displacement, WINDOW_BINS, True),
                                         (window.rain, RAIN_WINDOW_BINS, False)):
        from_db = await load_family(conn, family.rows, now, family_windows(family.rows, displacement=displacement),
                                    n_bins)
        assert family.start_s == from_db.start_s and family.n_bins == from_db.n_bins
        in_memory = as_sets((family.idx, family.t_s, family.value), family.rows)
        assert in_memory == as_sets((from_db.idx, from_db.t_s, from_db.value), from_db.rows), now
        total += len(in_memory)
    return total


def run(database_url, scenario):
    async def go():
        conn = await asyncpg.connect(database_url)
        try:
            return await scenario(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def test_the_windows_follow_every_way_ingest_changes_the_readings(database_url):
    register(database_url, sensors=SENSORS)

    async def scenario(conn):
        store = WindowStore()
        # Three days of history, every 10 minutes; the store reads it whole at the first evaluation.
        t = NOW - timedelta(hours=80)
        while t <= NOW:
            for code, kind, _ in SENSORS:
                await conn.execute(INSERT, GW, code, t, kind, (t - NOW).total_seconds() / 86400 + 30, [])
            t += timedelta(minutes=10)
        assert await compare(conn, store, NOW) > 0
        assert store.loaded == len(SENSORS)

        now = NOW
        # A new reading flagged as a spike, evaluated, then taken back when the next one confirms it.
        now += timedelta(minutes=10)
        await conn.execute(INSERT, GW, "CR-01", now, "crack", 45.0, ["spike"])
        await compare(conn, store, now)
        now += timedelta(minutes=10)
        await conn.execute(INSERT, GW, "CR-01", now, "crack", 45.2, [])
        await conn.execute("UPDATE reading SET quality = '{}' WHERE sensor_code = 'CR-01' AND ts = $1",
                           now - timedelta(minutes=10))
        await compare(conn, store, now)
        # A reading from a skewed clock, ahead of now: not in the window until its time comes.
        await conn.execute(INSERT, GW, "CR-02", now + timedelta(minutes=5), "crack", 31.0, [])
        await compare(conn, store, now)
        await compare(conn, store, now + timedelta(minutes=6))
        now += timedelta(minutes=10)
        # A gateway empties its buffer: readings older than what the engine has seen, announced by ingest.
        for minutes in (95, 85, 75):
            await conn.execute(INSERT, GW, "GN-01", now - timedelta(minutes=minutes) + timedelta(seconds=30), "gnss",
                               7.0, [])
        store.note_stored({GW: now - timedelta(minutes=95) + timedelta(seconds=30)})
        await compare(conn, store, now)
        # Flagged readings are kept out; rain for the rain window.
        await conn.execute(INSERT, GW, "CR-02", now, "crack", 999.0, ["out_of_range"])
        await conn.execute(INSERT, GW, "RG-01", now, "rain", 4.5, [])
        await compare(conn, store, now)
        # Days later the old readings have left both windows.
        assert await compare(conn, store, now + timedelta(days=4)) < await compare(conn, store, now)

    run(database_url, scenario)


def test_random_ingest_histories_give_the_same_windows_and_the_same_levels(database_url):
    register(database_url, sensors=SENSORS)
    rng = random.Random(20261122)

    async def scenario(conn):
        store = WindowStore()
        now = NOW - timedelta(hours=12)
        for code, kind, _ in SENSORS:  # history for the first evaluation to read whole
            for half_hours in range(160, 1, -1):
                await conn.execute(INSERT, GW, code, now - timedelta(minutes=30 * half_hours), kind, 30.0, [])
        last = {code: now - timedelta(hours=1) for code, _, _ in SENSORS}
        suspect = {}  # sensor -> its latest reading, flagged spike (what ingest may take back)
        for step in range(60):
            notice = {}
            for code, kind, _ in SENSORS:
                for _ in range(rng.randrange(0, 4)):
                    late = rng.random() < 0.1
                    # A late reading is older than the sensor's latest, from a gateway's buffer.
                    ts = (last[code] - timedelta(minutes=rng.randrange(1, 300)) if late
                          else last[code] + timedelta(minutes=rng.randrange(1, 20)))
                    ts += timedelta(microseconds=rng.randrange(0, 1_000_000))
                    # As ingest judges: a late reading is never called a spike; flags of other kinds may come.
                    quality = rng.choice([[], [], [], ["stuck"], ["out_of_range"]] + ([] if late else [["spike"]]))
                    value = round(rng.uniform(0, 80), 3)
                    await conn.execute(INSERT, GW, code, ts, kind, value, quality)
                    if not late:
                        if code in suspect and rng.random() < 0.5:  # the next reading confirms the jump
                            await conn.execute("UPDATE reading SET quality = '{}' WHERE sensor_code = $1 AND ts = $2",
                                               code, suspect[code])
                        suspect.pop(code, None)
                        if quality == ["spike"]:
                            suspect[code] = ts
                        last[code] = max(last[code], ts)
                    notice[GW] = min(notice.get(GW, ts), ts)
            store.note_stored(notice)
            now += timedelta(minutes=rng.randrange(5, 30))
            await compare(conn, store, now)
        window_live = await load_window(conn, now, None, store)
        window_db = await load_window(conn, now)
        assert [(a.hazard_point, a.type, a.level, a.explained().reasons) for a in assess(window_live)] == \
               [(a.hazard_point, a.type, a.level, a.explained().reasons) for a in assess(window_db)]
        # Each evaluation fetched only what was new, not the windows again.
        assert store.loaded == len(SENSORS)

    run(database_url, scenario)


def test_a_cleared_store_reads_the_windows_again(database_url):
    register(database_url, sensors=SENSORS[:1])

    async def scenario(conn):
        store = WindowStore(resync_s=0)
        await conn.execute(INSERT, GW, "CR-01", NOW - timedelta(hours=1), "crack", 30.0, [])
        await compare(conn, store, NOW)
        # Written behind ingest's back (no notice) before what the engine has seen: missed until a rebuild.
        await conn.execute(INSERT, GW, "CR-01", NOW - timedelta(hours=2), "crack", 29.0, [])
        window = await load_window(conn, NOW, None, store)
        assert len(window.displacement.t_s) == 1
        assert store.resync_due()
        store.clear()
        assert await compare(conn, store, NOW) == 2
        assert store.loaded == 2

    run(database_url, scenario)


def test_ingest_notices_give_each_device_its_earliest_reading_and_fit_a_notify():
    readings = [("t", Reading(f"GW-{n % 500:04d}-{'x' * 40}", "CR-01", NOW - timedelta(minutes=n % 7), "crack", 1.0,
                              None, [], False)) for n in range(2000)]
    notices = stored_notices(lay_out(readings))
    assert len(notices) > 1 and all(len(n.encode()) < 8000 for n in notices)
    earliest = {}
    for notice in notices:
        earliest.update(parse_stored_notice(notice))
    assert len(earliest) == 500
    assert earliest["GW-0000-" + "x" * 40] == NOW - timedelta(minutes=6)
    # An ingest from before this format sends comma-separated ids: the devices are still named.
    assert parse_stored_notice("GW-1,GW-2") == {"GW-1": None, "GW-2": None}
    assert parse_stored_notice("12345678") == {"12345678": None}



class CommitDuringQuery:
    """A connection whose next query is followed, before the engine sees its answer, by `then()`: a commit
    and its notice landing while the engine's fetch runs (the fetch's snapshot did not see them)."""

    def __init__(self, conn, then):
        self.conn, self.then = conn, then

    def __getattr__(self, name):
        return getattr(self.conn, name)

    async def fetchrow(self, *args):
        row = await self.conn.fetchrow(*args)
        if self.then is not None:
            then, self.then = self.then, None
            await then()
        return row


def test_a_late_reading_noticed_during_a_fetch_or_for_another_sensor_of_the_device_is_not_lost(database_url):
    register(database_url, sensors=(("CR-01", "crack", {}), ("RG-01", "rain", {})))

    async def scenario(conn):
        store = WindowStore()
        for minutes in (60, 30):
            await conn.execute(INSERT, GW, "CR-01", NOW - timedelta(minutes=minutes), "crack", 30.0, [])
        await compare(conn, store, NOW)

        async def backfill(minutes):
            ts = NOW - timedelta(minutes=minutes)
            await conn.execute(INSERT, GW, "CR-01", ts, "crack", 29.0, [])
            store.note_stored({GW: ts})

        # The notice comes while a fetch runs whose snapshot missed the reading.
        slow = CommitDuringQuery(conn, lambda: backfill(50))
        await load_window(slow, NOW, None, store)
        await compare(conn, store, NOW)
        # A notice for the device, then an evaluation that refreshes only its rain gauge (a neighbour's),
        # then one of its own point: the crack gauge's fetch still starts from the late reading.
        await backfill(40)
        rain_only = family_windows(await conn.fetch("SELECT device_id, code FROM sensor WHERE kind = 'rain'"),
                                   displacement=False)
        await store.refresh(conn, rain_only, NOW)
        await compare(conn, store, NOW)
        # Notices missed while the engine was not listening: every window is read again.
        loaded = store.loaded
        store.invalidate()
        await compare(conn, store, NOW)
        assert store.loaded == loaded + 2

    run(database_url, scenario)


def test_a_spike_taken_back_and_a_quarantine_replay_tell_the_engine_from_when(database_url):
    # A batch whose only older change is a spike flag taken back still names that reading's time.
    reading = ("t", Reading(GW, "CR-01", NOW, "crack", 1.0, None, [], False))
    [notice] = stored_notices(lay_out([reading]), [(GW, "CR-01", NOW - timedelta(hours=2))])
    assert parse_stored_notice(notice) == {GW: NOW - timedelta(hours=2)}
    # Readings replayed from quarantine are announced like ingest's, with the device's earliest.
    register(database_url, sensors=(("CR-01", "crack", {}),))
    with psycopg.connect(database_url, autocommit=True) as conn:
        for hours in (3, 1):
            conn.execute("INSERT INTO quarantine (topic, device_id, sensor_code, ts, kind, value, reason) "
                         "VALUES ('t', %s, 'CR-01', %s, 'crack', 1.0, 'not registered yet')",
                         (GW, NOW - timedelta(hours=hours)))
        conn.execute("LISTEN readings_stored")
        assert quarantine.replay(database_url) == 2
        [received] = list(conn.notifies(timeout=5, stop_after=1))
    assert parse_stored_notice(received.payload) == {GW: NOW - timedelta(hours=3)}
