"""What the people endpoints take and answer (SPEC 5 and 6)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.pagination import PageQuery
from service.schemas import RequestModel

# The four grid roles a person can be assigned to points for, and the duty officers of the console.
PersonRole = Literal["monitor", "area_lead", "resident_geologist", "county_admin", "duty_officer"]
# A mobile or landline number as people write it: digits, spaces and dashes, an optional leading +.
PHONE_PATTERN = r"^\+?[0-9][0-9 \-]{4,30}$"


class PersonCreate(RequestModel):
    """A new person."""

    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["Li Wei"])
    phone: str | None = Field(None, pattern=PHONE_PATTERN, examples=["13800000000"])
    roles: list[PersonRole] = Field(default_factory=list)
    county_code: str | None = Field(None, pattern=r"^\d{6}$", examples=["500113"])

    @field_validator("roles")
    @classmethod
    def _once_each(cls, roles: list[PersonRole]) -> list[PersonRole]:
        return list(dict.fromkeys(roles))


class PersonPublic(BaseModel):
    id: int
    name: str
    phone: str | None
    roles: list[str]
    county_code: str | None
    created_at: datetime
    created_by: str | None = Field(description="Who registered the person (the token's actor); null if unknown.")


class PeoplePublic(BaseModel):
    data: list[PersonPublic]
    count: int = Field(description="How many people match, over all pages.")


class PersonQuery(PageQuery):
    """Filters of GET /people."""

    county_code: str | None = None
    role: PersonRole | None = Field(None, description="People holding this role.")
