"""What ingest could not take, over HTTP: dead letters with their raw bytes, quarantined readings, and their replay.

It imports ingest's replay rather than repeating it; it owns no table of its own.
"""
