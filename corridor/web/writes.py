"""The gate of every write handler: ``requires(action)``, and one denial in the audit log
when the write is then refused.

A write that passes the role gate may still be refused: the person, manifest, case or
export is outside the caller's sites (answered 404, never 403: no existence oracle) or
the caller may not write a field of it (403), or its body names a person outside the
caller's sites (422 "person not found", as for one who does not exist; the service lists
them in ``ValidationFailed.refused``). The write rolled back, so the denial is
written in its own transaction: one event, ``allowed=False``, for the person the path
names (``person_id``) or the handler named with ``refused_about``, else without a
person. A role refusal is audited by ``requires``
itself, before the handler runs, and is not counted twice.

Every write handler takes its caller from ``audited(action)``, and passes
``svc.audit.hook(who, action)`` to the service, which appends the allowed events inside
the write's own transaction (the services take that hook as a required argument).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from corridor.errors import (
    ConsentWithdrawn,
    CorridorError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.deps import services

Svc = Annotated[Services, Depends(services)]

# The refusals of a write that the audit log records as denials (a conflict or an invalid
# input is no denial: the caller may do the write, just not with these values now; but
# for a case refused for the found person's sake, ``ConsentWithdrawn``).
DENIALS = (NotFound, Forbidden, ConsentWithdrawn)


def audited(action: str, gate: str | None = None) -> Callable[..., AsyncIterator[Caller]]:
    """A dependency: the caller, once one of their roles allows ``gate`` (default:
    ``action``); a refusal of the write that follows is audited as a denial of ``action``."""
    check = requires(gate or action)

    # ``check`` is local: a default, not an annotation (annotations are read as strings).
    async def write(
        request: Request,
        svc: Svc,
        who: Caller = Depends(check),  # noqa: B008
    ) -> AsyncIterator[Caller]:
        try:
            yield who
        except DENIALS as exc:
            if getattr(exc, "audited", False):  # the gate already recorded this refusal
                raise
            await run_in_threadpool(_deny, svc, who, action, request, exc)
            raise
        except ValidationFailed as exc:
            # The body named persons out of the caller's reach ("person not found", as
            # for nobody): one denial each. Other invalid input is no denial.
            if exc.refused:
                await run_in_threadpool(svc.gate.refused, who, action, exc.refused)
            if exc.shown:  # persons the refusal names: read, and audited as such
                await run_in_threadpool(svc.gate.named_in_refusal, who, action, exc.shown)
            raise

    write.action = gate or action  # type: ignore[attr-defined]  # read by the matrix test
    # What the write is audited as (tests/support/route_table.py: the tracing writes).
    write.audits = action  # type: ignore[attr-defined]
    return write


def refused_about(request: Request, person_ids: list[str | None]) -> None:
    """Name the persons a refused write concerned, where the path does not (the denial
    event is written for them)."""
    request.state.refused_person_ids = person_ids


def _deny(svc: Services, who: Caller, action: str, request: Request, exc: Exception) -> None:
    """The denial of a refused write: for the persons the handler named, else the one
    the path names, else those the refusal names (a family link's persons:
    ``LinkNotFound.refused``), else nobody."""
    named = getattr(request.state, "refused_person_ids", None)
    path_person = request.path_params.get("person_id")
    person_ids = (
        named
        or ([path_person] if path_person else None)
        or getattr(exc, "refused", None)
        or [None]
    )
    svc.gate.refused(who, action, person_ids, getattr(exc, "purpose", None))


def refusal_shown(
    svc: Services, who: Caller, action: str, exc: Exception, request: Request | None = None
) -> None:
    """A page that shows a write's refusal on its form instead of raising it: the denial
    ``audited`` would have written (``ConsentWithdrawn``: one naming the found person;
    with ``request``, a record not found, named as ``audited`` names it). Called once
    the page is rendered: a page that cannot be shown again (its own record gone) raises
    its own 404 instead, audited by ``audited``, once."""
    if isinstance(exc, ConsentWithdrawn):
        svc.gate.refused(who, action, exc.refused, exc.purpose)
    elif request is not None and isinstance(exc, DENIALS) and not getattr(exc, "audited", False):
        _deny(svc, who, action, request, exc)
    elif isinstance(exc, ValidationFailed) and exc.shown:
        # Persons the refusal tells about (a person put on a truck who is on another
        # one): read, and audited as such, as ``audited`` does for the API.
        svc.gate.named_in_refusal(who, action, exc.shown)


def said_above(request: Request, exc: CorridorError) -> None:
    """A refusal that names no field of the form (decided elsewhere: a conflict, a record
    not found, a site node's refusal), said at the top of the page the form is shown on
    again (``render``'s ``refusal``, base.html), whatever page that is: for the pages
    that say only the problems of their fields."""
    if not exc.problems:
        request.state.refusal = exc.message
