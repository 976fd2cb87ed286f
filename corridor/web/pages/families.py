"""Families split across places, those with a child apart from every adult relative
first (``tracing.read``), 20 households a page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.pages import listing
from corridor.web.pages.common import Svc, page
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router

router = guarded_router(include_in_schema=False)
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]
FAMILY_SORTS = ("urgent", "places", "size")
# Households a page: each is a card of its members (about 4.5 persons on the demo), so
# 20 of them are about 90 persons read and audited, as many rows as other lists show.
FAMILIES_A_PAGE = 20


@page(router, "/families")
def separated_families(request: Request, svc: Svc, who: MayTracingRead) -> Response:
    kept = listing.filters_of(request, ("site", "alone", "sort"))
    listed = svc.gate.separated_family_list(
        who,
        listing.paging_of(request, FAMILY_SORTS, FAMILIES_A_PAGE),
        site_id=kept.get("site"),
        alone_only=kept.get("alone") == "1",
    )
    data = {"families": listed.items, "paging": listing.paging_data(listed)}
    extra = {
        "filter_sites": listing.filter_sites(svc, who),
        "kept": kept,
        "export_query": listing.export_query("families", kept),
        "pager": listing.pager(request, listed, len(listed.items), kept),
    }
    return render(request, "families.html", data, who=who, extra=extra)
