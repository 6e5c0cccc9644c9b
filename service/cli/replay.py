"""`geohazard replay` and `replay-series`: the engine run again over stored readings or a recorded series."""

import argparse
import asyncio
import sys
from datetime import datetime

from runtime.checks import NotReady, check_postgres
from runtime.settings import Settings


def add_replay(sub) -> None:
    """Register `geohazard replay`."""
    p = sub.add_parser("replay", help="re-evaluate stored readings over a period and list the events",
                       description="Run the engine's evaluation at every --step from --from to --to over the "
                                   "stored readings, against temporary alert tables (live alerts are neither "
                                   "read nor changed, nothing is published), and print the events it records. "
                                   "Replay starts with no open alert at --from; evaluated at the live engine's "
                                   "times, it reproduces the live events.")
    p.add_argument("--from", dest="frm", required=True, help="start, ISO 8601 with zone, e.g. 2026-07-01T00:00Z")
    p.add_argument("--to", required=True, help="end, ISO 8601 with zone")
    p.add_argument("--step", default="10m", help="evaluation interval: 90s, 10m, 1h (default 10m)")
    p.set_defaults(func=cmd_replay)


def cmd_replay(settings: Settings, args) -> None:
    import asyncpg

    from alerting.replay import other_rule_versions, parse_duration, replay
    from alerting.rules import RULE_VERSION

    check_postgres(settings)
    try:
        frm, to = _utc(args.frm, "--from"), _utc(args.to, "--to")
        step = parse_duration(args.step)
    except ValueError as exc:
        raise NotReady(str(exc)) from None

    async def run():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await replay(conn, frm=frm, to=to, step=step), await other_rule_versions(conn, frm=frm, to=to)
        finally:
            await conn.close()

    try:
        events, older = asyncio.run(run())
    except ValueError as exc:
        raise NotReady(str(exc)) from None
    if older:
        made = ", ".join(f"{n} by rule version {v}" for v, n in older.items())
        print(f"note: live events in this period were made by other rules ({made}); this replay evaluates with "
              f"rule version {RULE_VERSION} and cannot reproduce those exactly", file=sys.stderr)
    for event in events:
        print(event.line())
    print(f"{len(events)} events from {frm.isoformat()} to {to.isoformat()} every {args.step}"
          " (replayed against temporary alert tables; live alerts untouched)", file=sys.stderr)


def _utc(text: str, option: str) -> datetime:
    from sensors.timestamps import aware_utc

    return aware_utc(text, option, "add Z for UTC or +08:00 for Beijing time")


def add_replay_series(sub) -> None:
    """Register `geohazard replay-series`."""
    p = sub.add_parser("replay-series", help="replay one recorded monitoring series (CSV) through the engine",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Replay one real monitoring series, a CSV file with a header row, as the\n"
                                   "readings of one displacement sensor: each reading goes through ingest's quality\n"
                                   "filter and is evaluated by the live engine's own code (evaluate_once), with the\n"
                                   "lifecycle's hold times, against temporary tables of a transaction that is rolled\n"
                                   "back: any migrated database serves, and nothing real is read or written.\n\n"
                                   "Prints one JSON line per evaluation that changes the sensor's or the deformation\n"
                                   "alert's level, then a summary: the first yellow, orange and red with their lead\n"
                                   "time before a known failure, the episodes per level, and the failure forecast\n"
                                   "24, 12, 8, 4, 2 and 1 h before the failure. No duty officer acknowledges during\n"
                                   "a replay, so orange and red never fall.",
                       epilog="example, from the repository root (the first 6 h stand for the quiet baseline; the\n"
                              "failure is the row with landslide_flag 1):\n"
                              "  geohazard replay-series ../shared/science/dexing_gbsar.csv --resolution-mm 1 "
                              "--baseline-until 6h\n"
                              "times are epoch seconds or ISO 8601 with an offset (2018-05-05T14:54:00+08:00).")
    p.add_argument("file", metavar="FILE.csv", help="the series: a CSV file with a header row")
    p.add_argument("--time-column", help="column of the reading times, epoch seconds or ISO 8601 with an offset "
                                         "(default: the first column whose name starts with t_)")
    p.add_argument("--value-column", help="column of the displacement in mm (default: the first of displacement_mm, "
                                          "deformation_mm, value)")
    p.add_argument("--kind", default="crack", choices=["crack", "gnss", "tilt", "deep"],
                   help="the sensor kind the series is replayed as (default crack); gnss and deep take it as "
                        "their horizontal resultant's first component")
    p.add_argument("--resolution-mm", type=float, metavar="MM",
                   help="the sensor's resolution, e.g. 1 for whole-millimetre readings (default: the kind's)")
    p.add_argument("--interval", metavar="DURATION",
                   help="the sensor's reporting interval: 7m, 10m, 1h, 1d (default: the series' median spacing)")
    v0 = p.add_mutually_exclusive_group()
    v0.add_argument("--v0", type=float, metavar="MM_PER_DAY", help="a configured reference creep rate v0, mm/d")
    v0.add_argument("--baseline-until", metavar="T",
                    help="the series up to T is the sensor's quiet baseline: a time, or a duration after the first "
                         "reading such as 6h (default: neither; the engine's own v0)")
    p.add_argument("--failure-at", metavar="T",
                   help="the known failure time, lead times are reported against it (default: none, or the first "
                        "row with landslide_flag 1)")
    p.add_argument("--step", default="reading", choices=["reading", "bin"],
                   help="evaluate after every reading (default) or at the end of every bin")
    p.add_argument("--json", action="store_true", help="the summary as one JSON line too, instead of text")
    p.set_defaults(func=cmd_replay_series)


def cmd_replay_series(settings: Settings, args) -> None:
    import json

    import asyncpg

    from service.replay_series import SeriesError, describe, plan_for, read_series, replay_series

    try:
        series = read_series(args.file, time_column=args.time_column, value_column=args.value_column)
        plan = plan_for(series, kind=args.kind, interval=args.interval, resolution_mm=args.resolution_mm,
                        v0_mm_per_day=args.v0, baseline_until=args.baseline_until, failure_at=args.failure_at,
                        step=args.step)
    except SeriesError as exc:
        raise NotReady(str(exc)) from None
    check_postgres(settings)
    print(f"replaying {len(series.values)} readings of {series.value_column} from {args.file} against temporary "
          "tables (nothing real is read or written)", file=sys.stderr)
    shown = {"percent": 0}

    def progress(done, total, evaluation):
        if evaluation.changed:
            print(json.dumps(evaluation.line(plan.failure_at), ensure_ascii=False), flush=True)
        percent = done * 100 // total
        if percent >= shown["percent"] + 10 or done == total:
            shown["percent"] = percent
            print(f"  {done}/{total} evaluations ({percent}%), at {evaluation.at.isoformat()}: sensor "
                  f"{evaluation.level}, alert {evaluation.alert_level}", file=sys.stderr, flush=True)

    async def run():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await replay_series(conn, series, plan, progress)
        finally:
            await conn.close()

    try:
        replayed = asyncio.run(run())
    except SeriesError as exc:
        raise NotReady(str(exc)) from None
    if args.json:
        print(json.dumps({"summary": replayed.summary()}, ensure_ascii=False))
    else:
        print("\n".join(describe(replayed)))
