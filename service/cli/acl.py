"""`geohazard acl`: the broker's listeners, password files and ACL written from the registry (`ingest.acl`)."""

from pathlib import Path

import psycopg

from ingest.acl import ACL, BROKER_CONF, DEVICE_PASSWORDS, DEVICE_PORT, SERVICE_PASSWORDS, AclError, generate
from runtime.checks import NotReady, check_postgres
from runtime.settings import Settings

# What the broker enforces and what it cannot, for --help; the README's security section says the same.
IDENTITY = (
    "What the broker enforces: a device logs in only with its own password and only on the devices' listener; "
    "its client id is its user name, so it cannot take another device's id or a geohazard process's session; "
    "a gateway publishes only its own topics, a universal device only $dp and its own answers, and each reads "
    "only its own commands. What it cannot: a universal device's id travels inside its $dp frame, every universal "
    "device may publish $dp, and MQTT 3.1.1 does not tell ingest who published a message, so a universal device "
    "with valid credentials can still send frames naming another universal device (readings stored under it, "
    "its battery level). Ingest cannot see who published, so device health has no flag for it; it dead-letters "
    "$dp frames naming a native gateway or a manual device. Manual devices (measured by hand) get no account.")


def add_acl(sub) -> None:
    """Register `geohazard acl`."""
    p = sub.add_parser(
        "acl", help="write the broker's listeners, password files and ACL from the registry",
        description="Write into --config-dir the broker's listeners (auth.conf, for Mosquitto's include_dir), "
                    "the devices' and the services' password files and the ACL, from the device registry. "
                    "Devices and gateways log in on --device-port with their id as user name, which becomes "
                    "their client id, and may publish only their own topics. The geohazard processes log in on "
                    "their own listener, the port of GEOHAZARD_MQTT_URL, which admits only the service account "
                    "of GEOHAZARD_MQTT_URL (may do everything) and ingest's of GEOHAZARD_INGEST_MQTT_URL (may only "
                    "read what devices send). Devices without a password get one, written once to "
                    "--credentials-out (mode 0600) for the installer; only hashes are stored. Running it again "
                    "without new devices changes nothing. Reload the broker (SIGHUP) afterwards, or restart it "
                    "when auth.conf changed. " + IDENTITY)
    p.add_argument("--config-dir", required=True, type=Path,
                   help="the directory Mosquitto includes (include_dir), as the broker sees it; it must exist")
    p.add_argument("--device-port", type=int, default=DEVICE_PORT,
                   help=f"port of the devices' listener (default {DEVICE_PORT})")
    p.add_argument("--credentials-out", type=Path,
                   help="CSV to create (mode 0600) with the new passwords; needed when there are any")
    p.add_argument("--rotate", action="append", default=[], metavar="DEVICE",
                   help="give this device a new password (repeatable)")
    p.set_defaults(func=cmd_acl)


def cmd_acl(settings: Settings, args) -> None:
    check_postgres(settings)
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            outcome = generate(conn, settings=settings, config_dir=args.config_dir, device_port=args.device_port,
                               credentials_out=args.credentials_out, rotate=tuple(args.rotate))
    except (AclError, OSError) as exc:
        raise NotReady(str(exc)) from None
    for name in (BROKER_CONF, DEVICE_PASSWORDS, SERVICE_PASSWORDS, ACL):
        print(f"{args.config_dir / name}: {'written' if name in outcome.written else 'unchanged'}")
    print(f"{outcome.accounts} device(s) and the service account(s) {', '.join(outcome.services)}")
    if outcome.new_passwords:
        print(f"{len(outcome.new_passwords)} new password(s) in {args.credentials_out} (mode 0600): configure the "
              "devices with them, then delete the file; only their hashes are kept")
    if BROKER_CONF in outcome.written:
        print("restart the broker to apply the listeners (docker compose restart mqtt); a reload does not")
    elif outcome.written:
        print("reload the broker to apply: kill -HUP <mosquitto pid> (docker compose kill -s HUP mqtt)")
