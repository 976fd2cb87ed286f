"""Tracing: the officers' queue (children first), an enquiry from a relative, a case with
each candidate side by side with the person sought and the engine's explanation,
confirm or reject, the found person's disclosure decision, and the enquirer view (only
what may be told). Same service, gates and audit as ``corridor/web/tracing_routes.py``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from corridor.domain.countries import country_code, country_names
from corridor.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    TracingAtCentral,
    ValidationFailed,
)
from corridor.schemas import MatchQueryIn
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Candidate, Listed
from corridor.services.tracing.read_models import Case, Enquiry, EnquiryList, QueueItem
from corridor.text import N_
from corridor.tracing_schemas import (
    SOUGHT_MAX,
    CandidateIn,
    DisclosureIn,
    EnquiryIn,
    MatchDecisionIn,
    TransitionIn,
)
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages import listing
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.render import language_of, render
from corridor.web.retries import Retried, Retry, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refusal_shown, refused_about

router = guarded_router(include_in_schema=False)
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]
MayTracingWrite = Annotated[Caller, Depends(requires("tracing.write"))]
WritesTracing = Annotated[Caller, Depends(audited("tracing.write"))]
# Both roles that decide a disclosure hold tracing.read; the service checks which decides.
Decides = Annotated[Caller, Depends(audited("tracing.write", gate="tracing.read"))]
# How many persons a search from a case shows.
CASE_SEARCH_TOP = 20


@page(router, "/tracing")
def queue(request: Request, svc: Svc, who: MayTracingRead) -> Response:
    paging = listing.paging_of(request, ())
    whole: list[int] = []
    # The queue's order comes from its cases' candidates (the tracing service); only the
    # page's cases reach the gate, so only their persons are audited.
    items = svc.gate.tracing(
        who,
        lambda: listing.sliced(svc.tracing.views.queue(scope=who.scope), paging, whole),
        QueueItem,
    )
    listed = Listed(total=whole[0], limit=paging.limit, offset=paging.offset)
    data = {"queue": items, "paging": listing.paging_data(listed)}
    extra = {"pager": listing.pager(request, listed, len(items), {})}
    return render(request, "tracing_queue.html", data, who=who, extra=extra)


@page(router, "/tracing/enquiries")
def enquiries(
    request: Request,
    svc: Svc,
    who: MayTracingRead,
    state: str | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Every enquiry in the caller's scope, children first; filtered by state, paged."""
    view = svc.gate.tracing(
        who,
        lambda: svc.tracing.views.enquiries(scope=who.scope, state=state or None, page=page_number),
        EnquiryList,
    )
    return render(request, "tracing_enquiries.html", {"enquiries": view}, who=who)


def _enquiry_form(
    request: Request,
    who: Caller,
    values: dict[str, str],
    errors: dict[str, str],
    rows: int = 1,
    status: int | None = None,
) -> Response:
    """The enquiry form, holding ``values``; ``errors``: field -> why, and ``form`` ->
    why the whole enquiry was refused (said above it)."""
    extra = {
        "values": values,
        "errors": errors,
        "rows": min(rows, SOUGHT_MAX),
        "sought_limit": SOUGHT_MAX,
        "countries": country_names(language_of(request).code),
    }
    status = status or (422 if errors else 200)
    return render(request, "tracing_enquiry_form.html", {}, who=who, status=status, extra=extra)


@router.get("/tracing/enquiries/new")
def enquiry_form(request: Request, who: MayTracingWrite) -> Response:
    return _enquiry_form(request, who, {}, {})


SOUGHT_FIELD = re.compile(r"sought\[(\d{1,2})\]\.")
TYPED_AS_ONE = re.compile(r"(\.relatives_names)\[\d+\]$")
SOUGHT_TEXT = (
    "full_name",
    "name_original_script",
    "sex",
    "birth_year",
    "age",
    "mother_name",
    "place_of_origin",
    "last_seen_place",
    "last_seen_date",
)


def _sought(form: FormData, prefix: str) -> dict[str, Any]:
    sought: dict[str, Any] = {}
    for k in SOUGHT_TEXT:
        value = text(form, f"{prefix}{k}")
        if value is not None:
            sought[k] = value
    relatives = text(form, f"{prefix}relatives_names")
    if relatives:
        sought["relatives_names"] = [r.strip() for r in relatives.split(",") if r.strip()]
    return sought


