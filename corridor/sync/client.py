"""``corridor node sync``: a node's round with its central over HTTP (issue 16).

A round is two requests, each doing exactly what a bundle carried by hand does:

1. **push**: the node's bundle of what the central has not acknowledged, ``POST
   /api/sync/push``; the central checks and applies it in one transaction (the code of
   ``corridor node import``) and answers what it now holds of the node's changes;
2. **pull**: a signed bundle of no change carrying what the node holds, ``POST
   /api/sync/pull``; the central records it as the node's acknowledgements and answers
   the bundle of what the node has not acknowledged; the node imports it in one
   transaction. The node's own acknowledgements (what it will not send again) move
   only here, on the central's *signed* bundle, never on the push's unsigned answer.

Each step is one transaction on one side: a round broken anywhere leaves each side as it
was before that step or after it, never half-applied, and the next round continues
(what was applied is "already applied", what was not is sent again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx

from corridor.services.base import AuditHook
from corridor.sync import revocation
from corridor.sync.confirm import confirmation
from corridor.sync.parts import MIN_BYTES, check_bound
from corridor.sync.service import BundleRefused, ImportReport, NodeWiped, SyncService

BUNDLE_TYPE = "application/octet-stream"
TIMEOUT_S = 120.0
# A push refused by the central (the node's wipe ordered, or its bundle refused, e.g.
# sealed under a key the central destroyed): the pull still goes, since its answer may
# carry the central's order; the round then fails with the push's refusal.
PULL_ANYWAY = frozenset({"node_wipe_ordered", "bundle_refused"})
# A push goes in parts of at most this many bytes (``parts.py``): a node back after a long
# time holds more than one request should carry (the central's ``max_upload_bytes``, a
# proxy's limit, the time one transaction at the central takes). A part refused as too
# large (413) is made again at half the size, down to ``parts.MIN_BYTES``.
PUSH_MAX_BYTES = 16_000_000
# Pulls in one round at most (each answer is bounded by the central's
# ``sync_pull_max_changes``): a round that ends with more left says so; run it again.
MAX_PULLS = 1000


class SyncFailed(BundleRefused):
    """The central refused a request, or could not be reached: nothing was applied by
    the step that failed; run the sync again."""

    code = "sync_failed"


class Refused(SyncFailed):
    """The central answered, refusing the request (nothing written there)."""


class RevokedThere(Refused):
    """The central refused this node as revoked (403 ``node_revoked``)."""

    code = "node_revoked"

    def __init__(self, message: str, said: str) -> None:
        super().__init__(message)
        self.said = said


class NodeRevokedAtCentral(SyncFailed):
    """This node's round was refused because the central revoked it: its changes are
    kept here (``corridor/sync/revocation.py``), the message says how many and that the
    central's administrator can reinstate it."""

    code = "node_revoked"


@dataclass
class RoundReport:
    """What one round did: the push's answer and the pull's import."""

    pushed: int = 0
    push: dict[str, Any] = field(default_factory=dict)
    pulled: ImportReport = field(default_factory=ImportReport)
    pulls: int = 0  # answers imported (a bounded answer says there is more: pulled again)
    # The central ordered this node's wipe: the push was refused, the pull carried it out.
    wiped: bool = False
    # The node's signed confirmation of the wipe reached the central (``sync/wipe.py``).
    confirmed: bool = False


def _said(response: httpx.Response) -> str:
    try:
        data = response.json()
        return str(data.get("message") or data)
    except ValueError:
        return response.text[:200]


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("code") or "")
    except ValueError:
        return ""


def _post(
    client: httpx.Client,
    path: str,
    data: bytes,
    *,
    passes: frozenset[str] = frozenset(),
    too_large: bool = False,
) -> httpx.Response:
    try:
        response = client.post(path, content=data, headers={"Content-Type": BUNDLE_TYPE})
    except httpx.HTTPError as exc:
        raise SyncFailed(
            f"the central cannot be reached ({type(exc).__name__}): nothing was applied by "
            "this step; run the sync again"
        ) from exc
    passed = _code(response) in passes or (too_large and response.status_code == 413)
    if response.status_code >= 400 and not passed:
        if _code(response) == RevokedThere.code:
            step = path.rsplit("/", 1)[-1]
            said = f"the central refused the {step} ({response.status_code}): {_said(response)}"
            raise RevokedThere(said, said)
        raise Refused(
            f"the central refused the {path.rsplit('/', 1)[-1]} ({response.status_code}): "
            f"{_said(response)}"
        )
    return response


