"""Mosquitto's listeners, password files and ACL from the registry (SPEC 2.4), for `geohazard acl`.

The broker gets two listeners (Mosquitto's per_listener_settings), each with its own password file:
- the devices' listener (1883, the one published to the field) admits only devices and gateways, each
  logging in with its id as user name, and gives every client its user name as client id
  (use_username_as_clientid), so no device can take another's id or the session of ingest;
- the services' listener (the port of GEOHAZARD_MQTT_URL, kept off the field network) admits only the
  service accounts of GEOHAZARD_MQTT_URL and GEOHAZARD_INGEST_MQTT_URL, whose processes choose their own
  client ids (ingest's fixed one, one per ingest worker, one per API, engine or CLI process).
A client id belongs to the whole broker, not to a listener, so no device id may look like a service's.

In the ACL, a native gateway G may publish only under `<root>/gateways/G/` and read its own
`<root>/gateways/G/cmd`; a universal device D may publish `$dp` and its answers under `$crsp/D/`, and
read its commands under `$creq/D/`. The service account may do everything; ingest's own account may only
read what devices send. Mosquitto, like the MQTT spec (3.1.1, 4.7.2), never lets `#` match a topic that
starts with `$`, in an ACL as in a subscription, so `$dp`, `$creq/#` and `$crsp/#` are granted by name.

Device passwords are generated here, written once to a credentials CSV for the installer, and kept
only as Mosquitto hashes in device.mqtt_password_hash. The files are rebuilt from the registry on
every run and rewritten only when their content changes, so a second run changes nothing.
"""

import base64
import csv
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

import sql
from runtime.mqtt import SERVICE_CLIENT_ID_PREFIX, broker_login
from runtime.settings import Settings
from sensors.commands import NATIVE

Q = sql.queries("commands")
# mosquitto_passwd's defaults in Mosquitto 2.0: 12 random salt bytes, 101 PBKDF2-SHA512 iterations.
# Device passwords are 192 random bits, beyond guessing however they are hashed, so more iterations
# would only cost the broker CPU at every device's CONNECT (the broker hashes on its one thread).
SALT_BYTES = 12
DEVICE_PBKDF2_ITERATIONS = 101
# A service password is chosen by a person and only a few processes log in with it: stretch it.
SERVICE_PBKDF2_ITERATIONS = 10_000
# 24 random bytes: 32 URL-safe characters, within any device firmware's password field.
PASSWORD_BYTES = 24
# Any constant works as long as every `geohazard acl` uses the same one.
_ADVISORY_LOCK_ID = 0x6765_6F61  # "geoa"
# A user name ends at ':' in the password file and at white space in the ACL; a device id is also a
# topic level, so it may not hold '/', '+' or '#'.
_ACCOUNT_NAME = re.compile(r"^[^\s/+#:\x00-\x1f\x7f]+$")
CREDENTIALS_COLUMNS = ("device_id", "protocol", "hazard_point", "mqtt_username", "mqtt_password")
DEVICE_PORT = 1883
# The files, in the directory the broker includes (include_dir); Mosquitto reads only the *.conf as config.
BROKER_CONF = "auth.conf"
DEVICE_PASSWORDS = "devices.passwd"
SERVICE_PASSWORDS = "services.passwd"
ACL = "acl"


class AclError(RuntimeError):
    """The broker's credentials and ACL cannot be generated; the message says why."""


# --- Mosquitto's password hash -----------------------------------------------------------------


