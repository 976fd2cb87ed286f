"""Registering a person or a household, with "search before create": while names are
typed, the persons most like them are shown, each with a link to the existing record.

Made for the keyboard (docs/web.md): every problem of a form comes at once, in a summary
at the top that links to each field; unlikely details (a child older than the head) are
saved once the officer ticks that they checked them; after saving, a confirmation and
"Register the next"."""

from __future__ import annotations

import copy
import re
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from corridor.domain.countries import country_names
from corridor.errors import CorridorError, ValidationFailed
from corridor.schemas import MEMBERS_MAX, HouseholdIn, MatchQueryIn, PersonIn
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Candidate
from corridor.sync.conflicts import ConflictReview
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages.common import Form, Svc, see_other
from corridor.web.pages.render import language_of, render
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refusal_shown, said_above

router = guarded_router(include_in_schema=False)
MayPersonWrite = Annotated[Caller, Depends(requires("person.write"))]
WritesPerson = Annotated[Caller, Depends(audited("person.write"))]
MayPersonSearch = Annotated[Caller, Depends(requires("person.search"))]
DEFAULTS = {
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
}  # consent to tracing: never ticked in advance, the person's own choice
MEMBER_ROWS = 2
# Member rows 0 to 99: as many as a household may have (the API's MEMBERS_MAX). No "Add a
# member" past the last: a row asked for past it would repeat the last row's field names,
# and the member typed there would overwrite the one typed before.
MAX_MEMBER_ROWS = MEMBERS_MAX
MEMBER_FIELD = re.compile(r"members\[(\d{1,2})\]\.")
SIMILAR_SHOWN = 5
SIMILAR_FLOOR = 0.2  # below this a candidate is noise, not a likely duplicate
SIMILAR_AGE_GAP = 15  # years: a 3-year-old is not offered for a 44-year-old

# Each field's label, as the form shows it, in the form's order (the summary's order).
LABELS: dict[str, str] = {
    "relationship": N_("Relationship to the head"),
    "given_name_original": N_("Given name (Arabic script)"),
    "father_name_original": N_("Father's name (Arabic script)"),
    "grandfather_name_original": N_("Grandfather's name (Arabic script)"),
    "family_name_original": N_("Family name (Arabic script)"),
    "given_name": N_("Given name (Latin letters)"),
    "father_name": N_("Father's name (Latin letters)"),
    "grandfather_name": N_("Grandfather's name (Latin letters)"),
    "family_name": N_("Family name (Latin letters)"),
    "mother_name": N_("Mother's name"),
    "sex": N_("Sex"),
    "birth_date": N_("Birth date (YYYY, YYYY-MM or YYYY-MM-DD)"),
    "estimated_age": N_("Or estimated age in years"),
    "nationality": N_("Nationality"),
    "phone": N_("Phone"),
    "document_type": N_("Document"),
    "document_number": N_("Document number"),
    "uasc": N_("Child without parents"),
    "pregnant_lactating": N_("Pregnant or lactating"),
    "serious_medical_condition": N_("Serious medical condition"),
    "injury": N_("Injured"),
    "elderly_alone": N_("Older person alone"),
    "muac_mm": N_("MUAC (mm)"),
    "oedema": N_("Bilateral oedema"),
    "wg_seeing": N_("Seeing"),
    "wg_hearing": N_("Hearing"),
    "wg_walking": N_("Walking"),
    "wg_remembering": N_("Remembering"),
    "wg_self_care": N_("Self-care"),
    "wg_communicating": N_("Communicating"),
    "site_id": N_("Site"),
    "legal_basis": N_("Legal basis"),
    "purpose": N_("Purpose"),
    "share_with": N_("Share with (agencies, comma separated)"),
    "consent_tracing": N_("Agrees to be found by family tracing"),
}
BASIS_FIELDS = frozenset({"site_id", "legal_basis", "purpose", "share_with", "consent_tracing"})
ORDER = {name: i for i, name in enumerate(LABELS)}
PERSON_FIELD = re.compile(r"^(head\.|members\[(\d{1,2})\]\.)?(.*)$")
# What a form field's problem says in words an officer acts on, instead of the codes
# a select sends or the API's format.
REASONS = {
    "relationship": N_("choose the relationship to the head"),
    "nationality": N_("choose a country from the list"),
}
# Stand-ins for required values the form did not give, so that the rest of the form can
# be checked in the same round (they are never saved: the form is refused anyway).
STAND_INS: dict[str, Any] = {
    "relationship": "other_relative",
    "legal_basis": "vital_interest",
    "purpose": "-",
    "site_id": "",
}
M = TypeVar("M", bound=BaseModel)
# The person or household just registered, for its page's confirmation ("Register the next").
JUST_REGISTERED = "corridor_registered"


