"""Issue 16: manifests and merges across nodes.

A central (SQLite and PostgreSQL, the ``backend`` fixture) and two site nodes on SQLite,
the exit's and the camp's, enrolled and exchanging bundles through the services. A
manifest dispatched at the exit's node reaches the camp's node through the central,
which seals it again under the camp's key without the exit's sealed fields; the camp
checks the truck in, with a discrepancy, and the arrivals travel back. A merge made at
the central reaches a node, where both ids lead to the survivor; a movement the node
recorded under the old id while apart lands on the survivor at both ends, and an
unmerge takes it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from corridor.schemas import (
    CheckInIn,
    CorrectionIn,
    DispatchIn,
    ManifestIn,
    ManifestPersonsIn,
    PersonPatch,
    StatusEventIn,
)
from corridor.security.errors import KeyUnavailable
from corridor.security.tables import site_keys
from corridor.services import Services
from corridor.storage.merge_tables import merged_persons
from corridor.storage.sync_tables import sync_changes
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    movements,
    person_documents,
    person_locations,
    persons,
)
from corridor.sync.journal import SEALED_FIELDS, WITHHELD, open_payload
from tests.conftest import Clock
from tests.sync.helpers import hook, make_site, register, sync
from tests.sync.test_bundles import _admin, _apply


def _node_id(node: Services) -> str:
    return str(sync(node).identity()["id"])


def _push(node: Services, central: Services) -> None:
    sync(central).import_bundle(sync(node).export(), audit=_apply(central))


def _pull(central: Services, node: Services) -> Any:
    return sync(node).import_bundle(sync(central).export(_node_id(node)), audit=_apply(node))


def _rows(s: Services, table: Any, *where: Any) -> list[dict[str, Any]]:
    with s.db.read() as conn:
        return [dict(r) for r in conn.execute(select(table).where(*where)).mappings()]


def _dispatched(node: Services, exit_point: str, camp: str, people: list[str]) -> str:
    m = node.manifests.create(
        ManifestIn(vehicle="Truck 7", from_site_id=exit_point, to_site_id=camp),
        audit=hook(node, "manifest.write"),
    )
    node.manifests.add_persons(
        m["id"], ManifestPersonsIn(person_ids=people), audit=hook(node, "manifest.write")
    )
    node.manifests.dispatch(m["id"], DispatchIn(), audit=hook(node, "manifest.write"))
    return str(m["id"])


def test_a_manifest_dispatched_at_the_exit_is_checked_in_at_the_camps_node(
    three, clock: Clock
) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    nour = register(node_a, exit_point, "Nour", "+963933100002")
    stays = register(node_a, exit_point, "Zaid", "+963933100003")  # not on the truck
    manifest = _dispatched(node_a, exit_point, camp, [samira, nour])
    _push(node_a, central)
    clock.advance(hours=3)

    report = _pull(central, node_b)
    assert report.waiting == 0
    # The camp's node holds the truck and who is on it, in transit to it.
    [m] = _rows(node_b, manifests, manifests.c.id == manifest)
    assert m["status"] == "dispatched" and m["to_site_id"] == camp
    on_board = _rows(node_b, manifest_items, manifest_items.c.manifest_id == manifest)
    assert {i["person_id"] for i in on_board} == {samira, nour}
    [loc] = _rows(node_b, person_locations, person_locations.c.person_id == samira)
    assert (loc["state"], loc["destination_site_id"]) == ("in_transit", camp)

    # And nothing else of the exit: no key of it, none of its other persons, none of the
    # fields sealed under its key (not even as ciphertext).
    assert _rows(node_b, site_keys, site_keys.c.site_id == exit_point) == []
    held = {p["id"]: p for p in _rows(node_b, persons, persons.c.site_id == exit_point)}
    assert set(held) == {samira, nour}
    assert stays not in held
    for p in held.values():
        assert all(p[f] is None for f in SEALED_FIELDS)
    assert node_b.registration.get_person(samira)["documents"] == []
    for change in _rows(node_b, sync_changes):
        assert change["site_id"] == camp  # all sealed under the camp's key
        state = open_payload(node_b.vault, camp, change["payload"])
        assert state is not None and state[WITHHELD]
        assert state["person"]["phone"] is None and state["documents"] == []

    # Check-in at the camp: the two on the manifest, and one who is not (a discrepancy).
    clock.advance(hours=1)
    reem = register(node_b, camp, "Reem", "+963933100009")
    write = hook(node_b, "manifest.write")
    for pid in (samira, nour, reem):
        node_b.manifests.check_in(manifest, CheckInIn(person_id=pid), audit=write)
    [gap] = _rows(node_b, manifest_discrepancies)
    assert (gap["person_id"], gap["kind"]) == (reem, "not_on_manifest")

    # The arrivals reach the central and the exit's node; the exit's sealed fields at
    # the central are untouched by a state that left them out.
    _push(node_b, central)
    got = {i["person_id"]: i for i in _rows(central, manifest_items)}
    assert got[samira]["checked_in_at"] is not None and got[nour]["checked_in_at"] is not None
    [gap] = _rows(central, manifest_discrepancies)
    assert (gap["person_id"], gap["kind"]) == (reem, "not_on_manifest")
    assert central.registration.get_person(samira)["phone"] == "+963933100001"
    assert len(central.registration.get_person(samira)["documents"]) == 1
    [loc] = _rows(central, person_locations, person_locations.c.person_id == samira)
    assert (loc["state"], loc["site_id"]) == ("present", camp)

    _pull(central, node_a)
    [loc] = _rows(node_a, person_locations, person_locations.c.person_id == samira)
    assert (loc["state"], loc["site_id"]) == ("present", camp)
    items = _rows(node_a, manifest_items, manifest_items.c.manifest_id == manifest)
    assert all(i["checked_in_at"] is not None for i in items)
    assert node_a.registration.get_person(samira)["phone"] == "+963933100001"  # intact
    # Reem is the camp's: the exit's node never holds her.
    assert _rows(node_a, persons, persons.c.id == reem) == []
    # Everyone acknowledged: nothing more to send either way.
    for node in (node_a, node_b):
        _pull(central, node)
        assert json.loads(sync(node).export().split(b"\n")[1])["count"] == 0


def test_a_correction_at_the_central_reaches_the_camp_without_the_exits_sealed_fields(
    three, clock: Clock
) -> None:
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=1)
    central.registration.update_person(
        samira, PersonPatch(given_name="Sameera", phone="+963933777777"),
        audit=hook(central, "person.write"),
    )  # fmt: skip
    _pull(central, node_b)
    _pull(central, node_a)
    assert node_b.registration.get_person(samira)["names"]["given_name"] == "Sameera"
    assert node_b.registration.get_person(samira)["phone"] is None
    assert node_a.registration.get_person(samira)["names"]["given_name"] == "Sameera"
    assert node_a.registration.get_person(samira)["phone"] == "+963933777777"


@pytest.fixture
def merged_pair(three, clock: Clock) -> Iterator[tuple[Services, Services, str, str, str]]:
    """Two registrations of one woman at the exit's node, known to the central."""
    central, node_a, _, exit_point, camp = three
    survivor = register(node_a, exit_point, "Samira", "+963933100001")
    other = register(node_a, exit_point, "Samira", "+963933100005")
    _push(node_a, central)
    _pull(central, node_a)
    clock.advance(hours=1)
    yield central, node_a, survivor, other, camp


