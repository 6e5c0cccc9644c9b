"""Activation codes and the phones they bind (issue 16): a grid monitor gets in without a password.

An administrator issues a one-time code for a person (a short code to type, and the same code in a QR code's link);
the first phone to present it, before it expires, gets a long-lived session. The cookie holds a random session id of
which only the sha256 is stored; the session lasts until an administrator revokes the phone. Wrong codes back off
per client address, as console sign-ins do.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

import sql
from service.auth.schemas import ApiToken
from service.console.accounts import seconds_until

Q = sql.queries("field")
# 8 symbols of 32 (no 0/O or 1/I to misread on paper): 40 bits, shown as XXXX-XXXX.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_VALID_HOURS = 72
SESSION_BYTES = 32
# Wrong codes from one address before each next attempt waits: 30 s, doubling, at most 15 min.
FREE_ATTEMPTS = 10
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 15 * 60
LABEL_LENGTH = 200
# Where a phone takes a code: the QR code's link opens it with ?code=, or the monitor types the code there.
ACTIVATE_PATH = "/field/activate"


class NotEligible(Exception):
    """The person is not a monitor and is on no point's grid: no phone may be bound to them."""


class CodeRefused(Exception):
    """The code is unknown, used, withdrawn or expired."""


class CodeLocked(Exception):
    """Too many wrong codes from this address: the next attempt must wait."""

    def __init__(self, wait_s: int):
        super().__init__(f"wait {wait_s} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class FieldUser:
    """The person behind a phone's live session."""

    phone_id: int
    person_id: int
    name: str
    csrf_token: str

    @property
    def caller(self) -> ApiToken:
        """A grid monitor's caller of this person: the API's scoping and authorship."""
        return ApiToken(id=None, name=self.name, role="grid_monitor", person_id=self.person_id)


@dataclass(frozen=True)
class IssuedCode:
    id: int
    code: str
    expires_at: datetime

    @property
    def display(self) -> str:
        """The code as printed and typed: XXXX-XXXX."""
        return f"{self.code[:4]}-{self.code[4:]}"


def activation_url(base_url: str, code: str) -> str:
    """The link a phone opens to use a code: the service's address, the activation page, the code's 8 symbols."""
    return f"{base_url.rstrip('/')}{ACTIVATE_PATH}?code={code}"


def normalise_code(typed: str) -> str:
    """A code as typed (any case, with spaces or a dash) in its stored form."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def issue_code(conn: asyncpg.Connection, *, person_id: int, issued_by: str,
                     valid_hours: float = CODE_VALID_HOURS) -> IssuedCode:
    """A new one-time code for a person; NotEligible for someone who watches no point."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    row = await conn.fetchrow(Q["issue_code"], _digest(code), person_id, issued_by, valid_hours)
    if row is None:
        raise NotEligible(person_id)
    return IssuedCode(id=row["id"], code=code, expires_at=row["expires_at"])


async def activate(conn: asyncpg.Connection, *, code: str, label: str | None, address: str | None,
                   replacing: str | None = None) -> str:
    """Bind a phone with a code: a new session id; CodeRefused or CodeLocked otherwise.

    The code's row is locked through the check, so two phones presenting one code bind one phone. The session the
    phone held before (`replacing`), if any, is revoked: one phone, one live session in the administrator's list.
    """
    address = address or "unknown"
    async with conn.transaction():
        await conn.execute(Q["forget_old_activation_failures"])
        claimed = await conn.fetchrow(Q["claim_activation_attempt"], address)
        if claimed["locked_until"] is not None and claimed["locked_until"] > claimed["now"]:
            raise CodeLocked(seconds_until(claimed["locked_until"], claimed["now"]))
        activation = await conn.fetchrow(Q["activation_by_code"], _digest(normalise_code(code)))
        if activation is None or not activation["usable"]:
            locked_until = await conn.fetchval(Q["record_failed_activation"], address, FREE_ATTEMPTS,
                                               BACKOFF_BASE_S, BACKOFF_MAX_S)
            failure: Exception | None = (
                CodeLocked(seconds_until(locked_until, claimed["now"])) if locked_until else CodeRefused())
        else:
            failure = None
            session_id = secrets.token_urlsafe(SESSION_BYTES)
            phone_id = await conn.fetchval(Q["create_phone"], _digest(session_id), activation["person_id"],
                                           secrets.token_urlsafe(SESSION_BYTES), (label or "")[:LABEL_LENGTH],
                                           address)
            await conn.execute(Q["use_code"], activation["id"], phone_id)
            if replacing:
                await conn.execute(Q["revoke_replaced_phone"], _digest(replacing), phone_id)
            await conn.execute(Q["forget_failed_activations"], address)
    # Raised once the failure is committed: inside the block it would roll the count back.
    if failure is not None:
        raise failure
    return session_id


async def phone_user(pool: asyncpg.Pool, session_id: str) -> FieldUser | None:
    """The person behind a phone's session, or None when it is unknown or revoked."""
    row = await pool.fetchrow(Q["phone_caller"], _digest(session_id))
    return FieldUser(**row) if row else None


async def list_phones(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(Q["list_phones"])


async def pending_codes(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(Q["pending_codes"])


async def eligible_people(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(Q["eligible_people"])


async def revoke_phone(conn: asyncpg.Connection, *, phone_id: int, revoked_by: str) -> bool:
    """End a phone's session for good; False when there is no such live phone."""
    return await conn.fetchval(Q["revoke_phone"], phone_id, revoked_by) is not None


async def withdraw_code(conn: asyncpg.Connection, *, activation_id: int) -> bool:
    """Make an unused code useless; False when there is no such unused code."""
    return await conn.fetchval(Q["withdraw_code"], activation_id) is not None
