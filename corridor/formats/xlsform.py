"""Corridor's own registration form as an XLSForm, for KoboToolbox or ODK Collect.

The form is data (``SURVEY``, ``CHOICES``); its default mapping back into Corridor is
``data/registration_mapping.json`` (a test checks that both name the same fields). A
household is the head (a group) and a repeat of members.
"""

from __future__ import annotations

import io

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
