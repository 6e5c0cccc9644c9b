"""The warning levels (SPEC 4): their names, their order, and none; the one place that lists them.

A level's rank is its index in LEVEL_NAMES: none (no alert) 0, then blue (IV) 1 up to red (I) 4. The kernels
compute ranks (NONE .. RED) in numpy arrays; alerts, schemas and messages use the names. The database has the
same through `alert_level_rank(level)` and `alert_levels()` (migration 0017; a test holds the two equal).
Imports nothing of the project, so every package may import it.
"""

from typing import Literal, get_args

# Lowest first: the order is the rank.
AlertLevel = Literal["blue", "yellow", "orange", "red"]
# A hazard point's level: the highest of its unresolved alerts, or none.
Level = Literal["none", AlertLevel]

LEVEL_NAMES: tuple[str, ...] = get_args(Level)
ALERT_LEVELS: tuple[str, ...] = get_args(AlertLevel)
NONE, BLUE, YELLOW, ORANGE, RED = range(len(LEVEL_NAMES))
