"""Bundles in parts of bounded size (issue 16): a catch-up of 20,000 persons is a
24 MB bundle; a USB stick, a mail gateway or a slow link may take less at a time.

``export_parts`` writes what the other side has not acknowledged as several bundles,
each at most ``max_bytes``, each a complete bundle (signed, its body sealed under the
site's key, its header naming the numbers it covers) made by ``SyncService.export``
with the changes the earlier parts carry left out (``after``). So each part is checked
and imported alone, in any order:

- a part imported twice is "already applied" the second time (changes are kept by id);
- a part that overtook an earlier one applies what it can; a change made on one in a
  missing part waits for it (never dropped), and the receiver's mark for the origin
  moves only past a range that starts where it stands, so a missing part is not hidden:
  the sender's next export (or the part itself, carried again) brings it;
- each part audits the persons it carries (``sync.send``) when it is written.

``fit`` is what ``export`` calls to cut a part: the most leading changes whose bundle
is surely no larger than the bound (their JSON text, compressed at worst not at all,
sealed: base64 of the ciphertext), so a part is usually a quarter below the bound.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from corridor.errors import Problem, ValidationFailed
from corridor.sync.journal import dumps

if TYPE_CHECKING:
    from corridor.services.base import AuditHook
    from corridor.sync.service import SyncService

# The least bound accepted (a header with its marks and keys must fit beside a change).
MIN_BYTES = 64 * 1024
# More parts than this for one export means a bound far too small for the data.
MAX_PARTS = 10_000
_EMPTY_BODY = len(b'{"changes":[]}')


def _bad(reason: str) -> ValidationFailed:
    return ValidationFailed([Problem("max_bytes", reason)], reason)


def check_bound(max_bytes: int) -> None:
    if max_bytes < MIN_BYTES:
        raise _bad(f"a part's size must be at least {MIN_BYTES} bytes")


def body_bound(text_bytes: int) -> int:
    """The most bytes a bundle body can take for a JSON text of ``text_bytes``: zlib at
    worst (stored blocks: 5 bytes a 16 KB block, and its frame), the seal's nonce, tag
    and key id, base64's four bytes for three."""
    compressed = text_bytes + 5 * (text_bytes // 16_000 + 1) + 16
    return (compressed + 64) * 4 // 3 + 128


def overhead(marks: dict[str, int], granted: Any, destroyed: list[str]) -> int:
    """The most a bundle takes beside its body: the magic line, the header (its ranges
    and marks, the keys granted, the keys destroyed) and the signature."""
    return 1024 + 2 * len(dumps(marks)) + len(json.dumps(granted)) + len(json.dumps(destroyed))


def fit(changes: list[dict[str, Any]], max_bytes: int, spent: int, limit: int | None) -> int:
    """How many leading ``changes`` one part of ``max_bytes`` carries (at most
    ``limit``), ``spent`` bytes going to all but the body. A change that does not fit
    alone is refused (nothing written), naming its size."""
    text = _EMPTY_BODY
    n = 0
    for change in changes if limit is None else changes[:limit]:
        size = len(dumps(change).encode()) + 1
        if spent + body_bound(text + size) > max_bytes:
            break
        text += size
        n += 1
    if n == 0 and changes and limit != 0:
        need = spent + body_bound(_EMPTY_BODY + len(dumps(changes[0]).encode()))
        raise _bad(
            f"a change of person {changes[0].get('person_id')} takes {need} bytes in a "
            f"bundle, more than a part of {max_bytes}: raise the bound"
        )
    return n


def export_parts(
    sync: SyncService,
    peer_id: str | None,
    max_bytes: int,
    *,
    audit: AuditHook | None = None,
) -> list[bytes]:
    """What ``peer_id`` has not acknowledged, in bundles of at most ``max_bytes`` each
    (one bundle when it all fits). Each part is its own export, its own transaction."""
    check_bound(max_bytes)
    out: list[bytes] = []
    after: dict[str, int] = {}
    while len(out) < MAX_PARTS:
        part = sync.export(peer_id, after=dict(after), audit=audit, max_bytes=max_bytes)
        assert len(part) <= max_bytes, (len(part), max_bytes)  # fit's bound is a bound
        out.append(part)
        header = json.loads(part.split(b"\n", 2)[1])
        if not header.get("more"):
            return out
        for origin, (_, hi) in dict(header["ranges"]).items():
            after[origin] = max(after.get(origin, 0), int(hi))
    raise _bad(f"more than {MAX_PARTS} parts: raise the bound")
