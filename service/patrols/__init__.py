"""Patrol tasks and the reports village monitors file from their phones, over HTTP: routes, schemas and photos
over the patrol domain (alerting.patrols)."""
