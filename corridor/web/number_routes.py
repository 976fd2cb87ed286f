"""A registration number given anew (issue 16, docs/sync.md "Registration numbers"):
two installations apart gave one number to two persons, the import that brought the
second was refused, and the administrator gives the person held here a new number.
The handler parses, calls the registration service and the gate, and returns what they
give; the write takes an idempotency key like every write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from corridor.schemas import RenumberIn
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Renumbered
from corridor.web.deps import services
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

number_router = guarded_router(prefix="/api", tags=["persons"])
Svc = Annotated[Services, Depends(services)]
MayRenumber = Annotated[Caller, Depends(audited("person.renumber"))]


@number_router.post("/persons/{person_id}/renumber")
def renumber_person(
    person_id: str, body: RenumberIn, svc: Svc, who: MayRenumber, retry: Retried
) -> Renumbered:
    """Give the person a new random registration number, unique here (the
    administrator's; ``corridor person renumber`` on the command line): their number was
    given to another person too by another installation. Audited (``person.renumber``,
    the reason as its purpose), journaled: the new number reaches the nodes holding the
    person with the next sync. A merged-away id: its survivor. 404: no such person in
    the caller's sites. Sent again with the same ``Idempotency-Key``: one new number,
    the first answer again."""
    audit = svc.audit.hook(who, "person.renumber", purpose=body.reason)
    return retry.run(
        who,
        lambda guard: svc.gate.renumbered(
            who,
            svc.registration.renumber(person_id, body.reason, audit=guard(audit), scope=who.scope),
        ),
        lambda done: Renumbered.model_validate(done.kept()),
        keep=lambda answer: {"answer": answer.model_dump(mode="json")},
    )
