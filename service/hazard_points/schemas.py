"""What the hazard-point endpoints take and answer (SPEC 5 and 6)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, computed_field, field_validator, model_validator

from alerting.levels import ALERT_LEVELS, Level
from alerting.rules import DEFAULT_RESOLUTION_MM
from service.pagination import PageQuery
from service.people.schemas import PHONE_PATTERN
from service.schemas import RequestModel

HazardType = Literal["landslide", "collapse", "debris_flow", "ground_subsidence", "ground_fissure", "unstable_slope"]
Scale = Literal["small", "medium", "large", "giant"]
PointStatus = Literal["active", "under_treatment", "treated", "relocated", "cancelled"]
GridRole = Literal["monitor", "area_lead", "resident_geologist", "county_admin"]
GRID_ROLES: tuple[GridRole, ...] = get_args(GridRole)

# A point code names an MQTT topic level and a URL path segment: no '/', '+', '#' or spaces.
POINT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS84 longitude, degrees.")]
Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS84 latitude, degrees.")]
PointName = Annotated[str, Field(min_length=1, max_length=200, examples=["黄桷垭滑坡"])]
# Administrative division codes (GB/T 2260 and its township and village extensions).
CountyCode = Annotated[str, Field(pattern=r"^\d{6}$", examples=["500113"])]
TownshipCode = Annotated[str, Field(pattern=r"^\d{9}$", examples=["500113001"])]
VillageCode = Annotated[str, Field(pattern=r"^\d{12}$", examples=["500113001001"])]
Households = Annotated[int, Field(ge=0, description="Households the point threatens.")]
People = Annotated[int, Field(ge=0, description="People the point threatens.")]
PropertyWanYuan = Annotated[float, Field(ge=0, description="Property the point threatens, in 10,000 yuan.")]
# Person ids are bigint: a larger number cannot name one.
PersonId = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Free text printed on the card: long enough for a route description, short enough for an A5 page.
CardText = Annotated[str, Field(min_length=1, max_length=500)]


class LevelThresholds(RequestModel):
    """Thresholds by warning level, rising from blue to red; a level left out is not warned on."""

    model_config = ConfigDict(extra="forbid")

    blue: float | None = Field(None, gt=0)
    yellow: float | None = Field(None, gt=0)
    orange: float | None = Field(None, gt=0)
    red: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _rising(self) -> "LevelThresholds":
        given = [(level, getattr(self, level)) for level in ALERT_LEVELS if getattr(self, level) is not None]
        for (low, low_value), (high, high_value) in zip(given, given[1:], strict=False):
            if high_value <= low_value:
                raise ValueError(f"{high} ({high_value:g}) must be above {low} ({low_value:g})")
        return self


class PointThresholds(RequestModel):
    """The point's own rainfall thresholds (SPEC 4.2); a table left out uses the area defaults."""

    model_config = ConfigDict(extra="forbid")

    rain_24h_mm: LevelThresholds | None = Field(
        None, description="On the 24 h total; default blue 50, yellow 80, orange 100, red 150 mm.",
        examples=[{"blue": 40, "yellow": 60, "orange": 90, "red": 120}])
    rain_72h_mm: LevelThresholds | None = Field(
        None, description="On the 72 h total; default blue 80, yellow 120, orange 160, red 250 mm.")
    r_eff_mm: LevelThresholds | None = Field(
        None, description="On the effective antecedent rainfall; not warned on unless given.")


class MonitoringPlan(RequestModel):
    """The switches of the point's monitoring plan that the warning rules read."""

    model_config = ConfigDict(extra="forbid")

    rainfall_may_exceed_orange: bool = Field(
        False, description="Rainfall alone may raise the point to red (debris-flow gullies); else it stops at orange.")
    routine_patrols_per_week: float | None = Field(
        None, gt=0, le=168, examples=[2],
        description="Routine patrols of the point per week; unset means the default, twice a week. The engine's "
        "patrol regime creates tasks at this rate and the coverage report counts a point overdue after 7 days / it.")


