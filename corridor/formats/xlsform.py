"""Corridor's own registration form as an XLSForm, for KoboToolbox or ODK Collect.

The form is data (``SURVEY``, ``CHOICES``); its default mapping back into Corridor is
``data/registration_mapping.json`` (a test checks that both name the same fields). A
household is the head (a group) and a repeat of members.
"""

from __future__ import annotations

import io
from typing import Any

FORM_ID = "corridor_registration"
VERSION = "2026112301"
DATE_RE = r"regex(., '^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$')"

_NAMES = (
    ("given_name", "Own name"),
    ("father_name", "Father's name"),
    ("grandfather_name", "Grandfather's name"),
    ("family_name", "Family or tribal name"),
    ("given_name_ar", "Own name (Arabic script)"),
    ("father_name_ar", "Father's name (Arabic script)"),
    ("grandfather_name_ar", "Grandfather's name (Arabic script)"),
    ("family_name_ar", "Family name (Arabic script)"),
)


def _person(prefix: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        ("text", f"{prefix}{n}", label, "", "", "") for n, label in _NAMES
    ]
    rows += [
        ("select_one sex", f"{prefix}sex", "Sex", "yes", "", ""),
        (
            "text",
            f"{prefix}birth_date",
            "Birth date or year (YYYY, YYYY-MM or YYYY-MM-DD)",
            "",
            DATE_RE,
            "",
        ),
        (
            "integer",
            f"{prefix}estimated_age",
            "Estimated age in years, if no birth date",
            "",
            ". >= 0 and . <= 120",
            "",
        ),
        ("text", f"{prefix}nationality", "Nationality (ISO 3166 alpha-3, e.g. SYR)", "", "", ""),
    ]
    return rows


# (type, name, label, required, constraint, relevant)
SURVEY: list[tuple[str, ...]] = [
    ("start", "start", "", "", "", ""),
    ("end", "end", "", "", "", ""),
    ("text", "site_id", "Corridor site id", "yes", "", ""),
    (
        "select_one yes_no",
        "consent_tracing",
        "The family agrees to be found by tracing enquiries",
        "yes",
        "",
        "",
    ),
    ("begin_group", "head", "Head of household", "", "", ""),
    *_person(""),
    ("text", "phone", "Phone number", "", "", ""),
    ("text", "national_id", "National id number", "", "", ""),
    ("end_group", "", "", "", "", ""),
    ("begin_repeat", "members", "Other household members", "", "", ""),
    *_person("m_"),
    ("select_one relationship", "m_relationship", "Relationship to the head", "yes", "", ""),
    (
        "select_one uasc",
        "m_uasc",
        "Unaccompanied or separated child",
        "",
        "",
        "${m_estimated_age} < 18",
    ),
    ("end_repeat", "", "", "", "", ""),
]

CHOICES: list[tuple[str, str, str]] = [
    ("yes_no", "yes", "Yes"),
    ("yes_no", "no", "No"),
    ("sex", "m", "Male"),
    ("sex", "f", "Female"),
    *[
        ("relationship", r, r.replace("_", " ").capitalize())
        for r in (
            "spouse",
            "child",
            "parent",
            "sibling",
            "grandchild",
            "grandparent",
            "other_relative",
        )
    ],
    ("uasc", "none", "No"),
    ("uasc", "unaccompanied", "Unaccompanied"),
    ("uasc", "separated", "Separated"),
]


def workbook() -> bytes:
    """The XLSForm as an XLSX file (survey, choices, settings sheets)."""
    from openpyxl import Workbook

    book = Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label", "required", "constraint", "relevant"])
    for row in SURVEY:
        survey.append(list(row))
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    for choice in CHOICES:
        choices.append(list(choice))
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version"])
    settings.append(["Corridor household registration", FORM_ID, VERSION])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def field_paths() -> set[str]:
    """Every question of the form as a group path (``head/given_name``)."""
    paths = set()
    groups: list[str] = []
    for kind, name, *_ in SURVEY:
        if kind in ("begin_group", "begin_repeat"):
            groups.append(name)
        elif kind in ("end_group", "end_repeat"):
            groups.pop()
        else:
            paths.add("/".join([*groups, name]))
    return paths


# -- reading another team's form ------------------------------------------------------------

