"""The sync state as its reader may see it (``/sync``, ``/sync.json``, ``GET
/api/sync/status``): small counts withheld where the reader reads figures as aggregates
only, as every figures route does (docs/security.md, "Small counts").

Every count of the sync state counts persons or their changes (each change is one
person's write): a node's changes to send or to receive, the persons its wipe
anonymised and its changes that never left, the changes waiting or in conflict here,
the erasures held, the duplicates to merge. A coordinator reading "1 to receive" from a
detention facility's node learns that one person was registered there, which the
facility's figures withhold. So each is withheld (``None``, shown as ``<5``) when from 1
to ``below - 1``, unless the reader reads exactly (``Gate.exact_figures``, the one
decision) every site it covers: a peer's counts, its site's (at a node: the node's
own); this installation's changes made here, waiting, conflicts, held erasures and
duplicates, every site of the reader's scope (the changes made at a central are one
total of every site's writes, none of a site apart). The number of site keys a wipe
destroyed counts no person: shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from corridor.domain.disclosure import withhold_one

PEER_COUNTS = ("unsent", "to_receive", "wipe_persons_anonymised", "wipe_unsent", "withdrawn")
SCOPED_COUNTS = ("last_seq", "waiting", "conflicts", "held_erasures")


def as_read(
    status: dict[str, Any],
    exact: Callable[[str], bool],
    scope: Iterable[str],
    below: int,
    duplicates: int | None = None,
) -> tuple[dict[str, Any], int | None]:
    """``status`` (``SyncService.status`` of the reader's scope) and ``duplicates`` as
    the reader may see them (``scope``: the sites of the reader's scope, every site
    here for a reader of every site); ``suppressed_below`` says whether any count was
    read as aggregates only (the threshold) or none (None)."""
    known: dict[str, bool] = {}

    def reads(sites: Iterable[str | None]) -> bool:
        """Exactly, every one of ``sites`` (no site: not exactly; a reader of no site
        still reads the changes made here, a count of every site)."""
        named = [s for s in sites if s is not None]
        if not named:
            return False
        for site in named:
            if site not in known:
                known[site] = exact(site)
            if not known[site]:
                return False
        return True

    aggregate = False

    def shown(value: int | None, exactly: bool) -> int | None:
        nonlocal aggregate
        if exactly:
            return value
        aggregate = True
        return None if value is None else withhold_one(int(value), below)

    at_node = status["role"] == "node"
    out = dict(status)
    peers = []
    for peer in status["peers"]:
        exactly = reads([status["site_id"] if at_node else peer["site_id"]])
        peers.append({**peer, **{k: shown(peer.get(k), exactly) for k in PEER_COUNTS}})
    out["peers"] = peers
    in_scope = reads(scope)
    for key in SCOPED_COUNTS:
        out[key] = shown(status[key], in_scope)
    pairs = None if duplicates is None else shown(duplicates, in_scope)
    out["suppressed_below"] = below if aggregate else None
    return out, pairs
