"""Manifests and merges as facts across nodes (issue 16), applied with a person's change.

A change's state carries, beside the person, the manifests they are on (the manifest's
row, their item, their discrepancies) and the merges naming them (``state.FACTS``).
Applying a change writes these facts here (``SyncService._apply`` calls the functions
below in its transaction):

- a manifest is inserted once, and moves only forward (draft, dispatched, received);
  an item is inserted once and ticked once (a check-in made anywhere stays ticked); a
  discrepancy is inserted once; then the manifests follow the movement log held here
  (``follow_voids``): a voided arrival un-ticks its item, a voided arrival off a
  manifest takes its discrepancy away;
- a merge in force is made here with this installation's own rows (``MergeRows``: the
  movements, family links and documents recorded here under the old id while apart
  follow the survivor too) once both persons are here; an unmerge puts back what this
  installation moved;
- movement events and family links received for a person merged away here land on the
  survivor, and the merge notes them, so that an unmerge takes them back.

A state of a person of another site (``journal.WITHHELD``) leaves out the fields sealed
under the registering site's key: they are never written from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, insert, select, update

from corridor.domain.ids import uuid7
from corridor.security.tables import disposal_log
from corridor.services.movements.manifests import LEFT_CATEGORY
from corridor.services.registration.merges import MergeRows
from corridor.storage import queries
from corridor.storage.bulk import insert_rows
from corridor.storage.merge_tables import merged_persons, person_merges
from corridor.storage.tables import (
    manifest_discrepancies,
    manifest_items,
    manifests,
    movements,
    person_locations,
    persons,
    relationships,
)
from corridor.sync import oldids
from corridor.sync.journal import WITHHELD, custody
from corridor.sync.state import MERGED_NUMBER, decode_row

if TYPE_CHECKING:
    from corridor.services.protection.field_vault import FieldVault

# The kind of an erasure's change, and how a node logs a person it forgot.
ERASE_KIND = "person.erase"
FORGET_CATEGORY = LEFT_CATEGORY  # a manifest says such a passenger left, not erased
# A manifest's status only moves forward.
_RANK = {"draft": 0, "dispatched": 1, "received": 2}


def kept_here(state: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The person row to write, less what the sender withheld (kept as held here)."""
    left_out = set(state.get(WITHHELD, ()))
    if not left_out:
        return row
    return {k: v for k, v in row.items() if k not in left_out}


def documents_withheld(state: dict[str, Any]) -> bool:
    return "documents" in state.get(WITHHELD, ())


