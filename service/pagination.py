"""Paging of list endpoints: `limit`/`offset` in, `{"data": [...], "count": N}` out."""

from collections.abc import Sequence

import asyncpg
from fastapi import Response
from pydantic import BaseModel, Field

from service.schemas import RequestModel

DEFAULT_PAGE = 100
# A province is about 10,000 points: one page can put all of them on a map.
MAX_PAGE = 10_000
# PostgreSQL's OFFSET is a bigint: a larger number would be a database error, not an empty page.
MAX_OFFSET = 2**63 - 1


class PageQuery(RequestModel):
    """The query parameters every list endpoint shares; list filters extend it."""

    limit: int = Field(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="At most this many items.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many matching items first.")


def split_page(rows: Sequence[asyncpg.Record], key: str) -> tuple[list[asyncpg.Record], int]:
    """The page's rows and the total count, from a query whose rows all carry `total_count`.

    Such a query answers a single row of NULLs (apart from the count) when the page is empty; `key`
    is a column that is never NULL in a real row.
    """
    count = rows[0]["total_count"] if rows else 0
    return [row for row in rows if row[key] is not None], count


def json_page(page: BaseModel) -> Response:
    """A list answer serialised once. Returned as a model, FastAPI would dump it and validate it again
    against the route's response_model before serialising it: on the busiest listings that doubles the
    API's CPU per request. The route keeps response_model for the OpenAPI schema."""
    return Response(page.model_dump_json(), media_type="application/json")
