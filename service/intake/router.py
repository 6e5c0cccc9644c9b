"""HTTP routes of  dead letters, quarantined readings, and their replay.:/dead-letters and /quarantine."""

from fastapi import APIRouter

router = APIRouter(tags=["intake"])
