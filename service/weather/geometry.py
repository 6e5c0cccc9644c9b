"""Which points lie in a warning's polygon: point-in-polygon on WGS84 lon/lat, holes and several parts.

A polygon is its GeoJSON coordinates: an outer ring, then its holes, each ring a closed list of
[lon, lat] positions; a MultiPolygon is a list of those. Areas of a county or a province are small enough
for lon/lat to be treated as plane coordinates. Pure: no I/O.
"""

from collections.abc import Sequence
from itertools import pairwise

Position = Sequence[float]
Ring = Sequence[Position]
Polygon = Sequence[Ring]


def ring_contains(ring: Ring, lon: float, lat: float) -> bool:
    """Even-odd rule: a ray from the point eastward crosses the ring's edges an odd number of times."""
    inside = False
    for (x1, y1, *_), (x2, y2, *_) in pairwise(ring):
        # Half-open in latitude, so a ray through a vertex counts it once.
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def polygon_contains(polygon: Polygon, lon: float, lat: float) -> bool:
    """In the outer ring and in none of the holes."""
    outer, *holes = polygon
    return ring_contains(outer, lon, lat) and not any(ring_contains(hole, lon, lat) for hole in holes)


def contains(polygons: Sequence[Polygon], lon: float, lat: float) -> bool:
    """In any part of a multi-polygon."""
    return any(polygon_contains(polygon, lon, lat) for polygon in polygons)


def bounds(polygons: Sequence[Polygon]) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of the outer rings."""
    lons = [position[0] for polygon in polygons for position in polygon[0]]
    lats = [position[1] for polygon in polygons for position in polygon[0]]
    return min(lons), min(lats), max(lons), max(lats)
