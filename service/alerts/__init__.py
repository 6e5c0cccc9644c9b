"""Alerts over HTTP: listing, one alert with its events, CAP and SSE, and the duty officers' transitions."""
