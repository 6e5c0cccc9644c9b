"""What a caller may see: a grid monitor sees and reports only the points it is assigned to (SPEC 6).

Queries take the scoping person as one more parameter, NULL for every other role, and filter with
    AND ($n::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g
                                       WHERE g.hazard_point = <point column> AND g.person_id = $n))
A point outside a monitor's grid answers 404, as if it did not exist, so codes do not leak.
"""

import asyncpg

import sql
from service.auth.schemas import ApiToken
from service.errors import NotFound

Q = sql.queries("auth")


def scoped_person(token: ApiToken) -> int | None:
    """The person whose grid assignments bound this caller's view; None when the caller sees every point."""
    return token.person_id if token.role == "grid_monitor" else None


async def ensure_point_visible(conn: asyncpg.Connection, token: ApiToken, code: str) -> None:
    """404 naming the point when a grid monitor is not assigned to it; nothing for other roles."""
    person = scoped_person(token)
    if person is not None and not await conn.fetchval(Q["point_assigned"], code, person):
        raise NotFound(f"Hazard point {code} not found")