def _enquiry_body(form: FormData, language: str) -> tuple[dict[str, Any], list[int]]:
    """The EnquiryIn body, and the form row of each sought person sent (blank rows
    after the first are left out). The enquirer's country is typed or picked by name in
    the reader's language (or as an ISO code) and sent as its ISO code."""
    enquirer: dict[str, str | None] = {
        k: text(form, f"enquirer.{k}") or ""
        for k in ("name", "contact", "relationship", "location")
    }
    if not enquirer["relationship"]:  # not chosen: "is required", not a list of codes
        del enquirer["relationship"]
    country = text(form, "enquirer.country")
    if country:
        # A name no list knows is left out here and reported beside the other problems.
        enquirer["country"] = country_code(country, language)
    rows = sorted({int(m.group(1)) for k in form if (m := SOUGHT_FIELD.match(k))}) or [0]
    sought = [(i, _sought(form, f"sought[{i}].")) for i in rows]
    kept = [(i, s) for n, (i, s) in enumerate(sought) if s or n == 0]
    body = {"enquirer": enquirer, "sought": [s for _, s in kept], "note": text(form, "note")}
    return body, [i for i, _ in kept]


@router.get("/tracing/enquiries/sought")
def sought_row(request: Request, who: MayTracingWrite, index: int = 0) -> Response:
    """One more person sought (htmx), and the button for the next one (none after the
    last an enquiry may name; past it, no row: a row past it would repeat the last
    row's field names, and the person typed there would overwrite the one before)."""
    extra = {"index": max(0, index), "values": {}, "errors": {}, "sought_limit": SOUGHT_MAX}
    return render(request, "_sought.html", {}, who=who, extra=extra)


@router.post("/tracing/enquiries")
def create_enquiry(
    request: Request, form: Form, svc: Svc, who: WritesTracing, retry: Retried
) -> Response:
    """Record the enquiry; the likely persons are proposed at once."""
    body, rows = _enquiry_body(form, language_of(request).code)
    try:
        unknown_country = (
            [Problem("enquirer.country", N_("choose a country from the list"))]
            if body["enquirer"].get("country", "") is None
            else []
        )
        if unknown_country:
            del body["enquirer"]["country"]
        try:
            data = forms.parse(EnquiryIn, body)
        except ValidationFailed as exc:
            raise ValidationFailed([*unknown_country, *exc.problems]) from None
        if unknown_country:
            raise ValidationFailed(unknown_country)
        enquiry_id = retry.run(
            who,
            lambda guard: str(
                svc.tracing.create_enquiry(
                    data,
                    recorded_by=who.principal.user_id,
                    audit=guard(svc.audit.hook(who, "tracing.write")),
                )["id"]
            ),
            lambda done: str(done.ref["enquiry_id"]),
            made.enquiry_ref(who.principal.user_id),
        )
    except ValidationFailed as exc:
        errors: dict[str, str] = {}
        for field, reason in forms.problems_by_field(exc).items():
            for n, i in enumerate(rows):  # the n-th person sent is the form's row i
                if field.startswith(f"sought[{n}]."):
                    # Once: the row found is not moved on again (with a blank row 1,
                    # the second person's problem went to row 3, not row 2).
                    field = field.replace(f"sought[{n}].", f"sought[{i}].", 1)
                    break
            # A relative's name is an item of the one input typed comma separated.
            field = TYPED_AS_ONE.sub(r"\1", field)
            errors.setdefault(field, reason)
        extra_rows = max(rows) + 1
        return _enquiry_form(request, who, forms.as_values(form), errors, extra_rows)
    except (Conflict, NotFound) as exc:
        # Refused for where it was sent (a site node: tracing is done at the central)
        # or for what was decided elsewhere, not for what it holds: the form as typed,
        # to record it where it can be.
        errors = {"form": forms.reasons(exc)}
        values = forms.as_values(form)
        status = forms.status_of(exc)
        page = _enquiry_form(request, who, values, errors, max(rows) + 1, status=status)
        refusal_shown(svc, who, "tracing.write", exc, request)
        return page
    return see_other(f"/tracing/enquiries/{enquiry_id}")


@page(router, "/tracing/enquiries/{enquiry_id}")
def enquiry(enquiry_id: str, request: Request, svc: Svc, who: MayTracingRead) -> Response:
    view = svc.gate.tracing(
        who, lambda: svc.tracing.views.enquiry(enquiry_id, scope=who.scope), Enquiry
    )
    return render(request, "tracing_enquiry.html", {"enquiry": view}, who=who)


@page(router, "/tracing/enquiries/{enquiry_id}/enquirer-view")
def enquirer_view(enquiry_id: str, request: Request, svc: Svc, who: MayTracingRead) -> Response:
    """What an officer may tell the enquirer, and nothing more."""
    view = svc.gate.enquirer_view(who, enquiry_id)
    return render(request, "tracing_enquirer_view.html", {"view": view}, who=who)


