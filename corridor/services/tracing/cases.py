"""Tracing: enquiries, proposed matches, officers' decisions. The only place that writes
tracing data (but for retention, ``services/protection/retention.py``, which anonymises ended
enquiries as it anonymises persons); each use case is one transaction, its case-log rows
and audit entry in it.

The rules (which state may follow which, who decides disclosure, what the enquirer may
learn) are in ``corridor.domain.tracing``; what is read back is in ``tracing_views``.

Tracing is done at the central registry, never at a site node (issue 16, docs/sync.md):
the central holds every site's persons, so a match can be found across sites, and the
enquirers' key; tracing data does not travel between installations. Every officer's
write here is ``central_only``: at a node it is refused (``TracingAtCentral``) before
anything is read or written, whichever page, API route or command reached it; and at a
node the engine proposes nothing (``check_persons``): the central checks the same persons
when their changes arrive.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, insert, select, update

from corridor.domain.birth import age_on
from corridor.domain.ids import uuid7
from corridor.domain.tracing import (
    SET_ASIDE,
    CaseState,
    Disclosure,
    InvalidTransition,
    check_close,
    check_transition,
    disclosure_decider,
    found_on,
    household_fits,
    is_child,
    state_text,
)
from corridor.errors import (
    Conflict,
    ConsentWithdrawn,
    Forbidden,
    NotFound,
    Problem,
    TracingAtCentral,
    require,
)
from corridor.matching import Match, PersonRecord
from corridor.services.base import AuditHook, Service, live_id
from corridor.services.protection.accounts import Caller
from corridor.services.protection.audit_log import acting_role
from corridor.services.protection.field_vault import TRACING_KEY, FieldVault
from corridor.services.search.person_search import PersonSearchService, purpose_scope
from corridor.services.tracing import enquirer as enquirer
from corridor.services.tracing import matching as tm
from corridor.services.tracing.views import (
    TracingViews,
    deceased,
    offered_or_decided,
    withdrew_tracing,
)
from corridor.storage import outbox, queries
from corridor.storage.database import Database
from corridor.storage.tables import persons
from corridor.storage.tracing_tables import (
    tracing_case_events,
    tracing_case_keys,
    tracing_cases,
    tracing_enquiries,
    tracing_matches,
)
from corridor.sync.journal import custody
from corridor.text import N_
from corridor.tracing_schemas import (
    CandidateIn,
    DisclosureIn,
    EnquiryIn,
    MatchDecisionIn,
    SoughtPersonIn,
    TransitionIn,
)

log = logging.getLogger(__name__)
SYSTEM = "system"  # who proposed a match found by the engine on its own
# The states that tell the enquirer's family of the found person (refused once they withdrew).
# The deciding role as the refusal names it (the catalogue has these words already).
ROLE_WORDS = {
    "protection_officer": N_("protection officer"),
    "tracing_officer": N_("tracing officer"),
}
TELLS_FAMILY = frozenset({CaseState.FAMILY_INFORMED, CaseState.REUNITED})
# A found person whose death is recorded can neither agree nor refuse, nor be reunited:
# the officer closes the case with the reason ``deceased`` and tells the family.
DEAD_CANNOT_AGREE = N_(
    "The found person is recorded as deceased: close the case with the reason "
    "\"deceased\" and tell the family"
)
P = ParamSpec("P")
R = TypeVar("R")


def central_only(
    write: Callable[Concatenate[TracingService, P], R],
) -> Callable[Concatenate[TracingService, P], R]:
    """An officer's tracing write: refused at a site node (``TracingAtCentral``)
    before its input is checked, anything read or a transaction opened, so nothing is
    written there (no row, no audit event, no idempotency key)."""

    @functools.wraps(write)
    def at_central(self: TracingService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if not self.done_here():
            raise TracingAtCentral()
        return write(self, *args, **kwargs)

    return at_central


class TracingService(Service):
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        vault: FieldVault,
        search: PersonSearchService | None = None,
    ) -> None:
        """``search``: the person search whose matching model scores the cases (the
        app's, from its settings)."""
        super().__init__(db, clock)
        self.vault = vault
        self.search = search or PersonSearchService(db, clock, vault)

    @property
    def views(self) -> TracingViews:
        return TracingViews(self.db, self.clock, self.vault, self.search.model.calibration)

    def done_here(self) -> bool:
        """Whether tracing is done at this installation: at the central or a standalone
        one, not at a site node (from the moment it asked to enrol)."""
        with self.db.read() as conn:
            return custody(conn)[0] != "node"

    # -- enquiries -------------------------------------------------------------------

    @central_only
    def create_enquiry(
        self, data: EnquiryIn, recorded_by: str | None = None, *, audit: AuditHook
    ) -> dict[str, Any]:
        """Record an enquiry and its sought persons (one case each), and propose at once
        the registered persons who may be them."""
        now = self.clock()
        problems = _enquiry_problems(data, now)
        require(problems)
        enquiry_id = uuid7()
        proposed: list[str] = []
        with self.db.transaction() as conn:
            # What identifies the enquirer, and the explanations quoting their name,
            # sealed under the tracing key (created in this transaction the first time).
            seal = self.vault.sealer_in(conn, TRACING_KEY)
            who = data.enquirer
            packed = enquirer.pack(who.name, who.contact, who.location, data.note)
            sealed = seal(enquirer.FIELD, packed)
            conn.execute(
                insert(tracing_enquiries).values(
                    id=enquiry_id,
                    sealed=sealed,
                    enquirer_relationship=who.relationship,
                    enquirer_country=(who.country or "").upper() or None,
                    created_by=recorded_by,
                    created_at=now,
                )
            )
            search = self.search
            rows = [_case_row(enquiry_id, s, data.enquirer.relationship, now) for s in data.sought]
            fellows = tm.fellow_names(rows)
            for row in rows:
                conn.execute(insert(tracing_cases).values(**row))
                record = tm.sought_record(row, data.enquirer.name, fellows[row["id"]])
                keys = tm.case_keys(record)
                if keys:
                    conn.execute(
                        insert(tracing_case_keys),
                        [{"key": k, "case_id": row["id"]} for k in sorted(keys)],
                    )
                self._event(conn, row["id"], "opened", None, CaseState.OPEN, recorded_by, None)
                state = CaseState.OPEN
                for match, _ in tm.best_for_sought(conn, search, record):
                    self._propose(conn, row["id"], state, match, "enquiry", seal)
                    proposed.append(match.record_id)
                    state = CaseState.POSSIBLE_MATCH
            self.vault.require_live(conn, [sealed])  # not destroyed meanwhile
            audit(conn, proposed)
        return self.views.enquiry(enquiry_id)

    # -- matching on registration and arrival -----------------------------------------

    def drain_outbox(self, batch: int = outbox.CHUNK) -> int:
        """Check every person the outbox holds (oldest first, ``batch`` at a time), each
        row removed in the transaction that stores its matches. Returns the number of
        matches proposed. An error stops the drain and leaves the rest for the next."""
        proposed = 0
        while True:
            with self.db.read() as conn:
                rows = outbox.pending(conn, batch)
            if not rows:
                return proposed
            groups: dict[str, list[outbox.Pending]] = {}
            for r in rows:
                groups.setdefault(r.found_by, []).append(r)
            for found_by, group in groups.items():
                proposed += self.check_persons(
                    list(dict.fromkeys(r.person_id for r in group)),
                    found_by,
                    done=[r.seq for r in group],
                )
            if len(rows) < batch:
                return proposed

    def check_persons(
        self, person_ids: list[str], found_by: str = "registration", done: Sequence[int] = ()
    ) -> int:
        """Score newly registered or arrived persons against the searching cases that
        share a key with them; store each good candidate as a proposed match. Returns the
        number of matches proposed. ``done``: outbox rows these persons came from, removed
        in the transaction that stores the matches (or on their own when there are none).
        At a site node nothing is proposed and the rows are only removed (tracing is done
        at the central, which checks the same persons when their changes arrive)."""
        found = self._score(person_ids)
        if not found:
            if done:
                with self.db.transaction() as conn:
                    outbox.remove(conn, done)
            return 0
        return self._store(found, found_by, done)

    def _score(self, person_ids: list[str]) -> list[tuple[str, str, Match]]:
        if not person_ids:
            return []
        # Scoring reads only; the writer's lock is taken just to store what was found,
        # so a registration that matches nothing (nearly all) never waits for it.
        with self.db.read() as conn:
            # At a node nobody is proposed (not even for a case held here from before it
            # enrolled): the central checks these persons when their changes arrive.
            if custody(conn)[0] == "node" or not tm.any_searching(conn):
                return []
            people = tm.candidate_records(conn, person_ids, self.vault)
            waiting = tm.searching_cases_for(conn, people.values())
            case_ids = sorted({c for cs in waiting.values() for c in cs})
            if not case_ids:
                return []
            rows = list(
                conn.execute(
                    select(tracing_cases).where(tracing_cases.c.id.in_(case_ids))
                ).mappings()
            )
            sought = self._sought_records(conn, rows)
            search = self.search
            matcher = tm.matcher_for(conn, search, [*sought.values(), *people.values()])
        found: list[tuple[str, str, Match]] = []
        at = matcher.model.calibration.propose_at
        for pid, cids in waiting.items():
            for cid in sorted(cids):
                if cid not in sought:
                    continue
                quick = matcher.score(sought[cid], people[pid], explain=False)
                if quick.probability < at:
                    continue
                match = matcher.score(sought[cid], people[pid])
                if match.probability >= at:
                    found.append((cid, pid, match))
        return found

    def _store(
        self, found: list[tuple[str, str, Match]], found_by: str, done: Sequence[int]
    ) -> int:
        with self.db.transaction() as conn:
            outbox.remove(conn, done)
            locked = conn.execute(
                select(tracing_cases.c.id, tracing_cases.c.state)
                .where(tracing_cases.c.id.in_(sorted({cid for cid, _, _ in found})))
                .with_for_update()
            ).all()
            state = {str(cid): CaseState(str(st)) for cid, st in locked if st in tm.SEARCHING}
            already = {
                (c, p)
                for c, p in conn.execute(
                    select(tracing_matches.c.case_id, tracing_matches.c.person_id).where(
                        tracing_matches.c.case_id.in_(list(state)),
                        tracing_matches.c.person_id.in_([pid for _, pid, _ in found]),
                    )
                )
            }
            n = 0
            # Without a master key (a process not given one) a match is still proposed,
            # its explanation without texts: they quote names and cannot be sealed.
            seal = self.vault.sealer_in(conn, TRACING_KEY) if self.vault.cipher else None
            for cid, pid, match in found:
                if cid not in state or (cid, pid) in already:
                    continue  # the case stopped searching, or another worker got there
                self._propose(conn, cid, state[cid], match, found_by, seal)
                state[cid] = CaseState.POSSIBLE_MATCH
                n += 1
            return n

    def after_commit(self, found_by: str) -> Callable[[list[str]], None]:
        """A listener for RegistrationService and ManifestService: runs after their
        transaction committed; a failure here never undoes a registration."""

        def listener(person_ids: list[str]) -> None:
            # The persons are in the outbox (written with them): check what it holds.
            try:
                self.drain_outbox()
            except Exception:  # the registration stands; the outbox keeps the persons
                log.exception("tracing check failed for %d persons", len(person_ids))

        return listener

    # -- officers' decisions ----------------------------------------------------------

    @central_only
    def confirm_match(
        self, match_id: str, data: MatchDecisionIn, who: Caller, *, audit: AuditHook
    ) -> dict[str, Any]:
        """The officer verified the candidate: the case is verified, other candidates
        of the case are set aside."""
        now = self.clock()
        with self.db.transaction() as conn:
            m, case = self._proposed(conn, match_id)
            _move(case, CaseState.VERIFIED)
            by = who.principal.user_id
            conn.execute(
                update(tracing_matches)
                .where(tracing_matches.c.id == match_id)
                .values(status="confirmed", reason=data.reason, decided_by=by, decided_at=now)
            )
            conn.execute(
                update(tracing_matches)
                .where(
                    tracing_matches.c.case_id == case["id"],
                    tracing_matches.c.status == "proposed",
                    offered_or_decided(),  # one no longer offered stays out of sight
                )
                .values(
                    status="rejected",
                    reason=SET_ASIDE,
                    decided_by=by,
                    decided_at=now,
                )
            )
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id == case["id"])
                .values(state=CaseState.VERIFIED, found_person_id=m["person_id"], updated_at=now)
            )
            role = acting_role(who, "tracing.write")
            self._event(
                conn,
                case["id"],
                "match_confirmed",
                case["state"],
                CaseState.VERIFIED,
                by,
                data.reason,
                match_id=match_id,
                role=role,
            )
            offered = self._offer_household(conn, case, m["person_id"], who)
            audit(conn, list(dict.fromkeys([m["person_id"], *offered])))
        return self.views.case(case["id"])

    @central_only
    def attach_candidate(
        self, case_id: str, data: CandidateIn, who: Caller, *, audit: AuditHook
    ) -> dict[str, Any]:
        """An officer attaches a person found by a search as a candidate for the case: the
        engine scores the pair and explains it as for the candidates it proposes itself;
        the match records who attached it. Only persons a tracing search reaches (the
        caller's scope for tracing, consented to tracing, not anonymised): anyone else
        is not found (404). Attaching a candidate already there changes nothing."""
        scope = purpose_scope(who, "tracing")  # a caller who may not search: 403
        with self.db.transaction() as conn:
            person_id = live_id(conn, data.person_id)  # a merged id: its survivor (issue 15)
            case = _case_for_update(conn, case_id)
            reachable = conn.execute(
                select(persons.c.id).where(
                    persons.c.id == person_id,
                    persons.c.consent_tracing.is_(True),
                    persons.c.anonymised_at.is_(None),
                    queries.person_scope(scope),
                )
            ).first()
            if reachable is None:
                raise NotFound("person", field="person_id")
            there = conn.execute(
                select(tracing_matches.c.status).where(
                    tracing_matches.c.case_id == case_id,
                    tracing_matches.c.person_id == person_id,
                )
            ).scalar()
            if there == "rejected":
                raise Conflict(N_("This person was already rejected for this case"), "person_id")
            if there is None:
                state = CaseState(case["state"])
                if state.value not in tm.SEARCHING:
                    raise Conflict(
                        N_(
                            "A candidate is attached only while the case is searching "
                            "(the case is {state})",
                            state=state_text(state),
                        ),
                        "case_id",
                    )
                sought = self._sought_records(conn, [case])[case_id]
                records = tm.candidate_records(conn, [person_id], self.vault)
                matcher = tm.matcher_for(conn, self.search, [sought, *records.values()])
                match = matcher.score(sought, records[person_id])
                seal = self.vault.sealer_in(conn, TRACING_KEY) if self.vault.cipher else None
                self._propose(
                    conn,
                    case_id,
                    state,
                    match,
                    "search",
                    seal,
                    by=who.principal.user_id,
                    role=acting_role(who, "tracing.write"),
                    note=data.reason,
                )
            audit(conn, [person_id])
        return self.views.case(case_id)

    @central_only
    def reject_match(
        self, match_id: str, data: MatchDecisionIn, who: Caller, *, audit: AuditHook
    ) -> dict[str, Any]:
        """Not the person sought; when no candidate is left the case is open again."""
        now = self.clock()
        with self.db.transaction() as conn:
            m, case = self._proposed(conn, match_id)
            by = who.principal.user_id
            conn.execute(
                update(tracing_matches)
                .where(tracing_matches.c.id == match_id)
                .values(status="rejected", reason=data.reason, decided_by=by, decided_at=now)
            )
            left = conn.execute(
                select(tracing_matches.c.id).where(
                    tracing_matches.c.case_id == case["id"],
                    tracing_matches.c.status == "proposed",
                    offered_or_decided(),  # a candidate still offered
                )
            ).first()
            target = CaseState(case["state"])
            if left is None and target is CaseState.POSSIBLE_MATCH:
                target = CaseState.OPEN
                _move(case, target)
                conn.execute(
                    update(tracing_cases)
                    .where(tracing_cases.c.id == case["id"])
                    .values(state=target, updated_at=now)
                )
            self._event(
                conn,
                case["id"],
                "match_rejected",
                case["state"],
                target,
                by,
                data.reason,
                match_id=match_id,
                role=acting_role(who, "tracing.write"),
            )
            audit(conn, [m["person_id"]])
        return self.views.case(case["id"])

    @central_only
    def decide_disclosure(
        self, case_id: str, data: DisclosureIn, who: Caller, *, audit: AuditHook
    ) -> dict[str, Any]:
        """Record whether the enquirer may learn where the found person is: the found
        adult's own answer (recorded by a tracing officer), or for a child the protection
        officer's decision. The case moves to found_person_consulted. Once the found
        person withdrew their consent to tracing (or was erased), "agreed" is refused
        (``ConsentWithdrawn``), nothing written: they may consent again first."""
        now = self.clock()
        with self.db.transaction() as conn:
            case = _case_for_update(conn, case_id)
            found = case["found_person_id"]
            if data.decision == Disclosure.AGREED and found and withdrew_tracing(conn, [found]):
                raise ConsentWithdrawn(found, N_("agreed"), "decision")
            if case["state"] != CaseState.VERIFIED:
                raise Conflict(
                    N_(
                        "Disclosure is decided once a match is verified (the case is {state})",
                        state=state_text(CaseState(case["state"])),
                    ),
                    "decision",
                )
            if deceased(conn, [case["found_person_id"]]):
                raise Conflict(DEAD_CANNOT_AGREE, "decision")
            child, decider = _decider(conn, case["found_person_id"], now, who)
            _move(case, CaseState.FOUND_PERSON_CONSULTED)
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id == case_id)
                .values(
                    state=CaseState.FOUND_PERSON_CONSULTED,
                    disclosure=data.decision,
                    updated_at=now,
                )
            )
            self._event(
                conn,
                case_id,
                "disclosure",
                case["state"],
                CaseState.FOUND_PERSON_CONSULTED,
                who.principal.user_id,
                data.reason,
                role=decider,
                disclosure=data.decision,
                child=child,
            )
            audit(conn, [case["found_person_id"]])
        return self.views.case(case_id)

    def refuse_other_decider(self, case_id: str, who: Caller) -> None:
        """Raise ``Forbidden`` where the case awaits a disclosure decision that is not
        ``who``'s role's to make (an adult's is a tracing officer's, a child's a
        protection officer's), whatever a form of it holds: a page asks this before it
        reads the form, so that a role not offered the form is told so, never the form's
        problems on a page without it. Nothing is written."""
        with self.db.read() as conn:
            case = conn.execute(
                select(tracing_cases.c.state, tracing_cases.c.found_person_id).where(
                    tracing_cases.c.id == case_id
                )
            ).one_or_none()
            if case is None or case.state != CaseState.VERIFIED or not case.found_person_id:
                return
            if deceased(conn, [case.found_person_id]):
                return
            _decider(conn, case.found_person_id, self.clock(), who)

    @central_only
    def transition(
        self, case_id: str, data: TransitionIn, who: Caller, *, audit: AuditHook
    ) -> dict[str, Any]:
        """family_informed, reunited, or closed with a reason. Once the found person
        withdrew their consent to tracing (or was erased), family_informed and reunited
        are refused (``ConsentWithdrawn``), nothing written; closing stays open."""
        now = self.clock()
        target = CaseState(data.to)
        if target is CaseState.CLOSED and data.close_reason is None:
            require([Problem("close_reason", N_("is required to close a case"))])
        if target is not CaseState.CLOSED and data.close_reason is not None:
            require([Problem("close_reason", N_("is given only when closing a case"))])
        with self.db.transaction() as conn:
            case = _case_for_update(conn, case_id)
            disclosure = Disclosure(case["disclosure"]) if case["disclosure"] else None
            _move(case, target, disclosure)
            found = case["found_person_id"]
            if target is CaseState.REUNITED and deceased(conn, [found]):
                raise Conflict(DEAD_CANNOT_AGREE, "state")
            if target in TELLS_FAMILY and found and withdrew_tracing(conn, [found]):
                # Informing the family of someone who withdrew would disclose them.
                raise ConsentWithdrawn(found, state_text(target))
            if data.close_reason is not None:
                try:
                    check_close(data.close_reason, case["created_at"].date(), now.date())
                except InvalidTransition as e:
                    raise Conflict(e.message, "close_reason") from e
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id == case_id)
                .values(state=target, close_reason=data.close_reason, updated_at=now)
            )
            reason = data.reason
            if data.close_reason is not None:
                reason = f"{data.close_reason}: {reason}" if reason else str(data.close_reason)
            self._event(
                conn,
                case_id,
                "transition",
                case["state"],
                target,
                who.principal.user_id,
                reason,
                role=acting_role(who, "tracing.write"),
            )
            audit(conn, [case["found_person_id"]] if case["found_person_id"] else [])
        return self.views.case(case_id)

    # -- helpers ----------------------------------------------------------------------

    def _sought_records(self, conn: Connection, rows: Sequence[Any]) -> dict[str, PersonRecord]:
        """Cases' sought persons as the engine sees them, each with the enquirer's name
        (opened from its seal where it can be)."""
        asking = conn.execute(
            select(
                tracing_enquiries.c.id,
                tracing_enquiries.c.sealed,
                tracing_enquiries.c.anonymised_at,
            ).where(tracing_enquiries.c.id.in_({r["enquiry_id"] for r in rows}))
        ).mappings()
        names = {
            eid: e["name"] or None
            for eid, e in enquirer.open_rows(self.vault, conn, asking).items()
        }
        fellows = tm.fellow_names(
            conn.execute(
                select(
                    tracing_cases.c.id,
                    tracing_cases.c.enquiry_id,
                    tracing_cases.c.given_name,
                    tracing_cases.c.full_name,
                    tracing_cases.c.name_original_script,
                ).where(tracing_cases.c.enquiry_id.in_({r["enquiry_id"] for r in rows}))
            ).mappings()
        )
        return {
            r["id"]: tm.sought_record(r, names.get(r["enquiry_id"]), fellows.get(r["id"], ()))
            for r in rows
        }

    def _offer_household(
        self, conn: Connection, case: Any, confirmed_id: str, who: Caller
    ) -> list[str]:
        """Once ``confirmed_id`` is confirmed for ``case``, the members of their household
        a tracing search reaches (the caller's scope for tracing, consented to tracing)
        are proposed for the other persons the same enquiry still seeks, each scored and
        explained by the engine and marked with the household they were offered from.
        A member whose known sex or birth year rules them out is not offered
        (``household_fits``); one the engine proposed already is marked with the
        household. Returns the persons proposed or marked. Nothing changes for the
        enquirer: those cases stay "searching" until an officer confirms and the found
        person is consulted."""
        household = conn.execute(
            select(persons.c.household_id).where(persons.c.id == confirmed_id)
        ).scalar()
        if household is None:
            return []
        others = list(
            conn.execute(
                select(tracing_cases)
                .where(
                    tracing_cases.c.enquiry_id == case["enquiry_id"],
                    tracing_cases.c.id != case["id"],
                    tracing_cases.c.state.in_(tm.SEARCHING),
                )
                .order_by(tracing_cases.c.id)
                .with_for_update()
            ).mappings()
        )
        if not others:
            return []
        try:
            scope = purpose_scope(who, "tracing")
        except Forbidden:  # a caller (token) that may not search offers nobody
            return []
        members = conn.execute(
            select(persons.c.id)
            .where(
                persons.c.household_id == household,
                persons.c.id != confirmed_id,
                persons.c.anonymised_at.is_(None),
                queries.person_scope(scope),
            )
            .order_by(persons.c.id)
        ).scalars()
        records = tm.candidate_records(conn, list(members), self.vault)  # consented only
        if not records:
            return []
        sought = self._sought_records(conn, others)
        matcher = tm.matcher_for(conn, self.search, [*sought.values(), *records.values()])
        already = {
            (str(m.case_id), str(m.person_id)): m
            for m in conn.execute(
                select(
                    tracing_matches.c.id,
                    tracing_matches.c.case_id,
                    tracing_matches.c.person_id,
                    tracing_matches.c.status,
                    tracing_matches.c.household_of,
                ).where(tracing_matches.c.case_id.in_([r["id"] for r in others]))
            )
        }
        offered: list[str] = []
        # A member the engine proposed already is marked with the household, not doubled.
        for (_, pid), m in already.items():
            if pid in records and m.status == "proposed" and m.household_of is None:
                conn.execute(
                    update(tracing_matches)
                    .where(tracing_matches.c.id == m.id)
                    .values(household_of=confirmed_id)
                )
                offered.append(pid)
        seal = self.vault.sealer_in(conn, TRACING_KEY) if self.vault.cipher else None
        # Each member is scored for every sought person they may be, and offered for the
        # ones they fit best (twins with their own names are not offered crossed).
        scores: dict[str, dict[str, Match]] = {}
        for row in others:
            s = sought[row["id"]]
            scores[row["id"]] = {
                r.record_id: matcher.score(s, r)
                for r in records.values()
                if household_fits(s.sex, s.birth_year, s.birth_year_tolerance, r.sex, r.birth_year)
            }
        best = {
            pid: max(ms[pid].weight for ms in scores.values() if pid in ms)
            for pid in {p for ms in scores.values() for p in ms}
        }
        for row in others:
            scored = sorted(
                (
                    m
                    for pid, m in scores[row["id"]].items()
                    if (row["id"], pid) not in already
                    and m.weight >= best[pid] - tm.HOUSEHOLD_MARGIN
                ),
                key=lambda m: (-m.weight, m.record_id),
            )
            state = CaseState(row["state"])
            for match in scored[: tm.MAX_PROPOSED]:
                self._propose(
                    conn, row["id"], state, match, "household", seal, household_of=confirmed_id
                )
                state = CaseState.POSSIBLE_MATCH
                offered.append(match.record_id)
        return list(dict.fromkeys(offered))

    def _proposed(self, conn: Connection, match_id: str) -> tuple[Any, Any]:
        # A match the views do not show (its person withdrew their consent to tracing
        # or was merged into another while it was proposed) is no match to decide: not found.
        m = (
            conn.execute(
                select(tracing_matches).where(
                    tracing_matches.c.id == match_id, offered_or_decided()
                )
            )
            .mappings()
            .first()
        )
        if m is None:
            raise NotFound("match")
        case = _case_for_update(conn, m["case_id"])
        # Read the match again behind its case's lock: an officer deciding it at the same
        # moment has committed by now, and this one then sees it decided (409).
        m = (
            conn.execute(select(tracing_matches).where(tracing_matches.c.id == match_id))
            .mappings()
            .one()
        )
        if m["status"] != "proposed":
            already = {
                "confirmed": N_("This match was already confirmed"),
                "rejected": N_("This match was already rejected"),
            }
            raise Conflict(
                already.get(m["status"]) or f"This match was already {m['status']}", "match_id"
            )
        return m, case

    def _propose(
        self,
        conn: Connection,
        case_id: str,
        state: CaseState,
        match: Match,
        found_by: str,
        seal: Callable[[str, str], str] | None,
        *,
        by: str = SYSTEM,
        role: str | None = None,
        note: str | None = None,
        household_of: str | None = None,
    ) -> str:
        """Store ``match`` as a proposed candidate of the case (an open case now has a
        possible match) and log it: by the engine (``SYSTEM``), or by the officer ``by``
        who attached the person, with their ``note``."""
        now = self.clock()
        match_id = uuid7()
        conn.execute(
            insert(tracing_matches).values(
                id=match_id,
                case_id=case_id,
                person_id=match.record_id,
                probability=round(match.probability, 4),
                weight=round(match.weight, 2),
                explanation=tm.explanation_json(match, seal),
                found_by=found_by,
                status="proposed",
                created_at=now,
                proposed_by=None if by == SYSTEM else by,
                household_of=household_of,
            )
        )
        target = state
        if state is CaseState.OPEN:
            target = CaseState.POSSIBLE_MATCH
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id == case_id)
                .values(state=target, updated_at=now)
            )
        self._event(
            conn,
            case_id,
            "match_proposed",
            state,
            target,
            by,
            note or found_on(found_by),
            match_id=match_id,
            role=role,
        )
        return match_id

    def _event(
        self,
        conn: Connection,
        case_id: str,
        kind: str,
        from_state: str | None,
        to_state: str | None,
        by: str | None,
        reason: str | None,
        *,
        match_id: str | None = None,
        role: str | None = None,
        disclosure: str | None = None,
        child: bool | None = None,
    ) -> None:
        conn.execute(
            insert(tracing_case_events).values(
                case_id=case_id,
                kind=kind,
                from_state=from_state,
                to_state=to_state,
                match_id=match_id,
                disclosure=disclosure,
                by_child_rule=child,
                reason=reason,
                recorded_by=by,
                recorded_role=role,
                recorded_at=self.clock(),
            )
        )


