"""HTTP routes of /devices."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from service.deps import AdminToken, ConnDep, CurrentToken
from service.devices import service as device_service
from service.devices.schemas import (
    DeviceCreate,
    DeviceDetail,
    DeviceQuery,
    DevicesPublic,
    DeviceUpdate,
    ReadingsPublic,
    ReadingsQuery,
)
from service.errors import ErrorBody

router = APIRouter(prefix="/devices", tags=["devices"])
# A grid monitor gets 404 for a device on a point outside its grid, as for one that does not exist.
DEVICE_NOT_FOUND = "No such device (or not on one of a grid monitor's points)"


@router.get("", response_model=DevicesPublic, summary="List devices with their health")
async def list_devices(conn: ConnDep, token: CurrentToken, query: Annotated[DeviceQuery, Query()]) -> DevicesPublic:
    """Devices matching every given filter, in id order; a grid monitor sees those of its own points."""
    devices, count = await device_service.list_devices(conn=conn, query=query, token=token)
    return DevicesPublic(data=devices, count=count)


@router.post(
    "",
    response_model=DeviceDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Register a device with its sensors (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators register devices"},
        404: {"model": ErrorBody, "description": "The hazard point is not registered"},
        409: {"model": ErrorBody, "description": "The id is taken"},
    },
)
async def create_device(
    conn: ConnDep, admin: AdminToken, device_create: DeviceCreate, request: Request, response: Response
) -> DeviceDetail:
    """Register the device and every sensor, or nothing; who registered it is recorded."""
    device = await device_service.create_device(conn=conn, device_create=device_create, author=admin)
    response.headers["Location"] = request.url_for("get_device", device_id=device.id).path
    return device


@router.get(
    "/{device_id}",
    response_model=DeviceDetail,
    summary="One device's health, sensors and recent commands",
    responses={404: {"model": ErrorBody, "description": DEVICE_NOT_FOUND}},
)
async def get_device(conn: ConnDep, token: CurrentToken, device_id: str) -> DeviceDetail:
    """Last seen, power and signal, each sensor's state, and the last 20 commands (pending or answered)."""
    return await device_service.get_device(conn=conn, device_id=device_id, token=token)


@router.patch(
    "/{device_id}",
    response_model=DeviceDetail,
    summary="Change a device's acceleration unit, hazard point or sensors' resolutions (admin)",
    responses={
        403: {"model": ErrorBody, "description": "Only administrators change devices"},
        404: {"model": ErrorBody, "description": "No such device, hazard point, or sensor of the device"},
    },
)
async def update_device(conn: ConnDep, admin: AdminToken, device_id: str, device_update: DeviceUpdate) -> DeviceDetail:
    """Fields left out stay as they are; moving a device moves its sensors with it; `sensors` changes the named
    ones. Who changed it is recorded."""
    return await device_service.update_device(conn=conn, device_id=device_id, device_update=device_update,
                                              author=admin)


@router.get(
    "/{device_id}/sensors/{code}/readings",
    response_model=ReadingsPublic,
    response_model_by_alias=True,
    summary="A sensor's readings, raw or in time buckets",
    responses={404: {"model": ErrorBody, "description": f"{DEVICE_NOT_FOUND}, or no such sensor"}},
)
async def sensor_readings(
    conn: ConnDep, token: CurrentToken, device_id: str, code: str, query: Annotated[ReadingsQuery, Query()]
) -> ReadingsPublic:
    """Raw readings with their quality flags, or per bucket the value, the count and how many were flagged."""
    return await device_service.sensor_readings(conn=conn, device_id=device_id, sensor=code, query=query,
                                                token=token)