@pytest.mark.parametrize("order", ["pull-first", "push-first"])
def test_a_merge_at_the_central_reaches_the_node_and_what_it_recorded_under_the_old_id_follows(
    merged_pair, clock: Clock, order: str
) -> None:
    central, node, survivor, other, camp = merged_pair
    # Apart: the node records a transfer under the id about to be merged away.
    event = node.movements.record(
        other, StatusEventIn(kind="transferred", to_site_id=camp),
        audit=hook(node, "movement.write"),
    )  # fmt: skip
    central.merges.merge(
        survivor, other, "one woman", "cli:test", audit=hook(central, "person.merge")
    )
    clock.advance(hours=1)
    if order == "pull-first":
        _pull(central, node)
        _push(node, central)
    else:
        _push(node, central)
    _pull(central, node)

    for s in (central, node):
        # Both ids lead to the survivor; the movement recorded under the old id is hers.
        assert s.merges.resolve(other) == survivor
        assert s.registration.get_person(s.merges.resolve(other))["id"] == survivor
        [moved] = _rows(s, movements, movements.c.id == event["id"])
        assert moved["person_id"] == survivor
        [loc] = _rows(s, person_locations, person_locations.c.person_id == survivor)
        assert loc["site_id"] == camp
        assert _rows(s, person_locations, person_locations.c.person_id == other) == []
    [row] = _rows(node, merged_persons)
    assert (row["person_id"], row["survivor_id"]) == (other, survivor)

    # Unmerged at the central: both ends put the transfer back on the old id.
    central.merges.unmerge(other, "two women", "cli:test", audit=hook(central, "person.merge"))
    _pull(central, node)
    for s in (central, node):
        assert s.merges.resolve(other) == other
        [back] = _rows(s, movements, movements.c.id == event["id"])
        assert back["person_id"] == other
    assert _rows(node, merged_persons) == []


