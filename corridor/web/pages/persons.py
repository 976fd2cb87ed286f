"""A person's page (names, family links, movements, vulnerabilities), a household's page,
and search by name in any script, registration number, phone or document (a POST: no
personal data in URLs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from corridor.domain.ids import InvalidRegistrationNumber, registration_number_in, scanned
from corridor.errors import Conflict, Forbidden, NotFound, Problem, ValidationFailed
from corridor.schemas import (
    LinkIn,
    LinkRemovalIn,
    MatchQueryIn,
    PersonPatch,
    PersonSearchIn,
    StatusEventIn,
    UnmergeIn,
)
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.sync.conflicts import ConflictReview
from corridor.text import N_, text_of
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.duplicates import MayMerge
from corridor.web.pages.registration import JUST_REGISTERED
from corridor.web.pages.render import render
from corridor.web.retries import Retried, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refusal_shown

router = guarded_router(include_in_schema=False)
MayPersonRead = Annotated[Caller, Depends(requires("person.read"))]
MayPersonSearch = Annotated[Caller, Depends(requires("person.search"))]
MayPersonWrite = Annotated[Caller, Depends(audited("person.write"))]
MayMovementWrite = Annotated[Caller, Depends(audited("movement.write"))]


def site_names(svc: Services, who: Caller) -> dict[str, str]:
    """Site names as ``who`` may see them (a detention site: its label, or its real name
    for the roles allowed to see detention sites)."""
    return {s["id"]: s["name"] for s in svc.sites.all(reveal=who.sees("detention"))}


def open_site_names(svc: Services, who: Caller) -> dict[str, str]:
    """``site_names`` less the sites an administrator closed: a closed site takes no
    new registration and no manifest to it, so forms do not offer it."""
    return {
        s["id"]: s["name"]
        for s in svc.sites.all(reveal=who.sees("detention"))
        if not s.get("closed_at")
    }


def _person(
    request: Request,
    svc: Services,
    who: Caller,
    person_id: str,
    errors: dict[str, str],
    registered: bool = False,
    typed: dict[str, dict[str, str]] | None = None,
    status: int | None = None,
) -> Response:
    """The person's page; ``typed``: after a refusal, what was typed in the form that was
    sent (``event_typed``, ``health_typed``, ``link_typed``; ``unmerge_typed`` by the id
    merged away, ``unlink_typed`` by the link), shown again as typed (the reason for a
    link removed meanwhile, whose form is gone: read-only, with why)."""
    data = svc.gate.person_page(who, person_id)
    extra: dict[str, Any] = {
        "sites": site_names(svc, who),
        "sees_medical": who.sees("medical"),
        "errors": errors,
        "event_typed": {},
        "health_typed": {},
        "link_typed": {},
        "unmerge_typed": {},
        "unlink_typed": {},
    }
    extra.update(typed or {})
    extra["registered"] = registered
    # At a node: the changes made here the central has not acknowledged (issue 16), and
    # whether the central refused the node as revoked (they are kept).
    extra["unsent"], extra["unsent_revoked"] = ConflictReview.of(svc).outbox()
    status = status or (422 if errors else 200)
    return render(request, "person.html", dict(data), who=who, status=status, extra=extra)


@page(router, "/persons/{person_id}")
def person(person_id: str, request: Request, svc: Svc, who: MayPersonRead) -> Response:
    just = request.cookies.get(JUST_REGISTERED) == person_id  # said once, after registering
    response = _person(request, svc, who, person_id, {}, registered=just)
    if just:
        response.delete_cookie(JUST_REGISTERED, path="/", secure=True, httponly=True)
    return response


# The event form's fields (as the API's StatusEventIn names them).
EVENT_FIELDS = ("kind", "to_site_id", "note")


@router.post("/persons/{person_id}/events")
def record_event(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayMovementWrite, retry: Retried
) -> Response:
    """Hospitalised, detained, released, transferred... (the movement log)."""
    body = {k: text(form, k) for k in EVENT_FIELDS}
    try:
        data = forms.parse(StatusEventIn, body)
        retry.run(
            who,
            lambda guard: svc.movements.record(
                person_id,
                data,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "movement.write")),
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        # What the service refuses of the choice (a discharge of a person not in
        # hospital, a move to the site they are at: the API's 409 on its field) is
        # said on its field as a value refused is, the form as typed: it used to be the
        # bare error page, the note typed lost. A problem of no field of the form is
        # said on the event's kind.
        errors: dict[str, str] = {}
        for p in exc.problems:
            errors.setdefault(p.field if p.field in EVENT_FIELDS else "kind", p.reason)
        typed = {"event_typed": forms.as_values(form)}
        errors = errors or {"kind": exc.message}
        status = 409 if isinstance(exc, NotFound) else None
        page = _person(request, svc, who, person_id, errors, typed=typed, status=status)
        refusal_shown(svc, who, "movement.write", exc, request)
        return page
    return see_other(f"/persons/{person_id}")


# The health form's controls that show a problem of their own (the boxes show none).
HEALTH_MARKED = (
    "muac_mm",
    "medical_note",
    *(f"wg_{d}" for d in ("seeing", "hearing", "walking", "remembering", "self_care")),
    "wg_communicating",
)


@router.post("/persons/{person_id}/health")
def record_health(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayPersonWrite, retry: Retried
) -> Response:
    """Health staff record MUAC, oedema, functioning, medical flags and a note (sealed at
    rest); the form shows them all, so what is cleared is cleared."""

    def health_staff_only(current: dict[str, Any]) -> None:
        # After the scope check (a person outside it: 404, as for every route).
        if not who.sees("medical"):
            raise Forbidden(N_("Medical details are recorded by health staff"))

    try:
        # Another role's post (a page kept open after the role was taken away, or made
        # by hand) is refused whatever it holds: its values are not read, so that the
        # refusal is the 403 that says why (after the scope check), never the form's
        # problems on a person page that shows no health form to mark them on.
        sent = forms.health_record(form) if who.sees("medical") else {}
        data = forms.parse(PersonPatch, sent)
        retry.run(
            who,
            lambda guard: svc.registration.update_person(
                person_id,
                data,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                check=health_staff_only,
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        # Each problem on the control that shows it; one of no control of the form (the
        # record erased at another desk meanwhile: a 409 that used to be the bare error
        # page, the readings typed lost) on the health note, the form as typed.
        errors: dict[str, str] = {}
        for p in exc.problems:
            field = p.field.removeprefix("vulnerabilities.").replace("washington_group.", "wg_")
            errors.setdefault(field if field in HEALTH_MARKED else "medical_note", p.reason)
        typed = {"health_typed": forms.as_values(form)}
        errors = errors or {"medical_note": exc.message}
        status = forms.status_of(exc, shows_persons=True)
        page = _person(request, svc, who, person_id, errors, typed=typed, status=status)
        refusal_shown(svc, who, "person.write", exc, request)
        return page
    return see_other(f"/persons/{person_id}")


@router.post("/persons/{person_id}/links")
def link_relative(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayPersonWrite, retry: Retried
) -> Response:
    """Record a relative found elsewhere, by their registration number."""
    number = text(form, "registration_number") or ""
    try:
        found = svc.gate.identify(who, forms.parse_search(number))
        if not found:
            raise ValidationFailed([Problem("registration_number", N_("nobody has this number"))])
        body = {
            "person_id": person_id,
            "other_person_id": found[0],
            "kind": text(form, "link_kind"),
        }
        data = forms.parse(LinkIn, body)
        retry.run(
            who,
            lambda guard: svc.registration.link(
                data, scope=who.scope, audit=guard(svc.audit.hook(who, "person.write"))
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        # On the form's two fields: the relationship, and the number that names the
        # other person (a problem with the other person, e.g. this person's own number,
        # is shown there; a field the form does not have would be shown nowhere).
        errors: dict[str, str] = {}
        for p in exc.problems:
            field = "link_kind" if p.field == "kind" else "registration_number"
            if p.field in ("kind", "registration_number", "other_person_id"):
                errors.setdefault(field, p.reason)
            else:
                errors.setdefault("link_kind", p.reason)
        errors = errors or {"link_kind": exc.message}
        typed = {"link_typed": forms.as_values(form)}
        status = 409 if isinstance(exc, NotFound) else None
        page = _person(request, svc, who, person_id, errors, typed=typed, status=status)
        refusal_shown(svc, who, "person.write", exc, request)
        return page
    return see_other(f"/persons/{person_id}")


@router.post("/persons/{person_id}/links/{link_id}/remove")
def unlink_relative(
    person_id: str,
    link_id: str,
    request: Request,
    form: Form,
    svc: Svc,
    who: MayPersonWrite,
    retry: Retried,
) -> Response:
    """Remove a family link of this person recorded wrongly (and its inverse), for a
    reason; the correct link can then be added."""
    try:
        body = forms.parse(LinkRemovalIn, {"reason": text(form, "reason")})
        retry.run(
            who,
            lambda guard: svc.registration.unlink(
                link_id,
                body.reason,
                who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, "person.write")),
                person_id=person_id,
            ),
            shown_again,
        )
    except (ValidationFailed, Conflict) as exc:
        # A link removed at another desk meanwhile (409) is no longer listed: the page
        # says why above the family, with the reason as typed. (A link not found is the
        # 404 of any link not found, its denial naming the link's persons: a link of
        # another site's person is not found alike, and no person is shown.)
        status = forms.status_of(exc)
        errors = {f"unlink-{link_id}": forms.reasons(exc)}
        typed = {"unlink_typed": {link_id: text(form, "reason") or ""}}
        return _person(request, svc, who, person_id, errors, typed=typed, status=status)
    return see_other(f"/persons/{person_id}")


@page(router, "/households/{household_id}")
def household(household_id: str, request: Request, svc: Svc, who: MayPersonRead) -> Response:
    data = {"household": svc.gate.household(who, household_id)}
    just = request.cookies.get(JUST_REGISTERED) == household_id  # said once, after registering
    extra = {"sites": site_names(svc, who), "registered": just}
    response = render(request, "household.html", data, who=who, extra=extra)
    if just:
        response.delete_cookie(JUST_REGISTERED, path="/", secure=True, httponly=True)
    return response


def _number_in(typed: str) -> str | None:
    """A registration number typed or scanned into the name field, or None (a name)."""
    try:
        return registration_number_in(typed)
    except InvalidRegistrationNumber as exc:  # the QR code's prefix, then a wrong number
        raise ValidationFailed([Problem("name", text_of(exc))]) from exc


def _could_be_a_name(typed: str) -> bool:
    """Nine letters that pass the check may be a name: no digit, no QR code's prefix."""
    return not scanned(typed) and not any(c.isdigit() for c in typed)


