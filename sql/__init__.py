"""The database's shape and words: forward-only migrations, named queries, and the runner that applies them.

Each domain owns one file of named queries, `sql/<domain>.sql`; a module binds its domain's file as
`Q = queries("<domain>")` and a neighbour's it also reads as `<DOMAIN>_Q` (e.g. `INGEST_Q`). Python writes no
SQL of its own. Every file follows the same conventions:
- List queries take their filters as parameters where NULL matches everything, and give every row the total
  matching count: an empty page is one row of NULLs carrying that count.
- A grid monitor's scope (service/auth/scope.py): a query that takes a scoping person $n filters with
  `($n::bigint IS NULL OR EXISTS (SELECT 1 FROM grid_assignment g WHERE g.hazard_point = <point> AND g.person_id = $n))`,
  $n being NULL for every caller who sees all points.

The bottom layer: it imports nothing from the other packages; they load their SQL from here.
"""

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def queries(module: str) -> dict[str, str]:
    """The named blocks (`-- name: foo`) of `sql/<module>.sql`, loaded once."""
    text = resources.files(__package__).joinpath(f"{module}.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    named = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}
    if not named:
        raise LookupError(f"sql/{module}.sql has no '-- name:' blocks")
    return named
