"""Review and merge of duplicate persons (issue 15): the queue of probable duplicates,
merge, unmerge and "not the same person". Handlers parse, call the merge service (or the
gate for the queue) and return what it gives; every write takes an idempotency key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Response

from corridor.domain.paging import Paging
from corridor.schemas import MergeIn, NotDuplicateIn, UnmergeIn
from corridor.services import Services
from corridor.services.base import AuditHook
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import DuplicatePair, Merge, PairDecision
from corridor.services.registration.merges import QUEUE_SIZE
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.routes import PAGED, Limit, Offset, counted
from corridor.web.writes import audited

merge_router = guarded_router(prefix="/api", tags=["duplicates"])
Svc = Annotated[Services, Depends(services)]
MayReview = Annotated[Caller, Depends(requires("person.merge"))]
MayMerge = Annotated[Caller, Depends(audited("person.merge"))]


@merge_router.get("/duplicates", responses=PAGED)
def duplicates(
    svc: Svc, who: MayReview, response: Response, limit: Limit = QUEUE_SIZE, offset: Offset = 0
) -> list[DuplicatePair]:
    """Probable duplicates to review, most probable first, ``limit`` at a time (the total
    in ``X-Total-Count``): both persons side by side (as the caller may see them) with
    the engine's explanation. Only pairs whose two persons are in the caller's sites;
    filled by ``corridor duplicates``, imports and registrations at a desk."""
    listed = svc.gate.duplicates(who, Paging.of(limit=limit, offset=offset))
    return counted(response, listed, listed.items)


@merge_router.post("/persons/{person_id}/merge", status_code=201)
def merge(person_id: str, body: MergeIn, svc: Svc, who: MayMerge, retry: Retried) -> Merge:
    """Merge ``other_person_id`` into this person (the survivor): its movements, family
    links, documents and tracing matches and cases follow; its id leads here from now
    on; nothing is deleted and ``/unmerge`` undoes it. Both persons must be in the
    caller's sites (else 404, or 422 naming ``other_person_id``). Sent again with the
    same ``Idempotency-Key``: the same merge, made once."""
    return _merge_once(
        svc,
        who,
        retry,
        lambda audit: svc.merges.merge(
            person_id,
            body.other_person_id,
            body.reason,
            who.principal.user_id,
            audit=audit,
            scope=who.scope,
            consent_tracing=body.consent_tracing,
        ),
    )


@merge_router.post("/persons/{person_id}/unmerge")
def unmerge(person_id: str, body: UnmergeIn, svc: Svc, who: MayMerge, retry: Retried) -> Merge:
    """Undo the merge of this person (the one merged away) into another: both are again
    exactly as they were, each with its own movements, links, documents and cases
    (what was recorded about the survivor since stays with it). 409 when this person is
    not merged."""
    return _merge_once(
        svc,
        who,
        retry,
        lambda audit: svc.merges.unmerge(
            person_id, body.reason, who.principal.user_id, audit=audit, scope=who.scope
        ),
    )


@merge_router.post("/persons/{person_id}/not-duplicate")
def not_duplicate(
    person_id: str, body: NotDuplicateIn, svc: Svc, who: MayMerge, retry: Retried
) -> PairDecision:
    """This person and ``other_person_id`` are two persons: the pair leaves the queue and
    is never proposed again."""
    return retry.run(
        who,
        lambda guard: PairDecision.model_validate(
            svc.merges.reject(
                person_id,
                body.other_person_id,
                body.reason,
                who.principal.user_id,
                audit=guard(svc.audit.hook(who, "person.merge")),
                scope=who.scope,
            )
        ),
        lambda _: PairDecision(
            person_id=person_id, other_person_id=body.other_person_id, status="rejected"
        ),
    )


def _merge_once(
    svc: Services, who: Caller, retry: Retried, act: Callable[[AuditHook], dict[str, Any]]
) -> Merge:
    """A merge or an unmerge made once whatever the retries: ``act`` writes it, audited
    as ``person.merge``; the same key again answers the first answer."""
    return retry.run(
        who,
        lambda guard: Merge.model_validate(act(guard(svc.audit.hook(who, "person.merge")))),
        lambda done: Merge.model_validate(done.kept()),
        keep=lambda answer: {"answer": answer.model_dump(mode="json")},
    )
