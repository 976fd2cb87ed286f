"""Registration submissions from KoboToolbox and ODK Central exports, through a mapping.

Three shapes of the same data come in:

- Kobo XLSX: the first sheet holds submissions (``_uuid``, ``_index``); each repeat has
  its own sheet (a name of more than 31 characters cut to 28 and ``...``; a second one
  cut the same gets `` (1)``), written only when some submission has rows in it, whose
  rows point back with ``_parent_index`` and ``_submission__uuid``.
- Kobo CSV: ``;``-separated, fully quoted, group paths joined with ``/`` (or ``.``);
  repeats are not in it.
- ODK Central CSV zip: ``<form>.csv`` plus ``<form>-<repeat>.csv`` (``~1``, ``~2`` for
  repeats of one name), group paths joined with ``-``, repeats linked by ``PARENT_KEY``
  to the submission's ``KEY``.

Column names are read as paths whatever the separator, and matched to the mapping by
name (column order changes between form versions): the whole path first, else the last
part when only one column ends so; a mapped field no column holds refuses the file.
A sheet is read as it shows (``_xlsx.ShownRows``, as the person table reads one). A
submission with repeat rows is a household (the submission's fields are the head); a
repeat row that names no submission refuses the file. Its id is the submission's most
stable uuid (``UUID_COLUMNS``), so importing it again, edited or not, registers nobody
twice; a submission rejected in its review is not imported.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from corridor.formats import _csv, _xlsx
from corridor.formats._zip import MAX_UNPACKED, TOO_LARGE, check_unpacked
from corridor.formats.cells import rounded
from corridor.formats.kobo_mapping import KoboMapping, Submission, column, path, records, unread
from corridor.formats.person_table import open_workbook
from corridor.formats.records import Issue, Parsed, UnreadableFile, decode_text
from corridor.formats.registry import Format, ReadContext
from corridor.text import N_

__all__ = ["FORMATS", "KoboMapping", "path", "read_kobo_csv", "read_kobo_xlsx", "read_odk_zip"]

# The columns naming a submission, the most stable first: Kobo's ``meta/rootUuid`` (kept
# when a submission is edited, where ``_uuid`` changes), ``_uuid``, ODK Central's ``KEY``
# (the first instance id, kept over edits, where ``meta-instanceID`` changes), then the
# instance id of files that have nothing else.
UUID_COLUMNS = ("meta/rootuuid", "_uuid", "key", "meta/instanceid", "instanceid")
# The columns linking a repeat row to its submission, and a submission's review.
LINKS = ("_index", "_parent_index", "_submission__uuid", "_parent_table_name", "parent_key")
REVIEW = ("_validation_status", "reviewstate")  # Kobo's, ODK Central's
REJECTED = {"validation_status_not_approved", "not approved", "rejected"}
HELD = {"validation_status_on_hold", "on hold", "hasissues"}
# Kobo's sheet names: at most 31 characters, none of these.
_SHEET_LIMIT = 31
_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))
_COUNTED = re.compile(r"^(.*)\.\.\. \([0-9]+\)$")


@dataclass
class Table:
    """One sheet or CSV file of an export: how a message names it, its header as
    written and as paths, its rows (line, cells by path), and for a sheet what it
    shows beyond its values."""

    name: str
    titles: list[str]
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    shown: _xlsx.ShownRows | None = None

    @classmethod
    def read(
        cls, name: str, lines: Iterable[tuple[int, list[str]]], shown: Any = None
    ) -> Table:
        titles: list[str] = []
        header: list[str] = []
        rows = []
        for line, cells in lines:
            if line == 1:
                titles = [c.strip() for c in cells]
                header = [path(t) for t in titles]
            elif any(c.strip() for c in cells):
                cut = {h: c.strip() for h, c in zip(header, cells, strict=False) if h}
                rows.append((line, cut))
        return cls(name, titles, header, rows, shown)

    def title(self, column_path: str) -> str:
        """A column's name as the file writes it."""
        return self.titles[self.header.index(column_path)]


