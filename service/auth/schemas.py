"""Roles and the two views of a token: the caller of a request, and a row of `geohazard token list`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, get_args

Role = Literal["admin", "duty_officer", "grid_monitor", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class ApiToken:
    """The verified caller of a request: a bearer token, or a person signed in to the console (or the public
    pages' reader, service.public.service.PUBLIC_READER, a viewer)."""

    id: int | None  # the api_token row; None for a console session (service.console.accounts)
    name: str
    role: Role
    person_id: int | None

    @property
    def actor(self) -> str:
        """Who the records say did it: the token's name, and its person when it has one."""
        return self.name if self.person_id is None else f"{self.name} (person {self.person_id})"


class TokenInfo(NamedTuple):
    """A stored token as an administrator sees it (a tuple, to print as a row); never the token or its hash."""

    id: int
    name: str
    role: Role
    person_id: int | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None
