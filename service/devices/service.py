"""Device queries for the API; a grid monitor's view is bounded to its own points in the SQL."""

from datetime import UTC, datetime, timedelta

import asyncpg

import sql
from runtime.commands import LIST_LIMIT
from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.devices.schemas import (
    CommandPublic,
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceQuery,
    DeviceSensorPublic,
    DeviceUpdate,
    ReadingBucketPublic,
    ReadingPublic,
    ReadingsPublic,
    ReadingsQuery,
    SensorUpdate,
    check_resolution_kind,
)
from service.errors import Conflict, Invalid, NotFound
from service.pagination import split_page

Q = sql.queries("devices")
COMMANDS_Q = sql.queries("commands")
DEFAULT_READINGS_SPAN = timedelta(hours=24)


async def _select(conn: asyncpg.Connection, query: DeviceQuery, person: int | None, device_id: str | None = None):
    rows = await conn.fetch(
        Q["devices"], device_id, query.hazard_point, query.online, query.limit, query.offset, person
    )
    return split_page(rows, "id")


async def list_devices(
    *, conn: asyncpg.Connection, query: DeviceQuery, token: ApiToken
) -> tuple[list[DevicePublic], int]:
    """One page of the matching devices the caller may see, in id order, and how many match in all."""
    rows, count = await _select(conn, query, scoped_person(token))
    return [DevicePublic.model_validate(dict(row)) for row in rows], count


async def get_device(*, conn: asyncpg.Connection, device_id: str, token: ApiToken) -> DeviceDetail:
    """The device's health, its sensors and its last commands."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _detail(conn, device_id, scoped_person(token))


async def _detail(conn: asyncpg.Connection, device_id: str, person: int | None = None) -> DeviceDetail:
    rows, _ = await _select(conn, DeviceQuery(limit=1), person, device_id)
    if not rows:
        raise NotFound(f"Device {device_id} not found")
    sensors = await conn.fetch(Q["device_sensors"], device_id)
    commands = await conn.fetch(COMMANDS_Q["recent_commands"], device_id, LIST_LIMIT)
    return DeviceDetail(
        **dict(rows[0]),
        sensors=[DeviceSensorPublic.model_validate(dict(sensor)) for sensor in sensors],
        commands=[
            CommandPublic(**dict(command), state="pending" if command["answered_at"] is None else "answered")
            for command in commands
        ],
    )


async def create_device(*, conn: asyncpg.Connection, device_create: DeviceCreate, author: ApiToken) -> DeviceDetail:
    """Register a device with its sensors, all or nothing; Conflict on a taken id, NotFound for no such point."""
    d = device_create
    async with conn.transaction():
        try:
            created = await conn.fetchval(
                Q["create_device"], d.id, d.hazard_point, d.protocol, d.accel_unit, author.actor
            )
        except asyncpg.ForeignKeyViolationError:
            raise NotFound(f"Hazard point {d.hazard_point} not found") from None
        if created is None:
            raise Conflict(f"Device {d.id} already exists")
        await conn.execute(
            Q["create_sensors"],
            d.id,
            d.hazard_point,
            [s.code for s in d.sensors],
            [s.kind for s in d.sensors],
            [s.reporting_interval_s for s in d.sensors],
            [s.v0_mm_per_day for s in d.sensors],
            [s.resolution_mm for s in d.sensors],
            [s.thresholds.model_dump_json(exclude_none=True) for s in d.sensors],
        )
        return await _detail(conn, d.id)


async def update_device(
    *, conn: asyncpg.Connection, device_id: str, device_update: DeviceUpdate, author: ApiToken
) -> DeviceDetail:
    """Change the acceleration unit or sensors' resolutions, or move the device with its sensors to another point."""
    u = device_update
    async with conn.transaction():
        try:
            updated = await conn.fetchval(Q["update_device"], device_id, u.accel_unit, u.hazard_point, author.actor)
        except asyncpg.ForeignKeyViolationError:
            raise NotFound(f"Hazard point {u.hazard_point} not found") from None
        if updated is None:
            raise NotFound(f"Device {device_id} not found")
        if u.hazard_point is not None:
            await conn.execute(Q["move_device_sensors"], device_id, u.hazard_point)
        if u.sensors:
            await _update_sensors(conn, device_id, u.sensors)
        return await _detail(conn, device_id)


async def _update_sensors(conn: asyncpg.Connection, device_id: str, sensors: list[SensorUpdate]) -> None:
    """Set each named sensor's resolution; NotFound for a code the device does not have."""
    codes = [sensor.code for sensor in sensors]
    kinds = {row["code"]: row["kind"] for row in await conn.fetch(Q["sensor_kinds"], device_id, codes)}
    for i, sensor in enumerate(sensors):
        if sensor.code not in kinds:
            raise NotFound(f"Sensor {sensor.code} of device {device_id} not found")
        if sensor.resolution_mm is not None:
            try:
                check_resolution_kind(kinds[sensor.code])
            except ValueError as exc:
                raise Invalid(str(exc), loc=("body", "sensors", i, "resolution_mm")) from None
    await conn.execute(Q["set_sensor_resolutions"], device_id, codes, [sensor.resolution_mm for sensor in sensors])


async def sensor_readings(*, conn: asyncpg.Connection, device_id: str, sensor: str,
                          query: ReadingsQuery, token: ApiToken) -> ReadingsPublic:
    """The sensor's readings in the range, raw with their quality flags or in time buckets."""
    to = query.to or datetime.now(UTC)
    from_ = query.from_ or to - DEFAULT_READINGS_SPAN
    person = scoped_person(token)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        kind = await conn.fetchval(Q["sensor_of_device"], device_id, sensor, person)
        if kind is None:
            if not await conn.fetchval(Q["device_exists"], device_id, person):
                raise NotFound(f"Device {device_id} not found")
            raise NotFound(f"Sensor {sensor} of device {device_id} not found")
        width_s = query.bucket_s
        if width_s is None:
            rows, count = split_page(await conn.fetch(Q["readings"], device_id, sensor, from_, to, query.limit),
                                     "ts")
            data = [ReadingPublic.model_validate(dict(row)) for row in rows]
        else:
            rows, count = split_page(
                await conn.fetch(Q["reading_buckets"], device_id, sensor, from_, to, width_s, kind, query.limit),
                "bucket",
            )
            data = [ReadingBucketPublic.model_validate(dict(row)) for row in rows]
    return ReadingsPublic(device_id=device_id, sensor=sensor, kind=kind, bucket=query.bucket, from_=from_, to=to,
                          data=data, count=count)
