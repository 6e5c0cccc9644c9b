"""Judging a ledger row by row with the API's own models, against itself and the registry, then writing it whole.

The writes go through the API's service functions (the same SQL, the same conflicts, the same authorship), all in
one transaction: either every row is written or none is.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel, ValidationError

import sql
from service.auth.schemas import ApiToken
from service.devices import service as device_service
from service.devices.schemas import DeviceCreate, SensorCreate
from service.errors import DomainError
from service.hazard_points import service as hazard_point_service
from service.hazard_points.schemas import GRID_ROLES, GridAssignment, HazardPointCreate
from service.people import service as person_service
from service.people.schemas import PersonCreate
from service.registry_import.sources import BadRow, Ledger, Place, Row

Q = sql.queries("intake")
# Say how far the writing is every this many rows (and at the end of each kind).
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class FilePerson:
    """A grid reference to a person of this import, by their row."""

    index: int


@dataclass
class Judged:
    """The ledger's rows as the API's models, ready to write, and everything wrong with it."""

    people: list[tuple[Row, PersonCreate]] = field(default_factory=list)
    points: list[tuple[Row, HazardPointCreate]] = field(default_factory=list)
    devices: list[tuple[Row, DeviceCreate]] = field(default_factory=list)
    grids: list[tuple[Row, str, dict[str, FilePerson | int]]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What an import wrote (or, in a dry run or with bad rows, would have written)."""

    people: int
    points: int
    devices: int
    sensors: int
    grids: int
    bad: list[BadRow]
    written: bool

    @property
    def summary(self) -> str:
        return (
            f"{self.points} hazard points, {self.devices} devices with {self.sensors} sensors, "
            f"{self.people} people, {self.grids} grids"
        )


