"""The readings notice: the NOTIFY that tells the engine which devices got readings, and from when.

Sent at commit by whatever stores readings (ingest's writer, a quarantine replay, a patrol report's marked
cracks) on channel READINGS_CHANNEL; the engine listens and re-evaluates those devices' points.
"""

import json
from datetime import datetime, timezone

# PostgreSQL's NOTIFY payload limit is 8000 bytes; stay clear of it with multi-byte ids.
NOTIFY_PAYLOAD_BYTES = 7000
READINGS_CHANNEL = "readings_stored"


def notices_of(earliest: dict[str, datetime]) -> list[str]:
    """JSON objects of device id -> epoch seconds of its earliest new reading, split to fit PostgreSQL's
    NOTIFY payload limit of 8000 bytes."""
    notices, current, size = [], {}, 2
    for device_id in sorted(earliest):
        entry = len(json.dumps(device_id)) + 24  # the id, a colon, a comma and the number
        if current and size + entry > NOTIFY_PAYLOAD_BYTES:
            notices.append(json.dumps(current, separators=(",", ":")))
            current, size = {}, 2
        current[device_id] = earliest[device_id].timestamp()
        size += entry
    return notices + ([json.dumps(current, separators=(",", ":"))] if current else [])


def parse_stored_notice(payload: str) -> dict[str, datetime | None]:
    """Device id -> its earliest reading in the batch, from one of `notices_of`; None for the time
    when an ingest from before this format sent a comma-separated list of ids (during a rolling upgrade)."""
    try:
        earliest = json.loads(payload)
    except ValueError:
        earliest = None
    if not isinstance(earliest, dict):  # the old list; one numeric id alone also parses as JSON
        return dict.fromkeys(filter(None, payload.split(",")))
    return {device_id: datetime.fromtimestamp(ts, tz=timezone.utc) for device_id, ts in earliest.items()}
