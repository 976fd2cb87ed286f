"""Families split across places, those with a child apart from every adult relative
first (``tracing.read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.pages.common import Svc, page
from corridor.web.pages.render import render

router = APIRouter(include_in_schema=False)
MayTracingRead = Annotated[Caller, Depends(requires("tracing.read"))]


@page(router, "/families")
def separated_families(request: Request, svc: Svc, who: MayTracingRead) -> Response:
    families = svc.gate.separated_families(who)
    return render(request, "families.html", {"families": families}, who=who)
