"""The data protection officer's desk: who opened a person's record, alerts and lockouts,
the disposal log, exports waiting for their second key, legal holds, the audit chain's
check, and the evacuation drill behind a typed confirmation.

Reads take ``audit.read``; placing or lifting a legal hold ``retention.hold``; the drill
``keys.destroy`` (docs/security.md, "The data protection officer's desk"). A person is
shown by id and registration number only, never by name; the pages that name persons
read them through the gate, which audits each.

The hold and drill forms carry an idempotency key: sent twice, the hold is placed or
lifted once and the drill destroys once, and both answer what the first one did.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.errors import CorridorError, NotFound, Problem, ValidationFailed
from corridor.services.protection.accounts import Caller
from corridor.services.protection.retention import HoldChange
from corridor.text import N_
from corridor.web import forms
from corridor.web.auth import requires
from corridor.web.pages.common import Form, Svc, page, text
from corridor.web.pages.render import render
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

router = guarded_router(include_in_schema=False)
MayAuditRead = Annotated[Caller, Depends(requires("audit.read"))]
MayLookUp = Annotated[Caller, Depends(audited("audit.read"))]
MayHold = Annotated[Caller, Depends(audited("retention.hold"))]
MayDrill = Annotated[Caller, Depends(requires("keys.destroy"))]
MayDestroy = Annotated[Caller, Depends(audited("keys.destroy"))]

HOLD_PURPOSES = {
    ("person", True): N_("legal hold placed"),
    ("person", False): N_("legal hold lifted"),
    ("enquiry", True): N_("legal hold placed on an enquiry"),
    ("enquiry", False): N_("legal hold lifted on an enquiry"),
}


def _by_field(exc: CorridorError, field: str) -> dict[str, str]:
    """The error's reasons by field (its message on ``field`` if it names none)."""
    out: dict[str, str] = {}
    for p in exc.problems:
        out.setdefault(p.field, p.reason)
    return out or {field: exc.message}


@page(router, "/dpo")
def desk(request: Request, who: MayAuditRead) -> Response:
    return render(request, "dpo_desk.html", {}, who=who)


# -- who opened a record ------------------------------------------------------------


@router.get("/dpo/audit")
def audit_form(request: Request, who: MayAuditRead) -> Response:
    extra: dict[str, Any] = {"values": {}, "errors": {}}
    return render(request, "dpo_audit_form.html", {}, who=who, extra=extra)


@router.post("/dpo/audit")
def audit_look_up(request: Request, form: Form, svc: Svc, who: MayLookUp) -> Response:
    """A person id or registration number (a POST: nothing of a person in the URL)."""
    ref = text(form, "person") or ""
    try:
        trail = svc.gate.audit_trail(who, ref)
    except (NotFound, ValidationFailed) as exc:
        status = 404 if isinstance(exc, NotFound) else 422
        errors = _by_field(exc, "person")
        extra = {"values": forms.as_values(form), "errors": errors}
        return render(request, "dpo_audit_form.html", {}, who=who, status=status, extra=extra)
    return render(request, "dpo_audit.html", {"trail": trail}, who=who)


@page(router, "/dpo/persons/{person_id}/audit")
def audit_trail(person_id: str, request: Request, svc: Svc, who: MayAuditRead) -> Response:
    trail = svc.gate.audit_trail(who, person_id)
    return render(request, "dpo_audit.html", {"trail": trail}, who=who)


# -- alerts, disposals, exports, the chain ----------------------------------------


@page(router, "/dpo/alerts")
def alerts(request: Request, svc: Svc, who: MayAuditRead) -> Response:
    return render(request, "dpo_alerts.html", {"alerts": svc.oversight.alerts()}, who=who)


@page(router, "/dpo/disposals")
def disposals(request: Request, svc: Svc, who: MayAuditRead) -> Response:
    data = {"disposals": svc.oversight.disposals()}
    return render(request, "dpo_disposals.html", data, who=who)


@page(router, "/dpo/exports")
def pending_exports(request: Request, svc: Svc, who: MayAuditRead) -> Response:
    data = {"exports": svc.oversight.pending_exports()}
    return render(request, "dpo_exports.html", data, who=who)


