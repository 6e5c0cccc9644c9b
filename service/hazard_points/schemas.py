"""What the hazard-point endpoints take and answer (SPEC 5 and 6)."""

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from service.alerts.schemas import Level
from service.pagination import PageQuery

HazardType = Literal["landslide", "collapse", "debris_flow", "ground_subsidence", "ground_fissure", "unstable_slope"]
Scale = Literal["small", "medium", "large", "giant"]
PointStatus = Literal["active", "under_treatment", "treated", "relocated", "cancelled"]
GridRole = Literal["monitor", "area_lead", "resident_geologist", "county_admin"]
GRID_ROLES: tuple[GridRole, ...] = get_args(GridRole)

# A point code names an MQTT topic level and a URL path segment: no '/', '+', '#' or spaces.
POINT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude, degrees.")]
Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude, degrees.")]


class HazardPointCreate(BaseModel):
    """A new hazard point, as field clients send it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(pattern=POINT_CODE_PATTERN, max_length=64, examples=["500113-HP-0042"])
    name: str = Field(min_length=1, max_length=200)
    type: HazardType
    scale: Scale
    lon: Longitude
    lat: Latitude
    # Administrative division codes (GB/T 2260 and its township and village extensions).
    county_code: str = Field(pattern=r"^\d{6}$", examples=["500113"])
    township_code: str | None = Field(None, pattern=r"^\d{9}$", examples=["500113001"])
    village_code: str | None = Field(None, pattern=r"^\d{12}$", examples=["500113001001"])
    threatened_households: int = Field(0, ge=0)
    threatened_people: int = Field(0, ge=0)
    threatened_property_wan_yuan: float | None = Field(None, ge=0, description="In 10,000 yuan.")
    status: PointStatus = "active"

    @field_validator("township_code")
    @classmethod
    def _township_in_county(cls, value: str | None, info: ValidationInfo) -> str | None:
        county = info.data.get("county_code")
        if value is not None and county is not None and not value.startswith(county):
            raise ValueError(f"township {value} is not in county {county}")
        return value

    @field_validator("village_code")
    @classmethod
    def _village_in_township(cls, value: str | None, info: ValidationInfo) -> str | None:
        parent = info.data.get("township_code") or info.data.get("county_code")
        if value is not None and parent is not None and not value.startswith(parent):
            raise ValueError(f"village {value} is not in {parent}")
        return value


class HazardPointPublic(BaseModel):
    """A registered hazard point with its current level."""

    code: str
    name: str
    type: HazardType
    scale: Scale
    lon: float
    lat: float
    county_code: str
    township_code: str | None
    village_code: str | None
    threatened_households: int
    threatened_people: int
    threatened_property_wan_yuan: float | None
    status: PointStatus
    level: Level = Field(description="The highest level among the point's alerts not yet resolved, else none.")
    created_at: datetime
    updated_at: datetime


class HazardPointsPublic(BaseModel):
    data: list[HazardPointPublic]
    count: int = Field(description="How many points match, over all pages.")


class SensorPublic(BaseModel):
    """A sensor bound to the point."""

    device_id: str
    code: str
    kind: str
    reporting_interval_s: int
    v0_mm_per_day: float | None
    thresholds: dict[str, Any]
    state: int = Field(description="The device's last sensor_state: 0 ok, -1 power, -2 data, -3 no data.")
    last_reading_at: datetime | None


class GridMember(BaseModel):
    """The person holding one role of the point's four-role grid."""

    person_id: int
    name: str
    phone: str | None


Grid = dict[GridRole, GridMember | None]


class GridAssignment(BaseModel):
    """Who holds each of the point's four grid roles, by person id; a role left out or null is vacant."""

    model_config = ConfigDict(extra="forbid")

    monitor: int | None = Field(None, ge=1, description="Patrols the point and verifies its alerts.")
    area_lead: int | None = Field(None, ge=1)
    resident_geologist: int | None = Field(None, ge=1)
    county_admin: int | None = Field(None, ge=1, description="The county's technical administrator.")


class HazardPointDetail(HazardPointPublic):
    """A hazard point with its sensors and its grid; a role nobody holds is null."""

    sensors: list[SensorPublic]
    grid: Grid


class HazardPointQuery(PageQuery):
    """Filters of GET /hazard-points; a repeated type or level matches any of its values."""

    county_code: str | None = None
    township_code: str | None = None
    village_code: str | None = None
    type: list[HazardType] | None = None
    level: list[Level] | None = Field(None, description="The current level; none for points without an open alert.")
    bbox: str | None = Field(
        None,
        description="minLon,minLat,maxLon,maxLat (WGS84 degrees).",
        examples=["106.3,29.2,106.8,29.6"],
    )

    @field_validator("bbox")
    @classmethod
    def _bbox_well_formed(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_bbox(value)
        return value

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min lon, min lat, max lon, max lat) of the bbox filter."""
        return _parse_bbox(self.bbox) if self.bbox is not None else None


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("bbox must be four numbers minLon,minLat,maxLon,maxLat, e.g. 106.3,29.2,106.8,29.6") from None
    if not -180 <= min_lon <= max_lon <= 180:
        raise ValueError("bbox longitudes must satisfy -180 <= minLon <= maxLon <= 180")
    if not -90 <= min_lat <= max_lat <= 90:
        raise ValueError("bbox latitudes must satisfy -90 <= minLat <= maxLat <= 90")
    return min_lon, min_lat, max_lon, max_lat


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float] = Field(description="[lon, lat], WGS84.")


class HazardPointFeature(BaseModel):
    """A hazard point as a GeoJSON Feature; its properties are the point's fields."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: PointGeometry
    properties: HazardPointPublic

    @classmethod
    def of(cls, point: HazardPointPublic) -> "HazardPointFeature":
        # Built without re-validating: the point is already valid, and a map may ask for 10,000 of them.
        return cls.model_construct(
            type="Feature",
            id=point.code,
            geometry=PointGeometry.model_construct(type="Point", coordinates=(point.lon, point.lat)),
            properties=point,
        )


class HazardPointFeatureCollection(BaseModel):
    """GeoJSON (RFC 7946) of one page of points; `count` is a foreign member with the total matching."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[HazardPointFeature]
    count: int
