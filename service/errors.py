"""Domain errors of the HTTP API, each mapped once to its status code and a `{"detail": "..."}` body."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel


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


class DatabaseUnreachable(DomainError):
    """The database cannot be reached."""

    status_code = 503


async def _domain_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Answer every DomainError with its status code and message."""
    app.add_exception_handler(DomainError, _domain_error_response)