def _sites(svc: Services, who: Caller) -> list[tuple[str, str]]:
    """The caller's open sites (a closed site takes no new registration)."""
    mine = who.principal.site_ids
    return [
        (s["id"], s["name"])
        for s in svc.sites.all()
        if (not mine or s["id"] in mine) and not s.get("closed_at")
    ]


def _form(
    request: Request,
    svc: Services,
    who: Caller,
    template: str,
    values: dict[str, str],
    errors: dict[str, str],
    members: int = 0,
    warnings: frozenset[str] = frozenset(),
    status: int | None = None,
) -> Response:
    summary = _summary(errors, warnings)
    extra: dict[str, Any] = {
        "sites": _sites(svc, who),
        "values": values,
        "errors": errors,
        "members": members,
        "member_limit": MAX_MEMBER_ROWS,
        "summary": summary,
        "errors_count": sum(1 for item in summary if not item["warning"]),
        "warnings_count": sum(1 for item in summary if item["warning"]),
        "countries": country_names(language_of(request).code),
    }
    # At a node: the changes made here the central has not acknowledged (issue 16), and
    # whether the central refused the node as revoked (they are kept).
    extra["unsent"], extra["unsent_revoked"] = ConflictReview.of(svc).outbox()
    status = status or (422 if errors else 200)
    return render(request, template, {}, who=who, status=status, extra=extra)


def _form_field(field: str) -> str:
    """A problem's field as the form names its input (``vulnerabilities.muac_mm`` is the
    form's ``muac_mm``, the first document's number its ``document_number``)."""
    field = field.replace("vulnerabilities.", "").replace("washington_group.", "wg_")
    field = re.sub(r"documents\[\d+\]\.type", "document_type", field)
    field = re.sub(r"documents\[\d+\]\.\w+", "document_number", field)
    return field.replace("consent.tracing", "consent_tracing")


def _problems(exc: CorridorError) -> tuple[dict[str, str], frozenset[str]]:
    """field -> reason (the form's field names, an officer's words), and the fields whose
    only problem is a warning to confirm."""
    errors: dict[str, str] = {}
    warned = {(w.field, w.reason) for w in getattr(exc, "warnings", ())}
    warnings: set[str] = set()
    for p in exc.problems:
        field = _form_field(p.field)
        m = PERSON_FIELD.match(field)
        suffix = m.group(3) if m else field
        reason = p.reason
        if suffix in REASONS and (p.field, p.reason) not in warned:
            reason = REASONS[suffix]
        if field not in errors:
            errors[field] = reason
            if (p.field, p.reason) in warned:
                warnings.add(field)
    return errors, frozenset(warnings)


def _summary(errors: dict[str, str], warnings: frozenset[str]) -> list[dict[str, Any]]:
    """Every problem in the form's order: the person (or head), each member, the basis."""
    items = []
    for field, reason in errors.items():
        m = PERSON_FIELD.match(field)
        assert m is not None  # the pattern matches any text
        prefix, member, suffix = m.group(1), m.group(2), m.group(3)
        if prefix is None and suffix in BASIS_FIELDS:
            group = 10_000
        else:
            group = 1 + int(member) if member is not None else 0
        items.append(
            {
                "field": field,
                "label": LABELS.get(suffix, suffix),
                "reason": reason,
                "member": int(member) if member is not None else None,
                "head": prefix == "head.",
                "warning": field in warnings,
                "order": (group, ORDER.get(suffix, len(ORDER))),
            }
        )
    return sorted(items, key=lambda item: item["order"])


