"""Printing: a person's wristband or card, a household's sheet (docs/web.md, "Printing").

The registration number is printed as text, as a QR code and as a Code 128 barcode, drawn
here as inline SVG (web/barcodes.py). What is printed comes from the gate
(``person.print``: the caller's sites only, one audit event per person printed) and is
only what a wristband needs: names, sex, age, the registration and household numbers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.barcodes import code128_svg, qr_svg
from corridor.web.pages.common import Svc, page
from corridor.web.pages.render import render
from corridor.web.routers import guarded_router

router = guarded_router(include_in_schema=False)
MayPrint = Annotated[Caller, Depends(requires("person.print"))]
# A wristband printer's band (25.4 mm high), or an ID-1 card (85.6 x 54 mm) on A4.
LAYOUTS = ("band", "card")
DRAWINGS = {"qr": qr_svg, "code128": code128_svg}


@page(router, "/persons/{person_id}/wristband")
def wristband(
    person_id: str, request: Request, svc: Svc, who: MayPrint, layout: str = "band"
) -> Response:
    """One person's wristband (``layout=band``) or card (``layout=card``)."""
    card = svc.gate.card(who, person_id)
    extra = {"layout": layout if layout in LAYOUTS else "band", **DRAWINGS}
    return render(request, "print_card.html", {"card": card}, who=who, extra=extra)


@page(router, "/households/{household_id}/sheet")
def household_sheet(household_id: str, request: Request, svc: Svc, who: MayPrint) -> Response:
    """A household's sheet on A4: its number, then one card per member."""
    sheet = svc.gate.household_sheet(who, household_id)
    return render(request, "print_household.html", {"sheet": sheet}, who=who, extra=DRAWINGS)
