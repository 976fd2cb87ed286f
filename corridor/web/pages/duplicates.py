"""Review and merge of duplicates (issue 15): the queue of probable duplicates side by
side with the engine's explanation, and the forms that merge two records, keep them
apart, or undo a merge (from the survivor's page)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from corridor.errors import Conflict, ValidationFailed
from corridor.schemas import MergeIn, NotDuplicateIn
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages import listing
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.render import render
from corridor.web.retries import Retried, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

router = guarded_router(include_in_schema=False)
MayReview = Annotated[Caller, Depends(requires("person.merge"))]
MayMerge = Annotated[Caller, Depends(audited("person.merge"))]


# Pairs a page: each is two persons side by side, so 20 of them are 40 persons read and
# audited, about as many as other lists show.
PAIRS_A_PAGE = 20


def _queue(
    request: Request,
    svc: Services,
    who: Caller,
    errors: dict[str, str] | None = None,
    typed: dict[str, str | None] | None = None,
    status: int | None = None,
) -> Response:
    listed = svc.gate.duplicates(who, listing.paging_of(request, (), PAIRS_A_PAGE))
    data = {"pairs": listed.items, "paging": listing.paging_data(listed)}
    status = status or (422 if errors else 200)
    extra = {
        "errors": errors or {},
        # What the refused form held, shown again in that form (and only in it).
        "typed": typed or {},
        "pager": listing.pager(request, listed, len(listed.items), {}),
    }
    return render(request, "duplicates.html", data, who=who, status=status, extra=extra)


# The controls a pair's forms send, each marked on its form where a problem names it.
PAIR_FIELDS = ("other_person_id", "reason", "consent_tracing")


def _pair_form(form: FormData) -> dict[str, str | None]:
    body = {"other_person_id": text(form, "other_person_id") or "", "reason": text(form, "reason")}
    consent = text(form, "consent_tracing")  # a merge of records that differ on it
    return body if consent is None else {**body, "consent_tracing": consent}


@page(router, "/duplicates")
def duplicates(request: Request, svc: Svc, who: MayReview) -> Response:
    """Probable duplicates in the caller's sites, most probable first."""
    return _queue(request, svc, who)


def _decide_pair(
    decide: Callable[..., object],
    person_id: str,
    request: Request,
    form: FormData,
    svc: Services,
    who: Caller,
    retry: Retried,
    schema: type[MergeIn] | type[NotDuplicateIn],
    action: str,
) -> Response | None:
    """One decision on a pair (merge, or two persons), made once whatever the retries;
    the queue again with the reasons where it is refused, else None."""
    try:
        body = forms.parse(schema, _pair_form(form))
        consent = {"consent_tracing": body.consent_tracing} if isinstance(body, MergeIn) else {}
        retry.run(
            who,
            lambda guard: decide(
                person_id,
                body.other_person_id,
                body.reason,
                who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.merge")),
                scope=who.scope,
                **consent,
            ),
            shown_again,
        )
    except (ValidationFailed, Conflict) as exc:
        # Why, on the form sent (its control marked; a choice the page made, above its
        # button), and under the pair's person (the notice of a pair no longer queued).
        # A person not found (erased meanwhile, or another site's) is the bare 404: the
        # queue would show persons on a refusal, an oracle of who exists elsewhere.
        which = f"{action}-{person_id}"
        typed = {**_pair_form(form), "form": which}
        errors = forms.problems_of(exc, which, PAIR_FIELDS)
        return _queue(request, svc, who, {f"pair-{person_id}": forms.reasons(exc), **errors},
                      typed, forms.status_of(exc))
    return None


@router.post("/persons/{person_id}/merge")
def merge(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayMerge, retry: Retried
) -> Response:
    """Keep this person; the other record is merged into it. Then its page."""
    refused = _decide_pair(
        svc.merges.merge, person_id, request, form, svc, who, retry, MergeIn, "merge"
    )
    return refused or see_other(f"/persons/{person_id}")


@router.post("/persons/{person_id}/not-duplicate")
def not_duplicate(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayMerge, retry: Retried
) -> Response:
    """Two persons, not one: the pair leaves the queue for good. Then the queue."""
    refused = _decide_pair(
        svc.merges.reject, person_id, request, form, svc, who, retry, NotDuplicateIn, "apart"
    )
    return refused or see_other("/duplicates")
