"""Mapping form fields to Corridor fields, and submissions to import records.

A mapping file is JSON: ``submission`` and ``member`` (form field -> Corridor field),
``repeat`` (the repeat that holds household members) and ``values`` (a form's choice ->
Corridor's value, per Corridor field; each choice of a select_multiple answer mapped to
``languages``). Form fields are paths whatever the export's separator (``/``, ``.``,
``-``, ``:``). An answer such as ``n/a`` (``NO_ANSWER``) is read as no answer, with a
warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from corridor.domain.names import NAME_PARTS
from corridor.formats.records import Issue, Parsed, Record
from corridor.text import N_

_SEPARATORS = re.compile(r"[/.:-]")
PERSON_TARGETS = {
    *NAME_PARTS,
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
# What enumerators type for "no answer" in a text field: read as an empty answer (with a
# warning), never as a name or a document number. A form's own choice of that name is
# a choice (``values`` maps it).
NO_ANSWER = {
    "n/a",
    "n.a.",
    "n.a",
    "none",
    "null",
    "unknown",
    "not applicable",
    "-",
    "--",
    "\u2014",
    ".",
    "?",
    "لا يوجد",
    "غير معروف",
    "غير متوفر",
}
FALSE = {"0", "no", "false", "n", "non", "لا"}


def path(name: str) -> str:
    """A column name as a path whatever the separator: ``grp-head-given_name`` and
    ``grp.head/given_name`` both give ``grp/head/given_name``.

    >>> path("members.age")
    'members/age'
    """
    return _SEPARATORS.sub("/", name.strip()).lower()


@dataclass
class KoboMapping:
    """A mapping file: form field -> Corridor field, for submissions and repeat members."""

    submission: dict[str, str]
    member: dict[str, str] = field(default_factory=dict)
    repeat: str | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str) -> KoboMapping:
        raw = json.loads(text)
        problems = _shape_problems(raw)
        if problems:  # the sections below cannot be read
            raise ValueError("; ".join(problems))
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
    def default(cls) -> KoboMapping:
        """The mapping of Corridor's own registration form (``corridor form xlsform``)."""
        text = resources.files("corridor.formats").joinpath("data/registration_mapping.json")
        return cls.load(text.read_text(encoding="utf-8"))


def _shape_problems(raw: Any) -> list[str]:
    """What is not of the mapping file's shape: an object whose ``submission`` and
    ``member`` map form fields to Corridor fields (text to text), ``repeat`` names the
    repeat (text or null) and ``values`` maps form fields to objects (choice to value)."""
    if not isinstance(raw, dict):
        return ["a mapping file is a JSON object (submission, member, repeat, values)"]
    problems = []
    for section in ("submission", "member"):
        given = raw.get(section, {})
        if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in given.items()
        ):
            problems.append(f"{section}: an object of form field -> Corridor field (text)")
    if raw.get("repeat") is not None and not isinstance(raw["repeat"], str):
        problems.append("repeat: the name of the members' repeat (text)")
    values = raw.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        problems.append("values: an object of form field -> {choice: Corridor value}")
    return problems


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
    """One submission: its row, uuid, fields by path and its repeat rows."""

    line: int
    uuid: str | None
    fields: dict[str, str]
    members: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def column(header: Sequence[str], form_path: str) -> str | None:
    """The column (a path of ``header``) that a mapped form field reads: its whole
    path, else the only column whose last part is the field's (an export without group
    names in its headers); None when no column, or several, end so (``unread``).

    >>> column(["head/given_name", "site_id"], "given_name")
    'head/given_name'
    >>> column(["head/name", "spouse/name"], "grp/name") is None
    True
    """
    if form_path in header:
        return form_path
    hits = _ending(header, form_path)
    return hits[0] if len(hits) == 1 else None


def _ending(header: Sequence[str], form_path: str) -> list[str]:
    last = form_path.rsplit("/", 1)[-1]
    return [h for h in header if h and h.rsplit("/", 1)[-1] == last]


def unread(header: Sequence[str], section: Mapping[str, str], table: str) -> list[Issue]:
    """The mapped form fields of ``section`` that no column of ``header`` (paths) holds,
    or that several columns may hold: the file as a whole is refused (a field left out
    would leave a value of every person out, unsaid)."""
    issues = []
    for form_path in section:
        found = column(header, form_path)
        places = [n for n, h in enumerate(header, start=1) if found and h == found]
        if len(places) > 1:
            reason = N_(
                "{table} has the column {column} twice (columns {columns}): which one the "
                "mapping reads cannot be known",
                table=table,
                column=found,
                columns=" and ".join(map(str, places)),
            )
            issues.append(Issue(None, form_path, reason))
        if found is not None:
            continue
        hits = _ending(header, form_path)
        reason = (
            N_(
                "{table} has {count} columns that may be the mapping's {column} ({columns}): "
                "give the mapping its whole path",
                table=table,
                count=len(hits),
                column=form_path,
                columns=", ".join(hits),
            )
            if hits
            else N_(
                "{table} has no column {column}, which the mapping reads: check the mapping "
                "(or export with the form's field names, not its labels)",
                table=table,
                column=form_path,
            )
        )
        issues.append(Issue(None, form_path, reason))
    return issues


def records(
    subs: list[Submission], mapping: KoboMapping, source: str, issues: list[Issue] | None = None
) -> Parsed:
    parsed = Parsed(source, issues=list(issues or []))
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
    found = column(list(row), form_path)
    return None if found is None else row[found]


def _record(sub: Submission, mapping: KoboMapping, issues: list[Issue]) -> Record:
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
        key_field="_uuid",
        members=members,
        site_id=extra.get("site_id"),
        consent_tracing=extra.get("consent.tracing"),
        registered_at=registered_at,
        resent_conflicts=True,
    )


def _apply(
    row: Mapping[str, str],
    section: Mapping[str, str],
    mapping: KoboMapping,
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
        if raw.lower() not in table and raw.strip().lower() in NO_ANSWER:
            reason = N_(
                "{value} is read as no answer (form field {field})",
                value=repr(raw),
                field=form_path,
            )
            issues.append(Issue(line, f"{prefix}{target}", reason, fatal=False))
            continue
        value: Any = table.get(raw.lower(), raw)
        if target == "languages" and raw.lower() not in table:
            # A select_multiple answer: its choices, space-separated, each mapped.
            value = [v for v in (table.get(c.lower(), c) for c in raw.split()) if v]
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
