"""HTTP routes of /patrol-tasks and /patrol-reports."""

from fastapi import APIRouter

router = APIRouter(tags=["patrols"])
