"""Storage: the Database object (owns transactions), tables and read queries."""

from corridor.storage.database import Database

__all__ = ["Database"]
