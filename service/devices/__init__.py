"""Devices over HTTP: registration with their sensors, health, the commands they were sent, and their readings."""