def _case(
    request: Request,
    svc: Services,
    who: Caller,
    case_id: str,
    errors: dict[str, str],
    found: list[Candidate] | None = None,
    values: dict[str, str] | None = None,
    case: Case | None = None,
    typed: dict[str, dict[str, str]] | None = None,
    status: int | None = None,
) -> Response:
    """The case page; ``typed``: after a refusal, what was typed in the form that was
    sent (keyed ``confirm-{match id}``, ``reject-{match id}``, ``disclosure`` or
    ``transition``), shown again as typed."""
    if case is None:
        case = _read_case(svc, who, case_id)
    status = status or (422 if errors else 200)
    if values is None:  # the search form starts from what the enquirer said
        s = case.sought
        values = {
            "name": s.full_name or s.name,
            "sex": s.sex or "",
            "age": "" if s.age is None else str(s.age),
        }
    extra = {
        "errors": errors,
        "values": values,
        "searched": found is not None,
        "typed": typed or {},
    }
    return render(
        request,
        "tracing_case.html",
        {"case": case, "found": found or []},
        who=who,
        status=status,
        extra=extra,
    )


@page(router, "/tracing/cases/{case_id}")
def case(case_id: str, request: Request, svc: Svc, who: MayTracingRead) -> Response:
    return _case(request, svc, who, case_id, {})


def _read_case(svc: Services, who: Caller, case_id: str) -> Case:
    return svc.gate.tracing(who, lambda: svc.tracing.views.case(case_id, scope=who.scope), Case)


@router.post("/tracing/cases/{case_id}/search")
def search_for_case(
    case_id: str, request: Request, form: Form, svc: Svc, who: MayTracingWrite
) -> Response:
    """A search of the registry for the person sought (a read: a POST so that no name
    is in the URL), through the gate for tracing: the caller's scope, only persons who
    consented to tracing. Each person found can be attached to the case."""
    values = {k: text(form, k) or "" for k in SEARCHED}
    return _searched(request, svc, who, case_id, values, {})


# What a search from a case page asks: each attach button of its results carries it back
# (hidden ``search.{field}``), so that a refused attach shows the search again.
SEARCHED = ("name", "sex", "age")


def _searched(
    request: Request,
    svc: Services,
    who: Caller,
    case_id: str,
    values: dict[str, str],
    errors: dict[str, str],
    status: int | None = None,
) -> Response:
    """The case page with the search ``values`` asked and its results (``errors``: why
    an attach from them was refused, said above them)."""
    query: dict[str, Any] = {"purpose": "tracing", "top": CASE_SEARCH_TOP}
    name = values.get("name")
    if name:
        query["full_name"] = name
    for field in ("sex", "age"):
        if values.get(field):
            query[field] = values[field]
    if not name:
        reason = N_("give a name (in any script)")
        return _case(request, svc, who, case_id, {"search": reason}, values=values)
    try:
        parsed = forms.parse(MatchQueryIn, query)
    except ValidationFailed as exc:
        return _case(request, svc, who, case_id, {"search": forms.reasons(exc)}, values=values)
    case = _read_case(svc, who, case_id)
    # The case's candidates are shown (and audited) above the results: not twice.
    candidates = {m.person.id for m in case.matches}
    found = svc.gate.match(who, parsed, leave_out=candidates)
    response = _case(request, svc, who, case_id, errors, found=found, values=values, case=case)
    if status is not None:
        response.status_code = status
    return response


@router.post("/tracing/cases/{case_id}/candidates")
def attach_candidate(
    case_id: str, request: Request, form: Form, svc: Svc, who: WritesTracing, retry: Retried
) -> Response:
    """Attach a person found by the search as a candidate for the case."""
    audit = svc.audit.hook(who, "tracing.write")
    body = {"person_id": text(form, "person_id") or "", "reason": text(form, "reason")}
    # The search the button was in (its results are shown again with a refusal).
    searched = {k: text(form, f"search.{k}") or "" for k in SEARCHED}
    try:
        data = forms.parse(CandidateIn, body)
        retry.run(
            who,
            lambda guard: svc.tracing.attach_candidate(case_id, data, who, audit=guard(audit)),
            shown_again,
        )
    except NotFound as exc:  # not a person a tracing search reaches: the denial names them
        if not searched["name"]:
            refused_about(request, [body["person_id"] or None])
            raise
        # Erased, or withdrew their consent, since the search: the search again (they are
        # no longer in it; the answer a person never reachable gets too: no oracle), 409
        # (a page showing persons is no refusal page: those say nothing), and the denial
        # the gate would have written (a case out of reach is refused by the page itself,
        # 404: one denial, as before).
        errors = {"search": forms.reasons(exc)}
        response = _searched(request, svc, who, case_id, searched, errors, status=409)
        svc.gate.refused(who, "tracing.write", [body["person_id"] or None])
        return response
    except (ValidationFailed, Conflict) as exc:
        errors = {"search": forms.reasons(exc)}
        if searched["name"]:
            status = 409 if isinstance(exc, Conflict) else 422
            return _searched(request, svc, who, case_id, searched, errors, status=status)
        return _case(request, svc, who, case_id, errors, status=_status(exc))
    return see_other(f"/tracing/cases/{case_id}")


