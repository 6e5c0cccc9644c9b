"""`geohazard import`: the command line of the registry import, with progress and the report of bad rows."""

import argparse
import asyncio
import getpass
from pathlib import Path

from runtime.checks import NotReady, check_postgres
from runtime.settings import Settings

DESCRIPTION = """\
Import hazard points with their devices and sensors, people, and the four-role grid from a ledger, checking
every row with the same rules as the HTTP API. Every bad row is reported (file, row, field, reason; rows and
items count from 1, a CSV header is row 1) and then nothing is written; otherwise everything is written in one
transaction. A hazard point code or device id already registered, or given twice, is a bad row, and so is a
person whose phone is already registered (refer to them from the grid by that phone instead).

JSON: one document {"people": [...], "hazard_points": [...]}. A person is a POST /people body plus an optional
"key" (used only within the file). A point is a POST /hazard-points body plus "devices" (POST /devices bodies
without hazard_point, each with its "sensors") and "grid": {"monitor": REF, "area_lead": REF,
"resident_geologist": REF, "county_admin": REF}.

CSV: a directory with any of these files (or one of them alone), UTF-8 (a spreadsheet's BOM is fine), the
first row naming the columns, which are the JSON field names:
  people.csv   key, name, phone, roles (separated by ;), county_code
  points.csv   code, name, type, scale, lon, lat, county_code, township_code, village_code,
               threatened_households, threatened_people, threatened_property_wan_yuan, status; nested fields
               as dotted columns (monitoring_plan.rainfall_may_exceed_orange, card.shelter, ...) or a column
               holding JSON (card)
  devices.csv  id, hazard_point, protocol (universal, native, or manual: marked cracks measured with a tape),
               accel_unit
  sensors.csv  device_id, code, kind, reporting_interval_s, v0_mm_per_day, resolution_mm,
               thresholds.velocity_mm_per_day.blue ... thresholds.displacement_mm.red
  grid.csv     point, monitor, area_lead, resident_geologist, county_admin
An empty cell is a field left out.

REF, a grid's person: the key or phone of a person in this import, else the phone of a registered person. A
grid replaces the point's whole grid, as PUT /hazard-points/{code}/grid does: a role left empty is vacant.
"""


def add_import(sub) -> None:
    """Register `geohazard import`."""
    p = sub.add_parser(
        "import",
        help="import a registry (points, devices, people, grid) from CSV or JSON",
        description=DESCRIPTION,
        formatter_class=_RawDescription,
    )
    p.add_argument("file", type=Path, metavar="FILE", help="a .json document, or a directory of CSV files")
    p.add_argument(
        "--format", choices=["csv", "json"], help="default: json for a .json file, csv for a directory or a .csv file"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="check everything, including by writing, then roll back: nothing is kept"
    )
    p.add_argument(
        "--encoding",
        default="utf-8-sig",
        help="text encoding of the files (default UTF-8; gb18030 for ledgers saved as GBK)",
    )
    p.add_argument("--author", help="who the records say registered them (default: geohazard import by <user>)")
    p.set_defaults(func=cmd_import)


def cmd_import(settings: Settings, args) -> None:
    # Imported here: every `geohazard` command loads this module, and only this one needs the API's models.
    from service.auth.schemas import ApiToken
    from service.registry_import import sources

    check_postgres(settings)
    ledger = sources.read(args.file, fmt=args.format, encoding=args.encoding)
    print(f"read {args.file}: {_counts(ledger)}", flush=True)
    author = ApiToken(
        id=0, name=args.author or f"geohazard import by {getpass.getuser()}", role="admin", person_id=None
    )
    outcome = asyncio.run(_run(settings.database_url, ledger, author, args.dry_run))
    if outcome.bad:
        for bad in outcome.bad:
            print(bad)
        rows = len({bad.place for bad in outcome.bad})
        raise NotReady(
            f"{len(outcome.bad)} problem{'s' if len(outcome.bad) != 1 else ''} in {rows} "
            f"row{'s' if rows != 1 else ''} of {args.file}; nothing was written"
        )
    if outcome.written:
        print(f"imported {outcome.summary}")
    else:
        print(f"dry run: {outcome.summary} would be imported; nothing was written")


async def _run(database_url: str, ledger, author, dry_run: bool):
    from service import db
    from service.registry_import import service as import_service

    pool = await db.create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            if not ledger.bad:
                print("checking every row against the registry" + (" (dry run)" if dry_run else ""), flush=True)
            return await import_service.import_ledger(
                conn, ledger, author=author, dry_run=dry_run, progress=lambda line: print(line, flush=True)
            )
    finally:
        await pool.close()


def _counts(ledger) -> str:
    counts = [
        (len(rows), what)
        for rows, what in (
            (ledger.points, "hazard points"),
            (ledger.devices, "devices"),
            (ledger.sensors, "sensors"),
            (ledger.people, "people"),
            (ledger.grids, "grids"),
        )
    ]
    return ", ".join(f"{n} {what}" for n, what in counts)


class _RawDescription(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout (the file formats) as written."""
