"""Hazard points over HTTP: the registry's listing (JSON or GeoJSON), creation, and one point in full."""
