"""The sync state of this installation for the site manager (issue 16, docs/sync.md):
last contact with each peer, changes to send and to receive, changes waiting for what
they depend on, conflicts to review (linking to their queue), duplicates to merge (linking
to issue 15's queue). Counts only, no person (``figures.read``); the
peers of the caller's sites. Its JSON twin is ``/sync.json`` (and ``GET
/api/sync/status``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.services.protection.accounts import Caller
from corridor.sync.conflicts import ConflictReview
from corridor.web.auth import requires
from corridor.web.pages.common import Svc, page
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router
from corridor.web.sync_routes import read_status

router = guarded_router(include_in_schema=False)
MayFiguresRead = Annotated[Caller, Depends(requires("figures.read"))]


@page(router, "/sync")
def sync_state(request: Request, svc: Svc, who: MayFiguresRead) -> Response:
    # The duplicates to merge (issue 15's queue) of the caller's sites: a count; it and
    # the state's counts withheld when small for a reader of aggregates only.
    duplicates = ConflictReview.of(svc).duplicates_to_merge(who.scope)
    state, pairs = read_status(svc, who, duplicates)
    data = {"sync": state.model_dump(), "duplicates": pairs}
    return render(request, "sync.html", data, who=who)
