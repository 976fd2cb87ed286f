"""The format registry: each built-in format registers the way an extension would.

A format module exposes ``FORMATS``, a tuple of ``Format`` values; adding a format is one
module plus one line in ``BUILT_IN``. This is the one list of formats: the CLI's
``corridor import``/``corridor export`` commands, ``POST /api/imports/{fmt}``, the bulk
export's ``format`` (its OpenAPI enum included) and the import's id spaces are all read
from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Any, Literal

from corridor.formats.records import Parsed

NAME = re.compile(r"[a-z0-9-]{1,10}")


@dataclass(frozen=True)
class ReadContext:
    """What a reader may need besides the bytes: the time (expiry), the file's name (zip or
    workbook), a mapping (Kobo/ODK)."""

    now: datetime
    filename: str = ""
    mapping: Any = None


@dataclass(frozen=True)
class WriteContext:
    """What a writer may need besides the rows: who exported the file and when."""

    provenance: str | None = None


# What a writer takes, prepared by the gate (corridor/services/protection/gate.py):
#   "shown": persons as the exporter's roles may see them (the gate's read models, dumped);
#   "table": rows of the partner person table (``person_table.export_row``);
#   "pfif":  persons who consented to tracing, shaped as PFIF fields, with their notes.
Takes = Literal["shown", "table", "pfif"]


@dataclass(frozen=True)
class Writer:
    takes: Takes
    write: Callable[[Sequence[Mapping[str, Any]], WriteContext], bytes]
    content: str  # what a file of this format holds, in words (an export's header)
    media_type: str


@dataclass(frozen=True)
class SheetWriter:
    """Writes any table, a header and rows (a list that names nobody: the manifests)."""

    write: Callable[[Sequence[str], Sequence[Sequence[Any]], str | None], bytes]
    media_type: str
    extension: str


@dataclass(frozen=True)
class Format:
    name: str
    help: str
    read: Callable[[bytes, ReadContext], Parsed] | None = None
    extensions: tuple[str, ...] = field(default_factory=tuple)
    write: Writer | None = None
    # The records that share one id space: a partner's row id is the same from CSV or
    # XLSX (empty: the format's own name).
    id_space: str = ""
    # The ``Parsed.source`` values the reader gives, where they differ from the name.
    sources: tuple[str, ...] = field(default_factory=tuple)
    # Writes any table (the list exports of pages that name nobody), besides persons.
    sheet: SheetWriter | None = None

    def __post_init__(self) -> None:
        # A name goes into URLs, command names and a stored export's ``format`` (10 long).
        if not NAME.fullmatch(self.name):
            raise ValueError(f"a format's name is 1-10 of a-z, 0-9 and -, not {self.name!r}")


BUILT_IN = (
    "corridor.formats.person_table",
    "corridor.formats.pfif",
    "corridor.formats.kobo",
    "corridor.formats.jsonl",
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


def writable() -> tuple[Format, ...]:
    """The formats persons can be exported in, in registration order: the list the bulk
    export (``POST /api/exports``) and the CLI's ``corridor export`` commands offer."""
    return tuple(fmt for fmt in formats().values() if fmt.write is not None)


def writer(name: str) -> Writer:
    """The writer of a format; KeyError for a format that cannot be written."""
    fmt = formats()[name]
    if fmt.write is None:
        raise KeyError(name)
    return fmt.write


def sheets() -> tuple[Format, ...]:
    """The formats any table can be written in (a list that names nobody, such as the
    manifests), in registration order."""
    return tuple(fmt for fmt in formats().values() if fmt.sheet is not None)


def sheet_writer(name: str) -> SheetWriter:
    """The table writer of a format; KeyError for a format that writes no tables."""
    fmt = formats()[name]
    if fmt.sheet is None:
        raise KeyError(name)
    return fmt.sheet


def id_space(source: str) -> str:
    """The id space of the records a reader gave as ``source`` (a row id from a CSV and
    from an XLSX of the same partner table is one record)."""
    for fmt in formats().values():
        if source == fmt.name or source in fmt.sources:
            return fmt.id_space or fmt.name
    return source
