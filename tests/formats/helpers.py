"""Fixture files and small builders for the format tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from corridor.formats import ReadContext, reader
from corridor.formats.records import Parsed
from corridor.schemas import SiteIn
from corridor.services import Services
from corridor.services.exchange.imports import ImportOptions, ImportReport
from corridor.storage.tables import persons

FIXTURES = Path(__file__).parent.parent / "fixtures" / "formats"


def fixture(name: str, site_id: str | None = None) -> bytes:
    data = (FIXTURES / name).read_bytes()
    return data.replace(b"SITE", site_id.encode()) if site_id else data


def make_site(services: Services, name: str = "Al-Hol", kind: str = "camp") -> str:
    return str(
        services.sites.create(
            SiteIn(name=name, kind=kind, pcode="SY08"),
            audit=services.audit.operator_hook("test", "sites.admin"),
        )["id"]
    )  # type: ignore[arg-type]


def parse(
    services: Services, fmt: str, data: bytes, filename: str = "", mapping: Any = None
) -> Parsed:
    return reader(fmt)(data, ReadContext(now=services.clock(), filename=filename, mapping=mapping))


def run(
    services: Services, fmt: str, data: bytes, filename: str = "", **options: Any
) -> ImportReport:
    mapping = options.pop("mapping", None)
    parsed = parse(services, fmt, data, filename, mapping)
    return services.imports.run(
        parsed, ImportOptions(**options), audit=services.audit.operator_hook("test", "person.write")
    )


def count_persons(services: Services) -> int:
    with services.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(persons)).scalar_one())


def odk_zip(site_id: str) -> bytes:
    """An ODK Central CSV export: the form's CSV and its repeat's, zipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for path in sorted((FIXTURES / "odk").iterdir()):
            z.writestr(path.name, path.read_bytes().replace(b"SITE", site_id.encode()))
    return buffer.getvalue()


# The mapped questions the rows below leave unanswered (a Kobo export has a column for
# every question of the form, answered or not).
KOBO_UNANSWERED = [
    "head/grandfather_name",
    "head/given_name_ar",
    "head/father_name_ar",
    "head/grandfather_name_ar",
    "head/family_name_ar",
    "head/estimated_age",
    "head/phone",
    "head/national_id",
]
KOBO_MEMBERS_UNANSWERED = [
    "members/m_grandfather_name",
    "members/m_family_name",
    "members/m_given_name_ar",
    "members/m_father_name_ar",
    "members/m_grandfather_name_ar",
    "members/m_family_name_ar",
    "members/m_birth_date",
    "members/m_nationality",
]
KOBO_MAIN = [
    [
        "start",
        "site_id",
        "consent_tracing",
        "head/given_name",
        "head/father_name",
        "head/family_name",
        "head/sex",
        "head/birth_date",
        "head/nationality",
        "_id",
        "_uuid",
        "_submission_time",
        "_index",
    ],
    [
        "2019-03-08T09:00:00",
        "SITE",
        "yes",
        "Hamid",
        "Sarir",
        "Sarir",
        "m",
        "1965",
        "SYR",
        11,
        "aa11aa11-0000-4000-8000-000000000001",
        "2019-03-08T10:00:00",
        1,
    ],
    [
        "2019-03-08T09:30:00",
        "SITE",
        "no",
        "Zahra",
        "Ali",
        "Mousa",
        "f",
        "1990",
        "IRQ",
        12,
        "aa11aa11-0000-4000-8000-000000000002",
        "2019-03-08T10:30:00",
        2,
    ],
]
KOBO_MEMBERS = [
    [
        "members/m_given_name",
        "members/m_father_name",
        "members/m_sex",
        "members/m_estimated_age",
        "members/m_relationship",
        "members/m_uasc",
        "_index",
        "_parent_table_name",
        "_parent_index",
        "_submission__id",
        "_submission__uuid",
    ],
    [
        "Mustafa",
        "Hamid",
        "m",
        12,
        "child",
        "none",
        1,
        "Corridor household registration",
        1,
        11,
        "aa11aa11-0000-4000-8000-000000000001",
    ],
    [
        "Salma",
        "Hamid",
        "f",
        9,
        "child",
        "none",
        2,
        "Corridor household registration",
        1,
        11,
        "aa11aa11-0000-4000-8000-000000000001",
    ],
    [
        "Yara",
        "Mousa",
        "f",
        6,
        "other_relative",
        "separated",
        3,
        "Corridor household registration",
        2,
        12,
        "aa11aa11-0000-4000-8000-000000000002",
    ],
]


def kobo_xlsx(
    site_id: str,
    main: list[list[Any]] | None = None,
    members: list[list[Any]] | None = None,
    edit: Callable[[Any], None] | None = None,
) -> bytes:
    """A Kobo XLSX export: submissions on the first sheet, the repeat on its own sheet
    (the columns of ``KOBO_UNANSWERED`` and ``KOBO_MEMBERS_UNANSWERED`` added, empty);
    ``edit`` changes the workbook before it is saved."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Corridor household registration"
    for n, row in enumerate(main or KOBO_MAIN):
        extra = KOBO_UNANSWERED if n == 0 else [None] * len(KOBO_UNANSWERED)
        sheet.append([site_id if v == "SITE" else v for v in row] + extra)
    repeat = book.create_sheet("members")
    for n, row in enumerate(members or KOBO_MEMBERS):
        extra = KOBO_MEMBERS_UNANSWERED if n == 0 else [None] * len(KOBO_MEMBERS_UNANSWERED)
        repeat.append(row + extra)
    if edit:
        edit(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
