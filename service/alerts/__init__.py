"""Alerts over HTTP: listing, one alert with its events; the lifecycle transitions come next."""
