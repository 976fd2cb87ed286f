"""Sync over HTTP (issue 16, docs/sync.md): a site node pushes its bundle and pulls the
central's, and the sync state for the site manager.

``POST /api/sync/push`` and ``POST /api/sync/pull`` take a bundle's bytes
(``application/octet-stream``) and do exactly what ``corridor node import`` does with a
bundle file, through the same ``SyncService`` code: the same checks before anything is
written (whole, addressed here, from an enrolled node, for its site, signed by its key,
unaltered), the same one transaction, the same refusals (400 ``bundle_refused``, nothing
written).

They take no account and no API token: the node's Ed25519 signature over the whole
bundle, under the key the central's administrator approved (its fingerprint checked with
the node's operator), is the proof of who sends, and only an enrolled node's bundle is
read past its header. A token would add a second secret on the same laptop, owned by a
user whose roles have nothing to do with a node's changes (written by many users of the
site). They take no idempotency key either: a bundle's changes carry their own ids and
per-origin numbers, so a bundle sent again is "already applied" and changes nothing
(tests/support/route_table.py, ``NO_KEY``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from corridor.responses import SyncPushed, SyncStatus
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.sync import shown
from corridor.sync.service import SyncService
from corridor.web.auth import requires
from corridor.web.deps import services
from corridor.web.routers import guarded_router

sync_router = guarded_router(prefix="/api/sync", tags=["sync"])
Svc = Annotated[Services, Depends(services)]
MayFiguresRead = Annotated[Caller, Depends(requires("figures.read"))]
BUNDLE = "application/octet-stream"
BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}
BUNDLE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A bundle (docs/sync.md), signed by the node that sends it",
        "content": {BUNDLE: BINARY},
    }
}


# How far into a bundle its header must have ended (two lines: the format, the header).
HEADER_BYTES = 1_000_000


def _sync(request: Request, svc: Services) -> SyncService:
    sync = SyncService.of(svc)
    settings = request.app.state.settings
    sync.pull_limit = settings.sync_pull_max_changes
    sync.pull_bytes = settings.sync_pull_max_bytes
    return sync


async def _bundle(request: Request, sync: SyncService) -> bytes:
    """The bundle's bytes, its header checked as soon as it has arrived (addressed to
    this central, from a node enrolled here and not revoked): a stranger's body is
    refused after its first lines, not read whole (up to ``max_upload_bytes``) before
    the signature check. The whole bundle is checked again before anything is written."""
    chunks: list[bytes] = []
    seen = 0
    checked = False
    async for chunk in request.stream():
        chunks.append(chunk)
        seen += len(chunk)
        if not checked:
            head = b"".join(chunks)
            if head.count(b"\n") >= 2:
                await run_in_threadpool(sync.check_header, head)
                checked = True
            elif seen > HEADER_BYTES:
                await run_in_threadpool(sync.check_header, head[:HEADER_BYTES])
    return b"".join(chunks)


@sync_router.post("/push", openapi_extra=BUNDLE_BODY)
async def push(request: Request, svc: Svc) -> SyncPushed:
    """A node's changes: checked and applied once, exactly as `corridor node import`
    applies a bundle file. Sent again: "already applied", nothing changes. Refused (400,
    nothing written): a bundle that is truncated or altered, not addressed to this
    central, from a node not enrolled here, or for another site than the node's."""
    sync = _sync(request, svc)
    data = await _bundle(request, sync)
    report, marks = await run_in_threadpool(sync.receive_push, data)
    return SyncPushed(
        from_node=report.from_node,
        applied=report.applied,
        waiting=report.waiting,
        conflicts=report.conflicts,
        already_had=report.already_had,
        already_applied=report.already_applied,
        acknowledged=marks,
    )


@sync_router.post(
    "/pull",
    openapi_extra=BUNDLE_BODY,
    response_class=Response,
    responses={
        200: {
            "description": "A bundle addressed to the node: what it has not acknowledged",
            "content": {BUNDLE: BINARY},
        }
    },
)
async def pull(request: Request, svc: Svc) -> Response:
    """The node sends a signed bundle (usually of no change) carrying what it holds; the
    answer is the bundle of what it has not acknowledged, sealed under its site's key and
    signed by this central. Refused as a push is."""
    sync = _sync(request, svc)
    data = await _bundle(request, sync)
    answer = await run_in_threadpool(sync.answer_pull, data)
    return Response(answer, media_type=BUNDLE)


def read_status(
    svc: Services, who: Caller, duplicates: int | None = None
) -> tuple[SyncStatus, int | None]:
    """The sync state of the caller's sites (and ``duplicates``, a count of the caller's
    sites) as the caller may read them: small counts withheld where ``Gate.exact_figures``
    says the caller reads aggregates only (``corridor/sync/shown.py``)."""
    sync = SyncService.of(svc)
    every = sync.site_ids() if who.scope is None else []
    state, pairs = shown.as_read(
        sync.status(who.scope),
        lambda site: svc.gate.exact_figures(who, site),
        every if who.scope is None else sorted(who.scope),
        svc.figures.small_counts_below,
        duplicates,
    )
    return SyncStatus.model_validate(state), pairs


@sync_router.get("/status")
def sync_status(svc: Svc, who: MayFiguresRead) -> SyncStatus:
    """This installation's sync state: last contact with each peer, changes to send and
    to receive, changes waiting for what they depend on, conflicts to review (counts
    only; the peers of the caller's sites). Read as aggregates only (a coordinator; a
    site whose persons the caller may not read), a count under ``suppressed_below`` is
    ``null``, as in a site's figures."""
    return read_status(svc, who)[0]
