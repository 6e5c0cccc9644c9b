"""The bearer-token check every /api/v1 route runs, and the role check of the routes that change things."""

from collections.abc import Awaitable, Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import service as auth_service
from service.auth.schemas import ApiToken, Role
from service.db import get_pool
from service.errors import Forbidden, Unauthorized
from service.limits import TOKEN_STATE

_bearer = HTTPBearer(auto_error=False, description="An API token from `geohazard token create`.")


async def current_token(
    request: Request,
    pool: Annotated[asyncpg.Pool, Depends(get_pool)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    """The caller of this request; 401 when the bearer token is missing, unknown or revoked. A request with a
    body was checked before its body was read (service.limits.BodyGuard), which left the token here."""
    checked = getattr(request.state, TOKEN_STATE, None)
    if checked is not None:
        return checked
    if credentials is None:
        raise Unauthorized()
    token = await auth_service.authenticate(pool, credentials.credentials)
    if token is None:
        raise Unauthorized("The bearer token is unknown or revoked.")
    return token


def require_role(*roles: Role) -> Callable[..., Awaitable[ApiToken]]:
    """A dependency admitting only callers with one of these roles; 403 for the others."""

    async def caller_with_role(token: Annotated[ApiToken, Depends(current_token)]) -> ApiToken:
        if token.role not in roles:
            raise Forbidden(f"Role {token.role} may not do this; it needs {' or '.join(roles)}.")
        return token

    return caller_with_role
