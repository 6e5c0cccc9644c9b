"""What the patrol endpoints take and answer (SPEC 5 and 6)."""

from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from service.hazard_points.schemas import CountyCode, Latitude, Longitude
from service.pagination import PageQuery
from service.schemas import RequestModel

Regime = Literal[
    "routine", "flood_before", "flood_during", "flood_after", "rain_before", "rain_during", "rain_after", "verification"
]
TaskState = Literal["open", "done", "cancelled"]
Finding = Literal[
    "new_cracks",
    "crack_widening",
    "bulging",
    "subsidence",
    "spring_or_seepage_change",
    "rockfall",
    "tilting_trees_or_poles",
    "house_damage",
    "abnormal_sound",
    "nothing_abnormal",
]
FINDINGS: tuple[Finding, ...] = get_args(Finding)
NOTHING_ABNORMAL = "nothing_abnormal"
Judgement = Literal["normal", "suspicious", "dangerous"]


# --- tasks ---------------------------------------------------------------------------------------


class PatrolTaskQuery(PageQuery):
    """Filters of GET /patrol-tasks; a repeated state or regime matches any of its values."""

    mine: bool = Field(
        False, description="Only the tasks assigned to the person of the caller's token.", examples=[True]
    )
    point: str | None = Field(None, description="A hazard point code.", examples=["500113-HP-0042"])
    state: list[TaskState] | None = Field(
        None, description="e.g. state=open; done tasks have done_at.", examples=[["open"]]
    )
    overdue: bool | None = Field(
        None, description="true: open tasks whose due_at has passed; false: every other task.", examples=[True]
    )
    regime: list[Regime] | None = Field(
        None,
        description="routine (twice a week), flood season (flood_before, flood_during, flood_after), rain "
        "(rain_before, rain_during, rain_after) or verification (of an alert).",
        examples=[["verification"]],
    )
    county_code: CountyCode | None = Field(None, description="Only tasks of points in this county.")


class PatrolTaskPublic(BaseModel):
    """A patrol the point's grid must make, by when."""

    id: int = Field(examples=[17])
    point: str = Field(description="The hazard point's code.", examples=["500113-HP-0042"])
    point_name: str = Field(examples=["Huangjueya landslide"])
    point_lon: float = Field(description="The point's WGS84 longitude, to navigate there.", examples=[106.52])
    point_lat: float = Field(description="The point's WGS84 latitude.", examples=[29.40])
    regime: Regime = Field(examples=["verification"])
    state: TaskState = Field(examples=["open"])
    assignee_id: int | None = Field(description="The person who should go; null: nobody assigned.", examples=[3])
    assignee_name: str | None = Field(examples=["Li Wei"])
    assignee_phone: str | None = Field(examples=["13800000000"])
    alert_id: int | None = Field(description="The alert a verification task is for.", examples=[42])
    due_at: datetime = Field(examples=["2026-07-01T09:00:00Z"])
    created_at: datetime = Field(examples=["2026-07-01T08:00:00Z"])
    done_at: datetime | None = Field(
        description="When a report closed the task: the report's device time, never later than its arrival.",
        examples=[None],
    )
    overdue: bool = Field(description="Open, and due_at has passed.", examples=[False])
    escalation_step: int | None = Field(
        description="How far up the point's grid chain (monitor, area_lead, resident_geologist, county_admin) the "
        "overdue task has been escalated: n when the chain's nth role was told last; null: not escalated.",
        examples=[None])
    escalate_at: datetime | None = Field(
        description="For an open task: when it is escalated next if still open (its due time until the first step).",
        examples=["2026-07-01T09:00:00Z"])


class PatrolTasksPublic(BaseModel):
    data: list[PatrolTaskPublic]
    count: int = Field(description="How many tasks match, over all pages.")


# --- reports -------------------------------------------------------------------------------------

MAX_MEASUREMENTS = 100


class Measurement(RequestModel):
    """A tape reading at a marked crack of the point: a sensor of one of the point's manual devices."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sensor: str = Field(min_length=1, max_length=64, description="The marked crack's sensor code.", examples=["M1"])
    device: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The manual device the sensor is on; needed only when two of the point's manual devices have a "
        "sensor of that code.",
        examples=[None],
    )
    value_mm: float = Field(allow_inf_nan=False, description="The crack's width as measured, mm.", examples=[12.5])


class MeasurementPublic(BaseModel):
    """A tape reading the report carried; it is also a reading of the sensor at the report's time."""

    device: str = Field(description="The manual device.", examples=["MAN-500113-0042"])
    sensor: str = Field(examples=["M1"])
    value_mm: float = Field(examples=[12.5])


