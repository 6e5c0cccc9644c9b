"""Domain errors of the HTTP API, each mapped once to its status code and a `{"detail": "..."}` body."""

import math
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from alerting import flows
from alerting.patrols import reports as patrol_reports


class ErrorBody(BaseModel):
    """The body of every error but 422 (whose detail lists each invalid field)."""

    detail: str


class DomainError(Exception):
    """The request could not be served."""

    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or self.__doc__)

    @property
    def detail(self) -> str:
        return self.args[0]


class NotFound(DomainError):
    """Not found."""

    status_code = 404


class Conflict(DomainError):
    """Already exists."""

    status_code = 409


class Forbidden(DomainError):
    """Your role may not do this."""

    status_code = 403


class Unauthorized(DomainError):
    """A valid bearer token is required."""

    status_code = 401
    headers = {"WWW-Authenticate": "Bearer"}


class Invalid(DomainError):
    """The request is not valid."""

    status_code = 422

    def __init__(self, detail: str | None = None, *, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(detail)
        self.loc = loc


class DatabaseUnreachable(DomainError):
    """The database cannot be reached."""

    status_code = 503


# The lifecycle's refusals as the HTTP errors they are; the first matching class wins.
_LIFECYCLE = (
    (flows.AlertNotFound, lambda exc: NotFound(exc.detail)),
    (flows.InvalidTransition, lambda exc: Conflict(exc.detail)),
    (flows.InvalidVerdict, lambda exc: Invalid(exc.detail, loc=("body", "verdict"))),
    (flows.InvalidEvacuation, lambda exc: Invalid(exc.detail, loc=("body", "evacuation"))),
)


def _body(exc: DomainError) -> dict:
    if isinstance(exc, Invalid):  # the shape of FastAPI's own 422: each invalid field with its path
        return {"detail": [{"loc": list(exc.loc), "msg": exc.detail, "type": "value_error"}]}
    return {"detail": exc.detail}


async def _domain_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(_body(exc), status_code=exc.status_code, headers=exc.headers)


async def _lifecycle_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, flows.LifecycleError)
    http = next((to_http(exc) for cls, to_http in _LIFECYCLE if isinstance(exc, cls)), Conflict(exc.detail))
    return await _domain_error_response(request, http)


async def _report_error_response(request: Request, exc: Exception) -> JSONResponse:
    # A patrol report the domain refused: its point or task missing (404), or a field of it invalid (422).
    assert isinstance(exc, patrol_reports.ReportRefused)
    http = NotFound(exc.detail) if isinstance(exc, LookupError) else Invalid(exc.detail, loc=("body", *exc.field))
    return await _domain_error_response(request, http)


async def _data_error_response(request: Request, exc: Exception) -> JSONResponse:
    # PostgreSQL's class 22 (data exception): a value the request carried that the database cannot take,
    # such as a NUL character in a text filter or a number out of range. The client's to fix: 422, not 500.
    assert isinstance(exc, asyncpg.DataError)
    reason = f"A value in the request cannot be stored or compared: {exc}"
    return await _domain_error_response(request, Invalid(reason, loc=("request",)))


async def _validation_error_response(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own 422, except that an input JSON cannot hold (Infinity or NaN, which Python's JSON parser reads
    # from a body) is echoed as text rather than failing the answer with a 500.
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return [_json_safe(item) for item in value] if isinstance(value, list) else value


def install(app: FastAPI) -> None:
    """Answer every DomainError, and every refusal of the alert lifecycle or of a patrol report, with its status
    code and message; and every invalid request with 422 listing its fields."""
    app.add_exception_handler(DomainError, _domain_error_response)
    app.add_exception_handler(flows.LifecycleError, _lifecycle_error_response)
    app.add_exception_handler(patrol_reports.ReportRefused, _report_error_response)
    app.add_exception_handler(asyncpg.DataError, _data_error_response)
    app.add_exception_handler(RequestValidationError, _validation_error_response)
