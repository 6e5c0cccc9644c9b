"""HTTP routes of /hazard-points."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from service.deps import AdminToken, ConnDep
from service.errors import ErrorBody
from service.hazard_points import service as hazard_point_service
from service.hazard_points.schemas import (
    Grid,
    GridAssignment,
    HazardPointCreate,
    HazardPointDetail,
    HazardPointFeature,
    HazardPointFeatureCollection,
    HazardPointQuery,
    HazardPointsPublic,
)

router = APIRouter(prefix="/hazard-points", tags=["hazard points"])

GEOJSON_MEDIA_TYPE = "application/geo+json"


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
    query: Annotated[HazardPointQuery, Query()],
    format_: Annotated[
        Literal["json", "geojson"], Query(alias="format", description="geojson: a GeoJSON FeatureCollection.")
    ] = "json",
):
    """Points matching every given filter, in code order, with their current level."""
    points, count = await hazard_point_service.list_hazard_points(conn=conn, query=query)
    if format_ == "geojson":
        collection = HazardPointFeatureCollection.model_construct(
            type="FeatureCollection", features=[HazardPointFeature.of(point) for point in points], count=count
        )
        return Response(collection.model_dump_json(), media_type=GEOJSON_MEDIA_TYPE)
    return HazardPointsPublic(data=points, count=count)


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
    conn: ConnDep, _admin: AdminToken, point_create: HazardPointCreate, request: Request, response: Response
) -> HazardPointDetail:
    """Register a point; it starts with no sensors, an empty grid and level none."""
    point = await hazard_point_service.create_hazard_point(conn=conn, point_create=point_create)
    response.headers["Location"] = request.url_for("get_hazard_point", code=point.code).path
    return point


@router.get(
    "/{code}",
    response_model=HazardPointDetail,
    summary="One hazard point with its sensors, grid and current level",
    responses={404: {"model": ErrorBody, "description": "No such point"}},
)
async def get_hazard_point(conn: ConnDep, code: str) -> HazardPointDetail:
    """The point, its sensors, who holds each role of its grid, and its current level."""
    return await hazard_point_service.get_hazard_point(conn=conn, code=code)


@router.get(
    "/{code}/grid",
    response_model=Grid,
    summary="The point's four-role grid",
    responses={404: {"model": ErrorBody, "description": "No such point"}},
)
async def get_grid(conn: ConnDep, code: str) -> Grid:
    """The monitor, area lead, resident geologist and county technical admin; a vacant role is null."""
    return await hazard_point_service.get_grid(conn=conn, code=code)


@router.put(
    "/{code}/grid",
    response_model=Grid,
    summary="Replace the point's four-role grid (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators assign the grid"},
        404: {"model": ErrorBody, "description": "No such point, or no such person"},
    },
)
async def replace_grid(conn: ConnDep, _admin: AdminToken, code: str, assignment: GridAssignment) -> Grid:
    """Every role at once: a role left out or null becomes vacant; nothing changes if a person is missing."""
    return await hazard_point_service.replace_grid(conn=conn, code=code, assignment=assignment)
