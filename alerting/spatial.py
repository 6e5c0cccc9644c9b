"""The nearest gauge within a radius of each hazard point, found through a grid of cells: numpy, no I/O.

Imports only `alerting.kernels` (the haversine distance).
"""

from dataclasses import dataclass

import numpy as np

from alerting import kernels as k

# Cells of the nearest-gauge search per search radius: smaller cells mean fewer gauges compared for a point
# with a gauge nearby, more rings of cells for one without.
NEAREST_CELLS_PER_RADIUS = 4
# Added to every longitude cell, so that the cells of the rings around a point are never negative.
_LON_CELL_OFFSET = NEAREST_CELLS_PER_RADIUS + 2


def nearest_within(p_lon, p_lat, g_lon, g_lat, radius_m: float) -> np.ndarray:
    """For each point, the index of the nearest gauge within radius_m (haversine; the lowest index on a
    tie), or -1.

    Gauges are bucketed in cells at least radius_m / NEAREST_CELLS_PER_RADIUS on a side, and each point
    looks at rings of cells around its own, nearest first, until no further ring can hold a closer gauge:
    a point with a gauge nearby compares itself with a handful of gauges, not with every gauge within the
    radius.

    Longitude does not wrap at 180 degrees and cells narrow above 89.9 degrees of latitude: near the
    antimeridian or the poles a nearer gauge may be missed (no hazard point of ours is there).
    """
    n = len(p_lat)
    if n == 0 or len(g_lat) == 0:
        return np.full(n, -1, dtype=np.int64)
    grid = _Grid.covering(radius_m, p_lat, g_lat)
    gauge_cells = _GaugeCells(grid, g_lon, g_lat)
    p_lat_cell, p_lon_cell = grid.cells(p_lon, p_lat)
    nearest = _Nearest(n, len(g_lat))
    active = np.arange(n)
    # A gauge within the radius is at most NEAREST_CELLS_PER_RADIUS + 1 cells away in either direction.
    for ring in range(NEAREST_CELLS_PER_RADIUS + 2):
        point, gauge = gauge_cells.in_ring(active, p_lat_cell[active], p_lon_cell[active], ring)
        if point.size:
            distance_m = k.haversine_m(p_lon[point], p_lat[point], g_lon[gauge], g_lat[gauge])
            nearest.consider(point, gauge, distance_m, radius_m)
        # Every gauge of the next rings is more than ring * cell_m away: a point nearer than that is done.
        active = active[~(nearest.distance_m[active] < ring * grid.cell_m)]
        if not active.size:
            break
    return nearest.gauges()


@dataclass(frozen=True)
class _Grid:
    """Cells at least cell_m on a side, each numbered by its (lat cell, lon cell) as one integer key."""

    cell_m: float
    cell_lat: float  # degrees
    cell_lon: float  # degrees
    span: int  # keys per row of latitude: more than its longitude cells, with the rings' offset

    @classmethod
    def covering(cls, radius_m: float, p_lat, g_lat) -> "_Grid":
        """The grid of the search within radius_m among these latitudes."""
        cell_m = radius_m / NEAREST_CELLS_PER_RADIUS
        cell_lat = np.degrees(cell_m / k.EARTH_RADIUS_M) * 1.001
        # Cells are at least cell_m wide at the widest latitude, so everywhere: a degree of longitude only
        # shortens towards the poles.
        widest = max(float(np.abs(p_lat).max()), float(np.abs(g_lat).max())) + cell_lat
        cell_lon = cell_lat / max(np.cos(np.radians(min(widest, 89.9))), 1e-3)
        span = int(np.ceil(360.0 / cell_lon)) + 2 * NEAREST_CELLS_PER_RADIUS + 5
        return cls(cell_m, cell_lat, cell_lon, span)

    def cells(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """The (lat cell, lon cell) of each place."""
        return (np.floor(lat / self.cell_lat).astype(np.int64),
                np.floor((lon + 180.0) / self.cell_lon).astype(np.int64) + _LON_CELL_OFFSET)

    def key(self, lat_cell, lon_cell):
        return lat_cell * self.span + lon_cell


class _GaugeCells:
    """The gauges sorted by the key of their cell: a cell's gauges are one run of the sorted keys."""

    def __init__(self, grid: _Grid, g_lon, g_lat):
        self.grid = grid
        g_key = grid.key(*grid.cells(g_lon, g_lat))
        self.by_key = np.argsort(g_key, kind="stable")
        self.sorted_keys = g_key[self.by_key]

    def in_ring(self, points, lat_cell, lon_cell, ring: int) -> tuple[np.ndarray, np.ndarray]:
        """(point, gauge) pairs: each point with every gauge in the cells `ring` cells around the point's own
        (its own cell for ring 0)."""
        found_points, found_gauges = [], []
        for d_lat, d_lon in _ring_offsets(ring):
            point, gauge = self._in_cells(points, self.grid.key(lat_cell + d_lat, lon_cell + d_lon))
            found_points.append(point)
            found_gauges.append(gauge)
        return np.concatenate(found_points), np.concatenate(found_gauges)

    def _in_cells(self, points, keys) -> tuple[np.ndarray, np.ndarray]:
        """(point, gauge) pairs: each point with every gauge in the cell of its key."""
        lo = np.searchsorted(self.sorted_keys, keys, side="left")
        counts = np.searchsorted(self.sorted_keys, keys, side="right") - lo
        # Each point's run lo..hi-1 of sorted gauges, laid end to end.
        starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
        return np.repeat(points, counts), self.by_key[starts + np.arange(int(counts.sum()))]


def _ring_offsets(ring: int) -> list[tuple[int, int]]:
    """The (d_lat, d_lon) of the cells exactly `ring` cells from a centre cell, row by row."""
    return [(d_lat, d_lon) for d_lat in range(-ring, ring + 1) for d_lon in range(-ring, ring + 1)
            if max(abs(d_lat), abs(d_lon)) == ring]


class _Nearest:
    """Each point's nearest gauge within the radius so far, and its distance."""

    def __init__(self, n_points: int, n_gauges: int):
        self.none = n_gauges  # above every gauge index, so that the lowest index wins a tie
        self.gauge = np.full(n_points, self.none, dtype=np.int64)
        self.distance_m = np.full(n_points, np.inf)

    def consider(self, point, gauge, distance_m, radius_m: float) -> None:
        """Take these (point, gauge, distance) candidates into account: the ones within the radius."""
        near = distance_m <= radius_m
        point, gauge, distance_m = point[near], gauge[near], distance_m[near]
        was_m = self.distance_m[point]
        np.minimum.at(self.distance_m, point, distance_m)
        self.gauge[point[distance_m < was_m]] = self.none  # a nearer gauge here: the earlier one is out
        # Of the gauges at a point's nearest distance (these and earlier ones), the lowest index.
        at_best = distance_m == self.distance_m[point]
        np.minimum.at(self.gauge, point[at_best], gauge[at_best])

    def gauges(self) -> np.ndarray:
        """Each point's nearest gauge, or -1."""
        return np.where(self.gauge < self.none, self.gauge, -1)
