"""Formats of the tools field teams use: parsing and rendering only, no storage.

``reader(name)`` gives a format's reader; each returns a ``Parsed`` (records and every
problem with its line and field) for ``services.imports`` to check and write.
"""

from corridor.formats.records import Issue, Parsed, Record, UnreadableFile
from corridor.formats.registry import Format, ReadContext, formats, reader

__all__ = [
    "Format",
    "Issue",
    "Parsed",
    "ReadContext",
    "Record",
    "UnreadableFile",
    "formats",
    "reader",
]
