"""Bulk exports under two keys: ask, have a second person approve, download encrypted.

Asking and approving take an ``Idempotency-Key`` (sent again: the same export, asked or
approved once). The download takes none: it is once-only by design, its file is kept
nowhere to be answered again, and its body is a passphrase that must not be hashed into
a stored row (docs/api.md, "Safe retries")."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from corridor.domain.export_selection import Selection
from corridor.responses import Export
from corridor.schemas import ExportDownloadIn, ExportIn, ExportSelectionIn
from corridor.services import Services
from corridor.services import idempotency as made
from corridor.services.protection.accounts import Caller
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.retries import Retried
from corridor.web.routers import guarded_router
from corridor.web.writes import audited

export_router = guarded_router(prefix="/api/exports", tags=["exports"])
Svc = Annotated[Services, Depends(services)]
MayExport = Annotated[Caller, Depends(audited("export.bulk"))]
MayApprove = Annotated[Caller, Depends(requires("export.approve"))]
MayApproveWrite = Annotated[Caller, Depends(audited("export.approve"))]


def selection_of(svc: Services, who: Caller, given: ExportSelectionIn | None) -> Selection | None:
    """The list's filter, checked (every problem at once, each naming its field); a
    detention facility is no filter (404, as for the lists themselves)."""
    if given is None:
        return None
    selection = Selection.of(given.model_dump())
    svc.gate.site_filter(who, "export.bulk", selection.site_id)
    return selection


@export_router.post("", status_code=201)
def request_export(body: ExportIn, svc: Svc, who: MayExport, retry: Retried) -> Export:
    """Ask to export the persons of your sites, or with ``selection`` only those of one
    list (its filter, as the list takes it); a second person must approve. Sent again
    with the same ``Idempotency-Key``: the same request, made once."""
    audit = svc.audit.hook(who, "export.bulk", purpose=f"export requested: {body.reason}")
    user_id = who.principal.user_id
    selection = selection_of(svc, who, body.selection)
    return retry.run(
        who,
        lambda guard: Export.model_validate(
            svc.exports.request(
                user_id, body.reason, who.scope, body.format, selection, audit=guard(audit)
            )
        ),
        lambda done: Export.model_validate(svc.exports.get(done.ref["export_id"], who.scope)),
        made.export_ref(user_id),
    )


@export_router.get("/{export_id}")
def get_export(export_id: str, svc: Svc, who: MayApprove) -> Export:
    return Export.model_validate(svc.gate.export_request(who, export_id))


@export_router.post("/{export_id}/approve")
def approve_export(export_id: str, svc: Svc, who: MayApproveWrite, retry: Retried) -> Export:
    """The second key: another officer of the same sites approves. Sent again with the
    same ``Idempotency-Key``: the approved export, not a 409."""
    audit = svc.audit.hook(who, "export.approve", purpose=f"export {export_id} approved")
    return retry.run(
        who,
        lambda guard: Export.model_validate(
            svc.exports.approve(who.principal.user_id, export_id, who.scope, audit=guard(audit))
        ),
        lambda _: Export.model_validate(svc.gate.export_request(who, export_id)),
    )


@export_router.post(
    "/{export_id}/download",
    response_class=Response,
    responses={
        200: {
            "description": "The export, encrypted under the passphrase given",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def download_export(
    export_id: str, body: ExportDownloadIn, svc: Svc, who: MayExport, request: Request
) -> Response:
    """The approved export, once, encrypted under your passphrase (a POST: the
    passphrase never sits in a URL)."""
    data, person_ids = svc.exports.download(
        who.principal.user_id,
        who.principal.roles,
        export_id,
        body.passphrase,
        who.scope,
        domain=request.app.state.settings.instance_domain,
        audit=svc.audit.hook(who, "export.bulk", purpose=f"export {export_id} downloaded"),
    )
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="corridor-export-{export_id}.json"'},
    )
