"""What the device endpoints take and answer (SPEC 5 and 6)."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from alerting.rules import DEFAULT_RESOLUTION_MM
from sensors.kinds import MANUAL_KIND
from service.hazard_points.schemas import POINT_CODE_PATTERN, LevelThresholds, SensorResolution
from service.pagination import PageQuery
from service.schemas import RequestModel

# `manual`: the marked cracks of a point that grid monitors measure with a tape and send with patrol reports.
Protocol = Literal["universal", "native", "manual"]
MANUAL = "manual"
AccelUnit = Literal["mg", "g"]
SensorKind = Literal["crack", "gnss", "tilt", "deep", "accel", "rain", "soil_moisture", "soil_temp", "pore_pressure",
                     "other"]
# Device ids and sensor codes name MQTT topic levels and URL path segments, like point codes.
DEVICE_ID_PATTERN = POINT_CODE_PATTERN
SENSOR_CODE_PATTERN = POINT_CODE_PATTERN
ResolutionMm = Annotated[float, Field(gt=0, allow_inf_nan=False, examples=[0.1])]
RESOLUTION_DESCRIPTION = (
    "The smallest displacement the sensor tells apart, mm (degrees for tilt): a movement over the velocity window "
    "smaller than two resolutions counts as none. Displacement kinds only; null: the kind's default."
)
BUCKET_PATTERN = re.compile(r"^(?:raw|([1-9]\d{0,3})([mh]))$")
DEFAULT_READINGS = 1000
# Two months of 10-minute readings, or a year of hourly buckets.
MAX_READINGS = 10_000


class SensorThresholds(RequestModel):
    """What the deformation rule compares a displacement sensor with (SPEC 4.1)."""

    model_config = ConfigDict(extra="forbid")

    velocity_mm_per_day: LevelThresholds | None = None
    displacement_mm: LevelThresholds | None = None


class SensorCreate(RequestModel):
    """A sensor of a new device."""

    code: str = Field(pattern=SENSOR_CODE_PATTERN, max_length=64, examples=["L1_LF_1"])
    kind: SensorKind
    reporting_interval_s: int = Field(600, gt=0, le=86_400 * 7)
    v0_mm_per_day: float | None = Field(None, gt=0, description="The steady-state velocity of the tangent-angle rule.")
    resolution_mm: ResolutionMm | None = Field(None, description=RESOLUTION_DESCRIPTION)
    thresholds: SensorThresholds = Field(default_factory=SensorThresholds)

    @field_validator("resolution_mm")
    @classmethod
    def _resolution_of_a_displacement(cls, resolution_mm: float | None, info: ValidationInfo) -> float | None:
        if resolution_mm is not None and "kind" in info.data:
            check_resolution_kind(info.data["kind"])
        return resolution_mm


def check_resolution_kind(kind: str) -> None:
    """ValueError unless a sensor of this kind has a resolution (the displacement kinds)."""
    if kind not in DEFAULT_RESOLUTION_MM:
        raise ValueError(f"a {kind} sensor has no resolution; only {', '.join(sorted(DEFAULT_RESOLUTION_MM))} "
                         "sensors do")


def _codes_unique(codes: list[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"sensor code {code} is given twice")
        seen.add(code)


class DeviceCreate(RequestModel):
    """A new device with its sensors, as field clients send it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    id: str = Field(pattern=DEVICE_ID_PATTERN, max_length=64, examples=["DEV-0001"])
    hazard_point: str = Field(examples=["500113-HP-0042"])
    protocol: Protocol
    accel_unit: AccelUnit = Field("mg", description="The unit the device reports acceleration in.")
    sensors: list[SensorCreate] = Field(default_factory=list)

    @field_validator("sensors")
    @classmethod
    def _sensors_fit_the_device(cls, sensors: list[SensorCreate], info: ValidationInfo) -> list[SensorCreate]:
        _codes_unique([sensor.code for sensor in sensors])
        if info.data.get("protocol") == MANUAL:
            for sensor in sensors:
                if sensor.kind != MANUAL_KIND:
                    raise ValueError(f"sensor {sensor.code} is {sensor.kind}; a manual device's sensors are marked "
                                     f"cracks measured with a tape, kind {MANUAL_KIND}")
                if "reporting_interval_s" not in sensor.model_fields_set:
                    raise ValueError(f"sensor {sensor.code} needs reporting_interval_s: how often the grid monitor "
                                     "measures it (259200 for every 3 days); it is offline after three of them")
        return sensors


