"""The API's asyncpg pool, opened by the app's lifespan; json and jsonb arrive as Python objects."""

import json
from collections.abc import AsyncIterator

import asyncpg
from fastapi import Request

POOL_MIN_SIZE = 1
# Enough for a busy console room; a request holds a connection only while its queries run.
POOL_MAX_SIZE = 10


async def _decode_json(conn: asyncpg.Connection) -> None:
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(database_url: str, *, max_size: int = POOL_MAX_SIZE) -> asyncpg.Pool:
    """Open the pool, failing at once if the database cannot be reached."""
    return await asyncpg.create_pool(
        database_url, min_size=POOL_MIN_SIZE, max_size=max_size, init=_decode_json,
        # asyncpg keeps its statements prepared; the listings' optional filters ("$2 IS NULL OR ...") make a
        # generic plan that ignores them, which PostgreSQL may switch to after five runs: plan every call.
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )


async def get_pool(request: Request) -> asyncpg.Pool:
    """The pool the lifespan stored on the app. Async although it awaits nothing: FastAPI runs a plain `def`
    dependency in its thread pool, a thread hop on every request (every token check needs the pool)."""
    return request.app.state.pool


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection for the length of the request."""
    async with request.app.state.pool.acquire() as conn:
        yield conn
