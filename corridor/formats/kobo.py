"""Registration submissions from KoboToolbox and ODK Central exports, through a mapping.

Three shapes of the same data come in:

- Kobo XLSX: the first sheet holds submissions (``_uuid``, ``_index``); each repeat has
  its own sheet (name cut to 31 characters) whose rows point back with ``_parent_index``
  and ``_submission__uuid``.
- Kobo CSV: ``;``-separated, fully quoted, group paths joined with ``/`` (or ``.``);
  repeats are not in it.
- ODK Central CSV zip: ``<form>.csv`` plus ``<form>-<repeat>.csv``, group paths joined with
  ``-``, repeats linked by ``PARENT_KEY`` to the submission's ``KEY``.

Column names are read as paths whatever the separator, and matched to the mapping by
name (column order changes between form versions): the whole path first, else the last
part when only one column ends so. A submission with repeat rows is a household (the
submission's fields are the head); its uuid is its id, so importing it again changes
nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

from corridor.formats.records import Issue, Parsed, Record, UnreadableFile, decode_text
from corridor.formats.registry import Format, ReadContext

_SEPARATORS = re.compile(r"[/.:-]")
PERSON_TARGETS = {
    "given_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "given_name_original",
    "father_name_original",
    "grandfather_name_original",
    "family_name_original",
    "kunya",
    "mother_name",
    "alternate_names",
    "sex",
    "birth_date",
    "estimated_age",
    "nationality",
    "origin_pcode",
    "origin_locality",
    "phone",
    "languages",
    "note",
}
VULNERABILITY_FLAGS = {
    "pregnant_lactating",
    "serious_medical_condition",
    "injury",
    "elderly_alone",
    "oedema",
}
VULNERABILITY_TARGETS = {"uasc", "muac_mm", *VULNERABILITY_FLAGS} | {
    f"washington_group.{d}"
    for d in ("seeing", "hearing", "walking", "remembering", "self_care", "communicating")
}
SUBMISSION_TARGETS = {"site_id", "registered_at", "consent.tracing"}
DOCUMENT_TYPES = {
    "national_id",
    "passport",
    "family_book",
    "birth_certificate",
    "residence_card",
    "other",
}
TRUE = {"1", "yes", "true", "y", "oui", "نعم"}
FALSE = {"0", "no", "false", "n", "non", "لا"}
UUID_COLUMNS = ("_uuid", "meta/instanceid", "instanceid", "key", "_submission__uuid")


def path(name: str) -> str:
    """A column name as a path whatever the separator: ``grp-head-given_name`` and
    ``grp.head/given_name`` both give ``grp/head/given_name``.

    >>> path("members.age")
    'members/age'
    """
    return _SEPARATORS.sub("/", name.strip()).lower()


@dataclass
class Mapping_:
    """A mapping file: form field -> Corridor field, for submissions and repeat members."""

    submission: dict[str, str]
    member: dict[str, str] = field(default_factory=dict)
    repeat: str | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str) -> Mapping_:
        raw = json.loads(text)
        problems = []
        for section, extra in (("submission", SUBMISSION_TARGETS), ("member", {"relationship"})):
            for form_field, target in raw.get(section, {}).items():
                if not _known_target(target, extra):
                    problems.append(f"{section}: {form_field} -> unknown Corridor field {target!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return cls(
            submission={path(k): v for k, v in raw.get("submission", {}).items()},
            member={path(k): v for k, v in raw.get("member", {}).items()},
            repeat=raw.get("repeat"),
            values={
                k: {str(a).lower(): b for a, b in v.items()}
                for k, v in raw.get("values", {}).items()
            },
        )

    @classmethod
    def default(cls) -> Mapping_:
        """The mapping of Corridor's own registration form (``corridor form xlsform``)."""
        text = resources.files("corridor.formats").joinpath("data/registration_mapping.json")
        return cls.load(text.read_text(encoding="utf-8"))


