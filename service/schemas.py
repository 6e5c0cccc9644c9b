"""What every request schema of the API shares."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body or query: NaN and Infinity are no numbers a field client means (Python's JSON reads them
    from `NaN` and `Infinity`, a form from "inf"), so they get 422 naming the field instead of being stored."""

    model_config = ConfigDict(allow_inf_nan=False)
