"""Manifests: draft one, add persons by registration number, dispatch, tick arrivals off
one large button per person or per household (htmx), receive; and everyone still in
transit or unaccounted for.

Dispatching and closing the arrival are confirmed on a page of their own (a second
submit, so it works without script under the strict CSP): the first POST, without
``confirmed``, only shows what will happen."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.domain.paging import Paging
from corridor.errors import Conflict, NotFound, Problem, ValidationFailed
from corridor.schemas import (
    CheckInIn,
    DispatchIn,
    HouseholdCheckInIn,
    ManifestIn,
    ManifestPersonsIn,
    ReceiveIn,
)
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import ManifestView
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.list_files import SHEETS, SheetFormat, list_file
from corridor.web.pages import listing
from corridor.web.pages.common import Form, Svc, page, see_other, text
from corridor.web.pages.persons import open_site_names, site_names
from corridor.web.pages.render import render
from corridor.web.retries import Retried, shown_again
from corridor.web.routers import guarded_router
from corridor.web.writes import audited, refusal_shown, said_above

router = guarded_router(include_in_schema=False)
MayManifestRead = Annotated[Caller, Depends(requires("manifest.read"))]
MayManifestWrite = Annotated[Caller, Depends(audited("manifest.write"))]
WRITE = "manifest.write"
MANIFEST_SORTS = ("created", "departed", "vehicle", "status")
UNACCOUNTED_SORTS = ("departed", "vehicle", "name", "number")


def _list(
    request: Request,
    svc: Services,
    who: Caller,
    values: dict[str, str],
    errors: dict[str, str],
    status: int | None = None,
) -> Response:
    kept = listing.filters_of(request, ("site", "status", "since", "until", "sort"))
    listed = svc.gate.manifest_list(
        who,
        listing.paging_of(request, MANIFEST_SORTS),
        site_id=kept.get("site"),
        status=kept.get("status"),
        since=listing.day_of(request, "since"),
        until=listing.day_of(request, "until"),
    )
    data = {"manifests": listed.items, "paging": listing.paging_data(listed)}
    extra = {
        "sites": site_names(svc, who),
        "to_sites": open_site_names(svc, who),
        "filter_sites": listing.filter_sites(svc, who),
        "values": values,
        "errors": errors,
        "kept": kept,
        "pager": listing.pager(request, listed, len(listed.items), kept),
        "exports": [(f, f"/manifests/export/{f}?{urlencode(kept)}") for f in SHEETS],
    }
    status = status or (422 if errors else 200)
    return render(request, "manifests.html", data, who=who, status=status, extra=extra)


@page(router, "/manifests")
def manifests(request: Request, svc: Svc, who: MayManifestRead) -> Response:
    return _list(request, svc, who, {}, {})


@router.post("/manifests")
def create(
    request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    body = {k: text(form, k) or "" for k in ("vehicle", "from_site_id", "to_site_id")}
    try:
        data = forms.parse(ManifestIn, body)
        manifest_id = retry.run(
            who,
            lambda guard: str(
                svc.manifests.create(
                    data,
                    created_by=who.principal.user_id,
                    scope=who.scope,
                    audit=guard(svc.audit.hook(who, "manifest.write")),
                )["id"]
            ),
            lambda done: str(done.ref["manifest_id"]),
            made.manifest_ref(who.principal.user_id),
        )
    except forms.REFUSED as exc:
        said_above(request, exc)
        errors = forms.problems_by_field(exc)
        page = _list(request, svc, who, forms.as_values(form), errors, forms.status_of(exc))
        refusal_shown(svc, who, WRITE, exc, request)
        return page
    return see_other(f"/manifests/{manifest_id}")


def households_waiting(manifest: ManifestView) -> list[tuple[str, str, int]]:
    """The households with two or more members on the manifest not yet checked in, to
    check in at once: (household id, the first member's name, how many)."""
    waiting: dict[str, list[str]] = {}
    for p in manifest.persons:
        if p.household_id and p.status in ("in_transit", "unaccounted"):
            waiting.setdefault(p.household_id, []).append(p.name or "")
    return [(hh, names[0], len(names)) for hh, names in waiting.items() if len(names) > 1]


def _checkin_extra(svc: Services, who: Caller, manifest: ManifestView) -> dict[str, Any]:
    return {"sites": site_names(svc, who), "households": households_waiting(manifest)}


def _show(
    request: Request,
    svc: Services,
    who: Caller,
    manifest_id: str,
    errors: dict[str, str],
    typed: dict[str, str] | None = None,
    status: int | None = None,
    typed_persons: list[str] | None = None,
) -> Response:
    """The manifest's page; ``typed``: after a refused "Add persons", what was typed (the
    numbers scanned), shown again as typed: in the form, or, where the manifest left
    its draft meanwhile (another officer dispatched it), read-only under the title with
    why, to be put on another manifest. ``typed_persons``: the persons those numbers
    found; each one not on the manifest (which audits those on it) is shown again by
    number beside why the refusal is about them (on another truck, elsewhere): a read,
    audited once as such."""
    manifest = svc.gate.manifest(who, manifest_id)
    on_board = {p.id for p in manifest.persons}
    again = [p for p in dict.fromkeys(typed_persons or ()) if p not in on_board]
    if again:
        svc.gate.named_in_refusal(who, WRITE, again)
    extra = {**_checkin_extra(svc, who, manifest), "errors": errors, "typed": typed or {}}
    status = status or (422 if errors else 200)
    return render(
        request, "manifest.html", {"manifest": manifest}, who=who, status=status, extra=extra
    )


def _confirm(request: Request, svc: Services, who: Caller, manifest_id: str, step: str) -> Response:
    """What dispatching (``step="dispatch"``) or closing the arrival (``"receive"``) will
    do, and the button that does it."""
    manifest = svc.gate.manifest(who, manifest_id)
    if manifest.status != {"dispatch": "draft", "receive": "dispatched"}[step]:
        return see_other(f"/manifests/{manifest_id}")  # done already: nothing to confirm
    extra = {
        "sites": site_names(svc, who),
        "step": step,
        "travel_hours": svc.manifests.travel_hours,
        "errors": {},
    }
    return render(request, "manifest_confirm.html", {"manifest": manifest}, who=who, extra=extra)


@page(router, "/manifests/{manifest_id}")
def manifest(manifest_id: str, request: Request, svc: Svc, who: MayManifestRead) -> Response:
    return _show(request, svc, who, manifest_id, {})


@router.post("/manifests/{manifest_id}/persons")
def add_persons(
    manifest_id: str, request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    """Registration numbers, one per line or separated by spaces or commas."""
    numbers = [n for n in re.split(r"[\s,;]+", text(form, "registration_numbers") or "") if n]
    ids: list[str] = []
    problems: list[Problem] = []
    for n in numbers:
        try:
            found = svc.gate.identify(who, forms.parse_search(n))
        except ValidationFailed:
            found = []
        if found:
            ids.append(found[0])
        else:
            problems.append(
                Problem("registration_numbers", N_("{number}: nobody has this number", number=n))
            )

    try:
        if problems:
            raise ValidationFailed(problems)
        body = {"person_ids": ids, "separation_reason": text(form, "separation_reason")}
        data = forms.parse(ManifestPersonsIn, body)
        retry.run(
            who,
            lambda guard: svc.manifests.add_persons(
                manifest_id, data, scope=who.scope, audit=guard(svc.audit.hook(who, WRITE))
            ),
            shown_again,
        )
    except forms.REFUSED as exc:
        # The reason's own problems on its field; the rest (numbers nobody has, persons
        # who may not travel, a manifest no longer a draft) on the numbers.
        errors = forms.problems_of(exc, "manifest", ("separation_reason",))
        errors = {
            "registration_numbers" if key == "manifest" else key.removeprefix("manifest."): why
            for key, why in errors.items()
        }
        status = forms.status_of(exc, shows_persons=True)
        typed = forms.as_values(form)
        page = _show(request, svc, who, manifest_id, errors, typed, status, typed_persons=ids)
        refusal_shown(svc, who, WRITE, exc, request)
        return page
    return see_other(f"/manifests/{manifest_id}")


@router.post("/manifests/{manifest_id}/remove")
def remove_person(
    manifest_id: str, request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    person_id = text(form, "person_id") or ""
    retry.run(
        who,
        lambda guard: svc.manifests.remove_person(
            manifest_id, person_id, scope=who.scope, audit=guard(svc.audit.hook(who, WRITE))
        ),
        shown_again,
    )
    return see_other(f"/manifests/{manifest_id}")


@router.post("/manifests/{manifest_id}/dispatch")
def dispatch(
    manifest_id: str, request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    if text(form, "confirmed") != "yes":
        return _confirm(request, svc, who, manifest_id, "dispatch")
    try:
        data = forms.parse(DispatchIn, {"travel_hours": text(form, "travel_hours")})
        retry.run(
            who,
            lambda guard: svc.manifests.dispatch(
                manifest_id,
                data,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, WRITE)),
            ),
            shown_again,
        )
    except ValidationFailed as exc:
        errors = {"dispatch": forms.reasons(exc)}
        page = _show(request, svc, who, manifest_id, errors)
        # The members left behind the refusal names: read, audited as the API's are.
        refusal_shown(svc, who, WRITE, exc, request)
        return page
    return see_other(f"/manifests/{manifest_id}")


@router.post("/manifests/{manifest_id}/check-in")
def check_in(
    manifest_id: str, request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    """Tick one person off (by the button's person id or a typed registration number),
    or a whole household (``household_id``); htmx gets the list back, a browser without
    script the page. After the arrival was closed, they are late arrivals."""
    body: dict[str, Any] = {
        "person_id": text(form, "person_id"),
        "registration_number": text(form, "registration_number"),
    }
    household_id = text(form, "household_id")
    errors: dict[str, str] = {}
    try:
        # One person, or a whole household; the same write otherwise.
        write: Callable[..., Any]
        if household_id:
            data: Any = forms.parse(HouseholdCheckInIn, {"household_id": household_id})
            write, ref = svc.manifests.check_in_household, None
        else:
            data = forms.parse(CheckInIn, body)
            write, ref = svc.manifests.check_in, made.check_in_ref(manifest_id)
        retry.run(
            who,
            lambda guard: write(
                manifest_id,
                data,
                recorded_by=who.principal.user_id,
                scope=who.scope,
                audit=guard(svc.audit.hook(who, WRITE)),
            ),
            shown_again,
            ref,
        )
    except (ValidationFailed, NotFound, Conflict) as exc:
        reasons = forms.reasons(exc)
        errors = {"registration_number": reasons}
    if request.headers.get("hx-request") != "true":
        return (
            _show(request, svc, who, manifest_id, errors)
            if errors
            else see_other(f"/manifests/{manifest_id}")
        )
    manifest = svc.gate.manifest(who, manifest_id)
    extra = {**_checkin_extra(svc, who, manifest), "errors": errors}
    return render(request, "_checkin.html", {"manifest": manifest}, who=who, extra=extra)


@router.post("/manifests/{manifest_id}/receive")
def receive(
    manifest_id: str, request: Request, form: Form, svc: Svc, who: MayManifestWrite, retry: Retried
) -> Response:
    if text(form, "confirmed") != "yes":
        return _confirm(request, svc, who, manifest_id, "receive")
    retry.run(
        who,
        lambda guard: svc.manifests.receive(
            manifest_id, ReceiveIn(), scope=who.scope, audit=guard(svc.audit.hook(who, WRITE))
        ),
        shown_again,
    )
    return see_other(f"/manifests/{manifest_id}")


@router.get("/manifests/export/{fmt}")
def export_list(fmt: SheetFormat, request: Request, svc: Svc, who: MayManifestRead) -> Response:
    """The manifests list as the page shows it (its filters and order, every page) as a
    file: the page's "Export" links."""
    kept = listing.filters_of(request, ("site", "status", "since", "until", "sort"))
    paging = Paging.of(limit=None, sort=kept.get("sort"), sorts=MANIFEST_SORTS)
    table = svc.gate.manifest_list_file(
        who,
        fmt,
        paging,
        site_id=kept.get("site"),
        status=kept.get("status"),
        since=listing.day_of(request, "since"),
        until=listing.day_of(request, "until"),
    )
    return list_file(table, "manifests")


@page(router, "/unaccounted")
def unaccounted(request: Request, svc: Svc, who: MayManifestRead) -> Response:
    kept = listing.filters_of(request, ("site", "since", "until", "sort"))
    listed = svc.gate.unaccounted_list(
        who,
        listing.paging_of(request, UNACCOUNTED_SORTS),
        site_id=kept.get("site"),
        since=listing.day_of(request, "since"),
        until=listing.day_of(request, "until"),
    )
    data = {"unaccounted": listed.items, "paging": listing.paging_data(listed)}
    extra = {
        "sites": site_names(svc, who),
        "filter_sites": listing.filter_sites(svc, who),
        "kept": kept,
        "export_query": listing.export_query("unaccounted", kept),
        "pager": listing.pager(request, listed, len(listed.items), kept),
    }
    return render(request, "unaccounted.html", data, who=who, extra=extra)