def _known_target(target: str, extra: set[str]) -> bool:
    if target in PERSON_TARGETS or target in extra:
        return True
    if target.startswith("vulnerabilities."):
        return target.removeprefix("vulnerabilities.") in VULNERABILITY_TARGETS
    if target.startswith("documents."):
        return target.removeprefix("documents.") in DOCUMENT_TYPES
    return False


@dataclass
class Submission:
    line: int
    uuid: str | None
    fields: dict[str, str]
    members: list[tuple[int, dict[str, str]]] = field(default_factory=list)


# -- reading the three shapes ---------------------------------------------------------------


def read_kobo_xlsx(data: bytes, repeat: str | None) -> list[Submission]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise UnreadableFile(f"not an XLSX workbook ({type(exc).__name__})") from exc
    sheets = [(ws.title, list(_sheet_rows(ws))) for ws in book.worksheets]
    book.close()
    if not sheets:
        raise UnreadableFile("the workbook has no sheet")
    _, main = sheets[0]
    subs = _submissions(main)
    if repeat:
        wanted = repeat[:31].lower()
        for title, rows in sheets[1:]:
            if title.lower() == wanted:
                _attach_by_index(subs, rows)
    return subs


def _sheet_rows(ws: Any) -> Iterator[list[str]]:
    for row in ws.iter_rows(values_only=True):
        yield [_cell(v) for v in row]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _table(rows: list[list[str]]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if not rows:
        return [], []
    header = [path(h) for h in rows[0]]
    body = []
    for n, cells in enumerate(rows[1:], start=2):
        if any(c.strip() for c in cells):
            body.append((n, {h: c.strip() for h, c in zip(header, cells, strict=False) if h}))
    return header, body


def _uuid(row: Mapping[str, str]) -> str | None:
    for column in UUID_COLUMNS:
        if row.get(column):
            return row[column].removeprefix("uuid:")
    return None


def _submissions(rows: list[list[str]]) -> list[Submission]:
    _, body = _table(rows)
    return [Submission(line, _uuid(row), row) for line, row in body]


def _attach_by_index(subs: list[Submission], rows: list[list[str]]) -> None:
    by_index = {s.fields.get("_index"): s for s in subs}
    by_uuid = {s.uuid: s for s in subs if s.uuid}
    _, body = _table(rows)
    for line, row in body:
        parent = by_uuid.get(row.get("_submission__uuid", "")) or by_index.get(
            row.get("_parent_index")
        )
        if parent is not None:
            parent.members.append((line, row))


def read_kobo_csv(data: bytes) -> list[Submission]:
    text = decode_text(data)
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return _submissions(rows)


def read_odk_zip(data: bytes, repeat: str | None) -> list[Submission]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("not a zip file") from exc
    names = sorted(n for n in archive.namelist() if n.lower().endswith(".csv"))
    if not names:
        raise UnreadableFile("no CSV file in the zip")
    stems = {PurePosixPath(n).stem: n for n in names}
    main_name = min(stems, key=len)
    subs = _submissions(_csv_rows(archive.read(stems[main_name])))
    if repeat:
        repeat_file = stems.get(f"{main_name}-{repeat}")
        if repeat_file:
            by_key = {s.fields.get("key"): s for s in subs}
            _, body = _table(_csv_rows(archive.read(repeat_file)))
            for line, row in body:
                parent = by_key.get(row.get("parent_key"))
                if parent is not None:
                    parent.members.append((line, row))
    return subs


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(decode_text(data), newline="")))


# -- mapping submissions to records ---------------------------------------------------------


def records(subs: list[Submission], mapping: Mapping_, source: str) -> Parsed:
    parsed = Parsed(source)
    seen: dict[str, int] = {}
    for sub in subs:
        if not sub.uuid:
            parsed.issues.append(Issue(sub.line, "_uuid", "the submission has no uuid"))
            continue
        if sub.uuid in seen:
            parsed.issues.append(
                Issue(sub.line, "_uuid", f"duplicate submission, first on line {seen[sub.uuid]}")
            )
            continue
        seen[sub.uuid] = sub.line
        parsed.records.append(_record(sub, mapping, parsed.issues))
    return parsed


