"""The database's shape and words: forward-only migrations, named queries, and the runner that applies them.

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
