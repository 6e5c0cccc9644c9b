"""What the dead-letter and quarantine endpoints take and answer (SPEC 2.4, 3 and 6)."""

import base64
import codecs
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.devices.schemas import DEVICE_ID_PATTERN
from service.pagination import DEFAULT_PAGE, PageQuery
from service.schemas import RequestModel

# Enough of a payload to recognise it in a console; the whole payload is in payload_base64.
PREVIEW_CHARS = 500
# A dead letter carries up to 65,538 bytes of payload (ingest keeps no more): a page of this many is 17 MiB
# of base64 at most.
DEAD_LETTERS_MAX_PAGE = 200
# Free text to search with; PostgreSQL text cannot hold a NUL character, so one is refused here with a 422.
SearchText = Annotated[str, Field(min_length=1, pattern=r"^[^\x00]+$")]


class DeadLetterQuery(PageQuery):
    """Filters of GET /dead-letters."""

    limit: int = Field(
        DEFAULT_PAGE, ge=1, le=DEAD_LETTERS_MAX_PAGE, description="At most this many dead letters (each may carry "
        "64 KiB of payload)."
    )
    since: AwareDatetime | None = Field(None, description="Received at or after this time.")
    reason: SearchText | None = Field(None, description="Text the reason contains, in any case.", examples=["not JSON"])
    topic: SearchText | None = Field(
        None, description="A prefix of the topic.", examples=["geohazard/v1/gateways/GW-500113-0001/"]
    )
    payload_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="The payload's SHA-256 in hex: every dead letter of one message (one per bad reading) and of "
        "its redeliveries, among them those that kept its bytes.",
    )


class DeadLetterPublic(BaseModel):
    """A message (or one reading of it) ingest could not take, with its raw bytes and the reason."""

    id: int
    received_at: datetime
    topic: str
    client_id: str | None = Field(description="The publishing client, where the broker told (universal devices).")
    reason: str = Field(examples=["payload is not JSON: Expecting value: line 1 column 1 (char 0)"])
    payload_bytes: int = Field(description="The whole payload's length in bytes, as the device sent it.")
    payload_sha256: str = Field(
        description="The whole payload's SHA-256 in hex, to match it to a device's log (or filter by it).",
        examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    )
    payload_cut: bool = Field(
        description="True when only the payload's beginning is kept: ingest keeps 65,538 bytes of a dead letter "
        "(the largest universal frame), and of a message with many bad readings only the first dead letters "
        "keep its bytes (the others share its SHA-256)."
    )
    payload_kept_bytes: int = Field(description="How many of its bytes are kept, in payload_base64.")
    payload_base64: str = Field(
        description="The raw payload, exactly as received, base64-encoded: all of it, or its first "
        "payload_kept_bytes when payload_cut."
    )
    payload_preview: str | None = Field(
        description=f"The payload as UTF-8 text, its first {PREVIEW_CHARS} characters, control characters written "
        "as \\xNN (a $dp frame's header shows as \\x02\\x00\\x1f); null when it is not UTF-8.",
        examples=['{"gateway": "GW-500113-0001", "readings": [{"sensor": "CR-01", "ts": "yesterday"}]}'],
    )

    @classmethod
    def of(cls, row: Any) -> "DeadLetterPublic":
        payload = bytes(row["payload"])
        cut = len(payload) < row["payload_bytes"]
        return cls(
            id=row["id"],
            received_at=row["received_at"],
            topic=row["topic"],
            client_id=row["client_id"],
            reason=row["reason"],
            payload_bytes=row["payload_bytes"],
            payload_sha256=bytes(row["payload_sha256"]).hex(),
            payload_cut=cut,
            payload_kept_bytes=len(payload),
            payload_base64=base64.b64encode(payload).decode("ascii"),
            payload_preview=_preview(payload, cut=cut),
        )


def _preview(payload: bytes, *, cut: bool) -> str | None:
    try:
        # A cut payload may end inside a character: that character is left out, not taken for bad UTF-8.
        text = codecs.getincrementaldecoder("utf-8")().decode(payload, final=not cut)
    except UnicodeDecodeError:
        return None
    head = text[:PREVIEW_CHARS]
    shown = "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in head)
    return shown + ("..." if len(text) > PREVIEW_CHARS or cut else "")


class DeadLettersPublic(BaseModel):
    data: list[DeadLetterPublic]
    count: int = Field(description="How many dead letters match, over all pages.")


class QuarantineQuery(PageQuery):
    """Filters of GET /quarantine; by default only readings still waiting for their registration."""

    device_id: SearchText | None = Field(
        None,
        description="The device id as it arrived (the MQTT client id or the gateway id of the topic).",
        examples=["GW-500113-0001"],
    )
    reason: SearchText | None = Field(
        None, description="Text the reason contains, in any case.", examples=["is not registered"]
    )
    include_replayed: bool = Field(False, description="Also readings already replayed into the readings.")


class QuarantinedReadingPublic(BaseModel):
    """A reading from a device or sensor that was not registered (or not of that kind) when it arrived."""

    id: int
    received_at: datetime
    topic: str
    device_id: str
    sensor_code: str
    ts: datetime
    kind: str
    value: float | None
    fields: dict[str, Any] | None
    quality: list[str]
    server_timed: bool
    reason: str = Field(examples=["sensor GW-500113-0001/CR-99 is not registered"])
    replayed_at: datetime | None = Field(description="When it was moved into the readings; null while waiting.")


class QuarantinePublic(BaseModel):
    data: list[QuarantinedReadingPublic]
    count: int = Field(description="How many quarantined readings match, over all pages.")


class QuarantineReplay(RequestModel):
    """Which quarantined readings to replay: one device's, or (left out) every device's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    device_id: str | None = Field(None, pattern=DEVICE_ID_PATTERN, max_length=64, examples=["GW-500113-0001"])


class QuarantineReplayed(BaseModel):
    """What a replay did."""

    device_id: str | None = Field(description="The device replayed; null for every device.")
    stored: int = Field(description="Readings moved into the readings now that their sensor is registered.")
    remaining: int = Field(
        description="Quarantined readings still waiting (of that device), their sensor "
        "still unregistered or of another kind."
    )
