"""Token storage: create, revoke and list over psycopg (the CLI), look up over asyncpg (the API)."""

import hashlib
import secrets

import asyncpg
import psycopg
from psycopg import errors
from psycopg.rows import class_row

import sql
from service.auth.schemas import ROLES, ApiToken, TokenInfo

Q = sql.queries("auth")
# 32 random bytes: 43 URL-safe characters, far beyond guessing.
TOKEN_BYTES = 32


def hash_token(token: str) -> bytes:
    """The sha256 stored in api_token.token_hash."""
    return hashlib.sha256(token.encode()).digest()


def create_token(conn: psycopg.Connection, *, name: str, role: str, person_id: int | None = None) -> str:
    """Store a new token and return it; this is the only time the token itself is seen."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if role == "grid_monitor" and person_id is None:
        raise ValueError("a grid_monitor token needs a person: it will see only that person's points")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        with conn.transaction(), psycopg.RawCursor(conn) as cur:
            cur.execute(Q["create_token"], (name, role, person_id, hash_token(token)))
    except errors.ForeignKeyViolation:
        raise ValueError(f"no person with id {person_id}") from None
    return token


def revoke_token(conn: psycopg.Connection, *, token_id: int) -> bool:
    """Revoke a token; False when there is no such token or it was already revoked."""
    with conn.transaction(), psycopg.RawCursor(conn) as cur:
        cur.execute(Q["revoke_token"], (token_id,))
        return cur.fetchone() is not None


def list_tokens(conn: psycopg.Connection) -> list[TokenInfo]:
    """Every token, revoked ones included, oldest first."""
    with psycopg.RawCursor(conn, row_factory=class_row(TokenInfo)) as cur:
        cur.execute(Q["list_tokens"])
        return cur.fetchall()


async def authenticate(pool: asyncpg.Pool, token: str) -> ApiToken | None:
    """The caller holding this token, or None when it is unknown or revoked."""
    row = await pool.fetchrow(Q["token_by_hash"], hash_token(token))
    return ApiToken(**row) if row else None
