"""Turning posted HTML forms into the API's input shapes (``corridor.schemas``).

A form names its fields as the API names them (``given_name``, ``head.sex``,
``members[0].birth_date``), so that the problems the services report point straight at
the inputs to mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from corridor.domain.countries import country_code
from corridor.domain.names import NAME_PARTS
from corridor.domain.vulnerability import WG_DOMAINS
from corridor.errors import Conflict, CorridorError, NotFound, Problem, ValidationFailed
from corridor.schemas import PersonSearchIn
from corridor.text import Listing
from corridor.web import shape_errors
from corridor.web.statuses import status_of as _status_of

__all__ = [
    "REFUSED",
    "as_values",
    "basis",
    "is_blank",
    "health_record",
    "parse",
    "parse_search",
    "person_details",
    "problems_by_field",
    "problems_of",
    "reasons",
    "status_of",
]

NAME_FIELDS = (*NAME_PARTS, "mother_name")
# What a page shows on the form that was sent, as typed, with why, instead of the error
# page: a write refused for what it holds (ValidationFailed), for the state it met
# (Conflict: decided meanwhile, here or at another installation; a site node's refusal)
# or for a record not found (gone since the page was opened, erased elsewhere). Its
# denial is audited by ``writes.refusal_shown``; a page that cannot be shown again (its
# own record gone) answers 404 when it is read again, as any.
REFUSED = (ValidationFailed, Conflict, NotFound)
FLAGS = ("pregnant_lactating", "serious_medical_condition", "injury", "elderly_alone")


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def as_values(form: FormData) -> dict[str, str]:
    """The posted text fields, to fill the form again after an error."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


def is_blank(form: FormData, prefix: str) -> bool:
    """Nothing typed, chosen or ticked under ``prefix``: an unused member row. (Every
    field counts: a row with only a phone, a document or a flag is a member whose name
    is still to come, and is checked as one, never dropped with what was typed.)"""
    return all(_text(form, k) is None for k in form if k.startswith(prefix))


def person_details(form: FormData, prefix: str = "", language: str = "en") -> dict[str, Any]:
    """The PersonDetails fields under ``prefix``, as the API takes them. A nationality
    typed by its name (in ``language`` or English) becomes its ISO code; the screening
    fields (MUAC, oedema, Washington Group) go to the vulnerabilities."""
    out: dict[str, Any] = {}
    for name in (*NAME_FIELDS, "sex", "birth_date", "phone"):
        value = _text(form, prefix + name)
        if value is not None:
            out[name] = value
    age = _text(form, prefix + "estimated_age")
    if age is not None:
        out["estimated_age"] = age  # pydantic checks it is a number
    nationality = _text(form, prefix + "nationality")
    if nationality and nationality != "OTH":
        out["nationality"] = country_code(nationality, language) or nationality
    number = _text(form, prefix + "document_number")
    if number:
        doc_type = _text(form, prefix + "document_type") or "other"
        out["documents"] = [{"type": doc_type, "number": number}]
    vulnerabilities: dict[str, Any] = {f: True for f in FLAGS if _text(form, prefix + f)}
    uasc = _text(form, prefix + "uasc")
    if uasc:
        vulnerabilities["uasc"] = uasc
    vulnerabilities.update(_screening(form, prefix))
    if vulnerabilities:
        out["vulnerabilities"] = vulnerabilities
    return out


def _screening(form: FormData, prefix: str) -> dict[str, Any]:
    """MUAC, oedema and the Washington Group answers given at registration (only those
    given: an empty screening is no screening)."""
    out: dict[str, Any] = {}
    muac = _text(form, prefix + "muac_mm")
    if muac is not None:
        out["muac_mm"] = muac  # pydantic checks it is a number
    if _text(form, prefix + "oedema"):
        out["oedema"] = True
    levels = {d: _text(form, f"{prefix}wg_{d}") for d in WG_DOMAINS}
    wg = {d: int(x) if x.isdigit() else x for d, x in levels.items() if x is not None}
    if wg:
        out["washington_group"] = wg
    return out


MEDICAL_FLAGS = ("pregnant_lactating", "serious_medical_condition", "injury")


# The health form's copy of what it showed, field by field (``was.muac_mm``...).
SHOWN = "was."


