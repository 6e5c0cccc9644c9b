"""The rule set's defaults and its version; every alert event records the version it was decided by."""

from datetime import timedelta

import numpy as np

# Bump when any default below or any level rule in `kernels` changes, so replayed events can be told apart.
RULE_VERSION = "2026.12-1"

BIN_S = 3600  # resampling interval of the rain series, and of displacement reported hourly or more often
WINDOW_BINS = 72  # bins of displacement history one evaluation reads: 72 h for hourly bins (the longest rain total)
# SPEC 4.1: a displacement sensor's bin is its reporting interval rounded up to one of these, or its own
# step when it reports less often than daily (InSAR, manual surveys); its windows are counted in its bins.
DISPLACEMENT_BINS_S = (3600, 6 * 3600, 86_400)
# Rain is read further back: effective antecedent rainfall weighs the last 10 days, and the soil
# water index needs the same spin-up from empty tanks to be meaningful.
RAIN_WINDOW_BINS = 11 * 24
SMOOTH_BINS = 6  # trailing velocity window, 6 bins (6 h for hourly bins)
MAX_GAP_BINS = 3  # gaps up to 3 bins are interpolated; longer ones break the series
# The quiet baseline (SPEC 4.1): v0 is the median velocity over the last 30 days outside open deformation
# alerts, counted once it rests on 7 days of data, and refreshed daily.
BASELINE_DAYS = 30
BASELINE_MIN_DAYS = 7
BASELINE_REFRESH_S = 86_400
# Failure forecast (Fukuzono; Carla et al. 2017): trailing means of 1/v over these bins find the onset;
# counted with R^2 >= FORECAST_MIN_R2 over FORECAST_MIN_BINS bins; it sets red or orange within these hours.
FORECAST_SHORT_BINS, FORECAST_LONG_BINS = 3, 6
FORECAST_MIN_BINS = 6
FORECAST_MIN_R2 = 0.8
# ... and only for a real acceleration: the fitted velocity at the last bin 1.5 times the one at the onset.
FORECAST_MIN_SPEED_UP = 1.5
FORECAST_RED_H, FORECAST_ORANGE_H = 24.0, 72.0
# The improved tangent angle (SPEC 4.1): 45 deg is steady creep (v == v0); yellow above it by a margin that keeps
# ordinary noise around it from reading as yellow; orange and red at these angles, held for two bins.
STEADY_CREEP_DEG = 45.0
ANGLE_YELLOW_MARGIN_DEG = 5.0
ANGLE_ORANGE_DEG, ANGLE_RED_DEG = 80.0, 85.0

# SPEC 4.1: a displacement sensor's resolution (mm; degrees for tilt) where the registry gives none. A
# displacement over the velocity window smaller than two resolutions counts as no movement.
DEFAULT_RESOLUTION_MM = {"crack": 0.1, "gnss": 1.0, "tilt": 0.01, "deep": 0.1}
# The kind's reference creep rate (mm/d; deg/d for tilt) until a sensor has a configured v0 or 7 days of
# quiet baseline.
DEFAULT_V0_MM_PER_DAY = {"crack": 1.0, "gnss": 2.0, "tilt": 0.02, "deep": 1.0}


def displacement_bins_s(reporting_interval_s) -> np.ndarray:
    """The bin of each displacement sensor's series (SPEC 4.1): its interval rounded up to 1 h, 6 h or 1 d, or
    its own interval (whole seconds) beyond a day."""
    interval = np.asarray(reporting_interval_s, dtype=np.float64)
    bins = np.array(DISPLACEMENT_BINS_S, dtype=np.float64)
    rounded = bins[np.minimum(np.searchsorted(bins, interval), len(bins) - 1)]
    return np.where(interval <= bins[-1], rounded, np.ceil(interval)).astype(np.int64)


def displacement_bin_s(reporting_interval_s: float) -> int:
    """displacement_bins_s of one sensor."""
    return int(displacement_bins_s(reporting_interval_s))


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