async def import_ledger(
    conn: asyncpg.Connection,
    ledger: Ledger,
    *,
    author: ApiToken,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Judge every row; write them all in one transaction when none is bad, and keep them unless this is a dry run."""
    try:
        return await _import_in_transaction(conn, ledger, author, dry_run, progress)
    except _RolledBack as rolled_back:
        return rolled_back.outcome


async def _import_in_transaction(
    conn: asyncpg.Connection, ledger: Ledger, author: ApiToken, dry_run: bool, progress: Callable[[str], None]
) -> Outcome:
    async with conn.transaction():
        judged = await judge(conn, ledger)
        sensors = sum(len(device.sensors) for _, device in judged.devices)
        counts = dict(
            people=len(judged.people),
            points=len(judged.points),
            devices=len(judged.devices),
            sensors=sensors,
            grids=len(judged.grids),
        )
        if judged.bad:
            return Outcome(**counts, bad=sorted(judged.bad, key=lambda b: b.place.order), written=False)
        try:
            await _write(conn, judged, author, progress)
        except _Refused as refused:  # e.g. a code taken by someone else since it was checked
            raise _RolledBack(Outcome(**counts, bad=[refused.bad], written=False)) from None
        if dry_run:
            raise _RolledBack(Outcome(**counts, bad=[], written=False))
        return Outcome(**counts, bad=[], written=True)


class _RolledBack(Exception):
    """Leaves the transaction (rolling it back) carrying the outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome


class _Refused(Exception):
    """The registry refused a write the checks let through; `bad` says which row and why."""

    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


# --- judging --------------------------------------------------------------------------------------


async def judge(conn: asyncpg.Connection, ledger: Ledger) -> Judged:
    """Every row through its model, then duplicates and references within the ledger and against the registry."""
    judged = Judged(bad=list(ledger.bad))
    if not ledger.rows and not ledger.bad:
        judged.bad.append(BadRow(Place(ledger.source), None, "holds no people and no hazard points: nothing to import"))
    people = _validated(judged, ledger.people, PersonCreate, extra=("key",))
    points = _validated(judged, ledger.points, HazardPointCreate)

    point_codes = {row.data.get("code") for row in ledger.points}
    referenced = {
        *point_codes,
        *(row.data.get("hazard_point") for row in ledger.devices),
        *(row.data.get("point") for row in ledger.grids),
    }
    registered_points = {r["code"] for r in await conn.fetch(Q["registered_point_codes"], _texts(referenced))}
    device_ids = [row.data.get("id") for row in ledger.devices]
    registered_devices = {r["id"] for r in await conn.fetch(Q["registered_device_ids"], _texts(device_ids))}
    phones = {
        *(row.data.get("phone") for row in ledger.people),
        *(ref for row in ledger.grids for role, ref in row.data.items() if role in GRID_ROLES),
    }
    registered_phones: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for person in await conn.fetch(Q["people_by_phone"], _texts(phones)):
        registered_phones[person["phone"]].append(person)

    _check_people(judged, ledger.people, people, registered_phones)
    _check_points(judged, points, registered_points)
    _judge_devices(judged, ledger, point_codes | registered_points, registered_devices)
    _judge_grids(judged, ledger, point_codes | registered_points, registered_phones)
    return judged


def _texts(values: Iterable[Any]) -> list[str]:
    """The given values to look up, as text; a NUL character cannot be in PostgreSQL text (nor in the registry)."""
    texts = {str(value).strip() for value in values if value not in (None, "")}
    return sorted(text for text in texts if "\x00" not in text)


def _validated(judged: Judged, rows: list[Row], model: type[BaseModel], extra: tuple[str, ...] = ()) -> list:
    """(row, model) for every row the model takes; a bad row for every problem of the others."""
    good = []
    for row in rows:
        checked = _validate(judged, row, model, extra)
        if checked is not None:
            good.append((row, checked))
    return good


def _validate(
    judged: Judged,
    row: Row,
    model: type[BaseModel],
    extra: tuple[str, ...] = (),
    errors_of: Callable[[tuple], tuple[Row, tuple]] | None = None,
) -> Any:
    unknown = sorted(str(key) for key in row.data if key not in model.model_fields and key not in extra)
    for key in unknown:
        judged.bad.append(row.bad(key, "unknown field"))
    try:
        checked = model.model_validate({k: v for k, v in row.data.items() if k not in extra})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where, loc = errors_of(error["loc"]) if errors_of else (row, error["loc"])
            judged.bad.append(where.bad(loc, _reason(error)))
        return None
    return None if unknown else checked


def _reason(error: dict) -> str:
    reason = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    if error["type"] != "missing" and isinstance(given, str | int | float) and not isinstance(given, bool):
        reason += f" (given {given!r})"
    return reason


def _check_people(
    judged: Judged,
    rows: list[Row],
    people: list[tuple[Row, PersonCreate]],
    registered_phones: dict[str, list[asyncpg.Record]],
) -> None:
    """A key given twice (on any row), a phone given twice or already registered (on the rows the model took)."""
    keys = _first_index(rows, "key")
    for index, row in enumerate(rows):
        key = row.data.get("key")
        if key not in (None, "") and keys[str(key).strip()] != index:
            judged.bad.append(row.bad("key", f"key {key} is also on {rows[keys[str(key).strip()]].place}"))
    phones: dict[str, Row] = {}
    for row, person in people:
        problems = len(judged.bad)
        if person.phone is not None:
            if person.phone in phones:
                judged.bad.append(row.bad("phone", f"phone {person.phone} is also on {phones[person.phone].place}"))
            phones.setdefault(person.phone, row)
            for known in registered_phones.get(person.phone, []):
                judged.bad.append(
                    row.bad(
                        "phone",
                        f"phone {person.phone} is already registered to person {known['id']} ({known['name']}); "
                        "give it in the grid instead of importing the person again",
                    )
                )
        key = row.data.get("key")
        if len(judged.bad) == problems and (key in (None, "") or rows[keys[str(key).strip()]] is row):
            judged.people.append((row, person))


def _check_points(judged: Judged, points: list[tuple[Row, HazardPointCreate]], registered: set[str]) -> None:
    seen: dict[str, Row] = {}
    for row, point in points:
        if point.code in seen:
            judged.bad.append(row.bad("code", f"code {point.code} is also on {seen[point.code].place}"))
        elif point.code in registered:
            judged.bad.append(row.bad("code", f"hazard point {point.code} already exists"))
        else:
            judged.points.append((row, point))
        seen.setdefault(point.code, row)


def _judge_devices(judged: Judged, ledger: Ledger, known_points: set[str], registered: set[str]) -> None:
    """Each device with its sensors through DeviceCreate, each problem told on the row of the device or sensor."""
    sensors_of: dict[Any, list[Row]] = defaultdict(list)
    seen_sensors: dict[tuple, Row] = {}
    device_ids = {row.data.get("id") for row in ledger.devices}
    for row in ledger.sensors:
        device_id, code = row.data.get("device_id"), row.data.get("code")
        if device_id in (None, ""):
            judged.bad.append(row.bad("device_id", "Field required"))
        elif device_id not in device_ids:
            judged.bad.append(
                row.bad(
                    "device_id", f"device {device_id} is not in this import; sensors are imported with their device"
                )
            )
        elif (device_id, code) in seen_sensors:
            judged.bad.append(
                row.bad(
                    "code", f"sensor code {code} of device {device_id} is also on {seen_sensors[device_id, code].place}"
                )
            )
        else:
            seen_sensors[device_id, code] = row
            sensors_of[device_id].append(row)
            continue
        _validate(judged, row, SensorCreate, extra=("device_id",))  # its other problems, told too

    seen: dict[Any, Row] = {}
    for row in ledger.devices:
        device_id = row.data.get("id")
        sensors = sensors_of.pop(device_id, []) if device_id not in seen else []
        device = _validate(
            judged,
            Row(row.place, {**row.data, "sensors": [sensor.data for sensor in sensors]}, row.prefix),
            DeviceCreate,
            errors_of=lambda loc, row=row, sensors=sensors: _device_error(row, sensors, loc),
        )
        for sensor in sensors:  # a sensor's unknown fields, which DeviceCreate leaves to SensorCreate to ignore
            for key in sorted(str(k) for k in sensor.data if k not in SensorCreate.model_fields and k != "device_id"):
                judged.bad.append(sensor.bad(key, "unknown field"))
                device = None
        if device_id in seen:
            judged.bad.append(row.bad("id", f"device {device_id} is also on {seen[device_id].place}"))
            device = None
        elif device_id in registered:
            judged.bad.append(row.bad("id", f"device {device_id} already exists"))
            device = None
        seen.setdefault(device_id, row)
        hazard_point = row.data.get("hazard_point")
        if hazard_point not in (None, "") and hazard_point not in known_points:
            judged.bad.append(
                row.bad("hazard_point", f"hazard point {hazard_point} is neither in this import nor registered")
            )
            device = None
        if device is not None:
            judged.devices.append((row, device))


def _device_error(device: Row, sensors: list[Row], loc: tuple) -> tuple[Row, tuple]:
    """The row a DeviceCreate error belongs to: the sensor's for sensors[i]..., else the device's."""
    if len(loc) > 1 and loc[0] == "sensors" and isinstance(loc[1], int) and loc[1] < len(sensors):
        return sensors[loc[1]], loc[2:]
    return device, loc


def _first_index(rows: list[Row], name: str) -> dict[str, int]:
    """The first row (by index) giving each value of the field; later ones are reported as duplicates."""
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row.data.get(name) not in (None, ""):
            first.setdefault(str(row.data[name]).strip(), index)
    return first


@dataclass
class _People:
    """Who a grid's person reference names: the key or phone of a person of this import, else the phone of
    exactly one registered person."""

    rows: list[Row]
    good: dict[int, int]  # id(row) -> its place among the people to write
    by_key: dict[str, int]
    by_phone: dict[str, int]
    registered_phones: dict[str, list[asyncpg.Record]]

    def holder(self, ref: str) -> tuple[FilePerson | int | None, str | None]:
        """(the person, None), or (None, why not); (None, None) for a person whose own row is bad."""
        index = self.by_key.get(ref, self.by_phone.get(ref))
        if index is not None:
            position = self.good.get(id(self.rows[index]))
            return (None if position is None else FilePerson(position)), None
        matches = self.registered_phones.get(ref, [])
        if len(matches) == 1:
            return matches[0]["id"], None
        if matches:
            ids = ", ".join(str(m["id"]) for m in matches)
            return None, f"phone {ref} is shared by registered people {ids}; assign by person id over the API"
        return None, f"no person with key or phone {ref!r} in this import or the registry"


def _judge_grids(
    judged: Judged, ledger: Ledger, known_points: set[str], registered_phones: dict[str, list[asyncpg.Record]]
) -> None:
    """Each grid's point, and each role's person (a person whose row is bad is reported on that row only)."""
    people = _People(
        rows=ledger.people,
        good={id(row): position for position, (row, _) in enumerate(judged.people)},
        by_key=_first_index(ledger.people, "key"),
        by_phone=_first_index(ledger.people, "phone"),
        registered_phones=registered_phones,
    )
    seen: dict[str, Row] = {}
    for row in ledger.grids:
        problems = len(judged.bad)
        for key in sorted(str(k) for k in row.data if k != "point" and k not in GRID_ROLES):
            judged.bad.append(row.bad(key, f"unknown field; expected point, {', '.join(GRID_ROLES)}"))
        point = row.data.get("point")
        point = str(point).strip() if point not in (None, "") else None
        if point is None:
            judged.bad.append(row.bad("point", "Field required"))
        elif point in seen:
            judged.bad.append(row.bad("point", f"the grid of {point} is also on {seen[point].place}"))
        elif point not in known_points:
            judged.bad.append(row.bad("point", f"hazard point {point} is neither in this import nor registered"))
        if point is not None:
            seen.setdefault(point, row)
        holders: dict[str, FilePerson | int] = {}
        complete = True
        for role in GRID_ROLES:
            if row.data.get(role) in (None, ""):
                continue
            holder, reason = people.holder(str(row.data[role]).strip())
            if reason is not None:
                judged.bad.append(row.bad(role, reason))
            if holder is None:
                complete = False
            else:
                holders[role] = holder
        if complete and point is not None and len(judged.bad) == problems:
            judged.grids.append((row, point, holders))


# --- writing --------------------------------------------------------------------------------------


async def _write(conn: asyncpg.Connection, judged: Judged, author: ApiToken, progress: Callable[[str], None]) -> None:
    person_ids: list[int] = []
    for done, (row, person) in enumerate(judged.people, start=1):
        created = await _refusing(row, person_service.create_person(conn=conn, person_create=person, author=author))
        person_ids.append(created.id)
        _progress(progress, "people", done, len(judged.people))
    for done, (row, point) in enumerate(judged.points, start=1):
        await _refusing(row, hazard_point_service.create_hazard_point(conn=conn, point_create=point, author=author))
        _progress(progress, "hazard points", done, len(judged.points))
    for done, (row, device) in enumerate(judged.devices, start=1):
        await _refusing(row, device_service.create_device(conn=conn, device_create=device, author=author))
        _progress(progress, "devices", done, len(judged.devices))
    for done, (row, point, holders) in enumerate(judged.grids, start=1):
        assignment = GridAssignment(
            **{
                role: person_ids[holder.index] if isinstance(holder, FilePerson) else holder
                for role, holder in holders.items()
            }
        )
        await _refusing(
            row, hazard_point_service.replace_grid(conn=conn, code=point, assignment=assignment, author=author)
        )
        _progress(progress, "grids", done, len(judged.grids))


async def _refusing(row: Row, write) -> Any:
    """The write's result; _Refused naming the row when the registry refuses it (a code taken meanwhile)."""
    try:
        return await write
    except DomainError as exc:
        raise _Refused(row.bad(None, exc.detail)) from None
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:  # what no model rule covers
        raise _Refused(row.bad(None, f"the database refused it: {exc}")) from None


def _progress(progress: Callable[[str], None], what: str, done: int, total: int) -> None:
    if done % PROGRESS_EVERY == 0 or done == total:
        progress(f"  {what}: {done} of {total}")