def test_the_camps_node_cannot_seal_a_field_of_a_person_registered_at_the_exit(three) -> None:
    """It holds no key of the exit and makes none: a phone typed there for a person who
    came on the truck is refused, nothing is written (correct it where the key is)."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    before = (_rows(node_b, persons, persons.c.id == samira), _rows(node_b, sync_changes))
    with pytest.raises(KeyUnavailable):
        node_b.registration.update_person(
            samira, PersonPatch(phone="+963933555555"), audit=hook(node_b, "person.write")
        )
    assert _rows(node_b, site_keys, site_keys.c.site_id == exit_point) == []
    assert (_rows(node_b, persons, persons.c.id == samira), _rows(node_b, sync_changes)) == before
    # A detail that is not sealed is corrected there, and reaches the central.
    node_b.registration.update_person(
        samira, PersonPatch(given_name="Sameera"), audit=hook(node_b, "person.write")
    )
    _push(node_b, central)
    assert central.registration.get_person(samira)["names"]["given_name"] == "Sameera"
    assert central.registration.get_person(samira)["phone"] == "+963933100001"


def test_relayed_changes_that_arrive_in_the_wrong_order_wait_and_apply(three, clock) -> None:
    """The truck carries the camp's second bundle before its first: the correction waits
    for the dispatch it was made on (its base in the camp's series), then both apply."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    manifest = _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    camp_node = _node_id(node_b)
    first = sync(central).export(camp_node)
    clock.advance(hours=1)
    central.registration.update_person(
        samira, PersonPatch(given_name="Sameera"), audit=hook(central, "person.write")
    )
    central_id = sync(central).identity()["id"]
    sent = json.loads(first.split(b"\n")[1])["ranges"][central_id][1]
    second = sync(central).export(camp_node, after={central_id: sent})
    assert json.loads(second.split(b"\n")[1])["count"] == 1

    early = sync(node_b).import_bundle(second, audit=_apply(node_b))
    assert (early.applied, early.waiting) == (0, 1)
    assert _rows(node_b, persons, persons.c.id == samira) == []  # kept, not dropped
    late = sync(node_b).import_bundle(first, audit=_apply(node_b))
    assert (late.applied, late.waiting) == (2, 0)
    assert node_b.registration.get_person(samira)["names"]["given_name"] == "Sameera"
    assert [m["status"] for m in _rows(node_b, manifests, manifests.c.id == manifest)] == [
        "dispatched"
    ]


def test_one_woman_registered_at_two_sites_nodes_merged_at_the_central_is_one_at_both(
    three, clock: Clock
) -> None:
    """Registered at the exit's node and at the camp's node while apart; merged at the
    central. The camp's node, which held only the old id, receives the survivor (without
    the exit's sealed fields) and leads the old id to her; a transfer it recorded under
    the old id while apart is hers at the camp, at the central and at the exit."""
    central, node_a, node_b, exit_point, camp = three
    survivor = register(node_a, exit_point, "Samira", "+963933100001")
    other = register(node_b, camp, "Samira", "+963933100005")
    _push(node_a, central)
    _push(node_b, central)
    event = node_b.movements.record(
        other, StatusEventIn(kind="transferred", to_site_id=exit_point),
        audit=hook(node_b, "movement.write"),
    )  # fmt: skip
    clock.advance(hours=1)
    central.merges.merge(
        survivor, other, "one woman", "cli:test", audit=hook(central, "person.merge")
    )
    report = _pull(central, node_b)
    assert report.waiting == 0
    assert node_b.merges.resolve(other) == survivor
    held = node_b.registration.get_person(survivor)
    assert held["phone"] is None and held["names"]["given_name"] == "Samira"
    assert _rows(node_b, site_keys, site_keys.c.site_id == exit_point) == []
    [moved] = _rows(node_b, movements, movements.c.id == event["id"])
    assert moved["person_id"] == survivor
    # The camp's document followed her to the survivor at the central (sealed again
    # there under the exit's key): the camp holds it no longer, as it holds none of the
    # exit's sealed fields. Nothing is lost: the central and the exit hold both.
    assert _rows(node_b, person_documents) == []

    _push(node_b, central)
    _pull(central, node_a)
    for s in (central, node_a):
        [moved] = _rows(s, movements, movements.c.id == event["id"])
        assert moved["person_id"] == survivor
    assert central.merges.resolve(other) == survivor
    assert central.registration.get_person(survivor)["phone"] == "+963933100001"
    assert node_a.registration.get_person(survivor)["phone"] == "+963933100001"
    for s in (central, node_a):
        numbers = {d["number"] for d in s.registration.get_person(survivor)["documents"]}
        assert numbers == {"ID-100001", "ID-100005"}
    # The exit's node never holds the camp's registration.
    assert _rows(node_a, persons, persons.c.id == other) == []


def test_a_wipe_of_the_camps_node_anonymises_the_persons_who_came_on_the_truck(three) -> None:
    """The central orders the camp's node wiped (a node lost or taken): at its next
    contact it anonymises everyone it holds, those of the exit who came to it included."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    reem = register(node_b, camp, "Reem", "+963933100009")
    _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _push(node_b, central)
    _pull(central, node_b)
    assert {p["id"] for p in _rows(node_b, persons)} == {samira, reem}
    sync(central).order_wipe(_node_id(node_b), "cli:admin", audit=_admin(central))
    assert _pull(central, node_b).wiped
    names = {p["id"]: p["given_name"] for p in _rows(node_b, persons)}
    assert names == {samira: None, reem: None}
    # The exit's node and the central keep her.
    for s in (central, node_a):
        assert s.registration.get_person(samira)["names"]["given_name"] == "Samira"


def test_a_person_taken_off_a_draft_at_the_node_is_taken_off_at_the_central(three) -> None:
    central, node_a, _, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    nour = register(node_a, exit_point, "Nour", "+963933100002")
    write = hook(node_a, "manifest.write")
    m = node_a.manifests.create(
        ManifestIn(vehicle="Truck 7", from_site_id=exit_point, to_site_id=camp), audit=write
    )
    node_a.manifests.add_persons(m["id"], ManifestPersonsIn(person_ids=[samira, nour]),
                                 audit=write)  # fmt: skip
    _push(node_a, central)
    _pull(central, node_a)
    assert {i["person_id"] for i in _rows(central, manifest_items)} == {samira, nour}
    node_a.manifests.remove_person(m["id"], nour, audit=write)
    _push(node_a, central)
    assert {i["person_id"] for i in _rows(central, manifest_items)} == {samira}
    # Dispatched without her at the exit; the camp's node receives Samira only.
    node_a.manifests.dispatch(m["id"], DispatchIn(), audit=write)
    _push(node_a, central)
    assert {i["person_id"] for i in _rows(central, manifest_items)} == {samira}
    assert _rows(central, manifests)[0]["status"] == "dispatched"


def test_arrivals_voided_at_the_camps_node_are_voided_at_the_central_and_the_exit(
    three, clock: Clock
) -> None:
    """The camp's node ticks Samira off her truck and Reem, not on it (a discrepancy);
    both were the wrong wristbands, and the node voids the two arrivals. The voids reach
    the central and the exit's node: Samira is on the truck again there too (not checked
    in, her place on it held, in transit), Reem's discrepancy is gone, and pushing the
    same bundle again changes nothing. Checked in anew at the camp, Samira is checked in
    everywhere, once. Before, facts only moved forward: the central and the exit kept
    Samira checked in (while their logs put her back on the road) and kept Reem's
    discrepancy."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira", "+963933100001")
    manifest = _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    clock.advance(hours=3)
    _pull(central, node_b)
    reem = register(node_b, camp, "Reem", "+963933100009")
    clock.advance(hours=1)
    write = hook(node_b, "manifest.write")
    arrivals = {
        pid: node_b.manifests.check_in(manifest, CheckInIn(person_id=pid), audit=write)
        for pid in (samira, reem)
    }
    _push(node_b, central)
    _pull(central, node_a)
    assert _rows(central, manifest_items)[0]["checked_in_at"] is not None
    assert len(_rows(central, manifest_discrepancies)) == 1

    for pid in (samira, reem):
        node_b.movements.correct(
            arrivals[pid]["movement_id"],
            CorrectionIn(kind="voided", note="the wrong wristband was scanned"),
            audit=hook(node_b, "movement.write"),
        )
    # Meanwhile the central corrects Samira's name, not yet knowing of the void: its
    # change still has her checked in, and reaches the camp's node after the void.
    central.registration.update_person(
        samira, PersonPatch(given_name="Sameera"), audit=hook(central, "person.write")
    )
    _pull(central, node_b)
    bundle = sync(node_b).export()
    sync(central).import_bundle(bundle, audit=_apply(central))
    again = sync(central).import_bundle(bundle, audit=_apply(central))  # a retried push
    assert again.already_applied
    _pull(central, node_a)
    for where, s in (("camp", node_b), ("central", central), ("exit", node_a)):
        [item] = _rows(s, manifest_items, manifest_items.c.manifest_id == manifest)
        assert (item["checked_in_at"], item["arrival_movement_id"], item["open_slot"]) == (
            None, None, 1,
        ), where  # fmt: skip
        [loc] = _rows(s, person_locations, person_locations.c.person_id == samira)
        assert (loc["state"], loc["manifest_id"]) == ("in_transit", manifest)
        assert _rows(s, manifest_discrepancies) == []
        assert s.manifests.get(manifest)["counts"]["discrepancies"] == 0
        assert _rows(s, persons, persons.c.id == samira)[0]["given_name"] == "Sameera"
    events = {
        s: sorted(m["id"] for m in _rows(s, movements, movements.c.person_id == samira))
        for s in (node_b, central, node_a)
    }
    assert events[central] == events[node_b] == events[node_a]  # nothing twice, none lost

    clock.advance(hours=1)
    anew = node_b.manifests.check_in(manifest, CheckInIn(person_id=samira), audit=write)
    _push(node_b, central)
    # Its time corrected at the camp: the check-in follows the replacement everywhere.
    node_b.movements.correct(
        anew["movement_id"],
        CorrectionIn(kind="arrived", from_site_id=exit_point, to_site_id=camp,
                     occurred_at=clock() - timedelta(minutes=30), note="time"),
        audit=hook(node_b, "movement.write"),
    )  # fmt: skip
    _push(node_b, central)
    _pull(central, node_a)
    [fixed] = _rows(node_b, manifest_items, manifest_items.c.manifest_id == manifest)
    assert fixed["arrival_movement_id"] != anew["movement_id"]
    for s in (node_b, central, node_a):
        [item] = _rows(s, manifest_items, manifest_items.c.manifest_id == manifest)
        assert item["open_slot"] is None
        assert (item["checked_in_at"], item["arrival_movement_id"]) == (
            fixed["checked_in_at"], fixed["arrival_movement_id"],
        )  # fmt: skip
        [loc] = _rows(s, person_locations, person_locations.c.person_id == samira)
        assert (loc["state"], loc["site_id"]) == ("present", camp)
    arrived = _rows(central, movements, movements.c.person_id == samira)
    # The voided one, the new one and its correction.
    assert sum(m["kind"] == "arrived" for m in arrived) == 3