@dataclass
class Export:
    """What an export holds: its submissions' table, the mapping's repeat's table, the
    problems of its shape, and what to say when the mapping names a repeat the export
    does not hold (said only when it holds submissions)."""

    source: str
    main: Table
    repeat: Table | None = None
    issues: list[Issue] = field(default_factory=list)
    no_repeat: Issue | None = None
    # The titles (lower case) of a workbook's other sheets: the other repeats.
    repeats: set[str] = field(default_factory=set)


# -- reading the three shapes ---------------------------------------------------------------


def read_kobo_xlsx(data: bytes, repeat: str | None) -> Export:
    book = open_workbook(data)
    try:
        if not book.worksheets:
            raise UnreadableFile("the workbook has no sheet")
        first, *others = book.worksheets
        export = Export("kobo", _sheet(first), repeats={ws.title.lower() for ws in others})
        chosen = _repeat_sheets(others, repeat) if repeat else []
        if len(chosen) == 1:
            export.repeat = _sheet(chosen[0])
        elif chosen:
            reason = N_(
                "sheets {sheets} may each hold the repeat {repeat} (Kobo cuts a sheet's name "
                "to 31 characters): name the repeat's sheet in the mapping's repeat",
                sheets=", ".join(repr(ws.title) for ws in chosen),
                repeat=repr(repeat),
            )
            export.issues.append(Issue(None, "repeat", reason))
        elif repeat:
            reason = N_(
                "no sheet holds the repeat {repeat} that the mapping names (sheets: {sheets}): "
                "the submissions are read without members (Kobo writes a repeat's sheet only "
                "when a submission has rows in it)",
                repeat=repr(repeat),
                sheets=", ".join(repr(ws.title) for ws in book.worksheets),
            )
            export.no_repeat = Issue(None, "repeat", reason, fatal=False)
        unread_sheets = [ws.title for ws in others if ws not in chosen[:1] and _holds_rows(ws)]
        if unread_sheets and len(chosen) < 2:
            names = ", ".join(map(repr, unread_sheets))
            reason = (
                N_(
                    "only the repeat {repeat} is read: the rows of these sheets are not "
                    "imported: {sheets}",
                    repeat=repr(repeat),
                    sheets=names,
                )
                if repeat
                else N_(
                    "the mapping names no repeat: the rows of these sheets are not imported: "
                    "{sheets}",
                    sheets=names,
                )
            )
            export.issues.append(Issue(None, None, reason, fatal=False))
    finally:
        book.close()
    return export


def _sheet(ws: Any) -> Table:
    shown = _xlsx.ShownRows(ws)
    return Table.read(N_("sheet {sheet}", sheet=repr(ws.title)), shown, shown)


def sheet_title(name: str) -> str:
    """The name Kobo gives the sheet of a section named ``name``: the characters a
    sheet's name cannot hold as ``_`` (an apostrophe at either end too), and cut to
    31 characters with ``...``.

    >>> sheet_title("members")
    'members'
    >>> sheet_title("household_members_information_list")
    'household_members_informatio...'
    """
    title = name.translate(_FORBIDDEN)
    if title.startswith("'"):
        title = "_" + title[1:]
    if title.endswith("'"):
        title = title[:-1] + "_"
    return title if len(title) <= _SHEET_LIMIT else title[: _SHEET_LIMIT - 3] + "..."


def _may_hold(title: str, repeat: str) -> bool:
    """Whether a sheet so titled may hold the repeat (Kobo numbers a second name cut
    the same: ``household_members_inform... (1)``); case does not matter."""
    title = title.lower()
    if title in (repeat.lower(), sheet_title(repeat).lower()):
        return True
    counted = _COUNTED.match(title)
    if counted is None:
        return False
    return repeat.translate(_FORBIDDEN).lower().startswith(counted.group(1))


