"""Hazard points over HTTP: the registry's listing (JSON or GeoJSON), creation, change and cancellation,
one point in full, its disaster-avoidance card (JSON or printable HTML), and its grid."""