# Form field names (last path part, lower case) that usually mean a Corridor field. Only
# a starting point: a person reviews the suggested mapping before using it.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "given_name": ("given_name", "first_name", "firstname", "name", "my_name", "prenom"),
    "father_name": ("father_name", "fathers_name"),
    "grandfather_name": ("grandfather_name",),
    "family_name": ("family_name", "last_name", "surname", "lastname"),
    "mother_name": ("mother_name", "mothers_name"),
    "sex": ("sex", "gender"),
    "estimated_age": ("age", "estimated_age", "age_years"),
    "birth_date": ("birth_date", "date_of_birth", "dob"),
    "nationality": ("nationality",),
    "phone": ("phone", "phone_number", "telephone", "mobile"),
    "relationship": ("relationship", "relation", "relationship_to_head"),
}
_CONTAINERS = ("group", "repeat", "loop")


def read_form(data: bytes) -> dict[str, Any]:
    """The outline of any XLSForm: its questions as group paths, its repeats, its choices.

    Groups and repeats may be written ``begin group`` or ``begin_group``; a ``begin loop``
    counts as a group."""
    from openpyxl import load_workbook

    from corridor.formats.records import UnreadableFile

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise UnreadableFile(f"not an XLSX workbook ({type(exc).__name__})") from exc
    if "survey" not in book.sheetnames:
        raise UnreadableFile("no survey sheet: not an XLSForm")
    rows = list(book["survey"].iter_rows(values_only=True))
    header = [str(h or "").strip().lower() for h in rows[0]] if rows else []
    if "type" not in header or "name" not in header:
        raise UnreadableFile("the survey sheet has no type and name columns")
    t, n = header.index("type"), header.index("name")
    fields: list[str] = []
    repeats: list[str] = []
    stack: list[str] = []
    for row in rows[1:]:
        kind = " ".join(str(_at(row, t)).replace("_", " ").split()).lower()
        name = str(_at(row, n)).strip()
        if kind.startswith("begin ") and kind.split()[1] in _CONTAINERS:
            stack.append(name)
            if kind.split()[1] == "repeat":
                repeats.append("/".join(stack))
        elif kind.startswith("end ") and kind.split()[1] in _CONTAINERS:
            if stack:
                stack.pop()
        elif kind and name and kind not in ("note",):
            fields.append("/".join([*stack, name]))
    choices: dict[str, list[str]] = {}
    if "choices" in book.sheetnames:
        crows = list(book["choices"].iter_rows(values_only=True))
        ch = [str(h or "").strip().lower() for h in crows[0]] if crows else []
        if "list_name" in ch and "name" in ch:
            ln, cn = ch.index("list_name"), ch.index("name")
            for row in crows[1:]:
                if _at(row, ln) and _at(row, cn) != "":
                    choices.setdefault(str(_at(row, ln)).strip(), []).append(str(_at(row, cn)))
    book.close()
    return {"fields": fields, "repeats": repeats, "choices": choices}


def _at(row: tuple[Any, ...], i: int) -> Any:
    """A cell of a read-only row (short rows end early); empty for nothing."""
    return row[i] if i < len(row) and row[i] is not None else ""


def suggest_mapping(outline: dict[str, Any]) -> dict[str, Any]:
    """A mapping file to review: fields whose names usually mean a Corridor field, the first
    repeat as the household members, and the rest listed as unmapped."""
    repeat = outline["repeats"][0] if outline["repeats"] else None
    lookup = {alias: target for target, aliases in SYNONYMS.items() for alias in aliases}
    submission: dict[str, str] = {}
    member: dict[str, str] = {}
    unmapped: list[str] = []
    for field_path in outline["fields"]:
        target = lookup.get(field_path.rsplit("/", 1)[-1].strip().lower())
        in_repeat = repeat is not None and field_path.startswith(repeat + "/")
        section = member if in_repeat else submission
        if target is None or (target == "relationship" and not in_repeat):
            unmapped.append(field_path)
        elif target not in section.values():
            section[field_path] = target
        else:
            unmapped.append(field_path)
    return {
        "comment": "Suggested from the form's field names: review every line before use.",
        "repeat": repeat.rsplit("/", 1)[-1] if repeat else None,
        "submission": submission,
        "member": member,
        "values": {"sex": {"male": "m", "female": "f", "man": "m", "woman": "f"}},
        "unmapped": unmapped,
    }
