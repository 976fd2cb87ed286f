"""The tracing API: enquiries, the officers' queue, decisions on matches and cases, and
the enquirer view. Handlers parse, call the tracing service, audit what they show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from corridor.services import Services
from corridor.services.accounts import Caller
from corridor.services.tracing_views import person_ids_in
from corridor.tracing_schemas import DisclosureIn, EnquiryIn, MatchDecisionIn, TransitionIn
from corridor.web.auth import requires
from corridor.web.deps import services

tracing_router = APIRouter(prefix="/api/tracing", tags=["tracing"])
Svc = Annotated[Services, Depends(services)]
Json = dict[str, Any]
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]
MayTracingWrite = Annotated[Caller, Depends(requires("tracing.write"))]


@tracing_router.post("/enquiries", status_code=201)
def create_enquiry(body: EnquiryIn, svc: Svc, who: MayTracingWrite) -> Json:
    """Record an enquiry (the enquirer and one or more sought persons); the registered
    persons who may be them are proposed at once, each with its explanation."""
    return svc.tracing.create_enquiry(
        body, recorded_by=who.principal.user_id, audit=svc.audit.hook(who, "tracing.write")
    )


@tracing_router.get("/enquiries/{enquiry_id}")
def get_enquiry(enquiry_id: str, svc: Svc, who: MayTracingRead) -> Json:
    enquiry = svc.tracing.views.enquiry(enquiry_id)
    svc.audit.record(who, "tracing.read", person_ids_in(enquiry))
    return enquiry


@tracing_router.get("/enquiries/{enquiry_id}/enquirer-view")
def enquirer_view(enquiry_id: str, svc: Svc, who: MayTracingRead) -> Json:
    """What may be told to the enquirer: found or not, whether a message can be passed,
    and the site only once the found adult agreed (a child: a protection officer's
    decision)."""
    view = svc.tracing.views.enquirer_view(enquiry_id)
    svc.audit.record(
        who, "tracing.read", person_ids_in(view), purpose="telling an enquirer the outcome"
    )
    return view


@tracing_router.get("/queue")
def queue(svc: Svc, who: MayTracingRead) -> list[Json]:
    """Cases to act on: unaccompanied and separated children first, each with the
    candidates waiting for a decision."""
    items = svc.tracing.views.queue()
    svc.audit.record(who, "tracing.read", person_ids_in(items))
    return items


@tracing_router.get("/cases/{case_id}")
def get_case(case_id: str, svc: Svc, who: MayTracingRead) -> Json:
    """The case: the sought person, every candidate with its field-by-field explanation,
    and the log of who did what when."""
    case = svc.tracing.views.case(case_id)
    svc.audit.record(who, "tracing.read", person_ids_in(case))
    return case


@tracing_router.post("/matches/{match_id}/confirm")
def confirm_match(match_id: str, body: MatchDecisionIn, svc: Svc, who: MayTracingWrite) -> Json:
    """This candidate is the person sought: the case is verified."""
    return svc.tracing.confirm_match(
        match_id, body, who, audit=svc.audit.hook(who, "tracing.write")
    )


@tracing_router.post("/matches/{match_id}/reject")
def reject_match(match_id: str, body: MatchDecisionIn, svc: Svc, who: MayTracingWrite) -> Json:
    """Not the person sought (the reason is kept)."""
    return svc.tracing.reject_match(
        match_id, body, who, audit=svc.audit.hook(who, "tracing.write")
    )


@tracing_router.post("/cases/{case_id}/disclosure")
def decide_disclosure(case_id: str, body: DisclosureIn, svc: Svc, who: MayTracingRead) -> Json:
    """Whether the enquirer may learn where the found person is: an adult's own answer,
    recorded by a tracing officer; for a child, a protection officer's decision. (Gated
    on tracing.read, which both roles hold; the service checks which one decides.)"""
    return svc.tracing.decide_disclosure(
        case_id, body, who, audit=svc.audit.hook(who, "tracing.write")
    )


@tracing_router.post("/cases/{case_id}/transitions")
def transition(case_id: str, body: TransitionIn, svc: Svc, who: MayTracingWrite) -> Json:
    """family_informed, reunited, or closed with a reason."""
    return svc.tracing.transition(case_id, body, who, audit=svc.audit.hook(who, "tracing.write"))
