"""HTTP routes of /people."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from service.deps import AdminToken, ConnDep, CurrentToken
from service.errors import ErrorBody
from service.people import service as person_service
from service.people.schemas import PeoplePublic, PersonCreate, PersonPublic, PersonQuery

router = APIRouter(prefix="/people", tags=["people"])


@router.get("", response_model=PeoplePublic, summary="List people")
async def list_people(conn: ConnDep, token: CurrentToken, query: Annotated[PersonQuery, Query()]) -> PeoplePublic:
    """People matching every given filter, in name order; a grid monitor sees the people of its own points' grids."""
    people, count = await person_service.list_people(conn=conn, query=query, token=token)
    return PeoplePublic(data=people, count=count)


@router.post(
    "",
    response_model=PersonPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Register a person (admin)",
    responses={403: {"model": ErrorBody, "description": "Only administrators register people"}},
)
async def create_person(conn: ConnDep, admin: AdminToken, person_create: PersonCreate) -> PersonPublic:
    """Register a person with their phone and roles; assign them to points with PUT /hazard-points/{code}/grid."""
    return await person_service.create_person(conn=conn, person_create=person_create, author=admin)
