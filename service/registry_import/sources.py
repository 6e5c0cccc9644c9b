"""Reading a registry ledger: a JSON document, or CSV files, into rows that remember where they came from.

Nothing here checks a value; it only shapes each row like the body the API takes, so that the API's own
models judge it. What cannot be read at all (a missing file, broken JSON, an unknown column) is a bad row.
"""

import csv
import json
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from service.devices.schemas import DeviceCreate, SensorCreate
from service.hazard_points.schemas import GRID_ROLES, HazardPointCreate
from service.people.schemas import PersonCreate

# Cells of a list field (a person's roles) hold the items separated by this.
LIST_SEPARATOR = ";"
JSON_SECTIONS = ("people", "hazard_points")


@dataclass(frozen=True)
class Place:
    """Where a row is: a file and the row a spreadsheet shows (the header is row 1), or a JSON section's item
    number (from 1); no row for a problem with the whole file."""

    file: str
    row: int | None = None
    section: str | None = None

    def __str__(self) -> str:
        if self.row is None:
            return self.file
        if self.section is None:
            return f"{self.file} row {self.row}"
        return f"{self.file} {self.section} item {self.row}"

    @property
    def order(self) -> tuple:
        return self.file, self.section or "", self.row or 0


@dataclass(frozen=True)
class BadRow:
    """One thing wrong with one row: where, which field (None: the row or file as a whole), and why."""

    place: Place
    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.place}: {self.field}: {self.reason}" if self.field else f"{self.place}: {self.reason}"


@dataclass
class Row:
    """One record of the ledger as the API would take it; `prefix` places it inside its JSON item."""

    place: Place
    data: dict[str, Any]
    prefix: str = ""

    def bad(self, loc: Iterable[str | int] | str | None, reason: str) -> BadRow:
        """A problem with this row's field at `loc` (a pydantic location or a field name)."""
        if loc is None or isinstance(loc, str):
            path = loc or ""
        else:
            path = "".join(f"[{part + 1}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        return BadRow(self.place, f"{self.prefix}{path}" or None, reason)


@dataclass
class Ledger:
    """Every row read from `source`, by kind, and what could not be read."""

    source: str
    people: list[Row] = field(default_factory=list)
    points: list[Row] = field(default_factory=list)
    devices: list[Row] = field(default_factory=list)
    sensors: list[Row] = field(default_factory=list)
    grids: list[Row] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(rows) for rows in (self.people, self.points, self.devices, self.sensors, self.grids))


@dataclass(frozen=True)
class CsvFile:
    """One CSV file of a ledger: the rows it holds, the model its columns are the fields of, and other columns."""

    kind: str
    model: type[BaseModel] | None
    extra_columns: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()

    def column_kind(self, column: str) -> str | None:
        """How to read a column's cells: "text", "list" (separated), "json", or None for an unknown column."""
        if column in self.extra_columns:
            return "text"
        path = column.split(".")
        if self.model is None or path[0] in self.left_out:
            return None
        return _field_kind(self.model, path)


# The CSV layout: one file per kind of record, any of them may be left out.
CSV_FILES = {
    "people.csv": CsvFile("people", PersonCreate, extra_columns=("key",)),
    "points.csv": CsvFile("points", HazardPointCreate),
    "devices.csv": CsvFile("devices", DeviceCreate, left_out=("sensors",)),
    "sensors.csv": CsvFile("sensors", SensorCreate, extra_columns=("device_id",)),
    "grid.csv": CsvFile("grids", None, extra_columns=("point", *GRID_ROLES)),
}


def read(path: Path, *, fmt: str | None = None, encoding: str = "utf-8") -> Ledger:
    """The ledger at `path`: a JSON document, a directory of CSV files, or one of those CSV files alone."""
    fmt = fmt or ("json" if path.suffix.lower() == ".json" else "csv")
    if not path.exists():
        return Ledger(str(path), bad=[BadRow(Place(str(path)), None, "no such file or directory")])
    if fmt == "json":
        return read_json(path, encoding=encoding)
    return read_csv(path, encoding=encoding)