def needs(state: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The sites and manifests a change names that it does not carry itself."""
    carried = {m["id"] for m in state.get("manifests", ())}
    wanted_sites: set[str] = set()
    for m in state.get("manifests", ()):
        wanted_sites.update((m["from_site_id"], m["to_site_id"]))
    wanted_manifests = {
        m["manifest_id"] for m in state["movements"] if m["manifest_id"] and (
            m["manifest_id"] not in carried
        )
    }  # fmt: skip
    return wanted_sites, wanted_manifests


def apply_manifests(conn: Connection, state: dict[str, Any]) -> None:
    """The manifests the state carries (after its person row, before its movement
    events, which name them); its items and discrepancies follow the events
    (``apply_items``)."""
    for data in state.get("manifests", ()):
        row = decode_row(manifests, data)
        here = conn.execute(select(manifests).where(manifests.c.id == row["id"])).mappings().first()
        if here is None:
            conn.execute(insert(manifests).values(**row))
        elif _RANK.get(row["status"], 0) > _RANK.get(here["status"], 0):
            conn.execute(
                update(manifests)
                .where(manifests.c.id == row["id"])
                .values(
                    status=row["status"],
                    dispatched_at=row["dispatched_at"] or here["dispatched_at"],
                    expected_arrival=row["expected_arrival"] or here["expected_arrival"],
                    received_at=row["received_at"] or here["received_at"],
                )
            )


def apply_items(conn: Connection, state: dict[str, Any], held: set[str]) -> None:
    """The manifest items and discrepancies the state carries, once its movement events
    are landed or held. A check-in by an arrival in ``held`` (the state's events not
    landed here: held as a conflict, or left out by a decision) is not ticked here, and
    a discrepancy of an arrival off a manifest held so is not noted: the manifest
    follows the log held here, as ``follow_voids`` has it follow its corrections, and
    both stay in the change that carries them until an officer lands its movements
    (``ConflictReview.resolve``, which applies them then). Before, a held arrival's
    check-in was ticked here all the same."""
    held_trips = {
        (m["person_id"], m["manifest_id"])
        for m in state["movements"]
        if m["id"] in held and m["kind"] == "arrived" and m["manifest_id"]
    }
    for data in state.get("manifest_items", ()):
        row = decode_row(manifest_items, data)
        if row["arrival_movement_id"] in held:  # on the truck here until it lands
            row |= {"checked_in_at": None, "checked_in_by": None, "arrival_movement_id": None,
                    "late_arrival": None, "open_slot": 1}  # fmt: skip
        here = (
            conn.execute(
                select(manifest_items).where(
                    manifest_items.c.manifest_id == row["manifest_id"],
                    manifest_items.c.person_id == row["person_id"],
                )
            )
            .mappings()
            .first()
        )
        if here is None:
            if (
                row["open_slot"] is not None
                and conn.execute(
                    select(manifest_items.c.id).where(
                        manifest_items.c.person_id == row["person_id"],
                        manifest_items.c.open_slot.is_not(None),
                    )
                ).first()
            ):
                row["open_slot"] = None  # put on another open manifest here meanwhile
            conn.execute(insert(manifest_items).values(**row))
        elif row["checked_in_at"] is not None and here["checked_in_at"] is None:
            conn.execute(
                update(manifest_items)
                .where(manifest_items.c.id == here["id"])
                .values(
                    checked_in_at=row["checked_in_at"],
                    checked_in_by=row["checked_in_by"],
                    arrival_movement_id=row["arrival_movement_id"],
                    late_arrival=row["late_arrival"],
                    open_slot=None,
                )
            )
    for data in state.get("manifest_discrepancies", ()):
        row = decode_row(manifest_discrepancies, data)
        if (row["person_id"], row["manifest_id"]) in held_trips:
            continue
        if (
            conn.execute(
                select(manifest_discrepancies.c.id).where(
                    manifest_discrepancies.c.manifest_id == row["manifest_id"],
                    manifest_discrepancies.c.person_id == row["person_id"],
                    manifest_discrepancies.c.kind == row["kind"],
                )
            ).first()
            is None
        ):
            conn.execute(insert(manifest_discrepancies).values(**row))


def follow_voids(conn: Connection, person_ids: list[str]) -> None:
    """The manifest facts of the persons follow the corrections in their movement log
    here (after the change's events landed and their locations were refreshed), as the
    installation that made them does (``services/movements/events.py``): an item whose
    arrival was voided is not checked in (the person on the truck again, their place on
    it held unless they hold one on another open manifest here); one whose arrival was
    replaced is checked in by the replacement, at its time; a discrepancy whose arrival
    off the manifest was voided, with nothing of the person on that manifest left
    standing in the log, is gone. Facts that only move forward (``apply_manifests``)
    kept the check-in and the discrepancy, and a state made before the correction
    reached its maker (a relayed change, a retried push) would tick again what it
    voided. Derived from the log held here alone, so a change applied twice, late or
    out of order ends the same."""
    if not person_ids:
        return
    corrected = conn.execute(
        select(movements.c.id)
        .where(movements.c.person_id.in_(person_ids), movements.c.corrects_id.is_not(None))
        .limit(1)
    ).first()
    if corrected is None:  # most persons: nothing was ever corrected
        return
    log = list(
        conn.execute(
            select(
                movements.c.id,
                movements.c.person_id,
                movements.c.kind,
                movements.c.manifest_id,
                movements.c.corrects_id,
                movements.c.occurred_at,
            ).where(movements.c.person_id.in_(person_ids))
        ).mappings()
    )
    correction = {m["corrects_id"]: m for m in log if m["corrects_id"]}
    by_id = {m["id"]: m for m in log}

    def last(event_id: str) -> Any:
        """The event ``event_id`` stands as after every correction (None: voided)."""
        seen = {event_id}
        now = by_id.get(event_id)
        while now is not None and now["id"] in correction:
            now = correction[now["id"]]
            if now["id"] in seen:
                break
            seen.add(now["id"])
        return None if now is None or now["kind"] == "voided" else now

    ticked = conn.execute(
        select(manifest_items).where(
            manifest_items.c.person_id.in_(person_ids),
            manifest_items.c.arrival_movement_id.is_not(None),
        )
    ).mappings()
    for item in list(ticked):
        if item["arrival_movement_id"] not in correction:
            continue
        stands = last(item["arrival_movement_id"])
        if stands is not None:
            conn.execute(
                update(manifest_items)
                .where(manifest_items.c.id == item["id"])
                .values(arrival_movement_id=stands["id"], checked_in_at=stands["occurred_at"])
            )
            continue
        conn.execute(
            update(manifest_items)
            .where(manifest_items.c.id == item["id"])
            .values(checked_in_at=None, checked_in_by=None, arrival_movement_id=None,
                    late_arrival=None)
        )  # fmt: skip
        _hold_place(conn, item["person_id"], item["id"])
    voided_on = {
        (m["person_id"], m["manifest_id"])
        for m in log
        if m["manifest_id"] and m["id"] in correction and last(m["id"]) is None
    }
    for pid, manifest_id in sorted(voided_on):
        standing = [
            m for m in log
            if (m["person_id"], m["manifest_id"]) == (pid, manifest_id)
            and m["kind"] != "voided" and m["id"] not in correction
        ]  # fmt: skip
        if standing:
            continue
        gone = conn.execute(
            delete(manifest_discrepancies).where(
                manifest_discrepancies.c.person_id == pid,
                manifest_discrepancies.c.manifest_id == manifest_id,
                manifest_discrepancies.c.kind == "not_on_manifest",
            )
        )
        if gone.rowcount:
            on_truck = person_locations.c.manifest_id == manifest_items.c.manifest_id
            on = conn.execute(
                select(manifest_items.c.id)
                .join(person_locations, on_truck)
                .where(
                    person_locations.c.person_id == pid,
                    person_locations.c.state == "in_transit",
                    manifest_items.c.person_id == pid,
                    manifest_items.c.checked_in_at.is_(None),
                )
            ).scalar()
            if on is not None:
                _hold_place(conn, pid, on)


def _hold_place(conn: Connection, person_id: str, item_id: int) -> None:
    """The person's place on the manifest of ``item_id`` held again, unless they hold one
    on another open manifest here (then on none twice: the unique key)."""
    other = conn.execute(
        select(manifest_items.c.id).where(
            manifest_items.c.person_id == person_id,
            manifest_items.c.open_slot.is_not(None),
            manifest_items.c.id != item_id,
        )
    ).first()
    if other is None:
        conn.execute(
            update(manifest_items).where(manifest_items.c.id == item_id).values(open_slot=1)
        )


def take_off(
    conn: Connection, pid: str, base: dict[str, Any] | None, state: dict[str, Any]
) -> None:
    """A person taken off a draft manifest where the change was made (on the manifest in
    its base, not in the change): taken off here too, while the manifest is a draft here
    and the person not checked in (a truck dispatched here meanwhile keeps them)."""
    if base is None:
        return
    before = {i["manifest_id"] for i in base.get("manifest_items", ())}
    now = {i["manifest_id"] for i in state.get("manifest_items", ())}
    for manifest_id in sorted(before - now):
        draft = select(manifests.c.id).where(
            manifests.c.id == manifest_id, manifests.c.status == "draft"
        )
        conn.execute(
            delete(manifest_items).where(
                manifest_items.c.manifest_id == manifest_id,
                manifest_items.c.person_id == pid,
                manifest_items.c.checked_in_at.is_(None),
                manifest_items.c.manifest_id.in_(draft),
            )
        )


def apply_merges(conn: Connection, mover: MergeRows, state: dict[str, Any]) -> set[str]:
    """The merges and unmerges the state carries, made here once both persons are here;
    the persons whose rows moved."""
    touched: set[str] = set()
    for data in state.get("merges", ()):
        row = decode_row(person_merges, data)
        survivor, merged = str(row["survivor_id"]), str(row["merged_id"])
        present = set(
            conn.execute(select(persons.c.id).where(persons.c.id.in_([survivor, merged]))).scalars()
        )
        if present != {survivor, merged}:
            if merged == str(state["person"]["id"]):  # its own record is written now
                oldids.now_held(conn, merged)
            elif present == {survivor}:  # the old id alone leads to the survivor here
                oldids.survivor_only(conn, row, data.get(MERGED_NUMBER))
            continue  # made here when the other arrives (its change carries it too)
        here = (
            conn.execute(select(person_merges).where(person_merges.c.id == row["id"]))
            .mappings()
            .first()
        )
        in_force = (
            conn.execute(select(merged_persons).where(merged_persons.c.person_id == merged))
            .mappings()
            .first()
        )
        if row["unmerged_at"] is None:
            if here is not None or in_force is not None:
                continue
            if conn.execute(
                select(merged_persons.c.person_id).where(merged_persons.c.person_id == survivor)
            ).first():
                continue  # the survivor is merged away here: the later change settles it
            oldids.now_held(conn, merged)  # made here with both rows now
            role, own_site = custody(conn)
            sites = dict(
                conn.execute(
                    select(persons.c.id, persons.c.site_id).where(
                        persons.c.id.in_([survivor, merged])
                    )
                ).all()
            )
            # A node holds only its own site's key: documents of its person merged into
            # a person of another site stay with the old id there (the central, which
            # holds both keys, moved them).
            foreign = (
                role == "node"
                and sites[survivor] != sites[merged]
                and (own_site != sites[survivor])
            )
            moved = mover.move(conn, survivor, merged, documents=not foreign)
            conn.execute(insert(person_merges).values(**row, moved=moved))
            conn.execute(
                insert(merged_persons).values(
                    person_id=merged, survivor_id=survivor, merge_id=row["id"]
                )
            )
            conn.execute(delete(person_locations).where(person_locations.c.person_id == merged))
            touched |= {survivor, merged}
        elif here is None:  # merged and unmerged before it reached here: the record only
            conn.execute(insert(person_merges).values(**row, moved={}))
        elif here["unmerged_at"] is None:
            if in_force is not None and in_force["merge_id"] == row["id"]:
                mover.move_back(conn, survivor, merged, here["moved"] or {})
                oldids.now_held(conn, merged)
                conn.execute(delete(merged_persons).where(merged_persons.c.person_id == merged))
                touched |= {survivor, merged}
            conn.execute(
                update(person_merges)
                .where(person_merges.c.id == row["id"])
                .values(
                    unmerged_by=row["unmerged_by"],
                    unmerged_at=row["unmerged_at"],
                    unmerge_reason=row["unmerge_reason"],
                )
            )
    return touched


def land_movements(conn: Connection, pid: str, state: dict[str, Any]) -> str:
    """Insert the movement events of the state not held here (by id), on the person or,
    when the person is merged away here, on the survivor (noted in the merge, which an
    unmerge then takes back). The person they landed on."""
    target = queries.survivors(conn, [pid])[0]
    ids = [m["id"] for m in state["movements"]]
    have: set[str] = set()
    for start in range(0, len(ids), 500):
        have.update(
            conn.execute(
                select(movements.c.id).where(movements.c.id.in_(ids[start : start + 500]))
            ).scalars()
        )
    new = [
        {**decode_row(movements, m), "person_id": target}
        for m in state["movements"]
        if m["id"] not in have
    ]
    if new:
        conn.execute(insert(movements), new)
        if target != pid:
            _note_moved(conn, pid, "movements", [e["id"] for e in new])
    return target


def land_link(conn: Connection, data: dict[str, Any]) -> None:
    """A family link, once both persons are here, between the persons its ends lead to
    (a link recorded under a merged id lands on the survivor, noted in the merge). A
    link held here that the state says removed is marked removed here too (0035); a
    removed link not held here lands as removed (nothing registered is lost)."""
    row = decode_row(relationships, data)
    ends = [str(row["person_id"]), str(row["other_person_id"])]
    present = set(conn.execute(select(persons.c.id).where(persons.c.id.in_(ends))).scalars())
    if len(present) < 2:
        return
    held = conn.execute(
        select(relationships.c.removed_at).where(relationships.c.id == row["id"])
    ).first()
    if held is not None:
        if held.removed_at is None and row.get("removed_at") is not None:
            # Removed where it was recorded wrongly (0035): removed here too, with who,
            # when and why; a removal is never undone by a state that still had it.
            conn.execute(
                update(relationships)
                .where(relationships.c.id == row["id"])
                .values(
                    removed_at=row["removed_at"],
                    removed_by=row.get("removed_by"),
                    removed_reason=row.get("removed_reason"),
                )
            )
        return
    a, b = (queries.survivors(conn, [e])[0] for e in ends)
    if a == b:
        return  # a link between two ids of one person
    exists = conn.execute(
        select(relationships.c.id).where(
            relationships.c.person_id == a,
            relationships.c.other_person_id == b,
            relationships.c.kind == row["kind"],
            relationships.c.removed_at.is_(None),
        )
    ).first()
    if exists is not None and row.get("removed_at") is None:
        return
    conn.execute(insert(relationships).values(**{**row, "person_id": a, "other_person_id": b}))
    for end, old, new in (("person_id", ends[0], a), ("other_person_id", ends[1], b)):
        if old != new:
            _note_moved(conn, old, "links", [[row["id"], end]])


def _note_moved(conn: Connection, merged_id: str, kind: str, items: list[Any]) -> None:
    """Add rows that landed on the survivor to the merge in force of ``merged_id``."""
    merge_id = conn.execute(
        select(merged_persons.c.merge_id).where(merged_persons.c.person_id == merged_id)
    ).scalar()
    if merge_id is None:  # merged through a chain: the first merge takes it back
        return
    moved = conn.execute(
        select(person_merges.c.moved).where(person_merges.c.id == merge_id)
    ).scalar()
    moved = dict(moved or {})
    moved[kind] = [*moved.get(kind, []), *items]
    conn.execute(update(person_merges).where(person_merges.c.id == merge_id).values(moved=moved))


# -- erasure and legal holds (docs/sync.md, "Erasure and legal holds across nodes") ----


def erasure(
    conn: Connection,
    kind: str,
    current: Any,
    incoming: dict[str, Any],
    vault: FieldVault | None = None,
) -> str | None:
    """How a received change meets an erasure: ``erased`` (the person is erased here, or
    the change is an erasure, ``person.erase``, of a person not on legal hold here: their
    anonymisation and registration number taken and the disposal logged, the rest of the
    person row not written; ``keep_erased`` anonymises the rest), ``held`` (an erasure of
    a person on legal hold here: a conflict, nothing written) or None (neither; a person
    this node forgot is written again as received: they came back).

    An erasure received keeps, as an erasure made here does, a keyed hash of every
    registration number the person (and each record merged into them) held here
    (``erased_numbers``, the data protection officer's look-up by an old wristband), made
    before the number is replaced: the hash is keyed by this installation's master key,
    so each installation makes its own from the number it held (``vault``)."""
    if current is None:
        return None
    erases = kind == ERASE_KIND and incoming.get("anonymised_at") is not None
    if current["anonymised_at"] is not None and not (
        forgotten(conn, [str(current["id"])]) and not erases
    ):
        return "erased"  # nothing received brings an erased person's details back
    if not erases:
        return None
    if current["legal_hold"]:
        return "held"
    if vault is not None:
        from corridor.services.protection.oversight import keep_erased_numbers

        pid = str(current["id"])
        keep_erased_numbers(
            conn, vault, [pid, *queries.merged_into(conn, pid)], incoming["anonymised_at"]
        )
    conn.execute(
        update(persons)
        .where(persons.c.id == current["id"])
        .values(
            anonymised_at=incoming["anonymised_at"],
            registration_number=incoming["registration_number"],
        )
    )
    _disposed(conn, [str(current["id"])], "erasure_request", "erased at another installation",
              incoming["anonymised_at"])  # fmt: skip
    return "erased"


def forgotten(conn: Connection, person_ids: list[str]) -> set[str]:
    """The persons of ``person_ids`` this node forgot (their last disposal here a
    ``sync_forget``)."""
    last = queries.last_disposals(conn, person_ids)
    return {p for p, c in last.items() if c == FORGET_CATEGORY}


def forget(conn: Connection, person_ids: list[str], now: datetime) -> None:
    """At a node, the persons the central said it no longer has a reason to hold (they
    left its site): anonymised as a retention run does, the disposal logged. Their
    movement events, sites and times stay, so that the site's figures (counts by site
    and day) still count them; nothing names them."""
    from corridor.services.protection.retention import anonymise

    oldids.keep_numbers(conn, person_ids)  # a merged-away id's number still leads on
    anonymise(conn, person_ids, now)
    _disposed(conn, person_ids, FORGET_CATEGORY, "left this node's site (the central's forget)",
              now)  # fmt: skip


def _disposed(conn: Connection, ids: list[str], category: str, why: str, at: Any) -> None:
    run_id = uuid7()
    insert_rows(
        conn,
        disposal_log,
        [
            {"run_id": run_id, "category": category, "record_id": pid, "action": "anonymised",
             "reason": why, "disposed_at": at}
            for pid in ids
        ],
    )  # fmt: skip


def keep_erased(conn: Connection, person_ids: set[str]) -> list[str]:
    """The persons of ``person_ids`` erased here, anonymised as a retention run does
    (documents, family links, free text, matching keys; the anonymisation's time and
    the registration number it gave them kept as they travelled), after a change was
    applied to them. The persons erased."""
    from corridor.services.protection.retention import anonymise

    if not person_ids:
        return []
    rows = conn.execute(
        select(persons.c.id, persons.c.registration_number, persons.c.anonymised_at).where(
            persons.c.id.in_(sorted(person_ids)), persons.c.anonymised_at.is_not(None)
        )
    ).all()
    away = forgotten(conn, [str(r[0]) for r in rows])
    rows = [r for r in rows if str(r[0]) not in away]  # forgotten, not erased
    if not rows:
        return []
    anonymise(conn, [str(r[0]) for r in rows], rows[0][2])
    for pid, number, at in rows:
        conn.execute(
            update(persons)
            .where(persons.c.id == pid)
            .values(registration_number=number, anonymised_at=at, updated_at=at)
        )
    return [str(r[0]) for r in rows]
