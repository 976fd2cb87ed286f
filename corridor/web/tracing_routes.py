"""The tracing API: enquiries, the officers' queue, decisions on matches and cases, and
the enquirer view. Handlers parse, call the tracing service, audit what they show."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from corridor.errors import Forbidden
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.tracing.read_models import (
    Case,
    EnquirerView,
    Enquiry,
    EnquiryList,
    QueueItem,
)
from corridor.tracing_schemas import (
    CandidateIn,
    DisclosureIn,
    EnquiryIn,
    MatchDecisionIn,
    TransitionIn,
)
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refused_about

tracing_router = guarded_router(prefix="/api/tracing", tags=["tracing"])
Svc = Annotated[Services, Depends(services)]
Json = dict[str, Any]
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]
MayTracingWrite = Annotated[Caller, Depends(audited("tracing.write"))]
# Both roles that decide a disclosure hold tracing.read; the service checks which decides.
MayDecide = Annotated[Caller, Depends(audited("tracing.write", gate="tracing.read"))]


@tracing_router.post("/enquiries", status_code=201)
def create_enquiry(body: EnquiryIn, svc: Svc, who: MayTracingWrite, retry: Retried) -> Enquiry:
    """Record an enquiry (the enquirer and one or more sought persons); the registered
    persons who may be them are proposed at once, each with its explanation."""
    return retry.run(
        who,
        lambda guard: svc.gate.tracing_written(
            who,
            svc.tracing.create_enquiry(
                body,
                recorded_by=who.principal.user_id,
                audit=guard(svc.audit.hook(who, "tracing.write")),
            ),
            Enquiry,
        ),
        lambda done: svc.gate.tracing(
            who,
            lambda: svc.tracing.views.enquiry(done.ref["enquiry_id"], scope=who.scope),
            Enquiry,
        ),
        made.enquiry_ref(who.principal.user_id),
    )


@tracing_router.get("/enquiries")
def list_enquiries(
    svc: Svc,
    who: MayTracingRead,
    state: Annotated[Literal["open", "closed"] | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> EnquiryList:
    """Every enquiry in the caller's scope, children first, then open before closed,
    oldest first; ``state`` filters, ``page`` pages (50 a page). No registered person
    is in it: the persons sought and the candidates are on each enquiry."""
    return svc.gate.tracing(
        who,
        lambda: svc.tracing.views.enquiries(scope=who.scope, state=state, page=page),
        EnquiryList,
    )


@tracing_router.get("/enquiries/{enquiry_id}")
def get_enquiry(enquiry_id: str, svc: Svc, who: MayTracingRead) -> Enquiry:
    return svc.gate.tracing(
        who, lambda: svc.tracing.views.enquiry(enquiry_id, scope=who.scope), Enquiry
    )


@tracing_router.get("/enquiries/{enquiry_id}/enquirer-view")
def enquirer_view(enquiry_id: str, svc: Svc, who: MayTracingRead) -> EnquirerView:
    """What may be told to the enquirer: found or not, whether a message can be passed,
    and the site only once the found adult agreed (a child: a protection officer's
    decision)."""
    return svc.gate.enquirer_view(who, enquiry_id)


@tracing_router.get("/queue")
def queue(svc: Svc, who: MayTracingRead) -> list[QueueItem]:
    """Cases to act on: unaccompanied and separated children first, each with the
    candidates waiting for a decision."""
    return svc.gate.tracing(who, lambda: svc.tracing.views.queue(scope=who.scope), QueueItem)


@tracing_router.get("/cases/{case_id}")
def get_case(case_id: str, svc: Svc, who: MayTracingRead) -> Case:
    """The case: the sought person, every candidate with its field-by-field explanation,
    and the log of who did what when."""
    return svc.gate.tracing(who, lambda: svc.tracing.views.case(case_id, scope=who.scope), Case)


@tracing_router.post("/matches/{match_id}/confirm")
def confirm_match(
    match_id: str, body: MatchDecisionIn, svc: Svc, who: MayTracingWrite, retry: Retried
) -> Case:
    """This candidate is the person sought: the case is verified."""
    audit = svc.audit.hook(who, "tracing.write")
    return retry.run(
        who,
        lambda guard: svc.gate.tracing_written(
            who, svc.tracing.confirm_match(match_id, body, who, audit=guard(audit)), Case
        ),
        lambda done: _case(svc, who, done.ref["case_id"]),
        made.match_case_ref(match_id),
    )


@tracing_router.post("/matches/{match_id}/reject")
def reject_match(
    match_id: str, body: MatchDecisionIn, svc: Svc, who: MayTracingWrite, retry: Retried
) -> Case:
    """Not the person sought (the reason is kept)."""
    audit = svc.audit.hook(who, "tracing.write")
    return retry.run(
        who,
        lambda guard: svc.gate.tracing_written(
            who, svc.tracing.reject_match(match_id, body, who, audit=guard(audit)), Case
        ),
        lambda done: _case(svc, who, done.ref["case_id"]),
        made.match_case_ref(match_id),
    )


@tracing_router.post("/cases/{case_id}/candidates")
def attach_candidate(
    case_id: str,
    body: CandidateIn,
    svc: Svc,
    who: MayTracingWrite,
    request: Request,
    retry: Retried,
) -> Case:
    """Attach a person found by a search (``POST /api/persons/match`` for tracing) as a
    candidate: the engine scores and explains the pair, the case keeps who attached it.
    Only a person a tracing search reaches (the caller's scope, consented to tracing):
    anyone else is 404. Attaching the same person again changes nothing; one rejected
    before is a conflict (409); a case no longer searching too."""
    audit = svc.audit.hook(who, "tracing.write")
    refused_about(request, [body.person_id])  # named in the denial if it is refused
    return retry.run(
        who,
        lambda guard: svc.gate.tracing_written(
            who, svc.tracing.attach_candidate(case_id, body, who, audit=guard(audit)), Case
        ),
        lambda _: _case(svc, who, case_id),
    )


@tracing_router.post("/cases/{case_id}/disclosure")
def decide_disclosure(
    case_id: str, body: DisclosureIn, svc: Svc, who: MayDecide, request: Request, retry: Retried
) -> Case:
    """Whether the enquirer may learn where the found person is: an adult's own answer,
    recorded by a tracing officer; for a child, a protection officer's decision. (Gated
    on tracing.read, which both roles hold; the service checks which one decides.)"""
    found = svc.gate.case_subject(who, case_id)  # out of scope: 404
    audit = svc.audit.hook(who, "tracing.write")
    try:
        return retry.run(
            who,
            lambda guard: svc.gate.tracing_written(
                who, svc.tracing.decide_disclosure(case_id, body, who, audit=guard(audit)), Case
            ),
            lambda _: _case(svc, who, case_id),
        )
    except Forbidden:  # not the role that decides for this person: audited as a denial
        refused_about(request, [found])
        raise


@tracing_router.post("/cases/{case_id}/transitions")
def transition(
    case_id: str, body: TransitionIn, svc: Svc, who: MayTracingWrite, retry: Retried
) -> Case:
    """family_informed, reunited, or closed with a reason."""
    audit = svc.audit.hook(who, "tracing.write")
    return retry.run(
        who,
        lambda guard: svc.gate.tracing_written(
            who, svc.tracing.transition(case_id, body, who, audit=guard(audit)), Case
        ),
        lambda _: _case(svc, who, case_id),
    )


def _case(svc: Services, who: Caller, case_id: str) -> Case:
    """A case read again (the answer of a decision sent twice)."""
    return svc.gate.tracing(who, lambda: svc.tracing.views.case(case_id, scope=who.scope), Case)
