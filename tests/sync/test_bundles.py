"""Issue 16: a site node (SQLite) and the central (SQLite and PostgreSQL, the ``backend``
fixture) enrol, then exchange bundles through the services.

A registration at the node reaches the central once; a replay changes nothing; a
truncated, altered, foreign-site or foreign-node bundle is refused and writes nothing; a
change that arrives before the one it was made on waits, then applies; two sides
changing the same field apart is a conflict that keeps both values, different fields
merge.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from corridor.schemas import PersonPatch, PersonSearchIn
from corridor.security.crypto import MasterKey
from corridor.security.tables import audit_events
from corridor.services import Services
from corridor.storage import Database
from corridor.storage.sync_tables import sync_acks, sync_changes
from corridor.storage.tables import person_documents, persons
from corridor.sync import keys
from corridor.sync.journal import CHANGE_FIELD, COMPRESSED, Journal, dumps, open_payload
from corridor.sync.service import BundleRefused
from tests.conftest import Clock
from tests.sync.helpers import hook, make_site, register, sync

NODE_KEY = MasterKey.generate().encoded()


def _admin(s: Services) -> Any:
    return s.audit.operator_admin_hook("test", "sites.admin")


def _apply(s: Services) -> Any:
    return s.audit.operator_hook("test", "sync.apply")


def _node_services(tmp_path: Path, template: Path, clock: Clock, name: str) -> Services:
    path = tmp_path / f"{name}.db"
    shutil.copy(template, path)
    return Services(Database(f"sqlite:///{path}"), clock, MasterKey.from_text(NODE_KEY))


def _enrol(central: Services, node: Services, site: str, name: str | None = None) -> None:
    """Enrolled under ``name``, by default its database file's (unique in a test)."""
    name = name or Path(str(node.db.url.database)).stem
    request = sync(node).init_node("https://central.example", site, name)
    grant = sync(central).approve(request, "cli:admin", audit=_admin(central))
    fp = keys.fingerprint(grant["grant"]["central_signing_public"])
    sync(node).join(grant, fp, audit=_admin(node))


def _counts(s: Services) -> dict[str, int]:
    with s.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (persons, sync_changes, sync_acks, audit_events)
        }


def _persons_named(s: Services, name: str) -> list[str]:
    with s.db.read() as conn:
        return list(
            conn.execute(select(persons.c.id).where(persons.c.given_name == name)).scalars()
        )


def test_a_registration_at_the_node_reaches_the_central_once(pair) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira", "+963933100001")
    bundle = sync(node).export()
    assert b"Samira" not in bundle and b"963933100001" not in bundle  # sealed

    report = sync(central).import_bundle(bundle, audit=_apply(central))
    assert (report.applied, report.waiting, report.conflicts) == (1, 0, 0)
    person = central.registration.get_person(pid)
    assert person["names"]["given_name"] == "Samira"
    assert person["phone"] == "+963933100001"  # the site's key came with the enrolment
    assert _persons_named(central, "Samira") == [pid]
    # The central's own lookup hash: exact search by phone finds her there.
    found = central.registration.search(PersonSearchIn(phone="+963933100001"))
    assert [p["id"] for p in found] == [pid]
    # One audit event for the applied change, under its own action (not journaled again).
    with central.db.read() as conn:
        events = (
            conn.execute(select(audit_events.c.action).where(audit_events.c.person_id == pid))
            .scalars()
            .all()
        )
    assert events == ["sync.apply"]

    before = _counts(central)
    again = sync(central).import_bundle(bundle, audit=_apply(central))
    assert again.already_applied
    assert _counts(central) == before
    assert _persons_named(central, "Samira") == [pid]


def test_the_central_acknowledges_and_the_node_sends_only_what_is_new(pair) -> None:
    central, node, exit_point, _ = pair
    register(node, exit_point, "Samira")
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    node_id = sync(node).identity()["id"]
    back = sync(central).export(node_id)
    sync(node).import_bundle(back, audit=_apply(node))
    assert sync(node).status()["peers"][0]["unsent"] == 0
    assert json.loads(sync(node).export().split(b"\n")[1])["count"] == 0
    register(node, exit_point, "Nour", "+963933100002")
    assert json.loads(sync(node).export().split(b"\n")[1])["count"] == 1


