"""The review queue of sync conflicts (issue 16): each conflict with both values of the
fields both sides changed apart (withheld where the caller's roles may not see them),
who made each change, when, at which node and site; and the form that decides one (a
correction, journaled like any other). The gate reads and audits the queue; the
decision goes through ``ConflictReview.resolve`` (corridor/sync/conflicts.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.errors import Conflict, NotFound, Problem, ValidationFailed, require
from corridor.schemas import ConflictResolveIn, HoldDecisionIn
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Listed
from corridor.sync.conflicts import ConflictReview
from corridor.sync.holds import HeldErasures
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.conflict_routes import HOLD_PURPOSE
from corridor.web.pages import listing
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.registration import LABELS
from corridor.web.pages.render import render
from corridor.web.retries import Retried, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

router = guarded_router(include_in_schema=False)
MayReview = Annotated[Caller, Depends(requires("person.read"))]
MayDecide = Annotated[Caller, Depends(audited("person.write"))]
MayHold = Annotated[Caller, Depends(requires("retention.hold"))]
MayLift = Annotated[Caller, Depends(audited("retention.hold"))]
CHOICE = "choice."
# A conflicting column in words (the registration form's labels; the others a column of
# the sync state only); a column not named here is shown as it is.
FIELD_LABELS: dict[str, str] = {
    **LABELS,
    "consent_share_with": LABELS["share_with"],
    "birth_date": N_("Birth date"),
    "birth_precision": N_("Birth date"),
    "movements": N_("Movements"),
    "note": N_("Note"),
}
# Conflicts a page: each names one person with both values of their fields.
CONFLICTS_A_PAGE = 20
QUEUE = "/sync/conflicts"


def _queue(
    request: Request,
    svc: Services,
    who: Caller,
    errors: dict[str, str] | None = None,
    chosen: dict[str, dict[str, str]] | None = None,
    sent: dict[str, str] | None = None,
    gone: dict[str, Any] | None = None,
    status: int | None = None,
) -> Response:
    """The queue; after a refused decision, why (``errors``, by conflict) and the choices
    sent (``chosen``: conflict -> field -> "ours" or "theirs"), shown again as made.
    ``gone``: a conflict no longer in the queue (decided meanwhile, here or elsewhere, or
    not found), said above it with how it was decided and the choices sent, read-only."""
    review = ConflictReview.of(svc)
    paging = listing.paging_of(request, (), CONFLICTS_A_PAGE)
    shown = svc.gate.sync_conflicts(who, lambda: review.queue(who.scope, paging))
    listed = Listed(total=review.total(who.scope), limit=paging.limit, offset=paging.offset)
    status = status or (422 if errors else 200)
    return render(
        request,
        "sync_conflicts.html",
        {"conflicts": shown, "paging": listing.paging_data(listed)},
        who=who,
        status=status,
        extra={
            "errors": errors or {},
            "chosen": chosen or {},
            "gone": gone,
            "labels": FIELD_LABELS,
            # The decision refused (its conflict and person): one naming a conflict not
            # listed is said on its person's forms, or above the queue.
            "sent": sent or {},
            "pager": listing.pager(request, listed, len(shown), {}, QUEUE),
            # Not listed here (the officer's): a count, so the /sync figure adds up.
            "held": HeldErasures.of(svc).total(who.scope),
        },
    )


@page(router, QUEUE)
def conflicts(request: Request, svc: Svc, who: MayReview) -> Response:
    """The conflicts to review in the caller's sites, oldest first."""
    return _queue(request, svc, who)


