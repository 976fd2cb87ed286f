"""Review and merge of duplicate persons (issue 15): the queue, merges and unmerges.

A merge keeps one person (the survivor) and makes the other's id lead to it. It is a
recorded fact, never a rewrite that loses history: nothing is deleted, and the merge's
row in ``person_merges`` names, by id, every row that followed the survivor (movements,
family links, documents, tracing matches and cases) and every value it changed in place
(the survivor's household), so that an unmerge puts each back where it was.
``merged_persons`` holds the merges in force: ``resolve`` follows it from an old id to
the survivor, and ``queries.person_scope`` leaves merged persons out of every list and
search. A merge and an unmerge are each one transaction with their audit events, both
persons locked first and both in the caller's scope (else 404, as for nobody).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, and_, delete, insert, or_, select, update

from corridor.domain.ids import format_registration_number, uuid7
from corridor.domain.paging import Paging
from corridor.errors import Conflict, NotFound, Problem, ValidationFailed
from corridor.schemas import PersonDetails
from corridor.security.crypto import FieldCipher, is_token
from corridor.security.errors import DecryptionFailed
from corridor.security.tables import site_keys
from corridor.services.base import AuditHook, Service, refuse_erased
from corridor.services.protection.field_vault import (
    DOCUMENT_FIELD,
    MOVEMENT_NOTE_FIELD,
    FieldVault,
)
from corridor.services.search import match_index
from corridor.services.search.person_search import PersonSearchService
from corridor.storage import changes, locations, outbox, queries
from corridor.storage.database import Database
from corridor.storage.merge_tables import (
    duplicate_pairs,
    merged_ids,
    merged_persons,
    person_merges,
)
from corridor.storage.queries import LIVE_LINK, Sites
from corridor.storage.tables import (
    households,
    manifest_items,
    movements,
    person_documents,
    person_locations,
    persons,
    relationships,
)
from corridor.storage.tracing_tables import tracing_cases, tracing_matches
from corridor.text import N_, Text

log = logging.getLogger(__name__)

# The most pairs the queue shows at once, most probable first (the API's default page).
QUEUE_SIZE = 100
FIRST_PAGE = Paging(limit=QUEUE_SIZE)
# Groups up to this size are queued pair by pair; larger ones as a star from the first.
PAIRWISE_UP_TO = 10
# A pair's decisions that keep it out of every later run of ``corridor duplicates``.
DECIDED_APART = ("rejected", "unmerged")


def ordered(a: str, b: str) -> tuple[str, str]:
    """A pair in id order, as ``duplicate_pairs`` keeps it."""
    return (a, b) if a < b else (b, a)


class MergeService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        person_search: PersonSearchService,
    ) -> None:
        super().__init__(db, clock)
        self.vault = vault
        self.person_search = person_search
        self.rows = MergeRows(vault)

    # -- reads --------------------------------------------------------------------------

    def resolve(self, person_id: str, conn: Connection | None = None) -> str:
        """The id a person's id leads to: itself, or the survivor of the merges in force
        (followed through merges of merges)."""
        if conn is None:
            with self.db.read() as read:
                return self.resolve(person_id, read)
        return queries.survivors(conn, [person_id])[0]

    def merges_of(self, person_id: str) -> list[dict[str, Any]]:
        """The merges in force into ``person_id`` (for its page: the ids that lead here)."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(person_merges, persons.c.registration_number)
                .join(merged_persons, merged_persons.c.merge_id == person_merges.c.id)
                .join(persons, persons.c.id == person_merges.c.merged_id)
                .where(person_merges.c.survivor_id == person_id)
                .order_by(person_merges.c.merged_at)
            ).mappings()
            out = [
                {
                    "merge_id": r["id"],
                    "person_id": r["merged_id"],
                    "registration_number": format_registration_number(r["registration_number"]),
                    "merged_at": r["merged_at"],
                }
                for r in rows
            ]
            # At a site node: old ids merged at the central whose records it does not hold
            # by name (never held, or forgotten: their own number is kept there).
            alone = {
                r["person_id"]: {
                    "merge_id": r["merge_id"],
                    "person_id": r["person_id"],
                    "registration_number": format_registration_number(r["registration_number"]),
                    "merged_at": r["merged_at"],
                }
                for r in conn.execute(
                    select(merged_ids).where(
                        merged_ids.c.survivor_id == person_id,
                        merged_ids.c.registration_number.is_not(None),
                        merged_ids.c.merged_at.is_not(None),
                    )
                ).mappings()
            }
            if not alone:
                return out
            out = [o for o in out if o["person_id"] not in alone] + list(alone.values())
            return sorted(out, key=lambda o: o["merged_at"])

    def queue(self, scope: Sites = None, limit: int = QUEUE_SIZE) -> list[dict[str, Any]]:
        """The first ``limit`` pairs of ``queue_page``."""
        return self.queue_page(scope, Paging(limit=limit))[0]

    def queue_page(
        self, scope: Sites = None, paging: Paging = FIRST_PAGE
    ) -> tuple[list[dict[str, Any]], int]:
        """The pairs proposed and not yet decided whose two persons are both in
        ``scope`` (and neither merged since), most probable first (``paging``: the
        slice; its order is the queue's own), and how many there are in all; each with
        both persons (sealed fields opened) and the engine's explanation, computed again
        now (its sentences quote names, so they are never stored)."""
        today = self.clock().date()
        with self.db.read() as conn:
            pairs = list(
                conn.execute(
                    select(duplicate_pairs)
                    .where(duplicate_pairs.c.status == "proposed")
                    .order_by(duplicate_pairs.c.probability.desc(), duplicate_pairs.c.id)
                ).mappings()
            )
            ids = sorted({p for r in pairs for p in (r["person_a"], r["person_b"])})
            rows = []
            for start in range(0, len(ids), 500):
                rows += list(
                    conn.execute(
                        select(persons).where(
                            persons.c.id.in_(ids[start : start + 500]),
                            queries.person_scope(scope),
                        )
                    ).mappings()
                )
            visible = {r["id"] for r in rows}
            pairs = [r for r in pairs if r["person_a"] in visible and r["person_b"] in visible]
            total = len(pairs)
            end = None if paging.limit is None else paging.offset + paging.limit
            pairs = pairs[paging.offset : end]
            wanted = {p for r in pairs for p in (r["person_a"], r["person_b"])}
            shown = queries.persons_out(conn, [r for r in rows if r["id"] in wanted], today)
            self.vault.reveal_all(shown, conn)
        by_id = {p["id"]: p for p in shown}
        scores = self.person_search.score_pairs([(r["person_a"], r["person_b"]) for r in pairs])
        out = []
        for r in pairs:
            match = scores.get((r["person_a"], r["person_b"]))
            out.append(
                {
                    "id": r["id"],
                    "probability": round(match.probability, 4) if match else r["probability"],
                    "weight": round(match.weight, 2) if match else r["weight"],
                    "explanation": [
                        {
                            # The field's name, said in the reader's language (as a
                            # tracing case's explanation says it).
                            "field": Text(e.field),
                            "level": e.level,
                            "weight": round(e.weight, 2),
                            "text": e.text,
                        }
                        for e in (match.explanation if match else [])
                    ],
                    "found_by": r["found_by"],
                    "created_at": r["created_at"],
                    "persons": [by_id[r["person_a"]], by_id[r["person_b"]]],
                }
            )
        return out, total

    def decided_apart(self) -> set[tuple[str, str]]:
        """The pairs an officer said are two persons (rejected, or merged and unmerged)."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(duplicate_pairs.c.person_a, duplicate_pairs.c.person_b).where(
                    duplicate_pairs.c.status.in_(DECIDED_APART)
                )
            ).all()
        return {(a, b) for a, b in rows}

    # -- the queue ----------------------------------------------------------------------

    def propose(
        self, groups: Iterable[Sequence[str]], found_by: str = "duplicates", *, audit: AuditHook
    ) -> tuple[list[list[str]], int]:
        """Queue the probable duplicates of ``groups`` (clusters of person ids from a
        duplicates run): the pairs of each group (in a group of more than
        ``PAIRWISE_UP_TO``, its first member with each other), but the pairs already
        decided apart (never proposed again) and those queued before (proposed once),
        each with the engine's probability. Returns the groups split where a decision
        separated them (connected components of the pairs left, singletons dropped), and
        how many pairs were queued."""
        clusters = [list(g) for g in groups if len(g) > 1]
        wanted: list[tuple[str, str]] = []
        for g in clusters:
            if len(g) <= PAIRWISE_UP_TO:
                wanted += [ordered(a, b) for i, a in enumerate(g) for b in g[i + 1 :]]
            else:
                wanted += [ordered(g[0], b) for b in g[1:]]
        apart = self.decided_apart()
        left = [p for p in dict.fromkeys(wanted) if p not in apart]
        scores = self.person_search.score_pairs(left)
        now = self.clock()
        with self.db.transaction() as conn:
            queued: set[tuple[str, str]] = set()
            pair_a, pair_b = duplicate_pairs.c.person_a, duplicate_pairs.c.person_b
            for start in range(0, len(left), 200):
                chunk = left[start : start + 200]
                found = conn.execute(
                    select(pair_a, pair_b).where(
                        or_(*(and_(pair_a == a, pair_b == b) for a, b in chunk))
                    )
                ).all()
                queued |= {(a, b) for a, b in found}
            rows = [
                {
                    "id": uuid7(),
                    "person_a": a,
                    "person_b": b,
                    "probability": round(m.probability, 4),
                    "weight": round(m.weight, 2),
                    "levels": [
                        {"field": e.field, "level": e.level, "weight": round(e.weight, 2)}
                        for e in m.explanation
                    ],
                    "found_by": found_by,
                    "status": "proposed",
                    "created_at": now,
                }
                for (a, b), m in scores.items()
                if (a, b) not in queued
            ]
            if rows:
                conn.execute(insert(duplicate_pairs), rows)
            named = [str(r[k]) for r in rows for k in ("person_a", "person_b")]
            changes.person_state_unchanged(conn)  # a pair queued: no person changed
            audit(conn, list(dict.fromkeys(named)))
        return _components(clusters, set(left)), len(rows)

    def queue_new(
        self,
        written: Sequence[tuple[str, PersonDetails]],
        found_by: str = "registration",
        *,
        audit: AuditHook,
    ) -> int:
        """Incremental linkage: each person just written (id, details), once its write
        has committed, is searched for in the match index (``suspected_duplicates``, the
        check imports make) and the pairs from the model's ``duplicate_at`` are queued
        for review (``propose``: never a pair decided apart, never one queued before, so
        a write told twice queues nothing more). Returns how many pairs were queued.

        Its own transaction, after the write's: a failure here never undoes the write,
        which is committed; it is logged (no field values) and ``corridor duplicates``
        finds the pairs again."""
        try:
            pairs = [
                [person_id, m["person"]["id"]]
                for person_id, details in written
                for m in self.person_search.suspected_duplicates(details, exclude={person_id})
            ]
            if not pairs:
                return 0
            _, queued = self.propose(pairs, found_by, audit=audit)
        except Exception as exc:  # the write stands whatever fails here
            log.warning(
                "%s: suspected duplicates not queued for review (%s)",
                found_by,
                type(exc).__name__,
            )
            return 0
        return queued

    def reject(
        self,
        person_id: str,
        other_person_id: str,
        reason: str | None,
        decided_by: str | None,
        *,
        audit: AuditHook,
        scope: Sites = None,
    ) -> dict[str, Any]:
        """Two persons are not one: the pair is never proposed again (queued or not)."""
        now = self.clock()
        with self.db.transaction() as conn:
            locations.lock_persons(conn, [person_id, other_person_id])
            self._require_reachable(conn, person_id, other_person_id, scope)
            changes.person_state_unchanged(conn)  # a decision about a pair, not a person
            a, b = ordered(person_id, other_person_id)
            row = (
                conn.execute(
                    select(duplicate_pairs).where(
                        duplicate_pairs.c.person_a == a, duplicate_pairs.c.person_b == b
                    )
                )
                .mappings()
                .first()
            )
            decision = {"status": "rejected", "reason": reason, "decided_by": decided_by,
                        "decided_at": now}  # fmt: skip
            if row is None:
                conn.execute(
                    insert(duplicate_pairs).values(
                        id=uuid7(),
                        person_a=a,
                        person_b=b,
                        probability=0.0,
                        weight=0.0,
                        levels=[],
                        found_by="officer",
                        created_at=now,
                        **decision,
                    )  # fmt: skip
                )
            elif row["status"] == "merged":
                raise Conflict(N_("these persons are merged: unmerge them instead"))
            else:
                conn.execute(
                    update(duplicate_pairs)
                    .where(duplicate_pairs.c.id == row["id"])
                    .values(**decision)
                )
            audit(conn, [person_id, other_person_id])
        return {"person_id": person_id, "other_person_id": other_person_id, "status": "rejected"}

    # -- merge and unmerge --------------------------------------------------------------

    def merge(
        self,
        survivor_id: str,
        merged_id: str,
        reason: str | None,
        merged_by: str | None,
        *,
        audit: AuditHook,
        scope: Sites = None,
        consent_tracing: bool | None = None,
    ) -> dict[str, Any]:
        """Merge ``merged_id`` into ``survivor_id``: the survivor keeps its details; the
        other's movements, family links, documents, tracing matches and cases follow it;
        the other's id leads to it from now on. Both must be in ``scope`` (404 as for
        nobody), live (not merged already: 409) and the one merged away not on an open
        manifest (409: check it in or take it off first).

        Consent to tracing is the person's own decision, never the record's: where the
        two records differ on it (one refused to be found, the other agreed), the merge
        needs ``consent_tracing``, the decision that stands (ask the person), else 422
        naming that field; a merge never makes a refusal findable by itself. The
        survivor's value before is kept with the merge, and an unmerge puts it back."""
        with self.db.read() as conn:
            sites = dict(
                conn.execute(
                    select(persons.c.id, persons.c.site_id).where(
                        persons.c.id.in_([survivor_id, merged_id])
                    )
                ).all()
            )
        if survivor_id in sites:
            self.vault.prepare(sites[survivor_id])  # a key is made outside the writer's lock
        now = self.clock()
        with self.db.transaction() as conn:
            locations.lock_persons(conn, [survivor_id, merged_id])
            self._require_reachable(conn, survivor_id, merged_id, scope)
            on_board = conn.execute(
                select(manifest_items.c.id).where(
                    manifest_items.c.person_id == merged_id, manifest_items.c.open_slot.is_not(None)
                )
            ).first()
            if on_board is not None:
                raise Conflict(
                    N_("the person to merge is on an open manifest: check them in or take "
                       "them off it first")
                )  # fmt: skip
            consent = _consent_decided(conn, survivor_id, merged_id, consent_tracing)
            moved = self.rows.move(conn, survivor_id, merged_id)
            if consent is not None:
                moved["consent_tracing"] = consent
            merge_id = uuid7()
            a, b = ordered(survivor_id, merged_id)
            pair_id = conn.execute(
                select(duplicate_pairs.c.id).where(
                    duplicate_pairs.c.person_a == a, duplicate_pairs.c.person_b == b
                )
            ).scalar()
            row = {
                "id": merge_id,
                "survivor_id": survivor_id,
                "merged_id": merged_id,
                "pair_id": pair_id,
                "reason": reason,
                "moved": moved,
                "merged_by": merged_by,
                "merged_at": now,
            }
            conn.execute(insert(person_merges).values(**row))
            conn.execute(
                insert(merged_persons).values(
                    person_id=merged_id, survivor_id=survivor_id, merge_id=merge_id
                )
            )
            if pair_id is not None:
                conn.execute(
                    update(duplicate_pairs)
                    .where(duplicate_pairs.c.id == pair_id)
                    .values(status="merged", reason=reason, decided_by=merged_by, decided_at=now)
                )
            # The projections: the merged person has no location of its own any more, and
            # the index holds the survivor only (with the documents that followed it).
            conn.execute(delete(person_locations).where(person_locations.c.person_id == merged_id))
            locations.refresh(conn, [survivor_id])
            match_index.unindex(conn, [merged_id])
            match_index.reindex_persons(conn, [survivor_id], self.vault)
            outbox.record(conn, [survivor_id], "registration", now)
            audit(conn, [survivor_id, merged_id])
            out = _merge_out(row)
        self.notify([survivor_id])
        return out

    def unmerge(
        self,
        merged_id: str,
        reason: str | None,
        unmerged_by: str | None,
        *,
        audit: AuditHook,
        scope: Sites = None,
    ) -> dict[str, Any]:
        """Undo the merge in force of ``merged_id``: every row that followed the survivor
        goes back, every value changed in place is restored; what was recorded about the
        survivor since stays with it. A merge whose survivor was merged in turn is undone
        after that later merge (409)."""
        now = self.clock()
        with self.db.transaction() as conn:
            found = (
                conn.execute(select(merged_persons).where(merged_persons.c.person_id == merged_id))
                .mappings()
                .first()
            )
            survivor_id = found["survivor_id"] if found else None
            locations.lock_persons(conn, [merged_id, *([survivor_id] if survivor_id else [])])
            reach = conn.execute(
                select(persons.c.id).where(
                    persons.c.id.in_([merged_id, survivor_id or merged_id]),
                    queries.reachable(scope),
                )
            ).scalars()
            if set(reach) != {merged_id, survivor_id or merged_id}:
                raise NotFound("person")
            if found is None or survivor_id is None:
                raise Conflict(N_("this person is not merged into another"))
            survivor_id = str(survivor_id)
            # Erased with the survivor: undoing the merge would bring back what followed.
            refuse_erased(conn, [merged_id, survivor_id], "person_id")
            if conn.execute(
                select(merged_persons.c.person_id).where(merged_persons.c.person_id == survivor_id)
            ).first():
                raise Conflict(
                    N_("the survivor was merged into another person since: undo that merge first")
                )
            merge = (
                conn.execute(select(person_merges).where(person_merges.c.id == found["merge_id"]))
                .mappings()
                .one()
            )
            self.rows.move_back(conn, survivor_id, merged_id, merge["moved"])
            _consent_back(conn, survivor_id, merge["moved"].get("consent_tracing"))
            conn.execute(delete(merged_persons).where(merged_persons.c.person_id == merged_id))
            conn.execute(
                update(person_merges)
                .where(person_merges.c.id == merge["id"])
                .values(unmerged_by=unmerged_by, unmerged_at=now, unmerge_reason=reason)
            )
            if merge["pair_id"] is not None:
                conn.execute(
                    update(duplicate_pairs)
                    .where(duplicate_pairs.c.id == merge["pair_id"])
                    .values(status="unmerged", reason=reason, decided_by=unmerged_by,
                            decided_at=now)
                )  # fmt: skip
            locations.refresh(conn, [survivor_id, merged_id])
            match_index.reindex_persons(conn, sorted({survivor_id, merged_id}), self.vault)
            outbox.record(conn, [survivor_id, merged_id], "registration", now)
            audit(conn, [survivor_id, merged_id])
            out = _merge_out(
                {**merge, "unmerged_by": unmerged_by, "unmerged_at": now, "unmerge_reason": reason}
            )
        self.notify([survivor_id, merged_id])
        return out

    # -- internals ----------------------------------------------------------------------

    def _require_reachable(
        self, conn: Connection, person_id: str, other_id: str, scope: Sites
    ) -> None:
        """NotFound unless the person exists in ``scope`` (the other: "person not found"
        naming the field); then the two must differ and neither be merged already (409).
        The scope comes first: a person of another site is a 404 whatever else holds."""
        both = [person_id, other_id]
        found = set(
            conn.execute(
                select(persons.c.id).where(persons.c.id.in_(both), queries.reachable(scope))
            ).scalars()
        )
        if person_id not in found:
            raise NotFound("person")
        if other_id not in found:
            raise ValidationFailed(
                [Problem("other_person_id", N_("person not found"))], refused=[other_id]
            )
        if person_id == other_id:
            raise ValidationFailed(
                [Problem("other_person_id", N_("a person cannot be merged with themselves"))]
            )
        taken = conn.execute(
            select(merged_persons.c.person_id).where(merged_persons.c.person_id.in_(both))
        ).first()
        if taken is not None:
            raise Conflict(N_("one of these persons is merged into another already"))
        refuse_erased(conn, both, "other_person_id")