def _status(exc: Exception) -> int | None:
    """A case page showing a refusal: 409 where the write was refused for where it was
    sent (a site node) or for a record not found (the case page shows persons: a 404
    shows nobody); the page's own status (422) otherwise."""
    return 409 if isinstance(exc, (TracingAtCentral, NotFound)) else None


def _decide(
    request: Request,
    form: Form,
    svc: Services,
    who: Caller,
    retry: Retry,
    match_id: str,
    confirm: bool,
) -> Response:
    case_id = text(form, "case_id") or ""
    audit = svc.audit.hook(who, "tracing.write")
    decide = svc.tracing.confirm_match if confirm else svc.tracing.reject_match
    try:
        body = forms.parse(MatchDecisionIn, {"reason": text(form, "reason") or ""})
        decided = retry.run(
            who,
            lambda guard: str(decide(match_id, body, who, audit=guard(audit))["id"]),
            lambda done: str(done.ref["case_id"]),
            made.match_case_ref(match_id),
        )
    except forms.REFUSED as exc:
        which = f"{'confirm' if confirm else 'reject'}-{match_id}"
        typed = {which: forms.as_values(form)}
        errors = forms.problems_of(exc, which, ("reason",))
        page = _case(request, svc, who, case_id, errors, typed=typed, status=_status(exc))
        refusal_shown(svc, who, "tracing.write", exc, request)
        return page
    return see_other(f"/tracing/cases/{decided}")


@router.post("/tracing/matches/{match_id}/confirm")
def confirm(
    match_id: str, request: Request, form: Form, svc: Svc, who: WritesTracing, retry: Retried
) -> Response:
    """This candidate is the person sought: the case is verified."""
    return _decide(request, form, svc, who, retry, match_id, confirm=True)


@router.post("/tracing/matches/{match_id}/reject")
def reject(
    match_id: str, request: Request, form: Form, svc: Svc, who: WritesTracing, retry: Retried
) -> Response:
    return _decide(request, form, svc, who, retry, match_id, confirm=False)


@router.post("/tracing/cases/{case_id}/disclosure")
def disclosure(
    case_id: str, request: Request, form: Form, svc: Svc, who: Decides, retry: Retried
) -> Response:
    """The found adult's own answer, or for a child the protection officer's decision
    (the service checks which role decides; a refusal of the role is audited)."""
    body = {"decision": text(form, "decision") or "", "reason": text(form, "reason") or ""}
    found = svc.gate.case_subject(who, case_id)  # out of scope: 404
    audit = svc.audit.hook(who, "tracing.write")
    try:
        # A role that does not decide this case's disclosure (the page offers it no
        # form) is told so whatever the form holds.
        svc.tracing.refuse_other_decider(case_id, who)
        data = forms.parse(DisclosureIn, body)
        retry.run(
            who,
            lambda guard: svc.tracing.decide_disclosure(case_id, data, who, audit=guard(audit)),
            shown_again,
        )
    except Forbidden:
        refused_about(request, [found])
        raise
    except forms.REFUSED as exc:
        typed = {"disclosure": forms.as_values(form)}
        errors = forms.problems_of(exc, "disclosure", ("decision", "reason"))
        page = _case(request, svc, who, case_id, errors, typed=typed, status=_status(exc))
        # The found person withdrew, or a record not found meanwhile: a denial.
        refusal_shown(svc, who, "tracing.write", exc, request)
        return page
    return see_other(f"/tracing/cases/{case_id}")


@router.post("/tracing/cases/{case_id}/transitions")
def transition(
    case_id: str, request: Request, form: Form, svc: Svc, who: WritesTracing, retry: Retried
) -> Response:
    body = {k: text(form, k) for k in ("to", "close_reason", "reason")}
    try:
        data = forms.parse(TransitionIn, body)
        retry.run(
            who,
            lambda guard: svc.tracing.transition(
                case_id, data, who, audit=guard(svc.audit.hook(who, "tracing.write"))
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        typed = {"transition": forms.as_values(form)}
        errors = forms.problems_of(exc, "transition", ("to", "close_reason", "reason"))
        page = _case(request, svc, who, case_id, errors, typed=typed, status=_status(exc))
        # The found person withdrew, or a record not found: a denial.
        refusal_shown(svc, who, "tracing.write", exc, request)
        return page
    return see_other(f"/tracing/cases/{case_id}")
