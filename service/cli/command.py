"""`geohazard command`: send a downlink command to a device, or list what it was sent and what it answered."""

import getpass
import threading

import paho.mqtt.client as mqtt
import psycopg

from runtime.checks import NotReady, check_mqtt, check_postgres
from runtime.commands import LIST_LIMIT, CommandNotSent, UnknownDevice, device_protocol, recent_commands, send_command
from runtime.mqtt import new_client, service_client_id
from runtime.settings import Settings
from sensors import commands

CONNECT_TIMEOUT_S = 10.0


def add_command(sub) -> None:
    """Register `geohazard command`."""
    p = sub.add_parser(
        "command", help="send a command to a device, or list the commands it was sent",
        description="Send a downlink command (SPEC 2.1/2.2) to a registered device and print its command "
                    "id; the device's answer is recorded against that id. Commands and their parameters: "
                    "setsensortime sensor_id=L1_LF_1 sample_intv=60 upload_intv=60 plus_intv=60 (seconds); "
                    "getstatus; settime server=HOST; meteorologicalearlywarning level=0..3|red..blue "
                    "effective_time=SECONDS lon_range=A,B lat_range=A,B. "
                    "With --list, show the device's recent commands and answers instead.")
    p.add_argument("device", metavar="DEVICE", help="device or gateway id")
    p.add_argument("name", metavar="NAME", nargs="?", choices=commands.COMMAND_NAMES,
                   help="the command: " + ", ".join(commands.COMMAND_NAMES))
    p.add_argument("params", metavar="key=value", nargs="*", help="the command's parameters")
    p.add_argument("--list", action="store_true", help="list the device's recent commands and answers")
    p.add_argument("--limit", type=int, default=LIST_LIMIT, help=f"how many to list (default {LIST_LIMIT})")
    p.add_argument("--sent-by", help="who is sending, for the record (default cli:<login name>)")
    p.set_defaults(func=cmd_command)


def cmd_command(settings: Settings, args) -> None:
    check_postgres(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            if args.list:
                if args.name:
                    raise NotReady("--list takes only the device: geohazard command --list DEVICE")
                _print_commands(conn, args.device, args.limit)
                return
            if not args.name:
                raise NotReady(f"name the command to send: one of {', '.join(commands.COMMAND_NAMES)}")
            params = _key_values(args.params)
            commands.build_command(args.name, params)  # readable errors before touching the broker
            device_protocol(conn, args.device)
            check_mqtt(settings)
            client = _connected_client(settings)
            try:
                command_id = send_command(conn, client, settings=settings, device_id=args.device, name=args.name,
                                          params=params, sent_by=args.sent_by or _operator())
            finally:
                client.disconnect()
                client.loop_stop()
        except (ValueError, UnknownDevice, CommandNotSent, OSError) as exc:
            raise NotReady(str(exc)) from None
    print(command_id)


def _operator() -> str:
    """Who runs the CLI, for the record; containers often have no entry for their user id."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _key_values(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r} is not key=value")
        params[key] = value
    return params


def _print_commands(conn: psycopg.Connection, device_id: str, limit: int) -> None:
    device_protocol(conn, device_id)
    rows = recent_commands(conn, device_id=device_id, limit=limit)
    if not rows:
        print(f"no commands were sent to {device_id}")
        return
    print("sent_at\tcommand_id\tcommand\tsent_by\tresult\tanswered_at\tanswer")
    for r in rows:
        result = r.result or ("not understood" if r.answer else "no answer")
        answered_at = r.answered_at.isoformat(timespec="seconds") if r.answered_at else "-"
        print("\t".join([r.sent_at.isoformat(timespec="seconds"), r.command_id, commands.describe(r.name, r.params),
                         r.sent_by, result, answered_at, " ".join((r.answer or "-").split())]))


def _connected_client(settings: Settings) -> mqtt.Client:
    """A paho client connected to the configured broker with the service account, its loop running."""
    client = new_client(settings.mqtt_login, service_client_id("cli"))
    outcome: dict[str, object] = {}
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome["reason"] = reason_code
        connected.set()

    client.on_connect = on_connect
    client.connect(settings.mqtt_host, settings.mqtt_port)
    client.loop_start()
    if not connected.wait(CONNECT_TIMEOUT_S) or outcome["reason"].is_failure:
        client.loop_stop()
        reason = outcome.get("reason", f"no answer within {CONNECT_TIMEOUT_S:g} s")
        raise ConnectionError(f"the MQTT broker at {settings.mqtt_host}:{settings.mqtt_port} refused the "
                              f"connection: {reason}")
    return client
