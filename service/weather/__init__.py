"""Meteorological risk warnings by area, and the rain patrols they start."""
