"""The rule set's defaults and its version; every alert event records the version it was decided by."""

from datetime import timedelta

# Bump when any default below or any level rule in `kernels` changes, so replayed events can be told apart.
RULE_VERSION = "2026.11-1"

BIN_S = 3600  # resampling interval of the deformation and rain series (SPEC 4.1: default 1 h)
WINDOW_BINS = 72  # the longest rolling total, 72 h, sets how much displacement history one evaluation reads
# Rain is read further back: effective antecedent rainfall weighs the last 10 days, and the soil
# water index needs the same spin-up from empty tanks to be meaningful.
RAIN_WINDOW_BINS = 11 * 24
SMOOTH_BINS = 6  # trailing velocity window, 6 h
MAX_GAP_BINS = 3  # gaps up to 3 bins are interpolated; longer ones break the series
V0_FLOOR_MM_PER_DAY = 0.1

# SPEC 4.1: a displacement sensor's resolution (mm; degrees for tilt) where the registry gives none. A
# displacement over the velocity window smaller than two resolutions counts as no movement.
DEFAULT_RESOLUTION_MM = {"crack": 0.1, "gnss": 1.0, "tilt": 0.01, "deep": 0.1}
# The kind's reference creep rate (mm/d; deg/d for tilt) until a sensor has a configured v0 or 7 days of
# quiet baseline.
DEFAULT_V0_MM_PER_DAY = {"crack": 1.0, "gnss": 2.0, "tilt": 0.02, "deep": 1.0}
GAUGE_SEARCH_RADIUS_M = 10_000  # a point without its own working gauge borrows the nearest within 10 km

# How long a lower level must hold before the level falls, by the current level (SPEC 4.3).
HOLD = {
    "blue": timedelta(hours=6),
    "yellow": timedelta(hours=12),
    "orange": timedelta(hours=24),
    "red": timedelta(hours=48),
}
# Falling from these also needs a duty officer's confirmation.
CONFIRM_TO_LOWER = frozenset({"orange", "red"})
