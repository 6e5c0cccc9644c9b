"""The dependencies route handlers declare, as Annotated aliases."""

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from service.auth.dependencies import current_token, require_role
from service.auth.schemas import ApiToken
from service.broker import Broker
from service.db import connection, get_pool


async def get_broker(request: Request) -> Broker:
    """The MQTT connection the lifespan stored on the app (async: no thread-pool hop, as service.db.get_pool)."""
    return request.app.state.broker


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
ConnDep = Annotated[asyncpg.Connection, Depends(connection)]

# Any valid token; every /api/v1 route already requires one, this alias names the caller.
CurrentToken = Annotated[ApiToken, Depends(current_token)]
# The registry is changed by administrators only.
AdminToken = Annotated[ApiToken, Depends(require_role("admin"))]
# Alerts are moved through their lifecycle by duty officers (and administrators).
OfficerToken = Annotated[ApiToken, Depends(require_role("duty_officer", "admin"))]
BrokerDep = Annotated[Broker, Depends(get_broker)]
