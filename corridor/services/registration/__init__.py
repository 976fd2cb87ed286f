"""Registering persons and households, and the sites they are registered at."""
