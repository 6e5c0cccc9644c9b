"""`geohazard migrate`, `quarantine`, `webhook`, `token`, `login` and `phone`: the database's schema, data and
accounts."""

import asyncio
import sys

import asyncpg
import psycopg

from alerting.levels import ALERT_LEVELS
from runtime.checks import NotReady, check_postgres
from runtime.settings import Settings


def add_migrate(sub) -> None:
    """Register `geohazard migrate`."""
    p = sub.add_parser("migrate", help="create the database if needed and apply every pending migration",
                       description="Create the database if it does not exist and apply the forward-only "
                                   "migrations in sql/migrations, recording each. Safe to run twice and from "
                                   "two processes at once. TimescaleDB steps are skipped where the extension "
                                   "is not available.")
    p.set_defaults(func=cmd_migrate)


def cmd_migrate(settings: Settings, args) -> None:
    from sql.migrate import migrate

    check_postgres(settings, server_only=True)
    for outcome in migrate(settings.database_url):
        m = outcome.migration
        print(f"{m.version:04d}_{m.name}: {outcome.status}")


def add_quarantine(sub) -> None:
    """Register `geohazard quarantine`."""
    p = sub.add_parser("quarantine", help="replay quarantined readings once their sensors are registered",
                       description="Readings from devices or sensors that were not registered when they "
                                   "arrived are kept in quarantine. `geohazard quarantine replay` moves those "
                                   "whose device and sensor (of the same kind) are registered now into the "
                                   "readings; the rest stay.")
    qsub = p.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    r = qsub.add_parser("replay", help="move now-registered quarantined readings into readings")
    r.add_argument("--device", help="only this device's readings")
    p.set_defaults(func=cmd_quarantine)


def cmd_quarantine(settings: Settings, args) -> None:
    from ingest.quarantine import replay

    check_postgres(settings)
    moved = replay(settings.database_url, device_id=args.device)
    print(f"{moved} quarantined readings moved into readings"
          + ("" if moved else " (none of the quarantined sensors is registered yet)"))


def add_webhook(sub) -> None:
    """Register `geohazard webhook`."""
    p = sub.add_parser("webhook", help="register an HTTP endpoint to receive every alert event, signed",
                       description="Register a webhook: every alert event (raised, level changes, acknowledged, "
                                   "escalated, resolved...) is POSTed to it as JSON, signed with HMAC-SHA256 "
                                   "(header X-Geohazard-Signature: sha256=<hex> over '<X-Geohazard-Timestamp>.' "
                                   "+ body), retried with backoff for 24 h and logged. The engine delivers them.")
    p.add_argument("url", help="the endpoint, http:// or https://")
    p.add_argument("--min-level", default="blue", choices=ALERT_LEVELS,
                   help="only alerts at or above this level (default blue: all)")
    p.add_argument("--type", action="append", choices=["deformation", "rainfall", "device"],
                   help="only these alert types (repeatable; default all)")
    p.add_argument("--county", action="append", help="only these county codes (repeatable; default all)")
    p.add_argument("--description", help="who receives it")
    p.set_defaults(func=cmd_webhook)


def cmd_webhook(settings: Settings, args) -> None:
    import asyncpg

    from alerting.channels.webhooks import create_webhook

    check_postgres(settings)

    async def add():
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await create_webhook(conn, url=args.url, min_level=args.min_level, types=args.type or None,
                                        county_codes=args.county or None, description=args.description)
        finally:
            await conn.close()

    if not args.url.startswith(("http://", "https://")):
        raise NotReady(f"webhook URL {args.url!r} must start with http:// or https://")
    webhook_id, secret = asyncio.run(add())
    print(f"webhook {webhook_id} added; its signing secret (shown only now): {secret}")


def add_token(sub) -> None:
    """Register `geohazard token`."""
    p = sub.add_parser("token", help="create, revoke and list API tokens",
                       description="API bearer tokens. A token is shown once, at creation; only its hash is stored.")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="create a token and print it")
    c.add_argument("--role", required=True, choices=["admin", "duty_officer", "grid_monitor", "viewer"])
    c.add_argument("--name", required=True, help="who or what the token is for")
    c.add_argument("--person", type=int, help="the person (id) the token belongs to; required for grid_monitor")
    r = tsub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", type=int)
    tsub.add_parser("list", help="list tokens (id, name, role, created, revoked)")
    p.set_defaults(func=cmd_token)


def add_login(sub) -> None:
    """Register `geohazard login`."""
    p = sub.add_parser("login", help="give people a console login, reset passwords, list logins",
                       description="Console logins (/console) for people of the registry: a phone number and a "
                       "password. A new login and a reset get a temporary password, printed once, that the person "
                       "changes at the first sign-in. The console's Logins page (admins) does the same.")
    lsub = p.add_subparsers(dest="login_command", required=True, metavar="ACTION")
    c = lsub.add_parser("create", help="create a login for a person and print its temporary password")
    c.add_argument("--person", type=int, required=True, help="the person (id, from GET /api/v1/people)")
    c.add_argument("--role", required=True, choices=["admin", "duty_officer", "grid_monitor", "viewer"],
                   help="what the person may do and see, as for an API token")
    c.add_argument("--phone", help="the phone number to sign in with (default: the person's own)")
    r = lsub.add_parser("reset", help="give a login a new temporary password and sign it out everywhere")
    r.add_argument("--person", type=int, required=True)
    lsub.add_parser("list", help="list logins (person, name, phone, role, last seen, state)")
    p.set_defaults(func=cmd_login)