@page(router, "/dpo/verify")
def verify(request: Request, svc: Svc, who: MayAuditRead) -> Response:
    return render(request, "dpo_verify.html", {"check": svc.oversight.verify()}, who=who)


# -- legal holds --------------------------------------------------------------------


def _holds(
    request: Request,
    svc: Svc,
    who: Caller,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    data = {"holds": svc.gate.legal_holds(who)}
    extra = {"values": values or {}, "errors": errors or {}}
    return render(request, "dpo_holds.html", data, who=who, status=status, extra=extra)


@page(router, "/dpo/holds")
def holds(request: Request, svc: Svc, who: MayAuditRead) -> Response:
    return _holds(request, svc, who)


@router.post("/dpo/holds")
def set_hold(request: Request, form: Form, svc: Svc, who: MayHold, retry: Retried) -> Response:
    """Place or lift a legal hold on a person (id or registration number) or a tracing
    enquiry (its id). The answer names the record changed, and nothing else."""
    kind = text(form, "kind") or ""
    choice = text(form, "hold")
    hold = choice != "lift"
    purpose = HOLD_PURPOSES.get((kind, hold))
    ref = text(form, "ref") or ""
    audit = svc.audit.hook(who, "retention.hold", purpose=purpose)
    try:
        # The form's buttons send "place" or "lift" (none: Enter in a field, the first
        # button's); any other value is refused, never taken as "place".
        if choice not in (None, "place", "lift"):
            raise ValidationFailed([Problem("hold", N_("choose one of the options offered"))])
        changed = retry.run(
            who,
            lambda guard: svc.retention.hold(kind, ref, hold, audit=guard(audit)),
            lambda done: HoldChange(kind, str(done.ref["record_id"]), hold),
            lambda _conn, ids: {"record_id": ids[0] if ids else ref.strip()},
        )
    except forms.REFUSED as exc:  # a conflict too: placed or lifted elsewhere meanwhile
        status = forms.status_of(exc)
        errors = _by_field(exc, "ref")
        return _holds(request, svc, who, values=forms.as_values(form), errors=errors, status=status)
    return render(request, "dpo_hold_done.html", {"changed": changed}, who=who)


# -- the evacuation drill -----------------------------------------------------------


@page(router, "/dpo/drill")
def drill_sites(request: Request, svc: Svc, who: MayDrill) -> Response:
    """Every site, as every role sees it (a detention facility by its label)."""
    sites = [{"id": s["id"], "name": s["name"], "kind": s["kind"]} for s in svc.sites.all()]
    return render(request, "dpo_drill_sites.html", {"sites": sites}, who=who)


def _drill(
    request: Request,
    svc: Svc,
    who: Caller,
    site_id: str,
    errors: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    preview = svc.oversight.drill_preview(site_id)
    extra = {"errors": errors or {}, "values": {}}
    return render(request, "dpo_drill.html", {"site": preview}, who=who, status=status, extra=extra)


@page(router, "/dpo/drill/{site_id}")
def drill(site_id: str, request: Request, svc: Svc, who: MayDrill) -> Response:
    """What destroying the site's keys does, and the typed confirmation."""
    return _drill(request, svc, who, site_id)


@router.post("/dpo/drill/{site_id}")
def drill_destroy(
    site_id: str, request: Request, form: Form, svc: Svc, who: MayDestroy, retry: Retried
) -> Response:
    """Destroy the site's keys once the site's name is typed exactly; a different
    phrase destroys nothing and the page says why. Sent again (the same key): the first
    count of keys destroyed, nothing destroyed twice."""
    audit = svc.audit.hook(who, "keys.destroy", purpose=N_("evacuation drill"), site_id=site_id)
    typed = text(form, "confirm") or ""
    try:
        destroyed = retry.run(
            who,
            lambda guard: svc.keys.drill(site_id, typed, audit=audit, destroying=guard(audit)),
            lambda done: int(done.kept("destroyed", lost=0)),
            keep=lambda count: {"destroyed": count},
        )
    except ValidationFailed as exc:
        return _drill(request, svc, who, site_id, forms.problems_by_field(exc), status=422)
    site = svc.oversight.drill_preview(site_id)
    data = {"site": site, "destroyed": destroyed}
    return render(request, "dpo_drill_done.html", data, who=who)
