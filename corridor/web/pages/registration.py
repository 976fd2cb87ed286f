"""Registering a person or a household, with "search before create": while names are
typed, the persons most like them are shown, each with a link to the existing record."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corridor.errors import ValidationFailed
from corridor.schemas import HouseholdIn, MatchQueryIn, PersonIn
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Candidate
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages.common import Form, Svc, see_other
from corridor.web.pages.render import render
from corridor.web.retries import Retried
from corridor.web.writes import audited

router = APIRouter(include_in_schema=False)
MayPersonWrite = Annotated[Caller, Depends(requires("person.write"))]
WritesPerson = Annotated[Caller, Depends(audited("person.write"))]
MayPersonSearch = Annotated[Caller, Depends(requires("person.search"))]
DEFAULTS = {
    "purpose": "registration and assistance",
    "legal_basis": "vital_interest",
}  # consent to tracing: never ticked in advance, the person's own choice
MEMBER_ROWS = 2
MAX_MEMBER_ROWS = 60
MEMBER_FIELD = re.compile(r"members\[(\d{1,2})\]\.")
SIMILAR_SHOWN = 5
SIMILAR_FLOOR = 0.2  # below this a candidate is noise, not a likely duplicate


def _sites(svc: Services, who: Caller) -> list[tuple[str, str]]:
    mine = who.principal.site_ids
    return [(s["id"], s["name"]) for s in svc.sites.all() if not mine or s["id"] in mine]


def _form(
    request: Request,
    svc: Services,
    who: Caller,
    template: str,
    values: dict[str, str],
    errors: dict[str, str],
    members: int = 0,
) -> Response:
    extra: dict[str, Any] = {
        "sites": _sites(svc, who),
        "values": values,
        "errors": errors,
        "members": members,
    }
    status = 422 if errors else 200
    return render(request, template, {}, who=who, status=status, extra=extra)


@router.get("/register")
def person_form(request: Request, svc: Svc, who: MayPersonWrite) -> Response:
    return _form(request, svc, who, "register_person.html", dict(DEFAULTS), {})


@router.post("/register")
def register_person(
    request: Request, form: Form, svc: Svc, who: WritesPerson, retry: Retried
) -> Response:
    try:
        data = forms.parse(PersonIn, forms.person_details(form) | forms.basis(form))
        person_id = retry.run(
            who,
            lambda guard: svc.registration.register_person(
                data,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
            )["id"],
            lambda done: str(done.ref["person_ids"][0]),
        )
    except ValidationFailed as exc:
        values, errors = forms.as_values(form), forms.problems_by_field(exc)
        return _form(request, svc, who, "register_person.html", values, errors)
    return see_other(f"/persons/{person_id}")


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
    """One more empty member row (htmx), and the button for the next one."""
    extra = {"index": max(0, min(index, MAX_MEMBER_ROWS)), "values": {}, "errors": {}}
    return render(request, "_member.html", {}, who=who, extra=extra)


@router.post("/register/household")
def register_household(
    request: Request, form: Form, svc: Svc, who: WritesPerson, retry: Retried
) -> Response:
    rows = sorted({int(k[8 : k.index("]")]) for k in form if k.startswith("members[") and "]" in k})
    members = []
    for i in rows:
        prefix = f"members[{i}]."
        if forms.is_blank(form, prefix):
            continue
        member = forms.person_details(form, prefix)
        member["relationship"] = forms.as_values(form).get(prefix + "relationship", "")
        members.append((i, member))
    body = forms.basis(form) | {
        "head": forms.person_details(form, "head."),
        "members": [m for _, m in members],
    }
    try:
        data = forms.parse(HouseholdIn, body)
        household_id = retry.run(
            who,
            lambda guard: svc.registration.register_household(
                data,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
            )["id"],
            # Tapped twice, or sent again after a lost answer: the one household.
            lambda done: str(done.ref["household_id"]),
            made.household_ref,
        )
    except ValidationFailed as exc:
        # Problems name members by their place among those given: map back to the rows.
        errors = {}
        for field, reason in forms.problems_by_field(exc).items():
            for n, (i, _) in enumerate(members):
                field = field.replace(f"members[{n}].", f"members[{i}].", 1)
            errors[field] = reason
        values = forms.as_values(form)
        count = max([*rows, MEMBER_ROWS - 1]) + 1
        return _form(request, svc, who, "register_household.html", values, errors, count)
    return see_other(f"/households/{household_id}")


@router.post("/register/similar")
def similar(request: Request, form: Form, svc: Svc, who: MayPersonSearch) -> Response:
    """Registered persons most like the one being typed (a fragment for htmx)."""
    prefix = forms.as_values(form).get("similar_prefix", "")
    details = forms.person_details(form, prefix)
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
    }
    if any(originals) or any(latin):
        try:
            wanted = forms.parse(MatchQueryIn, query)
        except ValidationFailed:  # half-typed input: nothing to suggest yet
            return render(request, "_similar.html", {"candidates": []}, who=who)
        found = svc.gate.match(who, wanted, floor=SIMILAR_FLOOR)
    return render(request, "_similar.html", {"candidates": found}, who=who)