def _repeat_sheets(sheets: list[Any], repeat: str) -> list[Any]:
    """The sheets that may hold the repeat; of several, those whose columns name it
    (``members/m_given_name``), when that leaves one."""
    found = [ws for ws in sheets if _may_hold(ws.title, repeat)]
    if len(found) < 2:
        return found
    named = [
        ws
        for ws in found
        if any(
            repeat.lower() in path(str(h or "")).split("/")
            for h in next(ws.iter_rows(max_row=1, values_only=True), ())
        )
    ]
    return named if len(named) == 1 else found


def _holds_rows(ws: Any) -> bool:
    return any(
        any(v not in (None, "") for v in row) for row in ws.iter_rows(min_row=2, values_only=True)
    )


def read_kobo_csv(data: bytes, repeat: str | None = None) -> Export:
    text = decode_text(data)
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    export = Export("kobo", Table.read(N_("the file"), _csv.rows(text, delimiter)))
    if repeat:
        reason = N_(
            "a CSV file holds no repeat: the members of the repeat {repeat} are not in it; "
            "import Kobo's XLSX export or ODK Central's zip (or use a mapping without "
            "a repeat, to register each submission as one person)",
            repeat=repr(repeat),
        )
        export.no_repeat = Issue(None, "repeat", reason)
    return export


def read_odk_zip(data: bytes, repeat: str | None) -> Export:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("not a zip file") from exc
    names = sorted(n for n in archive.namelist() if n.lower().endswith(".csv"))
    if not names:
        raise UnreadableFile("no CSV file in the zip")
    check_unpacked(archive, names)
    stems = {PurePosixPath(n).stem: n for n in names}
    main_name = min(stems, key=len)
    export = Export("odk", _csv_table(archive, stems[main_name]))
    if not repeat:
        return export
    wanted = f"{main_name}-{repeat}".lower()
    found = [
        name
        for stem, name in stems.items()
        if stem.lower() == wanted or re.fullmatch(re.escape(wanted) + r"~[0-9]+", stem.lower())
    ]
    if len(found) == 1:
        export.repeat = _csv_table(archive, found[0])
    elif found:
        reason = N_(
            "files {files} each hold a repeat named {repeat}: which one holds the members "
            "cannot be known",
            files=", ".join(map(repr, found)),
            repeat=repr(repeat),
        )
        export.issues.append(Issue(None, "repeat", reason))
    else:
        reason = N_(
            "the zip has no file for the repeat {repeat} that the mapping names ({file}; "
            "files: {files})",
            repeat=repr(repeat),
            file=repr(f"{main_name}-{repeat}.csv"),
            files=", ".join(map(repr, names)),
        )
        export.no_repeat = Issue(None, "repeat", reason)
    return export


def _csv_table(archive: zipfile.ZipFile, name: str) -> Table:
    text = decode_text(_unpack(archive, name))
    return Table.read(N_("file {file}", file=repr(name)), _csv.rows(text))


