"""`geohazard`: one command for every process of the service and its administration.

Every subcommand lives in this package, a module per group, each registering its parsers (`add_<name>`)
beside what they run (`cmd_<name>`): `processes` (serve, ingest, engine, simulate, demo), `admin` (migrate,
quarantine, webhook, token, login, phone), `replay` (replay, replay-series), `acl`, `command` and `registry_import`
(import). This module builds the parser from them and runs one; they never import it.
"""

import argparse
import logging
import sys

from pydantic import ValidationError

from runtime.checks import NotReady
from runtime.settings import Settings
from service.cli import acl, admin, command, processes, registry_import, replay
from service.cli.processes import LOG_FORMAT

# The subcommands in the order --help lists them.
SUBCOMMANDS = (
    admin.add_migrate, processes.add_serve, processes.add_ingest, admin.add_quarantine, processes.add_engine,
    admin.add_webhook, replay.add_replay, replay.add_replay_series, processes.add_simulate, processes.add_demo,
    admin.add_token, admin.add_login, admin.add_phone, acl.add_acl, command.add_command, registry_import.add_import,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geohazard",
        description="Geological-hazard monitoring and early warning. Configuration comes from GEOHAZARD_* "
                    "environment variables (see the README); GEOHAZARD_DATABASE_URL and GEOHAZARD_MQTT_URL "
                    "say where PostgreSQL and the MQTT broker are.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print("geohazard: invalid configuration:", file=sys.stderr)
        for error in exc.errors():
            print(f"  GEOHAZARD_{str(error['loc'][0]).upper()}: {error['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format=LOG_FORMAT)
    # APScheduler logs every run of every job at INFO; the engine logs what a run changed instead.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        args.func(settings, args)
    except NotReady as exc:
        print(f"geohazard {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