class CardContact(RequestModel):
    """Someone to call, as the card lists them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, examples=["张三"])
    phone: str = Field(pattern=PHONE_PATTERN, examples=["13800000000"])
    role: str | None = Field(None, min_length=1, max_length=100, examples=["村委会主任 (village head)"])


class HazardPointCard(RequestModel):
    """The disaster-avoidance card (防灾避险明白卡) handed to every threatened household; a field left out is blank.

    The CAP messages of the point's alerts carry these fields as their instruction.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    warning_signal: CardText | None = Field(None, description="预警信号: how the warning is given.",
                                            examples=["鸣锣、敲盆、手摇报警器"])
    signal_giver: CardText | None = Field(None, description="信号发布人: who gives the signal.",
                                          examples=["监测员 张三 13800000000"])
    evacuation_route: CardText | None = Field(None, description="撤离路线: the way out.",
                                              examples=["沿村道向东撤离至村委会"])
    shelter: CardText | None = Field(None, description="避险场所: where people go.", examples=["村委会广场"])
    contacts: list[CardContact] = Field(default_factory=list, max_length=20, description="联系人: whom to call.")


class HazardPointCreate(RequestModel):
    """A new hazard point, as field clients send it."""

    model_config = ConfigDict(str_strip_whitespace=True)

    code: str = Field(pattern=POINT_CODE_PATTERN, max_length=64, examples=["500113-HP-0042"])
    name: PointName
    type: HazardType
    scale: Scale
    lon: Longitude
    lat: Latitude
    county_code: CountyCode
    township_code: TownshipCode | None = None
    village_code: VillageCode | None = None
    threatened_households: Households = 0
    threatened_people: People = 0
    threatened_property_wan_yuan: PropertyWanYuan | None = None
    status: PointStatus = "active"
    thresholds: PointThresholds = Field(default_factory=PointThresholds)
    monitoring_plan: MonitoringPlan = Field(default_factory=MonitoringPlan)
    card: HazardPointCard = Field(default_factory=HazardPointCard)

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

    def documents(self) -> tuple[dict, dict, dict]:
        """The thresholds, monitoring plan and card as stored (jsonb); a field left out is not stored."""
        return (self.thresholds.model_dump(exclude_none=True), self.monitoring_plan.model_dump(exclude_none=True),
                self.card.model_dump(exclude_none=True))


# The fields whose combination HazardPointCreate checks (a township in its county, a village in its township).
REGISTRY_FIELDS = ("name", "type", "scale", "lon", "lat", "county_code", "township_code", "village_code",
                   "threatened_households", "threatened_people", "threatened_property_wan_yuan", "status")


class HazardPointUpdate(RequestModel):
    """A change to a registered point: any field but the code; a field left out stays as it is.

    Null clears a field that may be empty (township, village, property); thresholds, monitoring_plan and
    card are replaced whole (null empties them).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # `X = None` rather than `X | None`: the field may be left out, but not set to null.
    name: PointName = None
    type: HazardType = None
    scale: Scale = None
    lon: Longitude = None
    lat: Latitude = None
    county_code: CountyCode = None
    township_code: TownshipCode | None = None
    village_code: VillageCode | None = None
    threatened_households: Households = None
    threatened_people: People = None
    threatened_property_wan_yuan: PropertyWanYuan | None = None
    status: PointStatus = Field(None, description="cancelled is refused while the point has open alerts.")
    thresholds: PointThresholds | None = None
    monitoring_plan: MonitoringPlan | None = None
    card: HazardPointCard | None = None

    def merged_over(self, current: Mapping[str, Any]) -> HazardPointCreate:
        """The point as it will be: these changes over its stored fields, validated as a new point would be.

        Raises pydantic's ValidationError when the combination is invalid (e.g. a township outside the county).
        """
        changes = self.model_dump(include=set(REGISTRY_FIELDS), exclude_unset=True)
        return HazardPointCreate.model_validate(
            {**{field: current[field] for field in REGISTRY_FIELDS}, **changes, "code": current["code"]})

    def documents(self) -> tuple[dict | None, dict | None, dict | None]:
        """The thresholds, monitoring plan and card to store; None for those left out (they stay as they are)."""
        return self._document("thresholds"), self._document("monitoring_plan"), self._document("card")

    def _document(self, field: str) -> dict | None:
        if field not in self.model_fields_set:
            return None
        value = getattr(self, field)
        return {} if value is None else value.model_dump(exclude_none=True)


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


class SensorResolution(BaseModel):
    """A sensor's resolution as registered, and the one the deformation rule starts from (SPEC 4.1)."""

    kind: str
    resolution_mm: float | None = Field(description="As registered, mm (degrees for tilt); null: the kind's default.")

    @computed_field(description="The resolution the deformation rule starts from: as registered, else the kind's "
                    "default (the engine raises it to twice the reading noise of a noisier sensor, and says so in its "
                    "evidence); null for kinds without one.")
    @property
    def resolution_mm_effective(self) -> float | None:
        return self.resolution_mm if self.resolution_mm is not None else DEFAULT_RESOLUTION_MM.get(self.kind)

    @computed_field(description="Where resolution_mm_effective comes from: `configured` or the kind's `default`.")
    @property
    def resolution_source(self) -> Literal["configured", "default"] | None:
        if self.resolution_mm is not None:
            return "configured"
        return "default" if self.kind in DEFAULT_RESOLUTION_MM else None


