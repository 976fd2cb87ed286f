"""The tracing outbox: persons a committed write left to be checked against the open
enquiries (table ``tracing_outbox``, migration 0015).

A write records its persons here in its own transaction (``record``); the tracing check
removes them in the transaction that stores the matches it found (``remove``). So what
must be checked is as durable as the registration itself: after a crash, however long,
the next start finds it ``pending``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from corridor.storage.tracing_tables import tracing_outbox

CHUNK = 1000


@dataclass(frozen=True)
class Pending:
    seq: int
    person_id: str
    found_by: str


def record(conn: Connection, person_ids: Iterable[str], found_by: str, at: datetime) -> None:
    """Leave ``person_ids`` to be checked, inside the caller's transaction."""
    rows = [
        {"person_id": pid, "found_by": found_by, "recorded_at": at}
        for pid in dict.fromkeys(person_ids)
    ]
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(tracing_outbox), rows[start : start + CHUNK])


def pending(conn: Connection, limit: int = CHUNK) -> list[Pending]:
    """The oldest ``limit`` rows still to be checked."""
    rows = conn.execute(
        select(tracing_outbox.c.seq, tracing_outbox.c.person_id, tracing_outbox.c.found_by)
        .order_by(tracing_outbox.c.seq)
        .limit(limit)
    ).all()
    return [Pending(int(seq), str(pid), str(by)) for seq, pid, by in rows]


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tracing_outbox)).scalar_one())


def remove(conn: Connection, seqs: Iterable[int]) -> None:
    """Mark these rows done (another process may have removed them already)."""
    done = sorted(set(seqs))
    for start in range(0, len(done), CHUNK):
        conn.execute(
            delete(tracing_outbox).where(tracing_outbox.c.seq.in_(done[start : start + CHUNK]))
        )
