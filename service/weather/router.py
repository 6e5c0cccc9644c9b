"""HTTP routes of /weather-warnings."""

from fastapi import APIRouter

router = APIRouter(tags=["weather"])