class PatrolReportCreate(RequestModel):
    """A patrol report from a phone: JSON, or multipart/form-data with the same fields plus `photos`."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "point": "500113-HP-0042",
                    "task": 17,
                    "reported_at": "2026-07-01T08:42:10+08:00",
                    "lon": 106.5203,
                    "lat": 29.4011,
                    "accuracy_m": 8,
                    "findings": ["new_cracks", "crack_widening"],
                    "judgement": "suspicious",
                    "note": "New crack about 2 m long above the road, 1 cm wide.",
                    "measurements": [{"sensor": "M1", "value_mm": 12.5}],
                    "client_id": "0f8b9c1e-5d1a-4b7e-9a62-3c1f2d4e5a6b",
                }
            ]
        },
    )

    point: str = Field(min_length=1, max_length=64, description="The hazard point's code.", examples=["500113-HP-0042"])
    task: int | None = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description="The patrol task this report answers, if any. It must be a task of the same point. An open task "
        "is marked done; a task already done or cancelled is left as it is and the report is kept all the same.",
        examples=[17],
    )
    reported_at: AwareDatetime = Field(
        description="When the patrol was made, by the phone's clock, with its UTC offset. The server also records "
        "received_at, its own time of receipt.",
        examples=["2026-07-01T08:42:10+08:00"],
    )
    lon: Longitude = Field(description="Where the phone was: WGS84 longitude, degrees.", examples=[106.5203])
    lat: Latitude = Field(description="Where the phone was: WGS84 latitude, degrees.", examples=[29.4011])
    accuracy_m: float | None = Field(
        None, ge=0, description="The phone's stated position accuracy, metres.", examples=[8]
    )
    findings: list[Finding] = Field(
        min_length=1,
        description="What was seen, at least one; `nothing_abnormal` stands alone. In multipart/form-data, repeat "
        "the field once per finding (findings=new_cracks, findings=bulging); a comma-separated value is also read.",
        examples=[["new_cracks", "crack_widening"]],
    )
    judgement: Judgement = Field(
        description="The reporter's judgement. `dangerous` raises the point's deformation alert to orange at once.",
        examples=["suspicious"],
    )
    note: str | None = Field(None, max_length=4000, description="Free text.", examples=["Crack 2 m long, 1 cm wide."])
    measurements: list[Measurement] = Field(
        default_factory=list,
        max_length=MAX_MEASUREMENTS,
        description="Tape readings at the point's marked cracks (sensors of its manual devices), each stored as a "
        "reading of its sensor at reported_at; a resent report stores none twice. In multipart/form-data, JSON text "
        "of the same list (or of one measurement per `measurements` field).",
        examples=[[{"sensor": "M1", "value_mm": 12.5}]],
    )
    client_id: UUID | None = Field(
        None,
        description="A UUID the phone makes for the report, so that sending it again stores it once: a report with "
        "a client id already stored is answered with the stored report (200, `duplicate` true) and nothing new is "
        "kept (photos, readings, task, alert). The first copy wins, even if a resend differs. A client id another "
        "person's report holds is refused (409).",
        examples=["0f8b9c1e-5d1a-4b7e-9a62-3c1f2d4e5a6b"],
    )

    @field_validator("findings")
    @classmethod
    def _consistent(cls, findings: list[Finding]) -> list[Finding]:
        findings = list(dict.fromkeys(findings))
        if NOTHING_ABNORMAL in findings and len(findings) > 1:
            others = ", ".join(f for f in findings if f != NOTHING_ABNORMAL)
            raise ValueError(f"nothing_abnormal contradicts {others}; send one or the other")
        return findings


def json_schema() -> dict[str, Any]:
    """PatrolReportCreate's JSON schema with its nested models written out in place: the route declares no body
    model, so the OpenAPI document has no component for them to refer to."""
    schema = PatrolReportCreate.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        return [inline(item) for item in node] if isinstance(node, list) else node

    return inline(schema)


def multipart_schema() -> dict[str, Any]:
    """The OpenAPI schema of the multipart/form-data body: PatrolReportCreate's fields plus the photo files."""
    schema = json_schema()
    schema["title"] = "PatrolReportForm"
    schema["properties"]["photos"] = {
        "type": "array",
        "items": {"type": "string", "format": "binary"},
        "description": "JPEG, PNG or WebP files, one form part each, all named `photos`. The type is judged by the "
        "file's content, not its name or content type; each at most the configured size (default 10 MiB).",
    }
    schema["properties"]["measurements"] = {
        "type": "string",
        "contentMediaType": "application/json",
        "description": "JSON text: the list of measurements of the JSON body, or one measurement; the field may be "
        "repeated.",
        "examples": ['[{"sensor": "M1", "value_mm": 12.5}]'],
    }
    schema.pop("examples", None)
    return schema