class MergeRows:
    """The rows a merge moves to the survivor and an unmerge puts back: used by
    ``MergeService`` and by a site node applying a merge made at the central (issue 16,
    ``corridor/sync/facts.py``), which moves its own rows, the ones it recorded under
    the old id while apart included."""

    def __init__(self, vault: FieldVault) -> None:
        self.vault = vault

    def move(
        self, conn: Connection, survivor_id: str, merged_id: str, *, documents: bool = True
    ) -> dict[str, Any]:
        """Re-point the merged person's rows to the survivor; returns what moved (ids)
        and what changed in place (with the values before). ``documents=False``: the
        documents stay (a site node holding no key of the survivor's site cannot seal
        them again for it)."""
        moved: dict[str, Any] = {}
        moved["movements"] = _repoint(conn, movements.c.person_id, merged_id, survivor_id)
        moved["notes"] = self._reseal_notes(conn, moved["movements"], merged_id, survivor_id)
        moved["links"] = self._move_links(conn, survivor_id, merged_id)
        moved["documents"] = self._move_documents(conn, survivor_id, merged_id) if documents else []
        # Tracing: a match of both persons to one case stays where it is (the survivor's).
        own_cases = select(tracing_matches.c.case_id).where(
            tracing_matches.c.person_id == survivor_id
        )
        moved["matches"] = _repoint(
            conn,
            tracing_matches.c.person_id,
            merged_id,
            survivor_id,
            tracing_matches.c.case_id.not_in(own_cases),
        )
        moved["cases"] = _repoint(conn, tracing_cases.c.found_person_id, merged_id, survivor_id)
        moved["household"] = self._move_household(conn, survivor_id, merged_id)
        return moved

    def _move_links(self, conn: Connection, survivor_id: str, merged_id: str) -> list[list[str]]:
        """Family links of the merged person, each end naming it re-pointed to the
        survivor, but a link the survivor holds already (the same relative and kind) and
        a link between the two (it would link the survivor to itself): those stay."""
        out: list[list[str]] = []
        for end, other in (("person_id", "other_person_id"), ("other_person_id", "person_id")):
            rows = (
                conn.execute(select(relationships).where(relationships.c[end] == merged_id))
                .mappings()
                .all()
            )
            for r in rows:
                if r[other] in (survivor_id, merged_id):
                    continue
                # A removed link (0035) clashes with nothing: it moves, still removed.
                clash = conn.execute(
                    select(relationships.c.id).where(
                        relationships.c[end] == survivor_id,
                        relationships.c[other] == r[other],
                        relationships.c.kind == r["kind"],
                        LIVE_LINK,
                    )
                ).first()
                if clash is not None and r["removed_at"] is None:
                    continue
                conn.execute(
                    update(relationships)
                    .where(relationships.c.id == r["id"])
                    .values({end: survivor_id})
                )
                out.append([r["id"], end])
        return out

    def _reseal_notes(
        self, conn: Connection, event_ids: list[str], from_id: str, to_id: str
    ) -> list[str]:
        """The notes of the events ``event_ids`` (moving from person ``from_id`` to
        ``to_id``) sealed under a key of ``from_id``'s registering site, sealed again
        under the key that seals ``to_id``'s notes (``FieldVault.note_site``): the data
        follows the person's site, so destroying the other site's keys loses nothing of
        the person who now holds them. A note typed at a third site's node stays under
        that site's key (as it would for a note typed there now); one this installation
        cannot open or seal (a site node, a destroyed key) stays as it is. The ids of
        the events whose note was sealed again."""
        if not event_ids:
            return []
        site_of = dict(
            conn.execute(
                select(persons.c.id, persons.c.site_id).where(persons.c.id.in_([from_id, to_id]))
            ).all()
        )
        if site_of[from_id] == site_of[to_id] or self.vault.cipher is None:
            return []
        target = self.vault.note_site(conn, str(site_of[to_id]))
        if target == site_of[from_id] or not self.vault.holds(conn, target):
            return []
        from_keys = set(
            conn.execute(
                select(site_keys.c.id).where(site_keys.c.site_id == site_of[from_id])
            ).scalars()
        )
        rows: list[Any] = []
        for start in range(0, len(event_ids), 500):
            rows += conn.execute(
                select(movements.c.id, movements.c.note).where(
                    movements.c.id.in_(event_ids[start : start + 500]),
                    movements.c.note.is_not(None),
                )
            ).all()
        sealed = [(i, t) for i, t in rows if is_token(t) and _key_of(t) in from_keys]
        if not sealed:
            return []
        plain = self.vault.open_notes(conn, MOVEMENT_NOTE_FIELD, [t for _, t in sealed])
        seal = self.vault.sealer_in(conn, target)
        out = []
        for (event_id, _), text in zip(sealed, plain, strict=True):
            if text is None:  # its key destroyed: nothing to move
                continue
            conn.execute(
                update(movements)
                .where(movements.c.id == event_id)
                .values(note=seal(MOVEMENT_NOTE_FIELD, text))
            )
            out.append(str(event_id))
        return out

    def _move_documents(
        self, conn: Connection, survivor_id: str, merged_id: str
    ) -> list[dict[str, Any]]:
        """The merged person's documents, with their rows as they were (the number is a
        sealed token: under another site's key it is sealed again under the survivor's,
        and the token before is what an unmerge puts back)."""
        site_of = dict(
            conn.execute(
                select(persons.c.id, persons.c.site_id).where(
                    persons.c.id.in_([survivor_id, merged_id])
                )
            ).all()
        )
        rows = (
            conn.execute(select(person_documents).where(person_documents.c.person_id == merged_id))
            .mappings()
            .all()
        )
        out = []
        for r in rows:
            number = r["number"]
            if site_of[merged_id] != site_of[survivor_id] and number is not None:
                plain = self.vault.open(site_of[merged_id], DOCUMENT_FIELD, number)
                if plain is not None:
                    number = self.vault.seal(site_of[survivor_id], DOCUMENT_FIELD, plain)
            conn.execute(
                update(person_documents)
                .where(person_documents.c.id == r["id"])
                .values(person_id=survivor_id, number=number)
            )
            out.append(
                {k: r[k] for k in ("id", "doc_type", "number_key", "issuing_country", "number")}
            )
        return out

    def _move_household(
        self, conn: Connection, survivor_id: str, merged_id: str
    ) -> dict[str, Any] | None:
        """A survivor in no household joins the merged person's (as its head, where the
        merged person was the head); a survivor in a household stays in it (the family
        links to the other household's members followed it all the same)."""
        rows = {
            r["id"]: r
            for r in conn.execute(
                select(persons.c.id, persons.c.household_id, persons.c.relationship_to_head).where(
                    persons.c.id.in_([survivor_id, merged_id])
                )
            ).mappings()
        }
        survivor, merged = rows[survivor_id], rows[merged_id]
        if survivor["household_id"] is not None or merged["household_id"] is None:
            return None
        conn.execute(
            update(persons)
            .where(persons.c.id == survivor_id)
            .values(
                household_id=merged["household_id"],
                relationship_to_head=merged["relationship_to_head"],
            )
        )
        heads = _repoint(conn, households.c.head_person_id, merged_id, survivor_id)
        return {"household_id": None, "relationship_to_head": survivor["relationship_to_head"],
                "heads": heads}  # fmt: skip

    def _documents_back(
        self, conn: Connection, survivor_id: str, merged_id: str, docs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The documents an unmerge gives back, each number as the survivor holds it now
        sealed again under the other person's site's key (the key it was sealed under
        before the merge may have been destroyed since: the drill of a site the document
        did not belong to then). One that no longer opens here (the survivor's site's key
        destroyed, or a key this installation does not hold) goes back as it was."""
        if not docs:
            return []
        site_of = dict(
            conn.execute(
                select(persons.c.id, persons.c.site_id).where(
                    persons.c.id.in_([survivor_id, merged_id])
                )
            ).all()
        )
        there, home = str(site_of[survivor_id]), str(site_of[merged_id])
        if there == home or not self.vault.holds(conn, home):
            return docs
        now = dict(
            conn.execute(
                select(person_documents.c.id, person_documents.c.number).where(
                    person_documents.c.id.in_([d["id"] for d in docs]),
                    person_documents.c.person_id == survivor_id,
                )
            ).all()
        )
        seal = self.vault.sealer_in(conn, home)
        out = []
        for doc in docs:
            token = now.get(doc["id"])
            plain = self.vault.open(there, DOCUMENT_FIELD, token) if token else None
            if plain is not None and is_token(str(token)):
                doc = {**doc, "number": seal(DOCUMENT_FIELD, plain)}
            out.append(doc)
        return out

    def move_back(
        self, conn: Connection, survivor_id: str, merged_id: str, moved: dict[str, Any]
    ) -> None:
        """Put back what ``move`` moved (only rows still with the survivor), with the
        corrections made since of the movements that go back."""
        if moved.get("movements"):
            events = _with_corrections(conn, survivor_id, list(moved["movements"]))
            going = [
                str(i)
                for i in conn.execute(
                    select(movements.c.id).where(
                        movements.c.id.in_(events), movements.c.person_id == survivor_id
                    )
                ).scalars()
            ]
            conn.execute(
                update(movements)
                .where(movements.c.id.in_(events))
                .where(movements.c.person_id == survivor_id)
                .values(person_id=merged_id)
            )
            # Their notes are the other person's site's again: those the merge sealed
            # under the survivor's site's key, and those written since (corrections).
            resealed, followed = set(moved.get("notes", ())), set(moved["movements"])
            again = [i for i in going if i in resealed or i not in followed]
            self._reseal_notes(conn, again, survivor_id, merged_id)
        for link_id, end in moved.get("links", []):
            conn.execute(
                update(relationships)
                .where(relationships.c.id == link_id, relationships.c[end] == survivor_id)
                .values({end: merged_id})
            )
        for doc in self._documents_back(conn, survivor_id, merged_id, moved.get("documents", [])):
            back = conn.execute(
                update(person_documents)
                .where(person_documents.c.id == doc["id"])
                .values(person_id=merged_id, number=doc["number"])
            )
            if back.rowcount == 0:  # replaced by a correction of the survivor's documents
                conn.execute(insert(person_documents).values(person_id=merged_id, **doc))
        if moved.get("matches"):
            conn.execute(
                update(tracing_matches)
                .where(tracing_matches.c.id.in_(moved["matches"]))
                .where(tracing_matches.c.person_id == survivor_id)
                .values(person_id=merged_id)
            )
        if moved.get("cases"):
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id.in_(moved["cases"]))
                .where(tracing_cases.c.found_person_id == survivor_id)
                .values(found_person_id=merged_id)
            )
        household = moved.get("household")
        if household:
            conn.execute(
                update(persons)
                .where(persons.c.id == survivor_id)
                .values(
                    household_id=household["household_id"],
                    relationship_to_head=household["relationship_to_head"],
                )
            )
            if household["heads"]:
                conn.execute(
                    update(households)
                    .where(households.c.id.in_(household["heads"]))
                    .where(households.c.head_person_id == survivor_id)
                    .values(head_person_id=merged_id)
                )


def _key_of(token: str) -> str | None:
    """The id of the key a token names (None: not a token this version reads)."""
    try:
        return FieldCipher.key_id_of(token)
    except DecryptionFailed:
        return None


def _with_corrections(conn: Connection, survivor_id: str, event_ids: list[str]) -> list[str]:
    """``event_ids`` and the survivor's corrections of them recorded since (a correction
    of a correction too): a correction belongs to the log of the event it corrects. Left
    with the survivor, it would place the survivor where the other person was (a
    correction whose event is not in the log stands as an event of its own), and the
    other's event would be back uncorrected."""
    out = list(dict.fromkeys(event_ids))
    seen, frontier = set(out), out
    while frontier:
        found: list[str] = []
        for start in range(0, len(frontier), 500):
            found += conn.execute(
                select(movements.c.id).where(
                    movements.c.corrects_id.in_(frontier[start : start + 500]),
                    movements.c.person_id == survivor_id,
                )
            ).scalars()
        frontier = [f for f in found if f not in seen]
        seen.update(frontier)
        out += frontier
    return out


