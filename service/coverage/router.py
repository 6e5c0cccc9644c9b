"""HTTP routes of  the gaps a bureau plans its season around, per county.:/reports/coverage."""

from fastapi import APIRouter

router = APIRouter(tags=["coverage"])