@router.post("/persons/{person_id}/resolve-conflict")
def resolve_conflict(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayDecide, retry: Retried
) -> Response:
    """Decide one conflict of this person (each field: ours or theirs). Then the queue."""
    conflict_id = text(form, "conflict_id") or ""
    theirs = [
        name.removeprefix(CHOICE)
        for name, value in form.multi_items()
        if name.startswith(CHOICE) and value == "theirs"
    ]
    try:
        # A choice is ours or theirs: any other value (cut short, made by hand) is
        # refused, never read as "ours".
        require(
            [
                Problem(name, N_("is neither ours nor theirs"))
                for name, value in form.multi_items()
                if name.startswith(CHOICE) and value not in ("ours", "theirs")
            ]
        )
        body = forms.parse(ConflictResolveIn, {"conflict_id": conflict_id, "theirs": theirs})
        review = ConflictReview.of(svc)
        retry.run(
            who,
            lambda guard: review.resolve(
                person_id,
                body.conflict_id,
                body.theirs,
                by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                check_fields=svc.gate.fields_check(who),
            ),
            shown_again,
        )
    except (ValidationFailed, Conflict, NotFound) as exc:
        # The choices made stay made: the form shown again does not fall back to
        # "ours" on every field (a second press would then keep ours unseen).
        chosen = {
            name.removeprefix(CHOICE): value
            for name, value in form.multi_items()
            if name.startswith(CHOICE) and isinstance(value, str)
        }
        decided = (
            None
            if isinstance(exc, ValidationFailed)
            else ConflictReview.of(svc).decision(conflict_id, person_id, who.scope)
        )
        if decided is None and isinstance(exc, NotFound):
            # A conflict not found, or out of reach: the bare 404 (its denial audited by
            # ``audited``), never the queue, which would show persons on a refusal.
            raise exc
        if decided is None:
            sent = {"conflict_id": conflict_id, "person_id": person_id}
            sent["refused"] = ",".join(p.field for p in exc.problems)  # the choices marked
            return _queue(
                request, svc, who, {conflict_id: forms.reasons(exc)}, {conflict_id: chosen}, sent
            )
        # Gone from the queue: decided meanwhile (at another desk, or elsewhere and
        # received by sync). Said above the queue, with how it was decided and the
        # choices sent, never the bare error page.
        gone = {
            "person_id": person_id,
            "reason": N_("This conflict was decided meanwhile: your decision was not recorded"),
            "decision": decided,
            "chosen": chosen,
        }
        return _queue(request, svc, who, gone=gone, status=409)
    return see_other(QUEUE)


def _holds(
    request: Request,
    svc: Services,
    who: Caller,
    errors: dict[str, str] | None = None,
    sent: dict[str, str] | None = None,
) -> Response:
    """The queue; after a refused decision, why (``errors``, by conflict) on the form
    sent, which ``sent`` names (its conflict and person: a conflict id the queue does not
    list is said on the person's forms, or above the queue)."""
    review = HeldErasures.of(svc)
    listed = svc.gate.held_erasures(who, lambda: review.queue(who.scope))
    refused = svc.gate.refused_erasures(who, lambda: review.refused(who.scope))
    return render(
        request,
        "sync_holds.html",
        {"holds": listed, "refused": refused},
        who=who,
        status=422 if errors else 200,
        extra={"errors": errors or {}, "sent": sent or {}},
    )


@page(router, "/sync/holds")
def held_erasures(request: Request, svc: Svc, who: MayHold) -> Response:
    """The erasures received for persons on legal hold here, oldest first."""
    return _holds(request, svc, who)


@router.post("/persons/{person_id}/resolve-hold")
def resolve_hold(
    person_id: str, request: Request, form: Form, svc: Svc, who: MayLift, retry: Retried
) -> Response:
    """Keep the hold (the erasure refused) or lift it (the erasure carried out). Then
    the queue."""
    conflict_id = text(form, "conflict_id") or ""
    decision = text(form, "decision") or ""
    try:
        body = forms.parse(
            HoldDecisionIn,
            {"conflict_id": conflict_id, "lift": decision == "lift"}
            if decision in ("keep", "lift")
            else {"conflict_id": conflict_id},
        )
        review = HeldErasures.of(svc)
        retry.run(
            who,
            lambda guard: review.decide(
                person_id,
                body.conflict_id,
                body.lift,
                by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "retention.hold", purpose=HOLD_PURPOSE[body.lift])),
                scope=who.scope,
            ),
            shown_again,
        )
    except (ValidationFailed, Conflict) as exc:
        sent = {"conflict_id": conflict_id, "person_id": person_id}
        # The choice refused (a button's value: said as the choice's error).
        if any(p.field in ("decision", "lift") for p in exc.problems):
            sent["field"] = "decision"
        return _holds(request, svc, who, {conflict_id: forms.reasons(exc)}, sent)
    return see_other("/sync/holds")
