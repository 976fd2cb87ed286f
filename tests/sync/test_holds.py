"""Issue 16: an erasure received for a person on legal hold here, decided by the data
protection officer (corridor/sync/holds.py, ``GET /api/sync/holds``, ``POST
/api/persons/{id}/resolve-hold``, the ``/sync/holds`` page).

The set-up of tests/sync/test_leave.py: the central (SQLite and PostgreSQL) places a
hold while the exit's node erases the same person apart; the node's erasure arrives at
the central as a conflict (``legal_hold``). The officer keeps the hold (the erasure
refused, recorded, and the refusal reaches the node) or lifts it (the erasure carried
out as received, audited, journaled).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select

from corridor.security.roles import Role
from corridor.security.tables import audit_events, disposal_log
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import persons
from corridor.sync.conflicts import ConflictReview
from corridor.sync.holds import HeldErasures, refused_here
from corridor.web.i18n import LANG_COOKIE
from tests.conftest import Clock
from tests.sync.helpers import hook, register, sync
from tests.sync.test_bundles import NODE_KEY
from tests.sync.test_conflicts import _client
from tests.sync.test_facts import _pull, _push, _rows
from tests.sync.test_leave import _erase, _hold, _number
from tests.web.conftest import page_client


def _held_erasure(central: Services, node: Services, site: str, clock: Clock) -> str:
    samira = register(node, site, "Samira", "+963933100001")
    _push(node, central)
    _pull(central, node)
    clock.advance(hours=1)
    _hold(central, samira)  # at the central, while the node erases her apart
    _erase(node, samira)
    _push(node, central)
    return samira


def _events(s: Services, pid: str) -> list[tuple[str, str, str | None]]:
    with s.db.read() as conn:
        return [
            (r.action, r.outcome, r.purpose)
            for r in conn.execute(
                select(audit_events.c.action, audit_events.c.outcome, audit_events.c.purpose)
                .where(audit_events.c.person_id == pid)
                .order_by(audit_events.c.seq)
            )
        ]


def test_the_officer_sees_what_was_asked_by_whom_where_and_the_hold(three, clock) -> None:
    central, node_a, _, exit_point, _ = three
    samira = _held_erasure(central, node_a, exit_point, clock)
    node_id = sync(node_a).identity()["id"]
    # Not a correction's to decide: the registrars' queue does not offer it.
    assert ConflictReview.of(central).queue() == []
    # Counted apart, so that each figure of /sync is what its queue lists.
    status = sync(central).status()
    assert (status["conflicts"], status["held_erasures"]) == (0, 1)

    dpo = _client(central, clock, "dpo", Role.DATA_PROTECTION_OFFICER, exit_point)
    before = _events(central, samira)
    r = dpo.get("/api/sync/holds")
    assert r.status_code == 200, r.text
    [item] = r.json()
    assert item["person_id"] == samira
    assert (
        item["registration_number"]
        == central.registration.get_person(samira)["registration_number"]
    )
    assert item["site_name"] == "Exit"
    assert item["asked"]["node_id"] == node_id and item["asked"]["site_name"] == "Exit"
    assert item["asked"]["user_id"] == "cli:test" and item["asked"]["received_at"]
    assert item["hold"]["node_id"] == sync(central).identity()["id"]
    assert item["hold"]["received_at"] is None  # placed here
    assert "Samira" not in r.text and "Khalil" not in r.text  # the desk shows no name
    assert [e[:2] for e in _events(central, samira)[len(before) :]] == [("audit.read", "allowed")]

    page = dpo.get("/sync/holds")
    assert page.status_code == 200
    assert node_id in page.text and "Samira" not in page.text
    assert "An erasure was made at another installation" in page.text
    dpo.cookies.set(LANG_COOKIE, "ar")
    assert 'dir="rtl"' in dpo.get("/sync/holds").text
    dpo.cookies.delete(LANG_COOKIE)

    # The site manager's /sync page counts it apart from the registrars' conflicts.
    manager = _client(central, clock, "mgr-exit", Role.SITE_MANAGER, exit_point)
    figures = manager.get("/sync").text
    assert re.search(r'data-figure="held-erasures">1<', figures), figures
    assert re.search(r'data-figure="conflicts">0<', figures)

    # A registrar may not see or decide it: the hold is not theirs to lift. Their queue
    # says it is there and whose it is (a count, no link, no person).
    registrar = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    queue = registrar.get("/sync/conflicts").text
    assert 'id="held-erasures"' in queue and "1 erasure received" in queue
    assert 'href="/sync/holds"' not in queue and "Samira" not in queue
    assert registrar.get("/api/sync/status").json()["held_erasures"] == 1
    assert registrar.get("/api/sync/holds").status_code == 403
    refused = registrar.post(
        f"/api/persons/{samira}/resolve-hold", json={"conflict_id": item["id"], "lift": True}
    )
    assert refused.status_code == 403
    assert central.registration.get_person(samira)["names"]["given_name"] == "Samira"


def test_keeping_the_hold_refuses_the_erasure_and_the_refusal_reaches_the_node(
    three, clock
) -> None:
    central, node_a, _, exit_point, _ = three
    samira = _held_erasure(central, node_a, exit_point, clock)
    [held] = HeldErasures.of(central).queue()
    dpo = _client(central, clock, "dpo", Role.DATA_PROTECTION_OFFICER, exit_point)
    key = {"Idempotency-Key": "0190ffff-0000-7000-8000-00000000b01d"}
    body = {"conflict_id": held["id"], "lift": False}
    r = dpo.post(f"/api/persons/{samira}/resolve-hold", json=body, headers=key)
    assert r.status_code == 200, r.text
    assert (r.json()["legal_hold"], r.json()["erasure"]) == ("kept", "refused")
    [row] = _rows(central, persons, persons.c.id == samira)
    assert row["legal_hold"] is True and row["anonymised_at"] is None
    assert central.registration.get_person(samira)["names"]["given_name"] == "Samira"
    [conflict] = _rows(central, sync_changes, sync_changes.c.id == held["id"])
    assert conflict["resolved_at"] is not None
    assert json.loads(conflict["resolution"]) == {"legal_hold": "kept", "erasure": "refused"}
    assert HeldErasures.of(central).queue() == [] and sync(central).status()["conflicts"] == 0
    # The decision is a change of its own, made on their erasure, audited.
    [decision] = [
        c
        for c in _rows(central, sync_changes, sync_changes.c.person_id == samira)
        if c["kind"] == "person.hold" and c["depends_on"] == held["id"]
    ]
    assert ("retention.hold", "allowed") in [e[:2] for e in _events(central, samira)]
    # The same key again: decided once, nothing more written.
    again = dpo.post(f"/api/persons/{samira}/resolve-hold", json=body, headers=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["erasure"] == "refused"
    # Another key: nothing open any more.
    assert dpo.post(f"/api/persons/{samira}/resolve-hold", json=body).status_code == 404

    # At the node: its erasure stays carried out (it cannot be undone), and the
    # refusal is recorded on it; the hold is known there.
    _pull(central, node_a)
    [erasure] = [
        c
        for c in _rows(node_a, sync_changes, sync_changes.c.person_id == samira)
        if c["kind"] == "person.erase"
    ]
    assert erasure["id"] == held["id"]
    assert json.loads(erasure["resolution"])["erasure"] == "refused"
    assert json.loads(erasure["resolution"])["decided_by"] == decision["id"]
    [at_node] = _rows(node_a, persons, persons.c.id == samira)
    assert at_node["legal_hold"] is True and at_node["anonymised_at"] is not None
    with node_a.db.read() as conn:
        [listed] = refused_here(conn)
    assert listed["person_id"] == samira and listed["refused_at"] is not None
    # The node's officer reads it on the same page, in words, audited.
    node_dpo = _client(
        node_a, clock, "dpo-node", Role.DATA_PROTECTION_OFFICER, exit_point, NODE_KEY
    )
    page = node_dpo.get("/sync/holds")
    assert page.status_code == 200 and "Erasures made here and refused elsewhere" in page.text
    assert listed["registration_number"] in page.text
    assert ("audit.read", "allowed") in [e[:2] for e in _events(node_a, samira)]
    # And back: nothing in conflict at either side.
    _push(node_a, central)
    assert sync(central).status()["conflicts"] == 0 and sync(node_a).status()["conflicts"] == 0


def test_lifting_the_hold_carries_the_erasure_out_as_received(three, clock) -> None:
    central, node_a, node_b, exit_point, _ = three
    samira = _held_erasure(central, node_a, exit_point, clock)
    [held] = HeldErasures.of(central).queue()
    before = _events(central, samira)
    decided = HeldErasures.of(central).decide(
        samira,
        held["id"],
        True,
        by="dpo",
        audit=hook(central, "retention.hold"),
    )
    assert (decided["legal_hold"], decided["erasure"]) == ("lifted", "carried out")
    [row] = _rows(central, persons, persons.c.id == samira)
    assert row["legal_hold"] is False and row["anonymised_at"] is not None
    assert row["given_name"] is None and row["phone"] is None
    # The same registration number as at the node that erased: one person everywhere.
    assert row["registration_number"] == _number(node_a, samira)
    assert [d["category"] for d in _rows(central, disposal_log, disposal_log.c.record_id == samira)]
    assert ("retention.hold", "allowed") in [e[:2] for e in _events(central, samira)[len(before) :]]
    assert HeldErasures.of(central).queue() == [] and sync(central).status()["conflicts"] == 0
    [erase] = [
        c
        for c in _rows(central, sync_changes, sync_changes.c.person_id == samira)
        if c["kind"] == "person.erase" and c["received_at"] is None
    ]
    assert erase["depends_on"] == held["id"]  # made on their erasure
    for text in _payloads(central, samira):
        assert "Samira" not in text and "+963933100001" not in text
    # It travels: the node holds it erased already, nothing comes back, no conflict.
    _pull(central, node_a)
    _push(node_a, central)
    [at_node] = _rows(node_a, persons, persons.c.id == samira)
    assert at_node["anonymised_at"] is not None and at_node["given_name"] is None
    assert sync(node_a).status()["conflicts"] == 0


def test_the_page_form_decides_once(three, clock) -> None:
    central, node_a, _, exit_point, _ = three
    samira = _held_erasure(central, node_a, exit_point, clock)
    [held] = HeldErasures.of(central).queue()
    with page_client(
        central.db, clock, roles=(Role.DATA_PROTECTION_OFFICER,), name="dpo-desk"
    ) as officer:
        page = officer.page("/sync/holds")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
        assert key is not None and f'value="{held["id"]}"' in page
        form = {"conflict_id": held["id"], "decision": "keep", "idempotency_key": key[1]}
        r = officer.submit(f"/persons/{samira}/resolve-hold", form, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/sync/holds"
        assert "no-holds" in officer.page("/sync/holds")
        again = officer.submit(f"/persons/{samira}/resolve-hold", form, follow_redirects=False)
        assert again.status_code == 303
    holds = [
        c
        for c in _rows(central, sync_changes, sync_changes.c.person_id == samira)
        if c["kind"] == "person.hold" and c["received_at"] is None
    ]
    assert len(holds) == 2  # the hold placed, and the one decision
    [row] = _rows(central, persons, persons.c.id == samira)
    assert row["legal_hold"] is True and row["anonymised_at"] is None


def _payloads(s: Services, pid: str) -> list[str]:
    from corridor.sync.journal import open_payload

    out: list[Any] = []
    for change in _rows(s, sync_changes, sync_changes.c.person_id == pid):
        state = open_payload(s.vault, change["site_id"], change["payload"])
        if state is not None:
            out.append(json.dumps(state, ensure_ascii=False, default=str))
    return out