def hash_password(password: str, *, iterations: int = DEVICE_PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """Mosquitto 2.0's `$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>`, as mosquitto_passwd writes it."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(password: str, hashed: str) -> bool:
    """True when `hashed` (a `$7$` Mosquitto hash) is the hash of `password`."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(candidate, digest)


# --- the files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A registered device or gateway as the broker sees it."""

    device_id: str
    protocol: str
    hazard_point: str
    password_hash: str | None


@dataclass(frozen=True)
class ServiceAccount:
    """A geohazard process's login on the services' listener."""

    user: str
    password: str
    read_only: bool  # ingest's own account: it takes what devices send and publishes nothing


def broker_conf_text(*, directory: Path, device_port: int, service_port: int) -> str:
    """The Mosquitto config the broker includes: the two listeners, each admitting its own accounts."""
    return f"""# Generated by `geohazard acl`: run it again rather than edit this file. Mosquitto reads the listeners
# only at start (restart it when they change), the password files and the ACL again on SIGHUP.
# per_listener_settings comes before any other authentication setting: mosquitto.conf holds none.
per_listener_settings true

# Devices and gateways: the port published to the field. A client's id is its user name, whatever id it
# asks for, so no device can take over another device's id or the session of a geohazard process.
listener {device_port}
use_username_as_clientid true
allow_anonymous false
password_file {directory / DEVICE_PASSWORDS}
acl_file {directory / ACL}

# The geohazard processes (GEOHAZARD_MQTT_URL, GEOHAZARD_INGEST_MQTT_URL): service accounts only, which
# choose their own client ids. Keep this port off the field network.
listener {service_port}
allow_anonymous false
password_file {directory / SERVICE_PASSWORDS}
acl_file {directory / ACL}
"""


def acl_text(*, topic_root: str, services: list[ServiceAccount], accounts: list[Account]) -> str:
    """The Mosquitto acl_file: the service account may do everything, ingest's read, each device only its own topics."""
    lines = ["# Generated by `geohazard acl` from the device registry: edit the registry, not this file."]
    for service in services:
        if service.read_only:
            grants = ["# ingest: what devices and gateways send, and nothing to publish",
                      f"topic read {topic_root}/gateways/#", "topic read $dp", "topic read $crsp/#"]
        else:
            grants = ["topic readwrite #",
                      "# '#' does not match topics that start with '$': these are granted by name.",
                      "topic readwrite $dp", "topic readwrite $creq/#", "topic readwrite $crsp/#"]
        lines += ["", f"user {service.user}", *grants]
    for account in accounts:
        d = account.device_id
        if account.protocol == NATIVE:
            grants = [f"topic write {topic_root}/gateways/{d}/#", f"topic read {topic_root}/gateways/{d}/cmd"]
        else:
            grants = ["topic write $dp", f"topic write $crsp/{d}/#", f"topic read $creq/{d}/#"]
        lines += ["", f"user {d}", *grants]
    return "\n".join(lines) + "\n"


def password_text(lines: list[str]) -> str:
    """A Mosquitto password_file of `user:hash` lines (no comments: mosquitto_passwd would call them corrupt)."""
    return "".join(f"{line}\n" for line in lines)


def _service_lines(password_file: Path, services: list[ServiceAccount]) -> list[str]:
    """The service accounts' lines, each kept from the existing file while it still matches its password."""
    try:
        existing = dict(line.partition(":")[::2] for line in password_file.read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        existing = {}
    lines = []
    for service in services:
        hashed = existing.get(service.user, "").strip()
        if not password_matches(service.password, hashed):
            hashed = hash_password(service.password, iterations=SERVICE_PBKDF2_ITERATIONS)
        lines.append(f"{service.user}:{hashed}")
    return lines


def _write_if_changed(path: Path, text: str, *, new_file_mode: int) -> bool:
    """Write `text` to `path` unless it already holds it; True if it was written.

    An existing file is rewritten in place rather than replaced: it keeps the owner and mode the
    operator gave it (the broker must be able to read it) and its inode, which a single-file Docker
    bind mount keeps pointing at. Mosquitto reads the files only at start and on SIGHUP.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except FileNotFoundError:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, new_file_mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return True


def _write_credentials(path: Path, rows: list[tuple[Account, str]]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AclError(f"{path} already exists and may hold passwords not yet given to the installer; "
                       "move it away or name another --credentials-out file") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CREDENTIALS_COLUMNS)
        for account, password in rows:
            writer.writerow((account.device_id, account.protocol, account.hazard_point, account.device_id, password))
        f.flush()
        os.fsync(f.fileno())


# --- generation --------------------------------------------------------------------------------


@dataclass
class Outcome:
    accounts: int  # devices and gateways in the files, besides the service accounts
    services: list[str]  # the service accounts' user names
    new_passwords: list[str] = field(default_factory=list)  # devices given a password in this run
    written: list[str] = field(default_factory=list)  # the files rewritten (BROKER_CONF: the listeners changed)


def generate(conn: psycopg.Connection, *, settings: Settings, config_dir: Path, device_port: int = DEVICE_PORT,
             credentials_out: Path | None = None, rotate: tuple[str, ...] = ()) -> Outcome:
    """Give every device without a password (and every device in `rotate`) a new one, then write the broker's
    files into `config_dir`: its listeners (BROKER_CONF), the devices' and the services' password files, the ACL.

    New passwords go to `credentials_out` (created, mode 0600, never overwritten); their hashes are
    committed only if every file was written.
    """
    services = service_accounts(settings)
    service_port = broker_login(settings.mqtt_url).port
    if service_port == device_port:
        raise AclError(f"GEOHAZARD_MQTT_URL connects to port {service_port}, the devices' listener (--device-port): "
                       "the geohazard processes need a listener of their own, e.g. "
                       "mqtt://geohazard:PASSWORD@host:1884")
    directory = config_dir.absolute()
    with conn.transaction(), psycopg.RawCursor(conn) as cur:
        cur.execute(Q["lock_credentials"], (_ADVISORY_LOCK_ID,))
        accounts = [Account(*row) for row in cur.execute(Q["broker_accounts"]).fetchall()]
        _check_names(accounts, services, settings.ingest_client_id, rotate)
        renew = [a for a in accounts if a.password_hash is None or a.device_id in rotate]
        if renew and credentials_out is None:
            raise AclError(f"{len(renew)} device(s) need a new password ({_some(renew)}): pass "
                           "--credentials-out FILE to receive them")
        issued = [(a, secrets.token_urlsafe(PASSWORD_BYTES)) for a in renew]
        hashes = {a.device_id: hash_password(pw) for a, pw in issued}
        accounts = [Account(a.device_id, a.protocol, a.hazard_point, hashes.get(a.device_id, a.password_hash))
                    for a in accounts]
        outcome = Outcome(len(accounts), [s.user for s in services], [a.device_id for a in renew])
        if issued:
            _write_credentials(credentials_out, issued)
        try:
            if issued:
                cur.execute(Q["set_password_hashes"], (list(hashes), list(hashes.values())))
            files = {
                BROKER_CONF: (broker_conf_text(directory=directory, device_port=device_port,
                                               service_port=service_port), 0o644),
                SERVICE_PASSWORDS: (password_text(_service_lines(directory / SERVICE_PASSWORDS, services)), 0o600),
                DEVICE_PASSWORDS: (password_text([f"{a.device_id}:{a.password_hash}" for a in accounts]), 0o600),
                ACL: (acl_text(topic_root=settings.topic_root, services=services, accounts=accounts), 0o644),
            }
            outcome.written = [name for name, (text, mode) in files.items()
                               if _write_if_changed(directory / name, text, new_file_mode=mode)]
        except BaseException:
            if issued:  # the passwords in it are being rolled back: nobody may configure a device with them
                credentials_out.unlink(missing_ok=True)
            raise
    return outcome


def service_accounts(settings: Settings) -> list[ServiceAccount]:
    """The accounts of GEOHAZARD_MQTT_URL and, if it names another, GEOHAZARD_INGEST_MQTT_URL."""
    shared = broker_login(settings.mqtt_url)
    if not shared.username or not shared.password:
        raise AclError("GEOHAZARD_MQTT_URL names no service account: set it like "
                       "mqtt://geohazard:PASSWORD@host:1884, the account the engine, the API and the CLI log in with")
    ingest = settings.ingest_login
    if ingest.username == shared.username:
        if ingest.password != shared.password:
            raise AclError(f"GEOHAZARD_INGEST_MQTT_URL names the user {shared.username!r} of GEOHAZARD_MQTT_URL with "
                           "another password: give ingest a user of its own, or unset it")
        services = [ServiceAccount(shared.username, shared.password, read_only=False)]
    elif not ingest.username or not ingest.password:
        raise AclError("GEOHAZARD_INGEST_MQTT_URL names no account: set it like "
                       "mqtt://geohazard-ingest:PASSWORD@host:1884, or unset it for ingest to use GEOHAZARD_MQTT_URL's")
    elif ingest.port != shared.port:
        raise AclError(f"GEOHAZARD_INGEST_MQTT_URL connects to port {ingest.port} and GEOHAZARD_MQTT_URL to "
                       f"{shared.port}: both must name the services' listener")
    else:
        services = [ServiceAccount(shared.username, shared.password, read_only=False),
                    ServiceAccount(ingest.username, ingest.password, read_only=True)]
    for service in services:
        if not _ACCOUNT_NAME.match(service.user):
            raise AclError(f"the service user name {service.user!r} may not contain ':', white space, '/', '+' or '#'")
    return services


def is_service_client_id(name: str, ingest_client_id: str) -> bool:
    """Whether a geohazard process may connect with this client id (see SERVICE_CLIENT_ID_PREFIX)."""
    return (name.startswith(SERVICE_CLIENT_ID_PREFIX) or name == ingest_client_id
            or re.fullmatch(re.escape(ingest_client_id) + r"-\d+", name) is not None)


def _check_names(accounts: list[Account], services: list[ServiceAccount], ingest_client_id: str,
                 rotate: tuple[str, ...]) -> None:
    bad = [a for a in accounts if not _ACCOUNT_NAME.match(a.device_id)]
    if bad:
        raise AclError(f"device ids cannot be broker user names or topic levels ({_some(bad)}): they may not "
                       "contain ':', white space, '/', '+' or '#'; rename them in the registry")
    ids = {a.device_id for a in accounts}
    for service in services:
        if service.user in ids:
            raise AclError(f"the service user {service.user!r} is also a device id; choose another user name "
                           "in GEOHAZARD_MQTT_URL or GEOHAZARD_INGEST_MQTT_URL")
    taken = [a for a in accounts if is_service_client_id(a.device_id, ingest_client_id)]
    if taken:
        raise AclError(f"device ids that are client ids of the geohazard processes ({_some(taken)}): a device's "
                       "client id is its user name, so it would take over the process's session. Ingest's is "
                       f"{ingest_client_id!r} (GEOHAZARD_INGEST_CLIENT_ID), its workers' {ingest_client_id}-<n>, the "
                       f"others' start with {SERVICE_CLIENT_ID_PREFIX!r}; rename the devices in the registry")
    unknown = sorted(set(rotate) - ids)
    if unknown:
        raise AclError(f"cannot rotate the password of unregistered device(s): {', '.join(unknown)}")


def _some(accounts: list[Account], shown: int = 5) -> str:
    names = ", ".join(a.device_id for a in accounts[:shown])
    return names + (f" and {len(accounts) - shown} more" if len(accounts) > shown else "")