def test_the_camps_node_seals_a_note_for_a_traveller_of_the_exit_under_its_own_key(
    three, clock: Clock
) -> None:
    """A movement's note is sealed under the traveller's registering site's key, which
    the camp's node does not hold: there it is sealed under the camp's own key (it was
    typed there). The camp's node and the central read it; the exit's node, which holds
    no key of the camp, is not sent it (not even as ciphertext)."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    manifest = _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=2)
    node_b.manifests.check_in(
        manifest, CheckInIn(person_id=samira), audit=hook(node_b, "manifest.write")
    )
    clock.advance(hours=1)
    hospital = make_site(central, "Hospital", "hospital")
    _pull(central, node_b)
    event = StatusEventIn(kind="hospitalised", to_site_id=hospital, note="CANARY-CAMP wound")
    done = node_b.movements.record(samira, event, audit=hook(node_b, "movement.write"))
    assert done["note"] == "CANARY-CAMP wound"
    assert _rows(node_b, site_keys, site_keys.c.site_id == exit_point) == []
    [stored] = [r["note"] for r in _rows(node_b, movements) if r["note"]]
    assert stored.startswith("enc:v1:") and "CANARY" not in stored
    _push(node_b, central)
    _pull(central, node_a)

    def notes(s: Services) -> list[str | None]:
        return [e["note"] for e in s.movements.history(samira) if e["kind"] == "hospitalised"]

    assert notes(node_b) == ["CANARY-CAMP wound"]
    assert notes(central) == ["CANARY-CAMP wound"]
    assert notes(node_a) == [None]
    assert not [r for r in _rows(node_a, movements) if r["note"]]


def test_notes_travel_sealed_and_read_where_the_key_is_held(three, clock: Clock) -> None:
    """A note and a separation reason written at the exit's node reach the central
    sealed under the exit's key and read there; the camp's node, which holds no key of
    the exit, receives neither (not even as ciphertext); back at the exit, they read."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    [first] = node_a.movements.history(samira)
    node_a.movements.correct(
        first["id"],
        CorrectionIn(kind="registered", to_site_id=exit_point, note="CANARY-SYNC at the gate"),
        audit=hook(node_a, "movement.write"),
    )
    m = node_a.manifests.create(
        ManifestIn(vehicle="Truck 7", from_site_id=exit_point, to_site_id=camp),
        audit=hook(node_a, "manifest.write"),
    )
    node_a.manifests.add_persons(
        m["id"], ManifestPersonsIn(person_ids=[samira], separation_reason="CANARY-SYNC apart"),
        audit=hook(node_a, "manifest.write"),
    )  # fmt: skip
    node_a.manifests.dispatch(m["id"], DispatchIn(), audit=hook(node_a, "manifest.write"))
    _push(node_a, central)
    _pull(central, node_b)
    _pull(central, node_a)

    def notes(s: Services) -> list[str | None]:
        return [e["note"] for e in s.movements.history(samira) if e["corrects_id"]]

    def reason(s: Services) -> str | None:
        [item] = s.manifests.get(m["id"])["persons"]
        return item["separation_reason"]  # type: ignore[no-any-return]

    for s in (central, node_a):
        assert notes(s) == ["CANARY-SYNC at the gate"]
        assert reason(s) == "CANARY-SYNC apart"
        stored = [r["note"] for r in _rows(s, movements) if r["note"]]
        stored += [r["separation_reason"] for r in _rows(s, manifest_items)]
        assert stored and all(t.startswith("enc:v1:") for t in stored)
    assert notes(node_b) == [None] and reason(node_b) is None
    assert not [r for r in _rows(node_b, movements) if r["note"]]
    assert [r["separation_reason"] for r in _rows(node_b, manifest_items)] == [None]