class SensorUpdate(RequestModel):
    """A change to one registered sensor of the device."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(examples=["L1_LF_1"])
    resolution_mm: ResolutionMm | None = Field(description=f"{RESOLUTION_DESCRIPTION} Send null to go back to it.")


class DeviceUpdate(RequestModel):
    """What an administrator may change on a registered device; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    accel_unit: AccelUnit | None = None
    hazard_point: str | None = Field(None, description="Move the device, with its sensors, to another point.")
    sensors: list[SensorUpdate] | None = Field(None, description="Changes to some of the device's sensors, by code.")

    @field_validator("sensors")
    @classmethod
    def _codes_given_once(cls, sensors: list[SensorUpdate] | None) -> list[SensorUpdate] | None:
        _codes_unique([sensor.code for sensor in sensors or ()])
        return sensors


class DevicePublic(BaseModel):
    """A device with its health as last reported."""

    id: str
    hazard_point: str
    protocol: Protocol
    accel_unit: AccelUnit
    last_seen: datetime | None
    online: bool | None = Field(description="The device's retained online flag; null until it has said.")
    battery_pct: float | None
    supply_v: float | None
    signal: float | None
    temp_c: float | None
    created_at: datetime


class DevicesPublic(BaseModel):
    data: list[DevicePublic]
    count: int = Field(description="How many devices match, over all pages.")


class DeviceSensorPublic(SensorResolution):
    """A sensor of the device and its state."""

    code: str
    kind: SensorKind
    reporting_interval_s: int
    v0_mm_per_day: float | None
    thresholds: dict[str, Any]
    state: int = Field(description="Last sensor_state: 0 ok, -1 power, -2 data, -3 no data.")
    state_reported_at: datetime | None
    last_reading_at: datetime | None
    offline: bool = Field(description="Silent for more than three reporting intervals.")


class CommandPublic(BaseModel):
    """A downlink command and the device's answer."""

    command_id: str
    name: str
    params: dict[str, Any]
    sent_at: datetime
    sent_by: str
    state: Literal["pending", "answered"]
    result: Literal["succ", "fail"] | None
    answer: str | None
    answered_at: datetime | None


class DeviceDetail(DevicePublic):
    """A device's health, its sensors, and the last commands it was sent, newest first."""

    solar_v: float | None
    humidity_pct: float | None
    sw_version: str | None
    status_at: datetime | None
    created_by: str | None = Field(description="Who registered the device (the token's actor); null if unknown.")
    updated_at: datetime = Field(description="When its registration (point, acceleration unit) last changed.")
    updated_by: str | None = Field(description="Who changed it last; null if unknown.")
    sensors: list[DeviceSensorPublic]
    commands: list[CommandPublic]


class DeviceQuery(PageQuery):
    """Filters of GET /devices."""

    hazard_point: str | None = None
    online: bool | None = None


class ReadingsQuery(RequestModel):
    """The time range and bucketing of a sensor's readings; the last 24 h raw by default."""

    model_config = ConfigDict(populate_by_name=True)

    from_: AwareDatetime | None = Field(None, alias="from", description="Readings at or after; default to - 24 h.")
    to: AwareDatetime | None = Field(None, description="Readings before; default now.")
    bucket: str = Field("raw", description="raw, or a bucket width such as 10m or 1h (buckets start at whole "
                                           "multiples of the width since 1970-01-01 UTC).", examples=["1h"])
    limit: int = Field(DEFAULT_READINGS, ge=1, le=MAX_READINGS, description="At most this many readings or buckets.")

    @field_validator("bucket")
    @classmethod
    def _bucket_width(cls, value: str) -> str:
        if BUCKET_PATTERN.match(value) is None:
            raise ValueError("bucket is raw or a width such as 10m or 1h (1 to 9999 minutes or hours)")
        return value

    @model_validator(mode="after")
    def _range_forward(self) -> "ReadingsQuery":
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise ValueError("from must be before to")
        return self

    @property
    def bucket_s(self) -> int | None:
        """The bucket width in seconds; None for raw readings."""
        match = BUCKET_PATTERN.match(self.bucket)
        if match is None or match.group(1) is None:
            return None
        return int(match.group(1)) * (60 if match.group(2) == "m" else 3600)


class ReadingPublic(BaseModel):
    """One reading as stored, with its quality flags; flagged readings are left out of warnings."""

    ts: datetime
    value: float | None
    fields: dict[str, Any] | None
    quality: list[str]
    server_timed: bool
    received_at: datetime


class ReadingBucketPublic(BaseModel):
    """One time bucket: rain summed, other kinds their last value, both over unflagged readings only."""

    bucket: datetime
    value: float | None = Field(description="Null when every reading in the bucket is flagged.")
    readings: int
    flagged: int


class ReadingsPublic(BaseModel):
    device_id: str
    sensor: str
    kind: SensorKind
    bucket: str
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    data: list[ReadingPublic] | list[ReadingBucketPublic]
    count: int = Field(description="How many readings (or buckets) the range holds; data stops at the limit.")
