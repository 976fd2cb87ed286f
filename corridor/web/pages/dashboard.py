"""A site's dashboard: present now, arrivals today, the age and sex pyramid, daily
arrivals and vulnerabilities (aggregate figures only: ``figures.read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.pages.common import Svc, page
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router

router = guarded_router(include_in_schema=False)
MayFiguresRead = Annotated[Caller, Depends(requires("figures.read"))]


@page(router, "/sites/{site_id}")
def dashboard(site_id: str, request: Request, svc: Svc, who: MayFiguresRead) -> Response:
    figures = svc.gate.site_figures(who, site_id)  # small counts withheld where due
    daily = figures["daily"]
    extra = {
        "arrivals_today": daily[-1]["arrivals"]["total"] if daily else 0,
        "departures_today": daily[-1]["departures"]["total"] if daily else 0,
        "duplicates_today": daily[-1]["duplicates"]["total"] if daily else 0,
        "arrivals_by_day": [(d["date"], d["arrivals"]["total"]) for d in daily],
    }
    return render(request, "dashboard.html", {"figures": figures}, who=who, extra=extra)
