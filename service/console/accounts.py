"""Console logins for people: argon2 passwords, sign-in with a doubling back-off, sessions, and their CSRF tokens.

A login belongs to a person (SPEC 5) and carries one of the API's roles; the session it opens answers as an
`ApiToken` of that role and person, so the console scopes and records exactly as the API does for a token.
Hashing runs on a worker thread: an argon2 hash takes tens of milliseconds of CPU on purpose.
"""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import sql
from service.auth.schemas import ROLES, ApiToken

Q = sql.queries("console")
HASHER = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106's second recommendation)
SESSION_BYTES = 32
# Failed sign-ins allowed in a row before each next one waits: 30 s, then doubling, at most 15 min.
FREE_ATTEMPTS = 5
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 15 * 60
MIN_PASSWORD_LENGTH = 8
# A temporary password an administrator hands over: 12 characters from a set with no look-alikes (0/O, 1/l/I).
TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMPORARY_LENGTH = 12


class SignInRefused(Exception):
    """The phone number or the password is wrong."""


class SignInLocked(Exception):
    """Too many failed sign-ins: the next attempt must wait."""

    def __init__(self, wait_s: int):
        super().__init__(f"wait {wait_s} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class ConsoleUser:
    """The person behind a live session, as the pages see them."""

    person_id: int
    name: str
    phone: str
    role: str
    must_change: bool
    csrf_token: str

    @property
    def caller(self) -> ApiToken:
        """The same caller the API builds from a token of this role and person (scoping, authorship)."""
        return ApiToken(id=None, name=self.name, role=self.role, person_id=self.person_id)


def hash_session(session_id: str) -> bytes:
    """The sha256 stored in console_session.id_hash; the cookie itself is never stored."""
    return hashlib.sha256(session_id.encode()).digest()


def temporary_password() -> str:
    """A random password for an administrator to hand over; the person changes it at the first sign-in."""
    return "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(TEMPORARY_LENGTH))


def check_new_password(password: str) -> None:
    """ValueError saying what is wrong with a password a person chose."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


async def create_login(conn: asyncpg.Connection, *, person_id: int, role: str, phone: str | None,
                             author: str) -> tuple[str, str]:
    """A login for a person with a temporary password; returns (phone, temporary password)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    password = temporary_password()
    password_hash = await asyncio.to_thread(HASHER.hash, password)
    try:
        row = await conn.fetchrow(Q["create_login"], person_id, phone or None, role, password_hash, author)
    except asyncpg.UniqueViolationError:
        raise ValueError("this person already has a login, or another login has this phone") from None
    except asyncpg.NotNullViolationError:
        raise ValueError("this person has no phone number on record: give one") from None
    if row is None:
        raise ValueError(f"no person with id {person_id}")
    return row["phone"], password


async def reset_password(conn: asyncpg.Connection, *, person_id: int) -> str:
    """A new temporary password for a login, ending its sessions; returns the password."""
    password = temporary_password()
    password_hash = await asyncio.to_thread(HASHER.hash, password)
    async with conn.transaction():
        if await conn.fetchval(Q["reset_password"], person_id, password_hash) is None:
            raise ValueError(f"person {person_id} has no login")
        await conn.execute(Q["end_sessions_of"], person_id, None)
    return password


async def sign_in(conn: asyncpg.Connection, *, phone: str, password: str, user_agent: str | None,
                  address: str | None) -> str:
    """A new session id for the right phone and password; SignInRefused or SignInLocked otherwise.

    Failures count per phone and client address: a stranger's wrong passwords back off the stranger, not the duty
    officer at the desk. The count's row stays locked through the password check, so attempts from one address are
    counted one after another however many are sent at once.
    """
    phone, address = phone.strip(), address or "unknown"
    async with conn.transaction():
        await conn.execute(Q["forget_old_sign_in_failures"])
        claimed = await conn.fetchrow(Q["claim_sign_in"], phone, address)
        if claimed["locked_until"] is not None and claimed["locked_until"] > claimed["now"]:
            raise SignInLocked(seconds_until(claimed["locked_until"], claimed["now"]))
        login = await conn.fetchrow(Q["login_by_phone"], phone)
        usable = login is not None and login["disabled_at"] is None
        right = await asyncio.to_thread(_verify, login["password_hash"] if usable else _unknown_hash(), password)
        if not (usable and right):
            locked_until = await conn.fetchval(Q["record_failed_sign_in"], phone, address, FREE_ATTEMPTS,
                                               BACKOFF_BASE_S, BACKOFF_MAX_S)
            failure = SignInLocked(seconds_until(locked_until, claimed["now"])) if locked_until else SignInRefused()
        else:
            failure = None
            rehashed = None
            if HASHER.check_needs_rehash(login["password_hash"]):
                rehashed = await asyncio.to_thread(HASHER.hash, password)
            session_id = secrets.token_urlsafe(SESSION_BYTES)
            await conn.execute(Q["forget_failed_sign_ins"], phone, address)
            await conn.execute(Q["record_sign_in"], login["person_id"], rehashed)
            await conn.execute(Q["create_session"], hash_session(session_id), login["person_id"],
                               secrets.token_urlsafe(SESSION_BYTES), (user_agent or "")[:300], address)
    # Raised once the failure is committed: inside the block it would roll the count back.
    if failure is not None:
        raise failure
    return session_id


async def session_user(pool: asyncpg.Pool, session_id: str, *, idle_hours: float) -> ConsoleUser | None:
    """The person behind a live session, or None when it is unknown, ended or idle too long."""
    row = await pool.fetchrow(Q["session_caller"], hash_session(session_id), idle_hours)
    return ConsoleUser(**row) if row else None


async def sign_out(pool: asyncpg.Pool, session_id: str) -> None:
    await pool.execute(Q["end_session"], hash_session(session_id))


async def change_password(conn: asyncpg.Connection, *, user: ConsoleUser, session_id: str, current: str,
                          new: str) -> None:
    """The person's own new password (SignInRefused when the current one is wrong); other sessions end."""
    check_new_password(new)
    stored = await conn.fetchval(Q["password_hash_of"], user.person_id)
    if stored is None or not await asyncio.to_thread(_verify, stored, current):
        raise SignInRefused()
    new_hash = await asyncio.to_thread(HASHER.hash, new)
    async with conn.transaction():
        await conn.execute(Q["change_password"], user.person_id, new_hash)
        await conn.execute(Q["end_sessions_of"], user.person_id, hash_session(session_id))


@cache
def _unknown_hash() -> str:
    """Compared against when the phone is unknown, so that a wrong phone costs the same time as a wrong password."""
    return HASHER.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def seconds_until(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))