def _unpack(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as member:
            data = member.read(MAX_UNPACKED + 1)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:  # corrupt, or not its stated size
        raise UnreadableFile(f"{name} in the zip cannot be unpacked ({exc})") from exc
    if len(data) > MAX_UNPACKED:
        raise UnreadableFile(TOO_LARGE)
    return data


# -- submissions, their members and what the sheets hide ------------------------------------


def parse(export: Export, mapping: KoboMapping) -> Parsed:
    """The records of an export through a mapping, with every problem of its shape."""
    main, repeat = export.main, export.repeat
    issues = list(export.issues)
    misfit = unread(main.header, mapping.submission, main.name)
    if mapping.repeat and repeat is not None:
        misfit += unread(repeat.header, mapping.member, repeat.name)
    if misfit:  # the mapping does not fit the file: its records would say nothing true
        return Parsed(export.source, issues=issues + misfit)
    subs = [Submission(line, _uuid(row), row) for line, row in main.rows]
    parents: dict[int, Submission] = {}
    if mapping.repeat and repeat is not None:
        parents = _link(export, subs, issues)
    elif mapping.repeat and mapping.member and subs and export.no_repeat:
        issues.append(export.no_repeat)
    kept = [sub for sub in subs if _reviewed(sub, export.source, issues)]
    # What is not imported (rejected in its review) holds no problem.
    dropped = {sub.line for sub in subs} - {sub.line for sub in kept}
    shown = _shown(main, mapping.submission, lambda line: line, None)
    if mapping.repeat and repeat is not None:
        at = {line: sub.line for line, sub in parents.items()}
        shown += _shown(repeat, mapping.member, at.get, repeat.name)
    issues += [i for i in shown if i.line not in dropped]
    if any(i.fatal and i.line == 1 for i in shown):
        kept = []  # the header itself cannot be read as it shows
    return records(kept, mapping, export.source, issues)


def _uuid(row: Mapping[str, str]) -> str | None:
    for name in UUID_COLUMNS:
        if row.get(name):
            return row[name].removeprefix("uuid:")
    return None


def _link(export: Export, subs: list[Submission], issues: list[Issue]) -> dict[int, Submission]:
    """Each repeat row to its submission (as a member); by repeat row, the submission.
    A row naming no submission of the file, or two, is an error on the file as a whole
    (no submission can be skipped in its place)."""
    table = export.repeat
    assert table is not None
    odk = "parent_key" in table.header
    by_index: dict[str, Submission] = {}
    for s in subs:  # a row copied by hand repeats an index: its first row holds it
        if s.fields.get("_index"):
            by_index.setdefault(s.fields["_index"], s)
    by_uuid: dict[str, list[Submission]] = {}
    for s in subs:
        for name in ("_uuid", "key"):
            if s.fields.get(name):
                by_uuid.setdefault(s.fields[name], []).append(s)
    parents: dict[int, Submission] = {}
    for line, row in table.rows:
        if odk:  # a nested repeat's row names its parent row: <submission key>/<repeat>[n]
            parent, wrong = _one(by_uuid, row.get("parent_key", "").split("/", 1)[0]), "parent_key"
        else:
            parent, wrong = _kobo_parent(row, export.repeats, by_index, by_uuid)
        if parent is not None:
            parent.members.append((line, row))
            parents[line] = parent
            continue
        where = N_("{table} row {row}", table=table.name, row=line)
        if wrong == "both":
            reason = N_(
                "{where}: _parent_index {index} and _submission__uuid {uuid} name two "
                "different submissions",
                where=where,
                index=repr(row.get("_parent_index", "")),
                uuid=repr(row.get("_submission__uuid", "")),
            )
            wrong = "_parent_index"
        else:
            reason = N_(
                "{where}: {column} {value} names no submission of the file",
                where=where,
                column=table.title(wrong) if wrong in table.header else wrong,
                value=repr(row.get(wrong, "")),
            )
        issues.append(Issue(None, table.title(wrong) if wrong in table.header else wrong, reason))
    return parents


def _one(by_uuid: Mapping[str, list[Submission]], uuid: str) -> Submission | None:
    found = by_uuid.get(uuid) if uuid else None
    return found[0] if found else None


def _kobo_parent(
    row: Mapping[str, str],
    repeats: set[str],
    by_index: Mapping[str, Submission],
    by_uuid: Mapping[str, list[Submission]],
) -> tuple[Submission | None, str]:
    """A Kobo repeat row's submission, or None and the column at fault ("both": the
    two columns name two submissions). ``_parent_index`` is the submission's
    ``_index`` unless the row's parent is another repeat (``_parent_table_name`` names
    one of the workbook's other sheets, ``repeats``)."""
    index, uuid = row.get("_parent_index", ""), row.get("_submission__uuid", "")
    parent = row.get("_parent_table_name", "")
    if parent and sheet_title(parent).lower() in repeats:
        index = ""  # a nested repeat: the index is its parent row's
    by_i = by_index.get(index) if index else None
    if index and by_i is None:
        return None, "_parent_index"
    if uuid and uuid not in by_uuid:
        return None, "_submission__uuid"
    if by_i is not None:
        if uuid and by_i not in by_uuid[uuid]:
            return None, "both"
        return by_i, ""
    if uuid:
        return by_uuid[uuid][0], ""
    return None, "_parent_index" if "_parent_index" in row else "_submission__uuid"


def _shown(
    table: Table,
    section: Mapping[str, str],
    line_of: Callable[[int], int | None],
    name: str | None,
) -> list[Issue]:
    """What a table shows that its values hide (a sheet: ``_xlsx.ShownRows``) and ids
    a spreadsheet rounded, in the columns the import reads: on the line of the row's
    submission (``line_of``; None: the file as a whole), the sheet named (``name``)
    when it is a repeat's."""
    header = table.header
    read = {column(header, form_path) for form_path in section} | {
        h for h in header if h in UUID_COLUMNS or h in LINKS or h in REVIEW
    }
    numbers = {n for n, h in enumerate(header, start=1) if h and h in read}

    def issue(row: int, col: int | None, reason: str, fatal: bool) -> Issue:
        title = table.titles[col - 1] if col else None
        if name is not None:
            reason = N_("{table}: {reason}", table=name, reason=reason)
        line = line_of(row) if row > 1 else (1 if name is None else None)
        return Issue(line, title, reason, fatal)

    out = []
    if table.shown is not None:
        out += [issue(f.row, f.column, f.reason, f.fatal) for f in table.shown.findings(numbers)]
    for line, row in table.rows:
        for n in sorted(numbers):
            if reason := rounded(row.get(header[n - 1], "")):
                out.append(issue(line, n, reason, True))
    return out


def _reviewed(sub: Submission, source: str, issues: list[Issue]) -> bool:
    """Whether to import the submission: not when rejected in its review (Kobo's
    validation status, ODK Central's review state), said in a warning, nor when the
    export holds none of its data (ODK Central's ``Status``: not decrypted), an error
    on its line."""
    for name in REVIEW:
        status = sub.fields.get(name, "")
        if status.lower() in REJECTED:
            reason = N_(
                "submission {uuid} is rejected in its review ({status}): it is not imported",
                uuid=sub.uuid or "",
                status=status,
            )
            issues.append(Issue(sub.line, name, reason, fatal=False))
            return False
        if status.lower() in HELD:
            reason = N_(
                "submission {uuid} is {status} in its review: it is imported like the others",
                uuid=sub.uuid or "",
                status=status,
            )
            issues.append(Issue(sub.line, name, reason, fatal=False))
    if source == "odk" and sub.fields.get("status"):
        reason = N_(
            "the export holds none of this submission's data ({status})",
            status=sub.fields["status"],
        )
        issues.append(Issue(sub.line, "status", reason))
        return False
    return True


# -- the registry entry -----------------------------------------------------------------------


def _read(data: bytes, context: ReadContext) -> Parsed:
    mapping = context.mapping if isinstance(context.mapping, KoboMapping) else KoboMapping.default()
    name = context.filename.lower()
    repeat = mapping.repeat
    if name.endswith(".zip") or data[:2] == b"PK" and not name.endswith(".xlsx"):
        if not name.endswith(".zip") and _is_xlsx(data):
            return parse(read_kobo_xlsx(data, repeat), mapping)
        return parse(read_odk_zip(data, repeat), mapping)
    if name.endswith(".xlsx"):
        return parse(read_kobo_xlsx(data, repeat), mapping)
    return parse(read_kobo_csv(data, repeat), mapping)


def _is_xlsx(data: bytes) -> bool:
    try:
        return "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return False


FORMATS = (
    Format(
        "kobo",
        "KoboToolbox XLSX or CSV export, or ODK Central CSV zip, through a mapping",
        _read,
        (".xlsx", ".csv", ".zip"),
        sources=("odk",),
    ),
)
