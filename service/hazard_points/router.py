"""HTTP routes of /hazard-points."""

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from service.deps import AdminToken, ConnDep, CurrentToken
from service.errors import ErrorBody
from service.hazard_points import service as hazard_point_service
from service.hazard_points.card import prefers_html, render_card_html
from service.hazard_points.schemas import (
    Grid,
    GridAssignment,
    HazardPointCardPublic,
    HazardPointCreate,
    HazardPointDetail,
    HazardPointFeature,
    HazardPointFeatureCollection,
    HazardPointQuery,
    HazardPointsPublic,
    HazardPointUpdate,
)
from service.pagination import json_page

router = APIRouter(prefix="/hazard-points", tags=["hazard points"])

GEOJSON_MEDIA_TYPE = "application/geo+json"
# What a grid monitor gets for a point outside its grid, as for a point that does not exist.
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such point (or not one of a grid monitor's points)"}}
ADMIN_ONLY = {403: {"model": ErrorBody, "description": "Only administrators change the registry"}}


@router.get(
    "",
    # The union puts both shapes in the OpenAPI components; GeoJSON is answered as application/geo+json.
    response_model=HazardPointsPublic | HazardPointFeatureCollection,
    summary="List hazard points",
    responses={
        200: {
            "content": {
                GEOJSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/HazardPointFeatureCollection"}}
            }
        }
    },
)
async def list_hazard_points(
    conn: ConnDep,
    token: CurrentToken,
    query: Annotated[HazardPointQuery, Query()],
    format_: Annotated[
        Literal["json", "geojson"], Query(alias="format", description="geojson: a GeoJSON FeatureCollection.")
    ] = "json",
):
    """Points matching every given filter, in code order, with their current level; a grid monitor sees its own."""
    points, count = await hazard_point_service.list_hazard_points(conn=conn, query=query, token=token)
    if format_ == "geojson":
        collection = HazardPointFeatureCollection.model_construct(
            type="FeatureCollection", features=[HazardPointFeature.of(point) for point in points], count=count
        )
        return Response(collection.model_dump_json(), media_type=GEOJSON_MEDIA_TYPE)
    return json_page(HazardPointsPublic(data=points, count=count))


@router.post(
    "",
    response_model=HazardPointDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Register a hazard point (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators register points"},
        409: {"model": ErrorBody, "description": "The code is taken"},
    },
)
async def create_hazard_point(
    conn: ConnDep, admin: AdminToken, point_create: HazardPointCreate, request: Request, response: Response
) -> HazardPointDetail:
    """Register a point; it starts with no sensors, an empty grid and level none."""
    point = await hazard_point_service.create_hazard_point(conn=conn, point_create=point_create, author=admin)
    response.headers["Location"] = request.url_for("get_hazard_point", code=point.code).path
    return point


@router.get(
    "/{code}",
    response_model=HazardPointDetail,
    summary="One hazard point with its sensors, grid and current level",
    responses=NOT_FOUND,
)
async def get_hazard_point(conn: ConnDep, token: CurrentToken, code: str) -> HazardPointDetail:
    """The point, its plan and card, its sensors, who holds each role of its grid, and its current level."""
    return await hazard_point_service.get_hazard_point(conn=conn, code=code, token=token)


@router.patch(
    "/{code}",
    response_model=HazardPointDetail,
    summary="Change a hazard point (admin)",
    responses={**ADMIN_ONLY, **NOT_FOUND,
               409: {"model": ErrorBody, "description": "Cancelling a point that has open alerts"}},
)
async def update_hazard_point(
    conn: ConnDep, admin: AdminToken, code: str, point_update: HazardPointUpdate
) -> HazardPointDetail:
    """Any field but the code; a field left out stays as it is. The result is validated as a new point would be
    (a township in its county, a village in its township). Thresholds, monitoring plan and card are replaced whole.
    Who changed it and when are recorded."""
    return await hazard_point_service.update_hazard_point(
        conn=conn, code=code, point_update=point_update, author=admin
    )


@router.delete(
    "/{code}",
    response_model=HazardPointDetail,
    summary="Cancel (销号) a hazard point (admin)",
    responses={**ADMIN_ONLY, **NOT_FOUND,
               409: {"model": ErrorBody, "description": "The point has open alerts; they are named"}},
)
async def cancel_hazard_point(conn: ConnDep, admin: AdminToken, code: str) -> HazardPointDetail:
    """Takes the point out of service: its status becomes `cancelled` and it is no longer evaluated for
    warnings, but nothing is erased. Its alerts, readings, devices, patrol reports and grid stay, as the
    bureau's records of the point; move a still useful device elsewhere with PATCH /devices/{id}. Refused
    (409, naming them) while the point has open alerts: resolve them first. Cancelling a cancelled point
    changes nothing; PATCH the status back to reinstate one. Answers the point as it now stands."""
    return await hazard_point_service.cancel_hazard_point(conn=conn, code=code, author=admin)


@router.get(
    "/{code}/card",
    response_model=HazardPointCardPublic,
    summary="The point's disaster-avoidance card (防灾避险明白卡), JSON or printable HTML",
    responses={
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "JSON; or, when Accept ranks text/html above application/json, a printable A5 page.",
        },
        **NOT_FOUND,
    },
)
async def get_card(
    conn: ConnDep,
    token: CurrentToken,
    code: str,
    response: Response,
    accept: Annotated[str | None, Header(description="text/html for the printable page.")] = None,
):
    """The warning signal and who gives it, the evacuation route, the shelter and the contacts, with the point
    and its grid people's phones."""
    card = await hazard_point_service.get_card(conn=conn, code=code, token=token)
    if prefers_html(accept):
        return HTMLResponse(render_card_html(card), headers={"Vary": "Accept"})
    response.headers["Vary"] = "Accept"
    return card


@router.get(
    "/{code}/grid",
    response_model=Grid,
    summary="The point's four-role grid",
    responses=NOT_FOUND,
)
async def get_grid(conn: ConnDep, token: CurrentToken, code: str) -> Grid:
    """The monitor, area lead, resident geologist and county technical admin; a vacant role is null."""
    return await hazard_point_service.get_grid(conn=conn, code=code, token=token)


@router.put(
    "/{code}/grid",
    response_model=Grid,
    summary="Replace the point's four-role grid (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators assign the grid"},
        404: {"model": ErrorBody, "description": "No such point, or no such person"},
    },
)
async def replace_grid(conn: ConnDep, admin: AdminToken, code: str, assignment: GridAssignment) -> Grid:
    """Every role at once: a role left out or null becomes vacant; nothing changes if a person is missing.
    Who assigned each person, and when, is recorded; a role that keeps its person keeps its record."""
    return await hazard_point_service.replace_grid(conn=conn, code=code, assignment=assignment, author=admin)