def test_a_correction_at_the_central_reaches_the_node(pair) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira")
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    central.registration.update_person(
        pid, PersonPatch(given_name="Sameera"), audit=hook(central, "person.write")
    )
    node_id = sync(node).identity()["id"]
    report = sync(node).import_bundle(sync(central).export(node_id), audit=_apply(node))
    assert report.applied == 1
    assert node.registration.get_person(pid)["names"]["given_name"] == "Sameera"


def _tampered(bundle: bytes) -> bytes:
    lines = bundle.split(b"\n")
    body = bytearray(lines[2])
    body[len(body) // 2] ^= 0x01
    return b"\n".join([lines[0], lines[1], bytes(body), lines[3], lines[4]])


def _resigned(bundle: bytes, node: Services, **header_changes: Any) -> bytes:
    """A bundle the node itself signs with a header it altered (a node lying about its
    site): the signature verifies, the site does not."""
    lines = bundle.split(b"\n")
    header = {**json.loads(lines[1]), **header_changes}
    header_line = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    with node.db.read() as conn:
        private = sync(node)._private(sync(node)._self(conn))
    sig = keys.sign(private, lines[0] + b"\n" + header_line + b"\n" + lines[2]).encode()
    return b"\n".join([lines[0], header_line, lines[2], sig, b""])


@pytest.mark.parametrize(
    "spoil, reason",
    [
        (lambda b, n, c: b[: len(b) // 2], "not a whole Corridor bundle"),
        (lambda b, n, c: b[:-1], "not a whole Corridor bundle"),
        (lambda b, n, c: _tampered(b), "signature does not verify"),
        (lambda b, n, c: _resigned(b, n, site_id=c), "another site"),
        (lambda b, n, c: _resigned(b, n, to_node="someone-else"), "another node"),
    ],
    ids=["truncated", "last-byte-cut", "tampered", "another-site", "another-node"],
)
def test_a_spoilt_bundle_is_refused_and_writes_nothing(pair, spoil, reason) -> None:
    central, node, exit_point, camp = pair
    register(node, exit_point, "Samira")
    bundle = spoil(sync(node).export(), node, camp)
    before = _counts(central)
    with pytest.raises(BundleRefused, match=reason):
        sync(central).import_bundle(bundle, audit=_apply(central))
    assert _counts(central) == before
    assert _persons_named(central, "Samira") == []


def test_a_bundle_from_another_sites_node_is_refused(pair, tmp_path, sqlite_template, clock):
    central, node, exit_point, camp = pair
    other = _node_services(tmp_path, sqlite_template, clock, "node-camp")
    _enrol(central, other, "Camp")
    register(other, camp, "Reem", "+963933100003")
    bundle = sync(other).export()
    before = _counts(node)
    with pytest.raises(BundleRefused, match="another node"):
        sync(node).import_bundle(bundle, audit=_apply(node))
    assert _counts(node) == before
    other.db.dispose()


def test_a_change_that_arrives_before_its_base_waits_then_applies(pair) -> None:
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira")
    first = sync(node).export()
    node.registration.update_person(
        pid, PersonPatch(phone="+963933777777"), audit=hook(node, "person.write")
    )
    origin = sync(node).identity()["id"]
    second = sync(node).export(after={origin: 1})  # the first is still in the truck
    assert json.loads(second.split(b"\n")[1])["count"] == 1

    early = sync(central).import_bundle(second, audit=_apply(central))
    assert (early.applied, early.waiting) == (0, 1)
    assert _persons_named(central, "Samira") == []  # kept, not applied, not dropped
    late = sync(central).import_bundle(first, audit=_apply(central))
    assert (late.applied, late.waiting) == (2, 0)
    assert central.registration.get_person(pid)["phone"] == "+963933777777"
    with central.db.read() as conn:
        held = conn.execute(select(func.count()).select_from(sync_changes)).scalar_one()
    assert sync(central).import_bundle(second, audit=_apply(central)).already_applied
    assert _counts(central)["sync_changes"] == held


def test_the_same_field_changed_on_both_sides_is_a_conflict_and_other_fields_merge(pair):
    central, node, exit_point, _ = pair
    pid = register(node, exit_point, "Samira", "+963933100001")
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    sync(node).import_bundle(
        sync(central).export(sync(node).identity()["id"]), audit=_apply(node)
    )  # acknowledged
    # Apart: both change the phone; the node also gives her father's name.
    central.registration.update_person(
        pid, PersonPatch(phone="+963933200002"), audit=hook(central, "person.write")
    )
    node.registration.update_person(
        pid,
        PersonPatch(phone="+963933300003", father_name="Ahmad"),
        audit=hook(node, "person.write"),
    )
    report = sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    assert report.conflicts == 1
    person = central.registration.get_person(pid)
    assert person["phone"] == "+963933200002"  # ours kept, never silently overwritten
    assert person["names"]["father_name"] == "Ahmad"  # a field only they changed: merged
    with central.db.read() as conn:
        row = (
            conn.execute(select(sync_changes).where(sync_changes.c.state == "conflict"))
            .mappings()
            .one()
        )
    assert row["conflict_fields"] == "phone" and row["person_id"] == pid
    theirs = open_payload(central.vault, exit_point, row["payload"])
    assert theirs is not None
    assert central.vault.open(exit_point, "phone", theirs["person"]["phone"]) == "+963933300003"
    assert sync(central).status()["conflicts"] == 1


def test_the_central_relays_one_desks_registration_to_the_other_desk_of_the_site(
    pair, tmp_path, sqlite_template, clock
):
    """Two nodes of one exit point (two desks): what one registers reaches the other
    through the central, once, and is not sent back to where it came from."""
    central, desk_a, exit_point, _ = pair
    desk_b = _node_services(tmp_path, sqlite_template, clock, "desk-b")
    _enrol(central, desk_b, "Exit")
    pid = register(desk_a, exit_point, "Samira")
    sync(central).import_bundle(sync(desk_a).export(), audit=_apply(central))

    b_id = sync(desk_b).identity()["id"]
    to_b = sync(central).export(b_id)
    assert json.loads(to_b.split(b"\n")[1])["count"] == 1
    assert sync(desk_b).import_bundle(to_b, audit=_apply(desk_b)).applied == 1
    assert desk_b.registration.get_person(pid)["phone"] == "+963933100001"
    # Desk B sends only what it made itself: nothing of desk A's goes back.
    assert json.loads(sync(desk_b).export().split(b"\n")[1])["count"] == 0
    # Desk A is not sent its own change back.
    a_id = sync(desk_a).identity()["id"]
    assert json.loads(sync(central).export(a_id).split(b"\n")[1])["count"] == 0
    desk_b.db.dispose()


def test_a_node_enrolled_after_persons_were_registered_receives_them(
    services, tmp_path, sqlite_template, clock
):
    """Persons registered at the central before it kept a change log (no journal then)
    get a baseline change when a node of their site is approved, and reach the node."""
    central = services
    exit_point = make_site(central, "Exit")
    journal, central.db.journal = central.db.journal, None  # as before migration 0021
    old = register(central, exit_point, "Samira")
    central.db.journal = journal
    node = _node_services(tmp_path, sqlite_template, clock, "late-node")
    _enrol(central, node, "Exit")
    report = sync(node).import_bundle(
        sync(central).export(sync(node).identity()["id"]), audit=_apply(node)
    )
    assert report.applied == 1
    assert node.registration.get_person(old)["names"]["given_name"] == "Samira"
    node.db.dispose()


def _reseal(s: Services, site: str, pid: str, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite the sealed payload of ``pid``'s change at ``s`` as the first format did
    (JSON text), after ``edit`` (given the state)."""
    with s.db.transaction() as conn:
        row = (
            conn.execute(select(sync_changes).where(sync_changes.c.person_id == pid))
            .mappings()
            .one()
        )
        state = open_payload(s.vault, site, row["payload"])
        assert state is not None
        edit(state)
        conn.execute(
            update(sync_changes)
            .where(sync_changes.c.id == row["id"])
            .values(payload=s.vault.seal(site, CHANGE_FIELD, dumps(state)))
        )


def test_a_bundle_and_payloads_in_the_first_format_still_apply(pair) -> None:
    central, node, exit_point, _ = pair
    node.db.journal = Journal(node.vault, node.clock, payload_version=1)
    pid = register(node, exit_point, "Samira", "+963933100001")
    with node.db.read() as conn:
        token = conn.execute(
            select(sync_changes.c.payload).where(sync_changes.c.person_id == pid)
        ).scalar_one()
    assert (node.vault.open(exit_point, CHANGE_FIELD, token) or "").startswith("{")  # text

    def as_first_format(state: dict[str, Any]) -> None:
        # The first format carried the sender's own lookup hashes too.
        state["person"]["phone_hash"] = "the-nodes-own-hash"
        for d in state["documents"]:
            d["number_key"] = "the-nodes-own-key"

    _reseal(node, exit_point, pid, as_first_format)
    bundle = sync(node).export(version=1)
    assert bundle.startswith(b"CORRIDOR-BUNDLE/1\n")
    report = sync(central).import_bundle(bundle, audit=_apply(central))
    assert (report.applied, report.waiting, report.conflicts) == (1, 0, 0)
    assert central.registration.get_person(pid)["phone"] == "+963933100001"
    # The central computed its own hashes: exact search by phone finds her.
    found = central.registration.search(PersonSearchIn(phone="+963933100001"))
    assert [p["id"] for p in found] == [pid]
    with central.db.read() as conn:
        hashes = (
            conn.execute(select(persons.c.phone_hash).where(persons.c.id == pid)).scalar_one(),
            conn.execute(
                select(person_documents.c.number_key).where(person_documents.c.person_id == pid)
            ).scalar_one(),
        )
    assert "the-nodes-own-hash" not in hashes and "the-nodes-own-key" not in hashes

    # A change in the current format made on top of it follows on (its base is the
    # first-format change), at the central and back.
    node.db.journal = Journal(node.vault, node.clock)
    node.registration.update_person(
        pid, PersonPatch(given_name="Sameera"), audit=hook(node, "person.write")
    )
    report = sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    assert (report.applied, report.conflicts) == (1, 0)
    assert central.registration.get_person(pid)["names"]["given_name"] == "Sameera"


def test_the_current_format_is_compressed_and_a_newer_one_is_refused(pair) -> None:
    central, node, exit_point, _ = pair
    pids = [register(node, exit_point, f"Samira{i}", f"+9639331{i:05d}") for i in range(20)]
    with node.db.read() as conn:
        token = conn.execute(
            select(sync_changes.c.payload).where(sync_changes.c.person_id == pids[0])
        ).scalar_one()
    plain = node.vault.open_bytes(exit_point, CHANGE_FIELD, token)
    assert plain is not None and plain[:1] == COMPRESSED
    state = json.loads(zlib.decompress(plain[1:]))
    assert state["v"] == 2 and state["person"]["id"] == pids[0]
    assert "phone_hash" not in state["person"]  # local to each installation
    assert all("number_key" not in d for d in state["documents"])
    # The same changes (their payloads compressed already), the body compressed and
    # not: the sealed payloads are base64 text, which zlib gives back a quarter of.
    first, current = sync(node).export(version=1), sync(node).export()
    assert current.startswith(b"CORRIDOR-BUNDLE/2\n")
    assert len(current) < 0.7 * len(first)

    # A payload of a format this code does not know is refused, clearly, and nothing is
    # imported.
    _reseal(node, exit_point, pids[0], lambda s: s.update(v=3))
    before = _counts(central)
    with pytest.raises(BundleRefused, match="version 3: upgrade this installation"):
        sync(central).import_bundle(sync(node).export(), audit=_apply(central))
    assert _counts(central) == before