@router.get("/search")
def search_form(request: Request, who: MayPersonSearch) -> Response:
    extra = {"values": {}, "errors": {}, "searched": False}
    return render(request, "search.html", {"results": []}, who=who, extra=extra)


@router.post("/search")
def search(request: Request, form: Form, svc: Svc, who: MayPersonSearch) -> Response:
    """A name (any script) goes to the matching engine; numbers are looked up exactly."""
    results: list[Any] = []
    errors: dict[str, str] = {}
    name = text(form, "name")
    exact = {k: text(form, k) for k in ("registration_number", "phone", "document_number")}
    page_number = 1
    try:
        page_number = _result_page(form)
        # A scanner types a wristband's code, then Enter, into whichever field has focus.
        number = _number_in(name) if name else None
        if number:
            results = svc.gate.search(who, PersonSearchIn(registration_number=number))
            if not results and name and _could_be_a_name(name):
                number = None
        if number:
            pass  # found by number (below), or nobody has it
        elif name:
            # The engine ranks MATCH_TOP, every page the same ranking (a smaller top
            # scores fewer candidates: pages would overlap); a page shows SEARCH_PAGE of
            # them, and only the page's persons are read and audited.
            query = forms.parse(
                MatchQueryIn, {"full_name": name, "purpose": "deduplication", "top": MATCH_TOP}
            )
            skip = (page_number - 1) * SEARCH_PAGE
            results = [
                {**c.person.model_dump(), "probability": c.probability}
                for c in svc.gate.match(who, query, skip=skip, limit=SEARCH_PAGE)
            ]
        elif any(exact.values()):
            results = svc.gate.search(who, forms.parse(PersonSearchIn, exact))
            if not (exact["phone"] or exact["document_number"]):
                number = exact["registration_number"]
        else:
            errors["name"] = N_("give a name, registration number, phone or document number")
        if number and len(results) == 1:  # one person by number: straight to them
            return see_other(f"/persons/{results[0].id}")
    except ValidationFailed as exc:
        errors = forms.problems_by_field(exc)
    first = (page_number - 1) * SEARCH_PAGE
    more = bool(name) and len(results) == SEARCH_PAGE and first + SEARCH_PAGE < MATCH_TOP
    extra = {
        "values": forms.as_values(form),
        "errors": errors,
        "searched": not errors,
        "result_page": {"number": page_number, "first": first + 1, "more": more},
    }
    status = 422 if errors else 200
    return render(request, "search.html", {"results": results}, who=who, status=status, extra=extra)


