"""Turning validated person input into rows, and collecting every problem on the way."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from corridor.domain.birth import (
    age_on,
    birth_problems,
    estimated_birth_date,
    parse_birth_date,
)
from corridor.domain.sites import country_problem, pcode_problem
from corridor.domain.vulnerability import (
    WG_DOMAINS,
    is_disabled,
    muac_problems,
    muac_status,
    pack_medical,
)
from corridor.errors import Problem
from corridor.schemas import DocumentIn, PersonDetails, VulnerabilitiesIn
from corridor.storage.queries import NAME_COLUMNS as NAME_FIELDS
from corridor.text import N_, text_of

_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


def normalise_phone(text: str) -> str:
    """Keep digits and a leading +: ``+963 (944) 12-34`` -> ``+9639441234``."""
    text = text.strip()
    plus = text.startswith("+") or text.startswith("00")
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    return ("+" if plus else "") + digits


def document_key(number: str) -> str:
    """Exact-match key for a document number: letters and digits only, upper case."""
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def birth_fields(details: Any, on: date, prefix: str, problems: list[Problem]) -> dict[str, Any]:
    """birth_date/birth_precision from a date string or an estimated age."""
    birth_text = details.birth_date
    estimated = details.estimated_age
    if birth_text is not None and estimated is not None:
        problems.append(
            Problem(f"{prefix}estimated_age", N_("give a birth date or an estimated age, not both"))
        )
        # Every problem at once: a birth date that is no date is said too (it was said
        # only once the age was taken away, a second round for the officer).
        try:
            parse_birth_date(birth_text)
        except ValueError as exc:
            problems.append(Problem(f"{prefix}birth_date", text_of(exc)))
        return {}
    if birth_text:
        try:
            birth, precision = parse_birth_date(birth_text)
        except ValueError as exc:
            problems.append(Problem(f"{prefix}birth_date", text_of(exc)))
            return {}
        problems.extend(birth_problems(birth, precision, on, f"{prefix}birth_date"))
        return {"birth_date": birth, "birth_precision": precision}
    if estimated is not None:
        if estimated > 120:
            problems.append(
                Problem(f"{prefix}estimated_age", N_("is over 120 (got {got})", got=estimated))
            )
            return {}
        return {"birth_date": estimated_birth_date(estimated, on), "birth_precision": "estimated"}
    return {}


def vulnerability_fields(
    v: VulnerabilitiesIn, age: int | None, prefix: str, problems: list[Problem]
) -> dict[str, Any]:
    problems.extend(muac_problems(v.muac_mm, f"{prefix}vulnerabilities.muac_mm"))
    wg = v.washington_group.model_dump() if v.washington_group else dict.fromkeys(WG_DOMAINS)
    return {
        "uasc": v.uasc,
        "medical": pack_medical(v.muac_mm, v.oedema, wg, v.medical_note),
        "muac_status": muac_status(v.muac_mm, v.oedema),
        "disabled": is_disabled(wg, age),
        "pregnant_lactating": v.pregnant_lactating,
        "serious_medical_condition": v.serious_medical_condition,
        "injury": v.injury,
        "elderly_alone": v.elderly_alone,
    }


def document_rows(
    docs: list[DocumentIn], person_id: str, prefix: str, problems: list[Problem]
) -> list[dict[str, Any]]:
    rows = []
    for i, d in enumerate(docs):
        key = document_key(d.number)
        if not key:
            problems.append(
                Problem(f"{prefix}documents[{i}].number", N_("has no letters or digits"))
            )
        if d.issuing_country and (reason := country_problem(d.issuing_country)):
            problems.append(Problem(f"{prefix}documents[{i}].issuing_country", reason))
        rows.append(
            {
                "person_id": person_id,
                "doc_type": d.type,
                "number": d.number,
                "number_key": key,
                "issuing_country": d.issuing_country,
            }
        )
    return rows


def detail_fields(
    details: PersonDetails, on: date, prefix: str, problems: list[Problem]
) -> dict[str, Any]:
    """Every column a PersonDetails fills, with the problems of each field."""
    row: dict[str, Any] = {f: getattr(details, f) or None for f in NAME_FIELDS}
    row["alternate_names"] = [n for n in details.alternate_names if n]
    row["kunya"] = details.kunya or None
    row["mother_name"] = details.mother_name or None
    row["sex"] = details.sex
    row.update(birth_fields(details, on, prefix, problems))
    if details.nationality:
        code = details.nationality.upper()
        if reason := country_problem(code):
            problems.append(Problem(f"{prefix}nationality", reason))
        row["nationality"] = code
    else:
        row["nationality"] = None
    if details.origin_pcode and (reason := pcode_problem(details.origin_pcode)):
        problems.append(Problem(f"{prefix}origin_pcode", reason))
    row["origin_pcode"] = details.origin_pcode
    row["origin_locality"] = details.origin_locality
    for i, lang in enumerate(details.languages):
        if not _LANG_RE.match(lang):
            problems.append(
                Problem(f"{prefix}languages[{i}]", N_("use an ISO 639 code such as ar, ku, en"))
            )
    row["languages"] = list(details.languages)
    if details.phone:
        phone = normalise_phone(details.phone)
        if not _PHONE_RE.match(phone):
            problems.append(
                Problem(f"{prefix}phone", N_("must be 5 to 20 digits, optionally after +"))
            )
        row["phone"] = phone
    else:
        row["phone"] = None
    age = age_on(row.get("birth_date"), row.get("birth_precision"), on)
    row.update(vulnerability_fields(details.vulnerabilities, age, prefix, problems))
    row["note"] = details.note
    row["biometric_reference"] = details.biometric_reference
    if not any(row[f] for f in NAME_FIELDS) and not row["alternate_names"] and not row["kunya"]:
        problems.append(Problem(f"{prefix}given_name", N_("a person needs at least one name")))

    return row
