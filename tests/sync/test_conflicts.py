"""Issue 16, "Conflicts are never silent": the review queue (corridor/sync/conflicts.py,
``GET /api/sync/conflicts``, ``POST /api/persons/{id}/resolve-conflict``, the
``/sync/conflicts`` page).

A conflict is made as in tests/sync/test_bundles.py (the central and its exit point's
node change the same phone apart). The queue lists it with both values and who made each
change, when, where; an officer of the site decides, the decision is a correction that
is journaled and reaches the node, and it leaves both sides' queues; the same key again
decides nothing; another site's officer gets 404; a field the caller's roles may not see
stays withheld (and is not theirs to decide).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from corridor.schemas import PersonIn, PersonPatch
from corridor.security.roles import Role
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage.sync_tables import sync_changes
from corridor.sync.conflicts import ConflictReview
from corridor.web.i18n import LANG_COOKIE
from tests.conftest import MASTER_KEY, Clock
from tests.support.route_world import token_client
from tests.sync.helpers import hook, person_body, register, sync
from tests.sync.test_bundles import NODE_KEY, _apply
from tests.web.conftest import page_client

CENTRAL_PHONE = "+963933200002"
NODE_PHONE = "+963933300003"


def _to_node(central: Services, node: Services) -> Any:
    return sync(node).import_bundle(
        sync(central).export(sync(node).identity()["id"]), audit=_apply(node)
    )


def _to_central(central: Services, node: Services) -> Any:
    return sync(central).import_bundle(sync(node).export(), audit=_apply(central))


def _conflict(central: Services, node: Services, exit_point: str, birth: str | None = None) -> str:
    """The phone changed at both sides apart (the node also gives the father's name):
    a conflict at the central, as in test_bundles."""
    if birth is None:
        pid = register(node, exit_point, "Samira", "+963933100001")
    else:
        body = person_body(exit_point, "Rima", "+963933100001").model_dump(exclude_unset=True)
        body["birth_date"] = birth
        pid = str(
            node.registration.register_person(
                PersonIn.model_validate(body), audit=hook(node, "person.write")
            )["id"]
        )
    _to_central(central, node)
    _to_node(central, node)  # acknowledged
    central.registration.update_person(
        pid, PersonPatch(phone=CENTRAL_PHONE), audit=hook(central, "person.write")
    )
    node.registration.update_person(
        pid, PersonPatch(phone=NODE_PHONE, father_name="Ahmad"), audit=hook(node, "person.write")
    )
    assert _to_central(central, node).conflicts == 1
    return pid


def _client(
    s: Services, clock: Clock, name: str, role: Role, site: str, key: str = MASTER_KEY
) -> TestClient:
    client, _ = token_client(s.db, clock, name, (role,), [site], master_key=key)
    return client


def _events(s: Services, pid: str) -> list[tuple[str, str]]:
    with s.db.read() as conn:
        return [
            (r.action, r.outcome)
            for r in conn.execute(
                select(audit_events.c.action, audit_events.c.outcome)
                .where(audit_events.c.person_id == pid)
                .order_by(audit_events.c.seq)
            )
        ]


def test_the_queue_lists_a_conflict_with_both_values_who_when_where(pair, clock) -> None:
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    node_id = sync(node).identity()["id"]
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    before = _events(central, pid)

    r = officer.get("/api/sync/conflicts")
    assert r.status_code == 200, r.text
    [item] = r.json()
    assert item["person_id"] == pid
    assert (
        item["registration_number"] == central.registration.get_person(pid)["registration_number"]
    )
    assert item["site_name"] == "Exit"
    assert item["fields"] == [
        {"field": "phone", "ours": CENTRAL_PHONE, "theirs": NODE_PHONE, "withheld": False}
    ]
    # Theirs: made at the node, by its user, when; ours: made here.
    assert item["theirs"]["node_id"] == node_id
    assert item["theirs"]["user_id"] == "cli:test"  # the operator at the node
    assert item["theirs"]["received_at"] is not None
    assert item["ours"]["node_id"] == sync(central).identity()["id"]
    assert item["ours"]["received_at"] is None
    # One audit event for the person shown (a read, not a journaled write).
    assert _events(central, pid)[len(before) :] == [("person.read", "allowed")]
    with central.db.read() as conn:
        changes = conn.execute(select(func.count()).select_from(sync_changes)).scalar_one()
    officer.get("/api/sync/conflicts")
    with central.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(sync_changes)).scalar_one() == changes

    # The page and its twin list it too, and the /sync page counts and links it.
    page = officer.get("/sync/conflicts")
    assert page.status_code == 200 and NODE_PHONE in page.text and CENTRAL_PHONE in page.text
    assert officer.get("/sync/conflicts.json").json()["conflicts"][0]["id"] == item["id"]
    officer.cookies.set(LANG_COOKIE, "ar")
    arabic = officer.get("/sync/conflicts").text
    assert 'dir="rtl"' in arabic and "قيمتهم" in arabic and "Theirs" not in arabic
    officer.cookies.set(LANG_COOKIE, "ku")
    assert "Ya wan" in officer.get("/sync/conflicts").text
    officer.cookies.delete(LANG_COOKIE)
    manager = _client(central, clock, "manager-exit", Role.SITE_MANAGER, exit_point)
    state = manager.get("/sync.json").json()
    assert state["sync"]["conflicts"] == 1 and state["duplicates"] == 0
    sync_page = manager.get("/sync").text
    assert 'href="/sync/conflicts"' in sync_page and 'data-figure="duplicates"' in sync_page
    # The site manager sees the queue but does not decide (no person.write): no button.
    assert "resolve-conflict" not in manager.get("/sync/conflicts").text


def test_resolving_writes_the_choice_and_reaches_the_node_once(pair, clock) -> None:
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    [conflict] = ConflictReview.of(central).queue()
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    key = {"Idempotency-Key": "0190ffff-0000-7000-8000-00000000c0f1"}
    with central.db.read() as conn:
        made_before = conn.execute(
            select(func.count())
            .select_from(sync_changes)
            .where(sync_changes.c.received_at.is_(None))
        ).scalar_one()

    # Keep ours (the central's phone): still a decision, and a change of its own.
    r = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": []},
        headers=key,
    )
    assert r.status_code == 200, r.text
    assert r.json()["fields"] == {"phone": "ours"}
    assert r.json()["person"]["phone"] == CENTRAL_PHONE
    person = central.registration.get_person(pid)
    assert person["phone"] == CENTRAL_PHONE and person["names"]["father_name"] == "Ahmad"
    with central.db.read() as conn:
        row = conn.execute(select(sync_changes).where(sync_changes.c.id == conflict["id"])).one()
        made = conn.execute(select(sync_changes).where(sync_changes.c.received_at.is_(None))).all()
    assert row.resolved_at is not None and row.resolved_by and '"phone": "ours"' in row.resolution
    assert len(made) == made_before + 1  # the decision is journaled: one change
    decision = max(made, key=lambda c: c.seq)
    assert decision.depends_on == conflict["id"]  # made on their change
    assert ConflictReview.of(central).queue() == []
    assert sync(central).status()["conflicts"] == 0
    assert officer.get("/api/sync/conflicts").json() == []

    # The same key again: decided once, the first answer again, nothing written.
    events = _events(central, pid)
    again = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": []},
        headers=key,
    )
    assert again.status_code == 200, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["fields"] == {"phone": "ours"}
    with central.db.read() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(sync_changes)
                .where(sync_changes.c.received_at.is_(None))
            ).scalar_one()
            == made_before + 1
        )
    assert [e for e in _events(central, pid)[len(events) :] if e[0] == "person.write"] == []
    # Another key: no open conflict any more (404), nothing written.
    other = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": ["phone"]},
    )
    assert other.status_code == 404, other.text

    # The node: their change and the decision arrive; the decision follows on from the
    # node's own change and carries the central's phone; the node's own conflict (the
    # central's first change against its own) is settled by it: no queue left there.
    report = _to_node(central, node)
    assert report.conflicts == 1 and report.applied == 1
    at_node = node.registration.get_person(pid)
    assert at_node["phone"] == CENTRAL_PHONE and at_node["names"]["father_name"] == "Ahmad"
    assert ConflictReview.of(node).queue() == []
    assert sync(node).status()["conflicts"] == 0
    # And back: nothing new, nothing in conflict.
    assert _to_central(central, node).conflicts == 0
    assert central.registration.get_person(pid)["phone"] == CENTRAL_PHONE


def test_taking_theirs_writes_their_value(pair, clock) -> None:
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    [conflict] = ConflictReview.of(central).queue()
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    r = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": ["phone"]},
    )
    assert r.status_code == 200, r.text
    assert central.registration.get_person(pid)["phone"] == NODE_PHONE
    _to_node(central, node)
    assert node.registration.get_person(pid)["phone"] == NODE_PHONE
    assert ConflictReview.of(node).queue() == []


def test_another_sites_officer_gets_404(pair, clock) -> None:
    central, node, exit_point, camp = pair
    pid = _conflict(central, node, exit_point)
    [conflict] = ConflictReview.of(central).queue()
    outsider = _client(central, clock, "reg-camp", Role.REGISTRAR, camp)
    before = _events(central, pid)
    assert outsider.get("/api/sync/conflicts").json() == []
    r = outsider.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": ["phone"]},
    )
    assert r.status_code == 404, r.text
    assert _events(central, pid)[len(before) :] == [("person.write", "denied")]
    assert central.registration.get_person(pid)["phone"] == CENTRAL_PHONE
    assert len(ConflictReview.of(central).queue()) == 1
    # A wrong conflict id for a person of one's own site: 404 as well.
    officer = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    r = officer.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": "0190aaaa-0000-7000-8000-000000000000", "theirs": []},
    )
    assert r.status_code == 404, r.text


def test_a_withheld_field_stays_withheld(pair, clock) -> None:
    """A child's phone is in the minors' details group: a registrar sees "withheld" (no
    value of either side) and may not decide it; a protection officer sees both and may."""
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point, birth="2012-05-01")
    [conflict] = ConflictReview.of(central).queue()
    registrar = _client(central, clock, "reg-exit", Role.REGISTRAR, exit_point)
    r = registrar.get("/api/sync/conflicts")
    assert r.status_code == 200
    assert r.json()[0]["fields"] == [
        {"field": "phone", "ours": None, "theirs": None, "withheld": True}
    ]
    for phone in (CENTRAL_PHONE, NODE_PHONE):
        assert phone not in r.text
        assert phone not in registrar.get("/sync/conflicts").text
    refused = registrar.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": []},
    )
    assert refused.status_code == 403, refused.text
    assert len(ConflictReview.of(central).queue()) == 1

    protection = _client(central, clock, "prot-exit", Role.PROTECTION_OFFICER, exit_point)
    shown = protection.get("/api/sync/conflicts").json()[0]["fields"][0]
    assert (shown["ours"], shown["theirs"], shown["withheld"]) == (CENTRAL_PHONE, NODE_PHONE, False)
    done = protection.post(
        f"/api/persons/{pid}/resolve-conflict",
        json={"conflict_id": conflict["id"], "theirs": ["phone"]},
    )
    assert done.status_code == 200, done.text
    assert central.registration.get_person(pid)["phone"] == NODE_PHONE


def test_the_unsent_count_on_the_registration_pages(pair, clock) -> None:
    """At a node: what the central has not acknowledged; at the central: nothing shown."""
    central, node, exit_point, _ = pair
    assert ConflictReview.of(central).unsent() is None
    assert ConflictReview.of(node).unsent() == 0
    register(node, exit_point, "Samira", "+963933100001")
    register(node, exit_point, "Huda", "+963933100002")
    assert ConflictReview.of(node).unsent() == 2
    assert ConflictReview.of(node).unsent() == sync(node).status()["peers"][0]["unsent"]
    _to_central(central, node)
    _to_node(central, node)  # the central's marks come back: acknowledged
    assert ConflictReview.of(node).unsent() == 0

    node_officer = _client(node, clock, "reg-node", Role.REGISTRAR, exit_point, NODE_KEY)
    mona = register(node, exit_point, "Mona", "+963933100003")
    for url in ("/register", "/register/household", f"/persons/{mona}"):
        page = node_officer.get(url)
        assert page.status_code == 200
        assert 'data-figure="unsent">1<' in page.text, url
    central_officer = _client(central, clock, "reg-central", Role.REGISTRAR, exit_point)
    assert 'data-figure="unsent"' not in central_officer.get("/register").text


def test_the_page_form_decides_once(pair, clock) -> None:
    """The queue's form (a browser: session, CSRF, the form's own idempotency key): the
    choice written, the queue empty; the same form sent again decides nothing more."""
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    [conflict] = ConflictReview.of(central).queue()
    # As a context: the app's tracing worker (woken by the decision) stops with it.
    with page_client(central.db, clock, roles=(Role.REGISTRAR,), name="desk") as officer:
        _decide_on_the_page(central, pid, conflict, officer)


def _decide_on_the_page(
    central: Services, pid: str, conflict: dict[str, Any], officer: Any
) -> None:
    page = officer.page("/sync/conflicts")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key is not None and f'value="{conflict["id"]}"' in page
    form = {"conflict_id": conflict["id"], "choice.phone": "theirs", "idempotency_key": key[1]}
    r = officer.submit(f"/persons/{pid}/resolve-conflict", form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sync/conflicts"
    assert central.registration.get_person(pid)["phone"] == NODE_PHONE
    assert "no-conflicts" in officer.page("/sync/conflicts")
    with central.db.read() as conn:
        made = conn.execute(
            select(func.count())
            .select_from(sync_changes)
            .where(sync_changes.c.received_at.is_(None))
        ).scalar_one()
    again = officer.submit(f"/persons/{pid}/resolve-conflict", form, follow_redirects=False)
    assert again.status_code == 303
    with central.db.read() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(sync_changes)
                .where(sync_changes.c.received_at.is_(None))
            ).scalar_one()
            == made
        )


def test_a_decision_at_the_node_reaches_the_central_and_settles_its_copy(pair) -> None:
    """Either side may decide: the node takes the central's phone; the central applies
    the decision on its own change and its queue empties too."""
    central, node, exit_point, _ = pair
    pid = _conflict(central, node, exit_point)
    assert _to_node(central, node).conflicts == 1  # the node's copy of the conflict
    [at_node] = ConflictReview.of(node).queue()
    assert [(v["ours"], v["theirs"]) for v in at_node["values"]] == [(NODE_PHONE, CENTRAL_PHONE)]
    ConflictReview.of(node).resolve(
        pid, at_node["id"], ["phone"], by="cli:test", audit=hook(node, "person.write")
    )
    assert node.registration.get_person(pid)["phone"] == CENTRAL_PHONE
    assert ConflictReview.of(node).queue() == []
    report = _to_central(central, node)
    assert report.conflicts == 0 and report.applied == 1
    person = central.registration.get_person(pid)
    assert person["phone"] == CENTRAL_PHONE and person["names"]["father_name"] == "Ahmad"
    assert ConflictReview.of(central).queue() == []
    assert sync(central).status()["conflicts"] == 0