def _consent_decided(
    conn: Connection, survivor_id: str, merged_id: str, decided: bool | None
) -> dict[str, bool] | None:
    """Where the two records differ on consent to tracing, the survivor takes the
    decision given (422 without one); returns ``{"before", "after"}`` where it changed."""
    consents = dict(
        conn.execute(
            select(persons.c.id, persons.c.consent_tracing).where(
                persons.c.id.in_([survivor_id, merged_id])
            )
        ).all()
    )
    before = bool(consents[survivor_id])
    if before == bool(consents[merged_id]):
        return None  # one decision on both records: it stands
    if decided is None:
        raise ValidationFailed(
            [Problem("consent_tracing", N_("the two records differ on consent to tracing: "
                                           "ask the person, and say which decision stands"))]
        )  # fmt: skip
    if decided == before:
        return None
    conn.execute(update(persons).where(persons.c.id == survivor_id).values(consent_tracing=decided))
    return {"before": before, "after": decided}


def _consent_back(conn: Connection, survivor_id: str, changed: dict[str, bool] | None) -> None:
    """An unmerge puts back the survivor's consent to tracing the merge changed, unless
    it was decided again since (what was recorded about the survivor since stays)."""
    if changed:
        conn.execute(
            update(persons)
            .where(persons.c.id == survivor_id, persons.c.consent_tracing == changed["after"])
            .values(consent_tracing=changed["before"])
        )