def _lookup(row: Mapping[str, str], form_path: str) -> str | None:
    if form_path in row:
        return row[form_path]
    last = form_path.rsplit("/", 1)[-1]
    hits = [k for k in row if k.rsplit("/", 1)[-1] == last]
    return row[hits[0]] if len(hits) == 1 else None


def _record(sub: Submission, mapping: Mapping_, issues: list[Issue]) -> Record:
    person: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    _apply(sub.fields, mapping.submission, mapping, person, extra, sub.line, "", issues)
    members = []
    for i, (_, row) in enumerate(sub.members):
        member: dict[str, Any] = {}
        _apply(row, mapping.member, mapping, member, {}, sub.line, f"members[{i}].", issues)
        members.append(member)
    registered_at = None
    if extra.get("registered_at"):
        try:
            registered_at = datetime.fromisoformat(extra["registered_at"])
            if registered_at.tzinfo is None:
                registered_at = registered_at.replace(tzinfo=UTC)
        except ValueError:
            issues.append(Issue(sub.line, "registered_at", "not a date"))
    return Record(
        line=sub.line,
        person=person,
        key=sub.uuid,
        members=members,
        site_id=extra.get("site_id"),
        consent_tracing=extra.get("consent.tracing"),
        registered_at=registered_at,
    )


def _apply(
    row: Mapping[str, str],
    section: Mapping[str, str],
    mapping: Mapping_,
    person: dict[str, Any],
    extra: dict[str, Any],
    line: int,
    prefix: str,
    issues: list[Issue],
) -> None:
    for form_path, target in section.items():
        raw = _lookup(row, form_path)
        if raw is None or raw == "":
            continue
        table = mapping.values.get(target, {})
        value: Any = table.get(raw.lower(), raw)
        try:
            value = _convert(target, value)
        except ValueError as exc:
            issues.append(Issue(line, f"{prefix}{target}", f"{exc} (form field {form_path})"))
            continue
        if target in SUBMISSION_TARGETS:
            extra[target] = value
        elif target.startswith("vulnerabilities."):
            _set(
                person.setdefault("vulnerabilities", {}),
                target.removeprefix("vulnerabilities."),
                value,
            )
        elif target.startswith("documents."):
            person.setdefault("documents", []).append(
                {"type": target.removeprefix("documents."), "number": str(value)}
            )
        else:
            person[target] = value


def _set(target: dict[str, Any], dotted: str, value: Any) -> None:
    head, _, rest = dotted.partition(".")
    if rest:
        _set(target.setdefault(head, {}), rest, value)
    else:
        target[head] = value


def _convert(target: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = target.rsplit(".", 1)[-1]
    if target == "consent.tracing" or name in VULNERABILITY_FLAGS:
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise ValueError(f"yes or no (got {value!r})")
    if name in ("estimated_age", "muac_mm") or target.startswith(
        "vulnerabilities.washington_group"
    ):
        try:
            return int(float(value))
        except ValueError:
            raise ValueError(f"a number (got {value!r})") from None
    if name in ("alternate_names", "languages"):
        return value.split()
    if name == "birth_date":
        return value[:10]
    return value


# -- the registry entry -----------------------------------------------------------------------


def _read(data: bytes, context: ReadContext) -> Parsed:
    mapping = context.mapping if isinstance(context.mapping, Mapping_) else Mapping_.default()
    name = context.filename.lower()
    if name.endswith(".zip") or data[:2] == b"PK" and not name.endswith(".xlsx"):
        if not name.endswith(".zip") and _is_xlsx(data):
            return records(read_kobo_xlsx(data, mapping.repeat), mapping, "kobo")
        return records(read_odk_zip(data, mapping.repeat), mapping, "odk")
    if name.endswith(".xlsx"):
        return records(read_kobo_xlsx(data, mapping.repeat), mapping, "kobo")
    return records(read_kobo_csv(data), mapping, "kobo")


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
    ),
)
