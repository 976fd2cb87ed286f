"""The format registry: each built-in format registers the way an extension would.

A format module exposes ``FORMATS``, a tuple of ``Format`` values; adding a format is one
module plus one line in ``BUILT_IN``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any

from corridor.formats.records import Parsed


@dataclass(frozen=True)
class ReadContext:
    """What a reader may need besides the bytes: the time (expiry), the file's name (zip or
    workbook), a mapping (Kobo/ODK)."""

    now: datetime
    filename: str = ""
    mapping: Any = None


@dataclass(frozen=True)
class Format:
    name: str
    help: str
    read: Callable[[bytes, ReadContext], Parsed] | None = None
    extensions: tuple[str, ...] = field(default_factory=tuple)


BUILT_IN = (
    "corridor.formats.person_table",
    "corridor.formats.pfif",
    "corridor.formats.kobo",
)


def formats() -> dict[str, Format]:
    """Every registered format by name."""
    out: dict[str, Format] = {}
    for module_name in BUILT_IN:
        for fmt in import_module(module_name).FORMATS:
            out[fmt.name] = fmt
    return out


def readable() -> tuple[Format, ...]:
    """The formats that can be imported (those with a reader), in registration order: the
    list the CLI's ``corridor import`` commands and ``POST /api/imports/{fmt}`` offer."""
    return tuple(fmt for fmt in formats().values() if fmt.read is not None)


def reader(name: str) -> Callable[[bytes, ReadContext], Parsed]:
    """The reader of a format; KeyError for a format that cannot be read."""
    fmt = formats()[name]
    if fmt.read is None:
        raise KeyError(name)
    return fmt.read
