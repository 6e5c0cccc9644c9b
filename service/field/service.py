"""What the phone app shows, read through the domain services the API uses, as the phone's grid monitor: the
monitor's open tasks, the unresolved alerts of their points, their points, and one point with its card, its open
tasks, its marked cracks and the findings to look for."""

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

import sql
from service.alerts import service as alert_service
from service.alerts.schemas import AlertPublic, AlertQuery
from service.auth.schemas import ApiToken
from service.hazard_points import service as point_service
from service.hazard_points.schemas import HazardPointCardPublic, HazardPointPublic, HazardPointQuery
from service.patrols import service as patrol_service
from service.patrols.schemas import FINDINGS, NOTHING_ABNORMAL, PatrolTaskPublic, PatrolTaskQuery

PATROLS_Q = sql.queries("patrols")
UNRESOLVED = ["open", "acknowledged", "verified"]
# A grid monitor watches a handful of points; these bound a page, not a monitor.
MAX_POINTS = 500
MAX_ROWS = 200
# The findings worth looking for first at each hazard type (SPEC 5), most telling first; the rest follow, and
# "nothing abnormal" comes last. A slide shows itself in cracks, bulging and water; a rock face in cracks and falling
# rock; a debris-flow gully in its water, sound and the banks giving way.
FIRST_FINDINGS = {
    "landslide": ("new_cracks", "crack_widening", "bulging", "subsidence", "spring_or_seepage_change",
                  "tilting_trees_or_poles", "house_damage"),
    "unstable_slope": ("new_cracks", "crack_widening", "bulging", "rockfall", "spring_or_seepage_change",
                       "tilting_trees_or_poles"),
    "collapse": ("rockfall", "new_cracks", "crack_widening", "abnormal_sound", "tilting_trees_or_poles"),
    "debris_flow": ("spring_or_seepage_change", "abnormal_sound", "rockfall", "new_cracks", "house_damage"),
    "ground_subsidence": ("subsidence", "new_cracks", "house_damage", "spring_or_seepage_change", "abnormal_sound"),
    "ground_fissure": ("new_cracks", "crack_widening", "subsidence", "house_damage"),
}


@dataclass(frozen=True)
class Home:
    tasks: list[PatrolTaskPublic]
    alerts: list[AlertPublic]
    points: list[HazardPointPublic]
    read_at: datetime

    @property
    def point_names(self) -> dict[str, str]:
        return {p.code: p.name for p in self.points}


@dataclass(frozen=True)
class MarkedCrack:
    device: str
    sensor: str


@dataclass(frozen=True)
class PointView:
    card: HazardPointCardPublic
    level: str
    tasks: list[PatrolTaskPublic]
    alerts: list[AlertPublic]
    cracks: list[MarkedCrack]
    findings: list[str]


def checklist(hazard_type: str) -> list[str]:
    """The findings in the order a monitor of this hazard type should look for them; nothing_abnormal last."""
    first = list(FIRST_FINDINGS.get(hazard_type, ()))
    rest = [f for f in FINDINGS if f not in first and f != NOTHING_ABNORMAL]
    return [*first, *rest, NOTHING_ABNORMAL]


async def home(*, conn: asyncpg.Connection, caller: ApiToken) -> Home:
    """The monitor's open tasks (overdue first: the earliest due), their points' unresolved alerts, their points."""
    tasks, _ = await patrol_service.list_tasks(
        conn=conn, caller=caller, query=PatrolTaskQuery(mine=True, state=["open"], limit=MAX_ROWS))
    alerts, _ = await alert_service.list_alerts(conn=conn, query=AlertQuery(state=UNRESOLVED, limit=MAX_ROWS),
                                                token=caller)
    points, _ = await point_service.list_hazard_points(conn=conn, query=HazardPointQuery(limit=MAX_POINTS),
                                                       token=caller)
    return Home(tasks=tasks, alerts=alerts, points=points, read_at=datetime.now(UTC))


async def point(*, conn: asyncpg.Connection, caller: ApiToken, code: str) -> PointView:
    """One of the monitor's points (NotFound for any other): card, level, open tasks, alerts and marked cracks."""
    card = await point_service.get_card(conn=conn, code=code, token=caller)
    summary = await point_service.get_hazard_point_summary(conn=conn, code=code, token=caller)
    tasks, _ = await patrol_service.list_tasks(
        conn=conn, caller=caller, query=PatrolTaskQuery(point=code, state=["open"], limit=MAX_ROWS))
    alerts, _ = await alert_service.list_alerts(
        conn=conn, query=AlertQuery(point=code, state=UNRESOLVED, limit=MAX_ROWS), token=caller)
    cracks = [MarkedCrack(device=row["device_id"], sensor=row["code"])
              for row in await conn.fetch(PATROLS_Q["manual_sensors"], code)]
    return PointView(card=card, level=summary.level, tasks=tasks, alerts=alerts, cracks=cracks,
                     findings=checklist(card.type))