class SensorPublic(SensorResolution):
    """A sensor bound to the point."""

    device_id: str
    code: str
    kind: str
    reporting_interval_s: int
    v0_mm_per_day: float | None
    thresholds: dict[str, Any]
    state: int = Field(description="The device's last sensor_state: 0 ok, -1 power, -2 data, -3 no data.")
    last_reading_at: datetime | None


class GridMember(RequestModel):
    """The person holding one role of the point's four-role grid."""

    person_id: int
    name: str
    phone: str | None
    assigned_at: datetime
    assigned_by: str | None = Field(description="Who assigned them (the token's actor); null if unknown.")


Grid = dict[GridRole, GridMember | None]


class GridAssignment(RequestModel):
    """Who holds each of the point's four grid roles, by person id; a role left out or null is vacant."""

    model_config = ConfigDict(extra="forbid")

    monitor: PersonId | None = Field(None, description="Patrols the point and verifies its alerts.")
    area_lead: PersonId | None = None
    resident_geologist: PersonId | None = None
    county_admin: PersonId | None = Field(None, description="The county's technical administrator.")


class HazardPointDetail(HazardPointPublic):
    """A hazard point with its plan, its card, its sensors and its grid; a role nobody holds is null."""

    thresholds: dict[str, Any] = Field(description="The point's rainfall thresholds; empty: the area defaults.")
    monitoring_plan: dict[str, Any]
    card: dict[str, Any] = Field(description="The disaster-avoidance card as stored; printable at /card.")
    created_by: str | None = Field(description="Who registered the point (the token's actor); null if unknown.")
    updated_by: str | None = Field(description="Who changed it last; null if unknown.")
    sensors: list[SensorPublic]
    grid: Grid


class CardLocation(RequestModel):
    """Where the point is: WGS84 position and administrative division codes."""

    lon: float
    lat: float
    county_code: str
    township_code: str | None
    village_code: str | None


class HazardPointCardPublic(HazardPointCard):
    """The disaster-avoidance card as printed: the card's fields, the point, and its grid people with phones."""

    code: str
    name: str
    type: HazardType
    scale: Scale
    status: PointStatus
    location: CardLocation
    threatened_households: int
    threatened_people: int
    grid: Grid = Field(description="Who holds each of the four grid roles, with their phone; null if vacant.")
    updated_at: datetime = Field(description="When the point (and so the card) last changed.")


class HazardPointQuery(PageQuery):
    """Filters of GET /hazard-points; a repeated type or level matches any of its values."""

    county_code: str | None = None
    township_code: str | None = None
    village_code: str | None = None
    type: list[HazardType] | None = None
    level: list[Level] | None = Field(None, description="The current level; none for points without an open alert.")
    status: list[PointStatus] | None = Field(None, description="e.g. status=active; cancelled points are kept.")
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