def _merge_out(row: Any) -> dict[str, Any]:
    moved = row["moved"] or {}
    return {
        "id": row["id"],
        "survivor_id": row["survivor_id"],
        "merged_id": row["merged_id"],
        "pair_id": row["pair_id"],
        "merged_at": row["merged_at"],
        "merged_by": row["merged_by"],
        "unmerged_at": row.get("unmerged_at"),
        "unmerged_by": row.get("unmerged_by"),
        "followed": {
            "movements": len(moved.get("movements", [])),
            "links": len(moved.get("links", [])),
            "documents": len(moved.get("documents", [])),
            "matches": len(moved.get("matches", [])),
            "cases": len(moved.get("cases", [])),
            "household": bool(moved.get("household")),
        },
    }


def _components(groups: list[list[str]], pairs: set[tuple[str, str]]) -> list[list[str]]:
    """The groups split into the connected components of ``pairs`` (size 2 or more)."""
    out = []
    for group in groups:
        parent = {p: p for p in group}
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if ordered(a, b) in pairs:
                    ra, rb = _root(parent, a), _root(parent, b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
        split: dict[str, list[str]] = {}
        for p in group:
            split.setdefault(_root(parent, p), []).append(p)
        out += [g for g in split.values() if len(g) > 1]
    return out


def _root(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


__all__ = ["MergeRows", "MergeService", "ordered"]


def _repoint(
    conn: Connection, column: Column[Any], merged_id: str, survivor_id: str, *where: Any
) -> list[str]:
    """Point the rows of ``column``'s table that name ``merged_id`` there (and meet
    ``where``) at ``survivor_id``; their ids, which the merge keeps to undo it."""
    table = column.table
    ids = list(conn.execute(select(table.c.id).where(column == merged_id, *where)).scalars())
    if ids:
        conn.execute(update(table).where(table.c.id.in_(ids)).values({column.name: survivor_id}))
    return ids
