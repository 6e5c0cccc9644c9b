"""Patrol tasks and the reports village monitors file from their phones."""