def _checked(model: type[M], body: dict[str, Any], svc: Services, who: Caller) -> M:
    """``body`` as ``model`` with every problem at once: when part of it cannot even be
    read (a relationship not chosen), the rest is still checked by the registration
    service (an age of 400, a child older than the head) and all are reported together."""
    try:
        return forms.parse(model, body)
    except ValidationFailed as shape:
        partial = _lenient(model, body)
        if not isinstance(partial, PersonIn | HouseholdIn):
            raise
        more = svc.registration.check(partial, scope=who.scope)
        if more is None:
            raise
        seen = {_form_field(p.field) for p in shape.problems}
        extra = [p for p in more.problems if _form_field(p.field) not in seen]
        warnings = [w for w in more.warnings if w in extra]
        raise ValidationFailed(shape.problems + extra, warnings=warnings) from shape


def _lenient(model: type[M], body: dict[str, Any]) -> M | None:
    """``body`` as ``model`` with what could not be read left out (or, where required,
    given a stand-in); None when even that fails."""
    body = copy.deepcopy(body)
    for _ in range(5):
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            for error in exc.errors():
                _drop(body, tuple(error["loc"]), error["type"] == "missing")
    return None


def _drop(body: Any, loc: tuple[Any, ...], missing: bool) -> None:
    node = body
    for part in loc[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    last = loc[-1] if loc else None
    if isinstance(node, dict) and last in STAND_INS:
        node[last] = STAND_INS[last]
    elif missing and len(loc) > 1:
        _drop(body, loc[:-1], False)  # a required part missing: leave out its whole
    elif isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node.pop(last)


@router.get("/register")
def person_form(request: Request, svc: Svc, who: MayPersonWrite) -> Response:
    return _form(request, svc, who, "register_person.html", dict(DEFAULTS), {})


@router.post("/register")
def register_person(
    request: Request, form: Form, svc: Svc, who: WritesPerson, retry: Retried
) -> Response:
    language = language_of(request).code
    body = forms.person_details(form, "", language) | forms.basis(form) | _confirmed(form)
    try:
        data = _checked(PersonIn, body, svc, who)
        person_id = retry.run(
            who,
            lambda guard: svc.registration.register_person(
                data,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                # The review queue's own transaction, after the write's (not the key's).
                queue_audit=svc.audit.hook(who, "person.write"),
            )["id"],
            lambda done: str(done.ref["person_ids"][0]),
        )
    except forms.REFUSED as exc:
        said_above(request, exc)
        errors, warnings = _problems(exc)
        values = _refill(form)
        status = forms.status_of(exc)
        page = _form(request, svc, who, "register_person.html", values, errors, 0, warnings, status)
        refusal_shown(svc, who, "person.write", exc, request)
        return page
    return _done(f"/persons/{person_id}", person_id)


def _done(url: str, record_id: str) -> Response:
    """To the record just registered, which then says so once (a cookie, not the URL:
    the record's address stays the one address of the record)."""
    response = see_other(url)
    response.set_cookie(
        JUST_REGISTERED, record_id, max_age=600, secure=True, httponly=True,
        samesite="strict", path="/",
    )  # fmt: skip
    return response


def _confirmed(form: Any) -> dict[str, Any]:
    """The officer ticked "I checked these details" (the unlikely ones shown)."""
    return {"confirm_implausible": True} if forms.as_values(form).get("confirm_implausible") else {}


def _refill(form: Any) -> dict[str, str]:
    """What was typed, to show again; the confirmation is asked afresh each time."""
    values = forms.as_values(form)
    values.pop("confirm_implausible", None)
    return values


@router.get("/register/household")
def household_form(
    request: Request, svc: Svc, who: MayPersonWrite, members: int = MEMBER_ROWS
) -> Response:
    """The form, with ``members`` empty member rows (a kept draft asks for as many as it
    filled)."""
    rows = max(1, min(members, MAX_MEMBER_ROWS))
    return _form(request, svc, who, "register_household.html", dict(DEFAULTS), {}, members=rows)


@router.get("/register/member")
def member_row(request: Request, who: MayPersonWrite, index: int = 0) -> Response:
    """One more empty member row (htmx), and the button for the next one (none after the
    last row a household may have; past it, no row: the button goes)."""
    extra = {"index": max(0, index), "values": {}, "errors": {}, "member_limit": MAX_MEMBER_ROWS}
    return render(request, "_member.html", {}, who=who, extra=extra)


@router.post("/register/household")
def register_household(
    request: Request, form: Form, svc: Svc, who: WritesPerson, retry: Retried
) -> Response:
    rows = sorted({int(k[8 : k.index("]")]) for k in form if k.startswith("members[") and "]" in k})
    language = language_of(request).code
    members = []
    for i in rows:
        prefix = f"members[{i}]."
        if forms.is_blank(form, prefix):
            continue
        member = forms.person_details(form, prefix, language)
        member["relationship"] = forms.as_values(form).get(prefix + "relationship", "")
        members.append((i, member))
    body = forms.basis(form) | _confirmed(form)
    body |= {
        "head": forms.person_details(form, "head.", language),
        "members": [m for _, m in members],
    }
    try:
        data = _checked(HouseholdIn, body, svc, who)
        household_id = retry.run(
            who,
            lambda guard: svc.registration.register_household(
                data,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                # The review queue's own transaction, after the write's (not the key's).
                queue_audit=svc.audit.hook(who, "person.write"),
            )["id"],
            # Tapped twice, or sent again after a lost answer: the one household.
            lambda done: str(done.ref["household_id"]),
            made.household_ref,
        )
    except forms.REFUSED as exc:
        said_above(request, exc)
        # Problems name members by their place among those given: map back to the rows.
        found, warned = _problems(exc)
        errors, warnings = {}, set()
        for field, reason in found.items():
            row_field = field
            m = re.match(r"members\[(\d+)\]\.", field)
            if m and int(m.group(1)) < len(members):
                row = members[int(m.group(1))][0]
                row_field = f"members[{row}]." + field[m.end() :]
            errors[row_field] = reason
            if field in warned:
                warnings.add(row_field)
        values = _refill(form)
        count = min(max([*rows, MEMBER_ROWS - 1]) + 1, MAX_MEMBER_ROWS)
        page = _form(
            request,
            svc,
            who,
            "register_household.html",
            values,
            errors,
            count,
            frozenset(warnings),
            forms.status_of(exc),
        )
        refusal_shown(svc, who, "person.write", exc, request)
        return page
    return _done(f"/households/{household_id}", household_id)


@router.post("/register/similar")
def similar(request: Request, form: Form, svc: Svc, who: MayPersonSearch) -> Response:
    """Registered persons most like the one being typed (a fragment for htmx)."""
    prefix = forms.as_values(form).get("similar_prefix", "")
    details = forms.person_details(form, prefix, language_of(request).code)
    originals = [
        details.get(f"{p}_name_original") for p in ("given", "father", "grandfather", "family")
    ]
    latin = [details.get(f"{p}_name") for p in ("given", "father", "grandfather", "family")]
    found: list[Candidate] = []
    query = {
        "given_name": details.get("given_name"),
        "father_name": details.get("father_name"),
        "grandfather_name": details.get("grandfather_name"),
        "family_name": details.get("family_name"),
        "name_original_script": " ".join(o for o in originals if o) or None,
        "sex": details.get("sex"),
        "mother_name": details.get("mother_name"),
        "purpose": "deduplication",
        "top": SIMILAR_SHOWN,
        **_age_of(details),
    }
    if any(originals) or any(latin):
        try:
            wanted = forms.parse(MatchQueryIn, query)
        except ValidationFailed:  # half-typed input: nothing to suggest yet
            return render(request, "_similar.html", {"candidates": []}, who=who)
        found = svc.gate.match(who, wanted, floor=SIMILAR_FLOOR)
        if wanted.age is not None:  # an age given: persons of another generation are not offered
            found = [
                c
                for c in found
                if c.person.age is None or abs(c.person.age - wanted.age) <= SIMILAR_AGE_GAP
            ]
    return render(request, "_similar.html", {"candidates": found}, who=who)


def _age_of(details: dict[str, Any]) -> dict[str, int]:
    """The age or birth year typed so far, as the matching engine takes it (nothing when
    it is not a number yet)."""
    age = str(details.get("estimated_age") or "")
    if age.isdigit() and int(age) <= 120:
        return {"age": int(age)}
    year = str(details.get("birth_date") or "")[:4]
    if year.isdigit() and 1880 <= int(year) <= 2100:
        return {"birth_year": int(year)}
    return {}