def _move(case: Any, target: CaseState, disclosure: Disclosure | None = None) -> None:
    try:
        check_transition(CaseState(case["state"]), target, disclosure)
    except InvalidTransition as e:
        raise Conflict(e.message, "state") from e


def _decider(conn: Connection, found: str, now: datetime, who: Caller) -> tuple[bool, str]:
    """Whether the found person is a child, and the role that decides their disclosure;
    ``Forbidden`` where ``who`` holds it not."""
    person = conn.execute(
        select(persons.c.birth_date, persons.c.birth_precision, persons.c.uasc).where(
            persons.c.id == found
        )
    ).one()
    child = is_child(age_on(person.birth_date, person.birth_precision, now.date()), person.uasc)
    decider = disclosure_decider(child)
    if decider not in who.principal.roles:
        # The role in words, translated with the sentence (not its code).
        role = ROLE_WORDS[decider]
        raise Forbidden(
            N_("For a child, disclosure is decided by a {role}", role=role)
            if child
            else N_("For an adult, disclosure is decided by a {role}", role=role)
        )
    return child, str(decider)


def _case_for_update(conn: Connection, case_id: str) -> Any:
    case = (
        conn.execute(select(tracing_cases).where(tracing_cases.c.id == case_id).with_for_update())
        .mappings()
        .first()
    )
    if case is None:
        raise NotFound("case")
    return case