# --- JSON -----------------------------------------------------------------------------------------


def read_json(path: Path, *, encoding: str = "utf-8") -> Ledger:
    """One document: {"people": [...], "hazard_points": [...]}, each point with its "devices" (each with its
    "sensors") and its "grid" ({role: person key or phone})."""
    ledger = Ledger(str(path))
    name = path.name
    try:
        document = json.loads(path.read_text(encoding=encoding))
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        ledger.bad.append(BadRow(Place(name), None, _unreadable(exc, encoding)))
        return ledger
    except json.JSONDecodeError as exc:
        ledger.bad.append(BadRow(Place(name), None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"))
        return ledger
    if not isinstance(document, dict):
        ledger.bad.append(
            BadRow(Place(name), None, 'the document must be an object {"people": [...], "hazard_points": [...]}')
        )
        return ledger
    for key in document.keys() - set(JSON_SECTIONS):
        ledger.bad.append(BadRow(Place(name), key, f"unknown section; expected {' or '.join(JSON_SECTIONS)}"))
    for section in JSON_SECTIONS:
        items = document.get(section, [])
        if not isinstance(items, list):
            ledger.bad.append(BadRow(Place(name), section, "must be a list"))
            continue
        for number, item in enumerate(items, start=1):
            place = Place(name, number, section)
            if not isinstance(item, dict):
                ledger.bad.append(BadRow(place, None, "must be an object"))
            elif section == "people":
                ledger.people.append(Row(place, item))
            else:
                _read_json_point(ledger, place, item)
    return ledger


def _read_json_point(ledger: Ledger, place: Place, item: dict) -> None:
    point = dict(item)
    devices, grid = point.pop("devices", []), point.pop("grid", None)
    ledger.points.append(Row(place, point))
    code = point.get("code")
    if not isinstance(devices, list):
        ledger.bad.append(BadRow(place, "devices", "must be a list"))
        devices = []
    for d, device in enumerate(devices, start=1):
        prefix = f"devices[{d}]."
        if not isinstance(device, dict):
            ledger.bad.append(BadRow(place, prefix.rstrip("."), "must be an object"))
            continue
        device = dict(device)
        sensors = device.pop("sensors", [])
        if not _belongs(ledger, place, prefix, device, "hazard_point", code):
            continue
        ledger.devices.append(Row(place, device, prefix))
        if not isinstance(sensors, list):
            ledger.bad.append(BadRow(place, f"{prefix}sensors", "must be a list"))
            continue
        for s, sensor in enumerate(sensors, start=1):
            sensor_prefix = f"{prefix}sensors[{s}]."
            if not isinstance(sensor, dict):
                ledger.bad.append(BadRow(place, sensor_prefix.rstrip("."), "must be an object"))
            elif _belongs(ledger, place, sensor_prefix, sensor := dict(sensor), "device_id", device.get("id")):
                ledger.sensors.append(Row(place, sensor, sensor_prefix))
    if grid is not None:
        if not isinstance(grid, dict):
            ledger.bad.append(BadRow(place, "grid", 'must be an object {"monitor": "<person key or phone>", ...}'))
        elif _belongs(ledger, place, "grid.", grid := dict(grid), "point", code):
            ledger.grids.append(Row(place, grid, "grid."))


def _belongs(ledger: Ledger, place: Place, prefix: str, item: dict, key: str, parent: Any) -> bool:
    """Give a nested item its parent's key; False (and a bad row) when it names another parent."""
    if key in item and item[key] != parent:
        ledger.bad.append(
            BadRow(place, f"{prefix}{key}", f"is {item[key]!r} but the item is listed under {parent!r}; leave it out")
        )
        return False
    item[key] = parent
    return True


# --- CSV ------------------------------------------------------------------------------------------


def read_csv(path: Path, *, encoding: str = "utf-8") -> Ledger:
    """A directory holding any of people.csv, points.csv, devices.csv, sensors.csv and grid.csv, or one of them."""
    ledger = Ledger(str(path))
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv") if path.is_dir() else [path]
    known = [file for file in files if file.name.lower() in CSV_FILES]
    for file in files:
        if file.name.lower() not in CSV_FILES:
            ledger.bad.append(BadRow(Place(file.name), None, f"not a ledger file; expected {', '.join(CSV_FILES)}"))
    if not files:
        ledger.bad.append(BadRow(Place(str(path)), None, f"holds none of {', '.join(CSV_FILES)}"))
    for file in known:
        spec = CSV_FILES[file.name.lower()]
        try:
            with file.open(encoding=encoding, newline="") as stream:
                _read_csv_file(ledger, file.name, spec, csv.reader(stream))
        except UnicodeDecodeError as exc:
            ledger.bad.append(BadRow(Place(file.name), None, _unreadable(exc, encoding)))
    return ledger


def _read_csv_file(ledger: Ledger, name: str, spec: CsvFile, reader: Iterable[list[str]]) -> None:
    rows: list[Row] = getattr(ledger, spec.kind)
    records = iter(reader)
    header = [column.strip().lstrip("\ufeff").lower() for column in next(records, [])]
    if not header:
        ledger.bad.append(BadRow(Place(name), None, "empty; the first row names the columns"))
        return
    kinds: dict[int, tuple[str, str]] = {}
    for index, column in enumerate(header):
        kind = spec.column_kind(column)
        if kind is None:
            expected = ", ".join(
                spec.extra_columns
                + tuple(f for f in (spec.model.model_fields if spec.model else ()) if f not in spec.left_out)
            )
            ledger.bad.append(
                BadRow(Place(name, 1), column or f"column {index + 1}", f"unknown column; expected some of {expected}")
            )
        elif column in header[:index]:
            ledger.bad.append(BadRow(Place(name, 1), column, "the column is given twice"))
        else:
            kinds[index] = (column, kind)
    for number, cells in enumerate(records, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # a blank line, as spreadsheets leave at the end
        place = Place(name, number)
        if len(cells) > len(header):
            ledger.bad.append(BadRow(place, None, f"{len(cells)} cells but {len(header)} columns"))
            continue
        data: dict[str, Any] = {}
        for index, cell in enumerate(cells):
            if index in kinds and cell.strip():
                column, kind = kinds[index]
                _put(data, column.split("."), _cell(cell.strip(), kind))
        rows.append(Row(place, data))


def _cell(text: str, kind: str) -> Any:
    if kind == "list":
        return [item.strip() for item in text.split(LIST_SEPARATOR) if item.strip()]
    if kind == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text  # the model says what it expected
    return text


def _put(data: dict, path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def _field_kind(model: type[BaseModel], path: list[str]) -> str | None:
    """How a dotted field path of the model is written in one cell; None when the model has no such field."""
    annotation: Any = model
    for part in path:
        inner = _unwrap(annotation)
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)) or part not in inner.model_fields:
            return None
        annotation = inner.model_fields[part].annotation
    leaf = _unwrap(annotation)
    if isinstance(leaf, type) and issubclass(leaf, BaseModel):
        return "json"
    if get_origin(leaf) in (list, tuple, set):
        item = _unwrap(get_args(leaf)[0])
        return "json" if isinstance(item, type) and issubclass(item, BaseModel) else "list"
    if leaf is dict or get_origin(leaf) is dict:
        return "json"
    return "text"


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated[...] and Optional[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif (
            origin in (Union, types.UnionType)
            and len(args := [a for a in get_args(annotation) if a is not type(None)]) == 1
        ):
            annotation = args[0]
        else:
            return annotation


def _unreadable(exc: Exception, encoding: str) -> str:
    if isinstance(exc, UnicodeDecodeError):
        name = "UTF-8" if encoding.lower().replace("_", "-").startswith("utf-8") else encoding
        return (
            f"not {name} text (byte {exc.start + 1}); save it as UTF-8, or give its encoding with --encoding, "
            "e.g. gb18030"
        )
    return str(exc)
