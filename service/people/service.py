"""People queries for the API."""

import asyncpg

import sql
from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.pagination import split_page
from service.people.schemas import PersonCreate, PersonPublic, PersonQuery

Q = sql.queries("people")


async def list_people(*, conn: asyncpg.Connection, query: PersonQuery,
                      token: ApiToken | None = None) -> tuple[list[PersonPublic], int]:
    """One page of the matching people in name order, and how many match in all; a grid monitor sees
    only the people of its own points' grids."""
    person = scoped_person(token) if token is not None else None
    rows = await conn.fetch(Q["people"], query.county_code, query.role, query.limit, query.offset, person)
    rows, count = split_page(rows, "id")
    return [PersonPublic.model_validate(dict(row)) for row in rows], count


async def create_person(*, conn: asyncpg.Connection, person_create: PersonCreate, author: ApiToken) -> PersonPublic:
    """Register a person, recording who did; two people may share a name, so there is no conflict."""
    p = person_create
    row = await conn.fetchrow(Q["create_person"], p.name, p.phone, p.roles, p.county_code, author.actor)
    return PersonPublic.model_validate(dict(row))