def cmd_login(settings: Settings, args) -> None:
    from service.console import accounts

    check_postgres(settings)

    async def run() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            if args.login_command == "create":
                phone, password = await accounts.create_login(conn, person_id=args.person, role=args.role,
                                                              phone=args.phone, author="geohazard login create")
                print(password)
                print(f"(a {args.role} login for phone {phone}; the temporary password is shown only now, and must "
                      "be changed at the first sign-in)", file=sys.stderr)
            elif args.login_command == "reset":
                print(await accounts.reset_password(conn, person_id=args.person))
                print("(the new temporary password; the person's sessions were ended)", file=sys.stderr)
            else:
                for row in await conn.fetch(accounts.Q["list_logins"]):
                    state = ("disabled" if row["disabled_at"] else "temporary password" if row["must_change"]
                             else "active")
                    print("\t".join(str(v) for v in (row["person_id"], row["name"], row["phone"], row["role"],
                                                     row["last_seen_at"], state)))
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except ValueError as exc:
        raise NotReady(str(exc)) from None


def add_phone(sub) -> None:
    """Register `geohazard phone`."""
    p = sub.add_parser("phone", help="issue activation codes for monitors' phones, list and revoke phones",
                       description="A grid monitor's phone app (/field) needs no password: a one-time activation "
                       "code binds one phone to the person, once, within 72 hours, and the phone stays signed in until "
                       "it is revoked. The code is printed only now (only its hash is stored): hand it to the person. "
                       "The console's Phones page (admins) does the same, with a printable sheet and its QR code.")
    psub = p.add_subparsers(dest="phone_command", required=True, metavar="ACTION")
    c = psub.add_parser("code", help="issue a code for a monitor and print it with its activation link",
                        description="Issue a one-time activation code for a person who is a monitor or on a point's "
                        "grid, and print the person's name, the code to type (XXXX-XXXX), when it expires and the "
                        "link that activates a phone with it.")
    c.add_argument("--person", type=int, required=True, help="the person (id, from GET /api/v1/people)")
    c.add_argument("--base-url", help="the address phones reach the service at, for the link (default "
                   "http://GEOHAZARD_API_HOST:GEOHAZARD_API_PORT, that is http://127.0.0.1:8000 unless set)")
    psub.add_parser("list", help="list phones (id, person id, name, handset, activated, from, last seen, state)")
    r = psub.add_parser("revoke", help="revoke a phone: its session ends at once and for good",
                        description="Revoke a phone by id (`geohazard phone list` shows them): the phone is signed "
                        "out at once; the person needs a new code to use the app again.")
    r.add_argument("id", type=int, help="the phone's id")
    p.set_defaults(func=cmd_phone)


def cmd_phone(settings: Settings, args) -> None:
    from service.console.i18n import local_time
    from service.field.phones import activation_url
    from service.field import phones

    check_postgres(settings)
    actor = f"geohazard phone {args.phone_command}"

    async def run() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            if args.phone_command == "code":
                try:
                    issued = await phones.issue_code(conn, person_id=args.person, issued_by=actor)
                except phones.NotEligible:
                    raise NotReady(f"person {args.person} is not a monitor nor on any point's grid (or does not "
                                   "exist): no phone may be bound to them") from None
                base = args.base_url or f"http://{settings.api_host}:{settings.api_port}"
                print(f"person:  {await conn.fetchval(phones.Q['person_name'], args.person)} (person {args.person})")
                print(f"code:    {issued.display}")
                print(f"expires: {local_time(issued.expires_at)} China Standard Time")
                print(f"link:    {activation_url(base, issued.code)}")
                print("(the code is shown only now; it activates one phone, once; give it only to this person)",
                      file=sys.stderr)
            elif args.phone_command == "revoke":
                if not await phones.revoke_phone(conn, phone_id=args.id, revoked_by=actor):
                    raise NotReady(f"no phone in use with id {args.id}; `geohazard phone list` shows them")
                print(f"phone {args.id} revoked; its session has ended")
            else:
                for row in await phones.list_phones(conn):
                    state = f"revoked {row['revoked_at']} by {row['revoked_by']}" if row["revoked_at"] else "in use"
                    print("\t".join(str(v) for v in (row["id"], row["person_id"], row["name"], row["label"],
                                                     row["activated_at"], row["activated_from"], row["last_seen_at"],
                                                     state)))
        finally:
            await conn.close()

    asyncio.run(run())


def cmd_token(settings: Settings, args) -> None:
    from service.auth.service import create_token, list_tokens, revoke_token

    check_postgres(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if args.token_command == "create":
            try:
                token = create_token(conn, name=args.name, role=args.role, person_id=args.person)
            except ValueError as exc:
                raise NotReady(str(exc)) from None
            print(token)
            print(f"(a {args.role} token named {args.name!r}; it is shown only now, store it safely)", file=sys.stderr)
        elif args.token_command == "revoke":
            if not revoke_token(conn, token_id=args.id):
                raise NotReady(f"no active token with id {args.id}; `geohazard token list` shows them")
            print(f"token {args.id} revoked")
        else:
            for row in list_tokens(conn):
                print("\t".join(str(v) for v in row))