def health_record(form: FormData) -> dict[str, Any]:
    """The health form of the person page as a PATCH body: it shows every medical field
    filled in (a cleared box or field clears the value). The form also carries what it
    showed (``was.`` fields): then only the fields the officer changed are sent, so a
    value recorded by someone else since the page was opened is kept, not overwritten
    with what the older page showed. A form without them sends every field."""
    changed = _changed_on(form)
    levels = {d: _text(form, f"wg_{d}") for d in WG_DOMAINS if changed(f"wg_{d}")}
    # A level is a number (pydantic refuses anything but 1-4); keep any other text so
    # that the refusal names it.
    wg = {d: int(x) if x and x.isdigit() else x for d, x in levels.items()}
    vulnerabilities: dict[str, Any] = {
        f: bool(_text(form, f)) for f in (*MEDICAL_FLAGS, "oedema") if changed(f)
    }
    vulnerabilities.update(
        {f: _text(form, f) for f in ("muac_mm", "medical_note") if changed(f)}
    )  # pydantic checks that the MUAC is a number
    if wg:
        vulnerabilities["washington_group"] = wg
    return {"vulnerabilities": vulnerabilities}


def _changed_on(form: FormData) -> Callable[[str], bool]:
    """Whether a field of ``form`` differs from what the form showed (every field, for a
    form that does not say what it showed)."""
    if not any(k.startswith(SHOWN) for k in form):
        return lambda _name: True
    return lambda name: _text(form, name) != _text(form, SHOWN + name)


def basis(form: FormData) -> dict[str, Any]:
    """Site, purpose, legal basis and consent, shared by a person and a household."""
    share = [s.strip() for s in (_text(form, "share_with") or "").split(",") if s.strip()]
    return {
        "site_id": _text(form, "site_id") or "",
        "purpose": _text(form, "purpose") or "",
        "legal_basis": _text(form, "legal_basis") or "",
        "consent": {"tracing": bool(_text(form, "consent_tracing")), "share_with": share},
    }


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``; every shape problem at once as ValidationFailed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = ""
            loc = tuple(p for p in e["loc"] if p != "vulnerabilities")
            if loc[:2] == ("consent", "share_with"):
                # The agencies, typed in one input (comma separated): its problem is
                # that input's, not the tracing consent's box.
                loc = ("share_with",)
            for part in loc:
                if isinstance(part, int):
                    field += f"[{part}]"
                    continue
                name = {"consent": "consent_tracing", "documents": "document_number"}.get(
                    str(part), str(part)
                )
                field += f".{name}" if field else name
                if name != part:
                    break
            problems.append(Problem(field or "form", shape_errors.reason(e)))
        raise ValidationFailed(problems) from exc


def parse_search(registration_number: str) -> PersonSearchIn:
    """An exact search by one registration number (typed, so possibly mistyped); one
    longer than any number is ValidationFailed naming ``registration_number``."""
    return parse(PersonSearchIn, {"registration_number": registration_number})


def status_of(exc: CorridorError, shows_persons: bool = False) -> int:
    """The status of a page showing ``exc``'s refusal on its form: as the error's own
    page would answer it (409 a conflict, 404 not found, 422 invalid input); but a
    record not found refused on a page that shows persons is 409 (a 404 shows nobody:
    no oracle; the page is no refusal page, its persons read and audited as shown)."""
    if shows_persons and isinstance(exc, NotFound):
        return 409
    return _status_of(exc)


def reasons(exc: CorridorError) -> str:
    """Every reason of ``exc`` in one line (each translated on its own when shown), or
    its message where it names no field."""
    if not exc.problems:
        return exc.message
    return Listing("; ", [p.reason for p in exc.problems])


def problems_of(exc: CorridorError, form: str, fields: Iterable[str]) -> dict[str, str]:
    """The problems of one form of a page that holds several: ``{form}.{field}`` -> the
    first reason of each of the form's ``fields`` a problem names (that control is marked
    and described by it), and ``form`` -> the other reasons, or the message where no
    problem names one of the form's fields (said above the form's button)."""
    own = set(fields)
    out: dict[str, str] = {}
    rest: list[str] = []
    for p in exc.problems:
        if p.field in own:
            out.setdefault(f"{form}.{p.field}", p.reason)
        else:
            rest.append(p.reason)
    if rest:
        out[form] = Listing("; ", rest)
    elif not out:
        out[form] = exc.message
    return out


def problems_by_field(exc: CorridorError) -> dict[str, str]:
    """field -> reason, the first reason of each field."""
    out: dict[str, str] = {}
    for p in exc.problems:
        out.setdefault(p.field, p.reason)
    return out