SEARCH_PAGE = 20  # results a page
MATCH_TOP = 50  # the most the engine ranks for one search (MatchQueryIn.top)


def _result_page(form: FormData) -> int:
    """The page of results asked for (a button of the form: POST, the name stays out of
    the URL)."""
    raw = text(form, "page") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= -(-MATCH_TOP // SEARCH_PAGE):
        raise ValidationFailed([Problem("page", N_("is not a page of these results"))])
    return int(raw)


@router.post("/persons/{person_id}/unmerge")
def unmerge(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayMerge, retry: Retried
) -> Response:
    """Undo the merge of this record (the one merged away): both records again, each
    with its own movements, links, documents and cases. Then its own page."""
    try:
        body = forms.parse(UnmergeIn, {"reason": text(form, "reason")})
        retry.run(
            who,
            lambda guard: svc.merges.unmerge(
                person_id,
                body.reason,
                who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.merge")),
                scope=who.scope,
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        # The page the form was on (the survivor's, which an old id shows), with why and
        # the reason as typed; not the queue, which says nothing of this person. A record
        # not found meanwhile (the merge undone or erased at another desk) is said so too.
        errors = {f"unmerge-{person_id}": forms.reasons(exc)}
        typed = {"unmerge_typed": {person_id: text(form, "reason") or ""}}
        status = forms.status_of(exc, shows_persons=True)
        page = _person(request, svc, who, person_id, errors, typed=typed, status=status)
        refusal_shown(svc, who, "person.merge", exc, request)
        return page
    return see_other(f"/persons/{person_id}")