def _case_row(
    enquiry_id: str, s: SoughtPersonIn, relationship: str, now: datetime
) -> dict[str, Any]:
    birth_year, tolerance = s.birth_year, 0
    if birth_year is None and s.age is not None:
        birth_year, tolerance = now.year - s.age, 2
    return {
        "id": uuid7(),
        "enquiry_id": enquiry_id,
        "state": CaseState.OPEN,
        "enquirer_is": s.enquirer_is or relationship,
        "full_name": s.full_name,
        "given_name": s.given_name,
        "father_name": s.father_name,
        "grandfather_name": s.grandfather_name,
        "family_name": s.family_name,
        "name_original_script": s.name_original_script,
        "alternate_names": list(s.alternate_names),
        "sex": s.sex,
        "birth_year": birth_year,
        "birth_year_tolerance": tolerance,
        "nationality": s.nationality.upper() if s.nationality else None,
        "place_of_origin": s.place_of_origin,
        "mother_name": s.mother_name,
        "relatives_names": list(s.relatives_names),
        "last_seen_place": s.last_seen_place,
        "last_seen_date": s.last_seen_date,
        "created_at": now,
        "updated_at": now,
    }


def _enquiry_problems(data: EnquiryIn, now: datetime) -> list[Problem]:
    """Every problem of the enquiry at once."""
    problems = []
    for i, s in enumerate(data.sought):
        at = f"sought[{i}]"
        names = (s.full_name, s.given_name, s.family_name, s.name_original_script)
        for listed in ("alternate_names", "relatives_names"):
            for j, name in enumerate(getattr(s, listed)):
                if not name:  # blank (spaces are stripped): no name to match or show
                    problems.append(Problem(f"{at}.{listed}[{j}]", N_("must not be empty")))
        if not any(names) and not any(s.alternate_names):
            problems.append(
                Problem(f"{at}.full_name", N_("give at least one name (in any script)"))
            )
        if s.birth_year is not None and s.birth_year > now.year:
            problems.append(
                Problem(f"{at}.birth_year", N_("is in the future (after {year})", year=now.year))
            )
        if s.last_seen_date is not None and s.last_seen_date > now.date():
            problems.append(
                Problem(
                    f"{at}.last_seen_date",
                    N_(
                        "is in the future ({date} after {today})",
                        date=s.last_seen_date,
                        today=now.date(),
                    ),
                )
            )
    return problems
