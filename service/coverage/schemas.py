"""What the coverage report takes and answers (SPEC 5): four kinds of gap, per county."""

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from service.hazard_points.schemas import GridRole
from service.schemas import RequestModel

GapKind = Literal["no_online_device", "incomplete_grid", "patrol_overdue", "device_offline"]
GAP_KINDS: tuple[GapKind, ...] = get_args(GapKind)
# One CSV row per gap, in this column order.
CSV_COLUMNS = ("county_code", "gap", "point", "name", "detail")


class CoverageQuery(RequestModel):
    """Filters of GET /reports/coverage."""

    county_code: str | None = Field(None, pattern=r"^\d{6}$", description="Only this county.", examples=["500113"])
    format: Literal["json", "csv"] | None = Field(
        None, description="csv: one row per gap (also with `Accept: text/csv`); default JSON."
    )


class Gap(BaseModel):
    """One gap at one hazard point; `detail` says it in words, as the CSV row does."""

    point: str = Field(description="The hazard point's code.", examples=["500113-HP-0042"])
    name: str = Field(description="The hazard point's name.", examples=["Huangjueya landslide"])
    detail: str = Field(examples=["missing area_lead, county_admin"])


class NoOnlineDevice(Gap):
    """An active point threatening 30 or more people without an online automatic device."""

    threatened_people: int = Field(examples=[41])
    devices: int = Field(description="Devices registered at the point, none of them online.", examples=[1])


class IncompleteGrid(Gap):
    """A point whose four-role grid has a vacant role."""

    missing_roles: list[GridRole] = Field(description="In the order of the grid chain.", examples=[["area_lead"]])


class PatrolOverdue(Gap):
    """A point without a patrol report within its routine regime's interval."""

    last_report_at: datetime | None = Field(description="The latest patrol report's time; null if never patrolled.")
    patrols_per_week: float = Field(
        description="The monitoring plan's routine_patrols_per_week, default 2.", examples=[2.0]
    )
    interval_days: float = Field(description="7 days / patrols_per_week.", examples=[3.5])


class DeviceOffline(Gap):
    """A device that is not online: its online flag is not true, or it has been silent too long."""

    device_id: str = Field(examples=["GW-500113-0001"])
    online: bool | None = Field(description="The device's retained online flag; null until it has said.")
    last_seen: datetime | None
    silence_limit_s: float = Field(
        description="Silent for longer than this (3x its longest sensor reporting interval) counts as offline."
    )


class GapCounts(BaseModel):
    """How many gaps of each kind the county has."""

    no_online_device: int
    incomplete_grid: int
    patrol_overdue: int
    device_offline: int


class CountyCoverage(BaseModel):
    """One county's gaps, each list in point (or device) code order."""

    county_code: str = Field(examples=["500113"])
    points: int = Field(description="Hazard points the report covered in this county (active or under treatment).")
    counts: GapCounts
    no_online_device: list[NoOnlineDevice]
    incomplete_grid: list[IncompleteGrid]
    patrol_overdue: list[PatrolOverdue]
    device_offline: list[DeviceOffline]


class CoverageReport(BaseModel):
    """The coverage gaps per county, in county code order; `count` is the number of counties."""

    generated_at: datetime = Field(description="The time the gaps were judged at.")
    data: list[CountyCoverage]
    count: int