def test_a_nodes_clear_notes_of_a_traveller_of_the_exit_are_sealed_under_its_own_key(
    three, clock: Clock
) -> None:
    """A note stored in the clear before migration 0039 at the camp's node, on a
    traveller registered at the exit, is sealed there under the camp's own key (the node
    holds none of the exit's), as a note typed there now is: nothing stays in the clear."""
    central, node_a, node_b, exit_point, camp = three
    samira = register(node_a, exit_point, "Samira")
    manifest = _dispatched(node_a, exit_point, camp, [samira])
    _push(node_a, central)
    _pull(central, node_b)
    clock.advance(hours=2)
    node_b.manifests.check_in(
        manifest, CheckInIn(person_id=samira), audit=hook(node_b, "manifest.write")
    )
    [arrival] = [r for r in _rows(node_b, movements) if r["kind"] == "arrived"]
    with node_b.db.transaction() as conn:  # as an older version stored it
        conn.execute(
            movements.update().where(movements.c.id == arrival["id"]).values(note="CANARY-OLD")
        )
    assert node_b.keys.count_plaintext() == 1
    assert node_b.keys.seal_notes() == 1
    [stored] = [r["note"] for r in _rows(node_b, movements) if r["id"] == arrival["id"]]
    assert stored.startswith("enc:v1:") and "CANARY" not in stored
    assert node_b.keys.count_plaintext() == 0
    [shown] = [e["note"] for e in node_b.movements.history(samira) if e["id"] == arrival["id"]]
    assert shown == "CANARY-OLD"
