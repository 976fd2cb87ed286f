"""Re-export of the Problem value so domain modules need nothing outside the domain."""

from corridor.errors import Problem

__all__ = ["Problem"]