class PhotoPublic(BaseModel):
    """One photo of a report; fetch it from `url` with the same bearer token."""

    n: int = Field(description="The photo's number in its report, from 1.", examples=[1])
    media_type: str = Field(description="image/jpeg, image/png or image/webp.", examples=["image/jpeg"])
    size_bytes: int = Field(examples=[2483112])
    sha256: str = Field(description="Hex SHA-256 of the stored file.", examples=["9f86d081884c7d65..."])
    url: str = Field(
        description="Path of the photo under this server.", examples=["/api/v1/patrol-reports/12/photos/1"]
    )


class PatrolReportPublic(BaseModel):
    """A filed patrol report."""

    id: int = Field(examples=[12])
    point: str = Field(description="The hazard point's code.", examples=["500113-HP-0042"])
    point_name: str = Field(examples=["Huangjueya landslide"])
    task: int | None = Field(description="The task the report answered, if any.", examples=[17])
    reporter_id: int | None = Field(
        description="The person of the token that filed it; null for a token without a person (see recorded_by).",
        examples=[3],
    )
    reporter_name: str | None = Field(examples=["Li Wei"])
    recorded_by: str = Field(description="The API token that filed it.", examples=["phone:li-wei (person 3)"])
    reported_at: datetime = Field(description="The phone's time of the patrol.", examples=["2026-07-01T00:42:10Z"])
    received_at: datetime = Field(description="The server's time of receipt.", examples=["2026-07-01T00:42:13Z"])
    lon: float | None = Field(examples=[106.5203])
    lat: float | None = Field(examples=[29.4011])
    accuracy_m: float | None = Field(examples=[8])
    findings: list[Finding] = Field(examples=[["new_cracks", "crack_widening"]])
    judgement: Judgement = Field(examples=["suspicious"])
    note: str | None = Field(examples=["Crack 2 m long, 1 cm wide."])
    photos: list[PhotoPublic]
    measurements: list[MeasurementPublic]
    distance_m: float | None = Field(
        description="Great-circle distance from the reported position to the point.", examples=[41.7]
    )
    far_from_point: bool = Field(
        description="Made further from the point than the configured distance (default 300 m).", examples=[False]
    )
    alert_id: int | None = Field(
        description="For a dangerous report: the deformation alert it raised, raised to orange, or was recorded on.",
        examples=[None],
    )
    client_id: UUID | None = Field(
        description="The UUID the phone made for the report; null when it sent none.",
        examples=["0f8b9c1e-5d1a-4b7e-9a62-3c1f2d4e5a6b"],
    )


class PatrolReportCreated(PatrolReportPublic):
    """The report as filed, and what it did to its task."""

    task_marked_done: bool = Field(
        description="true when this report closed its task; false without a task, or when the task was already "
        "done or cancelled (the task is then left as it was). A repeat says what the first copy did.",
        examples=[True],
    )
    duplicate: bool = Field(
        description="true when a report with this client_id was already stored: this is that report, and nothing "
        "was stored or done again (the status is then 200, not 201).",
        examples=[False],
    )


class PatrolReportsPublic(BaseModel):
    data: list[PatrolReportPublic]
    count: int = Field(description="How many reports match, over all pages.")


class PatrolReportQuery(PageQuery):
    """Filters of GET /patrol-reports; a repeated judgement matches any of its values."""

    point: str | None = Field(None, description="A hazard point code.", examples=["500113-HP-0042"])
    task: int | None = Field(None, ge=1, le=2**63 - 1, description="Reports answering this task.", examples=[17])
    judgement: list[Judgement] | None = Field(
        None, description="e.g. judgement=suspicious&judgement=dangerous", examples=[["dangerous"]]
    )
    since: AwareDatetime | None = Field(
        None, description="Reports made (phone time) at or after this time.", examples=["2026-07-01T00:00:00+08:00"]
    )
    far: bool | None = Field(
        None, description="true: only reports flagged far_from_point; false: only the others.", examples=[True]
    )
    county_code: CountyCode | None = Field(None, description="Only reports of points in this county.")
