"""The devices page: every device the person may see with its health, offline ones first, then low battery.

A device is offline as the coverage report (SPEC 5) judges it, with the same constants, so the two never disagree.
"""

from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from service.auth.schemas import ApiToken
from service.auth.scope import scoped_person
from service.console.accounts import Q
from service.console.web import CONSOLE_PREFIX, User, render
from service.coverage.service import DEFAULT_REPORTING_INTERVAL_S, OFFLINE_AFTER_INTERVALS
from service.deps import ConnDep

router = APIRouter(prefix=f"{CONSOLE_PREFIX}/devices", include_in_schema=False)
# Below this a device is listed as low on battery: a 12 V lead-acid or lithium pack at a fifth has days left on a
# cloudy week, time enough to send someone up the slope.
LOW_BATTERY_PCT = 20.0
# The page lists this many devices at most (the worst first); past it the page says how many more match.
DEVICE_ROWS = 500
DEVICE_STATES = ("offline", "low_battery", "online")


async def device_health(conn: asyncpg.Connection, caller: ApiToken, *, county: str | None = None,
                        point: str | None = None, state: str | None = None, limit: int = DEVICE_ROWS) -> list:
    """The caller's devices with their health (sql/console.sql device_health), the worst first."""
    return await conn.fetch(Q["device_health"], county, point, state, datetime.now(UTC), OFFLINE_AFTER_INTERVALS,
                            DEFAULT_REPORTING_INTERVAL_S, LOW_BATTERY_PCT, limit, scoped_person(caller))


@router.get("", response_class=HTMLResponse)
async def devices_page(request: Request, conn: ConnDep, user: User,
                       county: Annotated[str | None, Query(max_length=12)] = None,
                       state: Annotated[str | None, Query(max_length=20)] = None) -> HTMLResponse:
    # An empty select ("all") sends an empty value; an unknown state is read as no filter rather than refused.
    county = county or None
    state = state if state in DEVICE_STATES else None
    devices = await device_health(conn, user.caller, county=county, state=state)
    total = devices[0]["total_count"] if devices else 0
    return render(request, "devices.html", {
        "devices": devices, "total": total, "hidden": total - len(devices), "county": county, "state": state,
        "counties": [row["county_code"] for row in await conn.fetch(Q["device_counties"], scoped_person(user.caller))],
        "states": DEVICE_STATES, "low_battery_pct": LOW_BATTERY_PCT,
    })
