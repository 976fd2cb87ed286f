"""Corridor: register people leaving a conflict zone, record every move, reunite families."""

__version__ = "0.1.0"
