"""Hazard points over HTTP: the registry's listing (JSON or GeoJSON), creation, one point in full, its grid."""
