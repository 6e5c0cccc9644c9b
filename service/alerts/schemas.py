"""What the alert endpoints take and answer (SPEC 2.3 and 6)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from alerting.flows import EvacuationCreate
from alerting.levels import AlertLevel
from service.pagination import PageQuery
from service.schemas import RequestModel

AlertType = Literal["deformation", "rainfall", "device"]
AlertState = Literal["open", "acknowledged", "verified", "resolved"]


class AlertQuery(PageQuery):
    """Filters of GET /alerts; a repeated parameter matches any of its values."""

    state: list[AlertState] | None = Field(None, description="e.g. state=open&state=acknowledged")
    level: list[AlertLevel] | None = None
    type: list[AlertType] | None = None
    point: str | None = Field(None, description="A hazard point code.")
    county_code: str | None = Field(None, description="The county of the alert's hazard point.")
    since: AwareDatetime | None = Field(None, description="Alerts raised at or after this time.")


class AlertPublic(BaseModel):
    """An alert as the MQTT alert topic and the consoles see it."""

    id: int
    point: str = Field(description="The hazard point's code.")
    type: AlertType
    level: AlertLevel
    state: AlertState
    reasons: list[Any]
    evidence: dict[str, Any]
    raised_at: datetime
    updated_at: datetime
    rule_version: str


class AlertsPublic(BaseModel):
    data: list[AlertPublic]
    count: int = Field(description="How many alerts match, over all pages.")


class AlertEventPublic(BaseModel):
    """One change of an alert, with what the rule saw and used."""

    at: datetime
    kind: str
    from_level: str | None
    to_level: str | None
    actor: str
    inputs: dict[str, Any]
    thresholds: dict[str, Any]
    rule_version: str | None
    note: str | None


class AlertDetail(AlertPublic):
    """An alert with who moved it through its lifecycle and every event, oldest first."""

    acknowledged_at: datetime | None
    acknowledged_by: str | None
    verified_at: datetime | None
    verified_by: str | None
    verdict: Literal["confirmed", "false_alarm"] | None
    resolved_at: datetime | None
    resolved_by: str | None
    events: list[AlertEventPublic]


class AlertAcknowledge(RequestModel):
    """A duty officer takes the alert in hand; its escalation stops."""

    note: str | None = None


class AlertVerify(RequestModel):
    """The field verdict; a confirmed red alert may record its evacuation at the same time."""

    verdict: Literal["confirmed", "false_alarm"]
    note: str | None = None
    evacuation: EvacuationCreate | None = None


class AlertResolve(RequestModel):
    """Close the alert (or, for a held-lower orange or red, lower it): the duty officer's word."""

    note: str | None = None
