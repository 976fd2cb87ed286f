"""PROTECTION.md 6: the audit log is append-only, hash-chained and names no field values."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from corridor.security import audit
from corridor.security.audit import AuditEvent, Outcome, accesses_to, append, head, verify
from corridor.security.tables import audit_events

T0 = datetime(2019, 3, 10, 8, 0, tzinfo=UTC)


def tamper(conn, sql) -> None:
    """Edit the log behind the application's back, as someone with database access could:
    the append-only triggers are lifted for the one statement."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        conn.execute(text(sql) if isinstance(sql, str) else sql)
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
        return
    conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
    conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
    conn.execute(text(sql) if isinstance(sql, str) else sql)
    for op in ("UPDATE", "DELETE"):
        conn.execute(
            text(
                f"CREATE TRIGGER audit_events_no_{op.lower()} BEFORE {op} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        )


def test_the_database_refuses_to_edit_or_delete_audit_rows(secdb):
    from sqlalchemy.exc import DBAPIError

    with secdb.transaction() as conn:
        audit.append(conn, event(1))
    for sql in ("UPDATE audit_events SET purpose = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), secdb.transaction() as conn:
            conn.execute(text(sql))
    with secdb.read() as conn:
        assert audit.verify(conn).ok


def event(n: int, **changes) -> AuditEvent:
    values = dict(
        user_id=f"u{n % 3}",
        role="registrar",
        action="person.read",
        outcome=Outcome.ALLOWED,
        purpose="registration check",
        occurred_at=T0 + timedelta(seconds=n, microseconds=123),
        person_id=f"p{n}",
        site_id="camp-a",
    )
    values.update(changes)
    return AuditEvent(**values)


def fill(db, n: int) -> None:
    for i in range(1, n + 1):
        with db.transaction() as conn:
            append(conn, event(i))


def test_appended_rows_form_a_chain_that_verifies(secdb):
    fill(secdb, 5)
    with secdb.read() as conn:
        result = verify(conn)
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).all()
    assert result.ok and result.checked == 5 and result.broken_seq is None
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.hash
    assert result.head == audit.ChainHead(5, rows[-1].hash)


def test_protection_06_editing_one_row_with_sql_breaks_the_chain_at_that_row(secdb):
    fill(secdb, 5)
    with secdb.transaction() as conn:
        tamper(conn, "UPDATE audit_events SET purpose = 'nothing to see' WHERE seq = 3")
    with secdb.read() as conn:
        result = verify(conn)
    assert not result.ok
    assert result.broken_seq == 3 and result.checked == 2
    assert "hash" in (result.reason or "")


def test_changing_the_outcome_of_a_denial_is_detected(secdb):
    with secdb.transaction() as conn:
        append(conn, event(1, outcome=Outcome.DENIED, site_id="camp-b"))
        append(conn, event(2))
    with secdb.transaction() as conn:
        tamper(conn, "UPDATE audit_events SET outcome = 'allowed' WHERE seq = 1")
    with secdb.read() as conn:
        assert verify(conn).broken_seq == 1


def test_an_outcome_outside_the_vocabulary_is_reported_not_a_crash(secdb):
    fill(secdb, 2)
    with secdb.transaction() as conn:
        tamper(conn, "UPDATE audit_events SET outcome = 'maybe' WHERE seq = 2")
    with secdb.read() as conn:
        assert verify(conn).broken_seq == 2


def test_deleting_a_row_is_detected_at_the_next_row(secdb):
    fill(secdb, 4)
    with secdb.transaction() as conn:
        tamper(conn, "DELETE FROM audit_events WHERE seq = 2")
    with secdb.read() as conn:
        result = verify(conn)
    assert not result.ok and result.broken_seq == 3


def test_rewriting_a_row_and_its_own_hash_breaks_the_next_link(secdb):
    fill(secdb, 3)
    with secdb.read() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.seq == 2)).one()
    forged = event(2, person_id="someone-else")
    forged_hash = audit.row_hash(row.prev_hash, 2, forged)
    with secdb.transaction() as conn:
        tamper(
            conn,
            audit_events.update()
            .where(audit_events.c.seq == 2)
            .values(person_id="someone-else", hash=forged_hash),
        )
    with secdb.read() as conn:
        assert verify(conn).broken_seq == 3


def test_an_empty_log_verifies(secdb):
    with secdb.read() as conn:
        result = verify(conn)
        assert head(conn) is None
    assert result.ok and result.checked == 0 and result.head is None


def test_rows_hold_ids_never_field_values():
    assert {c.name for c in audit_events.c} == {
        "seq", "occurred_at", "user_id", "role", "action", "outcome", "purpose",
        "person_id", "site_id", "prev_hash", "hash", "via_person_id",  # an id (issue 15)
    }  # fmt: skip


def test_events_need_a_purpose_and_an_aware_time(secdb):
    with secdb.transaction() as conn:
        with pytest.raises(ValueError, match="purpose"):
            append(conn, event(1, purpose="  "))
        with pytest.raises(ValueError, match="timezone"):
            append(conn, event(1, occurred_at=datetime(2019, 3, 10, 8, 0)))
        with pytest.raises(ValueError):
            append(conn, event(1, outcome="maybe"))


def test_who_accessed_this_person(secdb):
    with secdb.transaction() as conn:
        append(conn, event(1, person_id="p-amal", user_id="u-reg"))
        append(conn, event(2, person_id="p-omar"))
        append(conn, event(3, person_id="p-amal", user_id="u-x", outcome=Outcome.DENIED))
    with secdb.read() as conn:
        seen = accesses_to(conn, "p-amal")
    assert [(e.user_id, e.outcome) for e in seen] == [
        ("u-reg", Outcome.ALLOWED),
        ("u-x", Outcome.DENIED),
    ]
    assert seen[0].occurred_at == event(1).occurred_at


def test_concurrent_writers_keep_one_unbroken_chain(secdb):
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(10):
                with secdb.transaction() as conn:
                    append(conn, event(w * 100 + i, user_id=f"writer-{w}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with secdb.read() as conn:
        result = verify(conn)
    assert result.ok and result.checked == 60


def test_appending_many_at_once_makes_the_same_chain_as_one_by_one(secdb):
    batch = [event(n) for n in range(1, 6)]
    with secdb.transaction() as conn:
        audit.append_many(conn, batch[:2])
        audit.append(conn, batch[2])
        last = audit.append_many(conn, batch[3:])
    with secdb.read() as conn:
        result = verify(conn)
    assert result.ok and result.checked == 5 and result.head == last


def test_a_row_without_an_old_id_hashes_as_before_the_column_existed():
    """``via_person_id`` (migration 0021) is in the hash only when set: the rows written
    before it keep their hashes, and a row with one hashes differently."""
    import hashlib
    import json

    e = event(1)
    body = {
        "seq": 1,
        "occurred_at": "2019-03-10T08:00:01.000123Z",
        "user_id": e.user_id,
        "role": e.role,
        "action": e.action,
        "outcome": "allowed",
        "purpose": e.purpose,
        "person_id": e.person_id,
        "site_id": e.site_id,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    before = hashlib.sha256(f"{audit.GENESIS_HASH}\n{canonical}".encode()).hexdigest()
    assert audit.row_hash(audit.GENESIS_HASH, 1, e) == before
    routed = event(1, via_person_id="old-id")
    assert audit.row_hash(audit.GENESIS_HASH, 1, routed) != before
