"""The review queue of sync conflicts (issue 16, docs/sync.md "Conflicts"): the open
conflicts of the caller's sites, and an officer's decision on one. Handlers parse, call
the gate or ``ConflictReview`` (corridor/sync/conflicts.py) and return what they give;
the decision takes an idempotency key like every write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Response

from corridor.domain.paging import Paging
from corridor.schemas import ConflictResolveIn, HoldDecisionIn
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import (
    ConflictResolved,
    HeldErasure,
    HoldDecided,
    Listed,
    SyncConflict,
)
from corridor.sync.conflicts import ConflictReview
from corridor.sync.holds import HeldErasures
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.routes import PAGED, Limit, Offset, counted
from corridor.web.writes import audited

conflict_router = guarded_router(prefix="/api", tags=["sync"])
Svc = Annotated[Services, Depends(services)]
MayReview = Annotated[Caller, Depends(requires("person.read"))]
MayDecide = Annotated[Caller, Depends(audited("person.write"))]
# Conflicts an answer holds when no ``limit`` is given (each names one person).
QUEUE_SIZE = 100
# Placing or lifting a legal hold: the data protection officer's (``retention.hold``).
MayHold = Annotated[Caller, Depends(requires("retention.hold"))]
MayLift = Annotated[Caller, Depends(audited("retention.hold"))]
HOLD_PURPOSE = {
    True: "legal hold lifted: an erasure received from another installation carried out",
    False: "legal hold kept: an erasure received from another installation refused",
}


@conflict_router.get("/sync/conflicts", responses=PAGED)
def conflicts(
    svc: Svc, who: MayReview, response: Response, limit: Limit = QUEUE_SIZE, offset: Offset = 0
) -> list[SyncConflict]:
    """The conflicts to review in the caller's sites, oldest first, ``limit`` at a time
    (the total in ``X-Total-Count``): a change from another node (or the central) and
    ours both changed the same field(s) of a person apart. Each field with both values
    (withheld where the caller's roles may not see it), and who made each change, when,
    at which node and site."""
    review = ConflictReview.of(svc)
    paging = Paging.of(limit=limit, offset=offset)
    items = svc.gate.sync_conflicts(who, lambda: review.queue(who.scope, paging))
    listed = Listed(total=review.total(who.scope), limit=paging.limit, offset=paging.offset)
    return counted(response, listed, items)


@conflict_router.post("/persons/{person_id}/resolve-conflict")
def resolve_conflict(
    person_id: str, body: ConflictResolveIn, svc: Svc, who: MayDecide, retry: Retried
) -> ConflictResolved:
    """Decide a conflict of this person: the fields in ``theirs`` take the other side's
    value, the others keep ours. The decision is a correction (audited, journaled: it
    reaches the other side with the next sync) and the conflict leaves the queue. 404:
    no open conflict of this person in the caller's sites; 409: decided meanwhile; 403:
    a field the caller's roles may not see. Sent again with the same
    ``Idempotency-Key``: decided once, the first answer again."""
    review = ConflictReview.of(svc)
    return retry.run(
        who,
        lambda guard: svc.gate.conflict_resolved(
            who,
            review.resolve(
                person_id,
                body.conflict_id,
                body.theirs,
                by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.write")),
                scope=who.scope,
                check_fields=svc.gate.fields_check(who),
            ),
        ),
        # The stored answer holds ids and choices only; the person is read again.
        lambda done: ConflictResolved.model_validate(
            {**done.kept(), "person": svc.gate.person(who, person_id)}
        ),
        keep=lambda answer: {"answer": answer.model_dump(mode="json", exclude={"person"})},
    )


@conflict_router.get("/sync/holds")
def held_erasures(svc: Svc, who: MayHold) -> list[HeldErasure]:
    """The erasures received from another node (or the central) for persons on legal
    hold here, oldest first: who asked, when, at which node and site, and the hold (who
    placed it, when, where). Registration numbers, no name."""
    review = HeldErasures.of(svc)
    return svc.gate.held_erasures(who, lambda: review.queue(who.scope))


@conflict_router.post("/persons/{person_id}/resolve-hold")
def resolve_hold(
    person_id: str, body: HoldDecisionIn, svc: Svc, who: MayLift, retry: Retried
) -> HoldDecided:
    """Decide an erasure received for a person on legal hold here: keep the hold (the
    erasure refused; the refusal reaches the installation that erased) or lift it (the
    erasure carried out as received, audited, journaled). 404: none open for this
    person; 409: decided meanwhile. Sent again with the same ``Idempotency-Key``:
    decided once, the first answer again."""
    review = HeldErasures.of(svc)
    return retry.run(
        who,
        lambda guard: HoldDecided.model_validate(
            review.decide(
                person_id,
                body.conflict_id,
                body.lift,
                by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "retention.hold", purpose=HOLD_PURPOSE[body.lift])),
                scope=who.scope,
            )
        ),
        lambda done: HoldDecided.model_validate(done.kept()),
        keep=lambda answer: {"answer": answer.model_dump(mode="json")},
    )