def sync_round(
    sync: SyncService,
    *,
    audit: AuditHook,
    send_audit: AuditHook | None = None,
    client: httpx.Client | None = None,
    central_url: str | None = None,
    push_max_bytes: int = PUSH_MAX_BYTES,
) -> RoundReport:
    """Push, then pull, against the node's central (``client``: one already pointed at
    it, e.g. a test's; otherwise one is made for ``central_url`` or the URL the node was
    enrolled with). ``push_max_bytes``: the most one push request carries (the rest
    goes in further pushes of the same round). ``audit``: the persons the pull applies
    here (``sync.apply``); ``send_audit``: the persons the push sends (``sync.send``;
    by default under the central's id)."""
    central = sync.central()
    own = client is None
    if client is None:
        client = httpx.Client(base_url=central_url or central["url"], timeout=TIMEOUT_S)
    report = RoundReport()
    try:
        _round(sync, client, report, audit, send_audit, push_max_bytes)
    except RevokedThere as exc:  # kept here, and said so (not dropped)
        wiped = confirmation(sync)
        if wiped is not None:  # nothing kept to speak of: its confirmation was refused
            raise NodeWiped(
                f"{wiped[1]}; its confirmation of the wipe was refused: {exc.said}"
            ) from exc
        noted = revocation.refused_here(sync)
        raise NodeRevokedAtCentral(
            revocation.message(noted["node_id"], noted["unsent"], exc.said)
        ) from exc
    finally:
        if own:
            client.close()
    return report


def _round(
    sync: SyncService,
    client: httpx.Client,
    report: RoundReport,
    audit: AuditHook,
    send_audit: AuditHook | None,
    push_max_bytes: int,
) -> None:
    central = sync.central()
    done = confirmation(sync)
    if done is not None:  # wiped: the one message it may still send, then refuse
        _post(client, "/api/sync/push", done[0])
        raise NodeWiped(f"{done[1]} (its confirmation of the wipe reached the central)")
    refused = _push(sync, client, report, send_audit, push_max_bytes)
    # Pull until the central's answer says nothing is left (each answer is bounded).
    while report.pulls < MAX_PULLS:
        answer = _pull(sync, client)
        revocation.answered(sync)  # the central takes this node (again)
        pulled = sync.import_bundle(answer, audit=audit)
        report.pulls += 1
        report.pulled = _sum(report.pulled, pulled) if report.pulls > 1 else pulled
        if pulled.wiped:
            report.wiped = True
            report.confirmed = _confirm(sync, client)
            return
        if not _header(answer).get("more"):
            break
    if refused is not None:  # the pull went (it may carry an order); the push did not
        raise refused
    sync.touch(central["id"])


def _pull(sync: SyncService, client: httpx.Client) -> bytes:
    """The central's answer to a pull request. A request it refused is taken back
    (``not_taken``) and made once more: two rounds at once (a double tap, the timer's
    and the operator's) make two requests that may arrive in the other order, and the
    older is then refused as a replay although nothing was replayed."""
    for attempt in (1, 2):
        before = sync.central()["last_request_at"]
        request = sync.export(changes=False)
        try:
            return _post(client, "/api/sync/pull", request).content
        except Refused:
            sync.not_taken(request, before)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _push(
    sync: SyncService,
    client: httpx.Client,
    report: RoundReport,
    send_audit: AuditHook | None,
    max_bytes: int,
) -> SyncFailed | None:
    """What the central has not acknowledged, in parts of at most ``max_bytes`` (each a
    whole bundle applied in its own transaction there, the later ones leaving out what
    the earlier carried), until the last. The push's refusal, if the central refused a
    part (the pull still goes); parts it applied stay applied."""
    check_bound(max_bytes)
    after: dict[str, int] = {}
    while True:
        bundle = sync.export(audit=send_audit, after=dict(after), max_bytes=max_bytes)
        pushed = _post(client, "/api/sync/push", bundle, passes=PULL_ANYWAY, too_large=True)
        if pushed.status_code == 413 and max_bytes > MIN_BYTES:
            max_bytes = max(MIN_BYTES, max_bytes // 2)  # the central takes less at a time
            continue
        if pushed.status_code >= 400:
            return SyncFailed(
                f"the central refused the push ({pushed.status_code}): {_said(pushed)}"
            )
        header = _header(bundle)
        report.pushed += int(header["count"])
        report.push = _merged(report.push, dict(pushed.json()))
        if not header.get("more"):
            return None
        for origin, (_, hi) in dict(header["ranges"]).items():
            after[origin] = max(after.get(origin, 0), int(hi))


def _merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The answers of a round's pushes as one: counts added, the last marks."""
    if not a:
        return b
    out = dict(b)
    for k in ("applied", "waiting", "conflicts", "already_had"):
        out[k] = int(a.get(k, 0)) + int(b.get(k, 0))
    out["already_applied"] = bool(a.get("already_applied")) and bool(b.get("already_applied"))
    out["acknowledged"] = {**dict(a.get("acknowledged") or {}), **dict(b.get("acknowledged") or {})}
    return out


def _confirm(sync: SyncService, client: httpx.Client) -> bool:
    """The wipe just carried out, confirmed to the central at once; if the link drops
    now, the next round (or an exported file) sends it again."""
    done = confirmation(sync)
    if done is None:
        return False
    try:
        _post(client, "/api/sync/push", done[0])
    except SyncFailed:
        return False
    return True


def _sum(a: ImportReport, b: ImportReport) -> ImportReport:
    return ImportReport(
        applied=a.applied + b.applied,
        waiting=b.waiting,
        conflicts=a.conflicts + b.conflicts,
        already_had=a.already_had + b.already_had,
        fresh=a.fresh + b.fresh,
        from_node=b.from_node,
    )


def _header(bundle: bytes) -> dict[str, Any]:
    return dict(json.loads(bundle.split(b"\n")[1]))
