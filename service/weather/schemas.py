"""What the weather-warning endpoints take and answer (SPEC 5 and 6)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.levels import AlertLevel
from service.hazard_points.schemas import CountyCode, TownshipCode, VillageCode
from service.pagination import PageQuery
from service.schemas import RequestModel

# The ways of giving a warning's area, in the order the request body lists them; exactly one is given.
AREA_FIELDS = ("county_codes", "township_codes", "village_codes", "polygon")
AreaKind = Literal["county", "township", "village", "polygon"]
# A province has about 40 counties, 1,000 townships and 20,000 villages: a list longer than this is a mistake.
MAX_AREA_CODES = 5_000
# PostgreSQL text cannot hold NUL.
NO_NUL = r"^[^\x00]*$"
# Enough for an outline traced along township borders.
MAX_RING_POSITIONS = 10_000


def _wgs84(position: list[float]) -> list[float]:
    lon, lat = position[0], position[1]
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {lon:g} is not between -180 and 180")
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {lat:g} is not between -90 and 90")
    return position


def _closed(ring: list[list[float]]) -> list[list[float]]:
    if ring[0][:2] != ring[-1][:2]:
        raise ValueError("a linear ring must end where it starts (GeoJSON, RFC 7946 3.1.6)")
    return ring


Position = Annotated[
    list[float], Field(min_length=2, max_length=3, description="[lon, lat] in WGS84 degrees (an altitude is ignored)."),
    AfterValidator(_wgs84),
]
LinearRing = Annotated[
    list[Position], Field(min_length=4, max_length=MAX_RING_POSITIONS,
                          description="Closed: at least four positions, the last equal to the first."),
    AfterValidator(_closed),
]
PolygonRings = Annotated[list[LinearRing], Field(min_length=1, description="The outer ring, then any holes.")]


class PolygonGeometry(RequestModel):
    """A GeoJSON Polygon: an outer ring and its holes."""

    type: Literal["Polygon"]
    coordinates: PolygonRings

    @property
    def polygons(self) -> list[list[list[list[float]]]]:
        return [self.coordinates]


class MultiPolygonGeometry(RequestModel):
    """A GeoJSON MultiPolygon: several polygons, each with its holes."""

    type: Literal["MultiPolygon"]
    coordinates: list[PolygonRings] = Field(min_length=1)

    @property
    def polygons(self) -> list[list[list[list[float]]]]:
        return self.coordinates


AreaPolygon = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type")]


class WeatherWarningCreate(RequestModel):
    """A meteorological risk warning (气象风险预警) for an area, as the meteorological service issues it.

    Give the area one way: county, township or village codes, or a GeoJSON polygon.
    """

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"level": "orange", "county_codes": ["500113"], "valid_from": "2026-07-01T20:00:00+08:00",
                 "valid_to": "2026-07-02T20:00:00+08:00", "issuer": "重庆市气象台",
                 "note": "地质灾害气象风险预警 橙色"},
                {"level": "yellow", "polygon": {"type": "Polygon", "coordinates": [
                    [[106.4, 29.3], [106.7, 29.3], [106.7, 29.6], [106.4, 29.6], [106.4, 29.3]]]},
                 "valid_from": "2026-07-01T20:00:00+08:00", "valid_to": "2026-07-02T08:00:00+08:00"},
            ]
        },
    )

    level: AlertLevel = Field(description="blue (IV), yellow (III), orange (II) or red (I).", examples=["orange"])
    county_codes: list[CountyCode] | None = Field(None, min_length=1, max_length=MAX_AREA_CODES,
                                                  examples=[["500113"]])
    township_codes: list[TownshipCode] | None = Field(None, min_length=1, max_length=MAX_AREA_CODES,
                                                      examples=[["500113001"]])
    village_codes: list[VillageCode] | None = Field(None, min_length=1, max_length=MAX_AREA_CODES,
                                                    examples=[["500113001001"]])
    polygon: AreaPolygon | None = Field(
        None, description="A GeoJSON Polygon or MultiPolygon geometry (WGS84 lon/lat), holes allowed.")
    valid_from: AwareDatetime = Field(description="When the warning takes effect, with its UTC offset.",
                                      examples=["2026-07-01T20:00:00+08:00"])
    valid_to: AwareDatetime = Field(description="When it ends: after valid_from, in the future, within 30 days.",
                                    examples=["2026-07-02T20:00:00+08:00"])
    issuer: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL, description="Who issued it.",
                               examples=["重庆市气象台"])
    note: str | None = Field(None, max_length=2000, pattern=NO_NUL)

    @field_validator(*AREA_FIELDS[1:])
    @classmethod
    def _one_area(cls, value: Any, info: ValidationInfo) -> Any:
        earlier = AREA_FIELDS[:AREA_FIELDS.index(info.field_name)]
        given = [name for name in earlier if info.data.get(name) is not None]
        if value is not None and given:
            raise ValueError(f"give the area one way only: {given[0]} and {info.field_name} were both given")
        return value

    @field_validator("valid_to")
    @classmethod
    def _after_valid_from(cls, value: datetime, info: ValidationInfo) -> datetime:
        valid_from = info.data.get("valid_from")
        if valid_from is not None and value <= valid_from:
            raise ValueError(f"must be after valid_from ({valid_from.isoformat()})")
        return value

    @model_validator(mode="after")
    def _area_given(self) -> "WeatherWarningCreate":
        if all(getattr(self, name) is None for name in AREA_FIELDS):
            raise ValueError("the area is missing: give county_codes, township_codes, village_codes or polygon")
        return self

    @property
    def area(self) -> tuple[AreaKind, list[str] | None]:
        """The kind of area and its codes (None for a polygon)."""
        for kind in ("county", "township", "village"):
            codes = getattr(self, f"{kind}_codes")
            if codes is not None:
                return kind, codes
        return "polygon", None


class WeatherWarningQuery(PageQuery):
    """Filters of GET /weather-warnings; a repeated level matches any of its values."""

    active: bool | None = Field(None, description="true: valid now; false: not yet or no longer valid.")
    level: list[AlertLevel] | None = Field(None, description="e.g. level=orange&level=red")
    county_code: CountyCode | None = Field(
        None, description="Warnings whose area names this county, or a township or village in it, or covered a "
        "point of it.")


class WeatherWarningPublic(BaseModel):
    """A warning as issued, with what it set going."""

    id: int = Field(examples=[7])
    level: AlertLevel
    county_codes: list[str] | None = Field(description="The area, when given as county codes.", examples=[["500113"]])
    township_codes: list[str] | None = Field(examples=[None])
    village_codes: list[str] | None = Field(examples=[None])
    polygon: dict[str, Any] | None = Field(description="The area, when given as a GeoJSON geometry.", examples=[None])
    valid_from: datetime
    valid_to: datetime
    active: bool = Field(description="Valid now.")
    issuer: str | None
    note: str | None
    created_by: str = Field(description="The token that recorded it.", examples=["duty:zhang (person 3)"])
    created_at: datetime
    point_count: int = Field(description="Active hazard points in the area when it was issued.", examples=[12])
    tasks_created: int = Field(description="Rain patrol tasks it created (rain_before, rain_during, rain_after).",
                               examples=[36])
    commands_sent: int = Field(description="Devices of those points sent `meteorologicalearlywarning`.",
                               examples=[9])
    commands_failed: int = Field(description="Devices the broadcast could not reach (the reason is recorded).",
                                 examples=[0])


class WeatherWarningsPublic(BaseModel):
    data: list[WeatherWarningPublic]
    count: int = Field(description="How many warnings match, over all pages.")


class BroadcastPublic(BaseModel):
    """The broadcast to one device: the command id (its answer is recorded against it), or why it was not sent."""

    device_id: str = Field(examples=["DEV-0001"])
    command_id: str | None = Field(examples=["5f0c3e2a9b7d4c1e8a6f2b3c4d5e6f70"])
    error: str | None = Field(examples=[None])


class WeatherWarningCreated(WeatherWarningPublic):
    """The new warning with its points, its tasks and its broadcast."""

    points: list[str] = Field(description="The codes of the points in the area.", examples=[["500113-HP-0042"]])
    tasks_already_open: int = Field(
        description="Rain tasks not created because the point had an open one of that regime from an earlier "
        "warning: that task stands, due sooner if this warning needs it sooner (rain_after: later, after this "
        "warning's end).", examples=[0])
    commands: list[BroadcastPublic]
