"""Retention of tracing data (``retention.py`` runs it): which ended enquiries are past
their period, and anonymising them. An enquiry is anonymised with all its cases once
every case ended (reunited or closed) and each is past the period of its outcome,
counted from when it ended (the case log says when)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from corridor.domain.tracing import ERASED
from corridor.storage.tracing_tables import (
    tracing_case_events,
    tracing_case_keys,
    tracing_cases,
    tracing_enquiries,
    tracing_matches,
)

# The states a tracing case ends in, and the retention category of each.
CASE_ENDED = {"reunited": "tracing_reunited", "closed": "tracing_closed"}
TRACING = tuple(CASE_ENDED.values())
# Enquiries anonymised per statement (keeps every IN list short).
CHUNK = 500
SYSTEM = "system"  # who set aside a candidate whose record was erased (cases.SYSTEM)


def ended_enquiries(
    conn: Connection, now: datetime, periods: Mapping[str, timedelta], hold: bool
) -> dict[str, list[str]]:
    """Tracing category -> the enquiries (on hold or not, not yet anonymised) whose every
    case ended and is past the period of its outcome. An enquiry counts under the
    category whose period ends last."""
    ended = (
        select(
            tracing_case_events.c.case_id, func.max(tracing_case_events.c.recorded_at).label("at")
        )
        .where(tracing_case_events.c.to_state.in_(list(CASE_ENDED)))
        .group_by(tracing_case_events.c.case_id)
        .subquery()
    )
    other = tracing_cases.alias("other_case")
    still_open = (
        select(other.c.id)
        .where(
            other.c.enquiry_id == tracing_enquiries.c.id,
            other.c.state.not_in(list(CASE_ENDED)),
        )
        .exists()
    )
    rows = conn.execute(
        select(
            tracing_cases.c.enquiry_id, tracing_cases.c.state, ended.c.at,
            tracing_cases.c.updated_at,
        )
        .join(tracing_enquiries, tracing_enquiries.c.id == tracing_cases.c.enquiry_id)
        .outerjoin(ended, ended.c.case_id == tracing_cases.c.id)
        .where(
            tracing_enquiries.c.anonymised_at.is_(None),
            tracing_enquiries.c.legal_hold.is_(hold),
            ~still_open,
        )
    )  # fmt: skip
    last: dict[str, tuple[datetime, int, str]] = {}
    for enquiry_id, state, ended_at, updated_at in rows:
        category = CASE_ENDED[state]
        period = periods[category]
        # The case log says when the case ended; updated_at only if it has no such row.
        due = ((ended_at or updated_at) + period, period.days, category)
        last[enquiry_id] = max(due, last.get(enquiry_id, due))
    out: dict[str, list[str]] = {c: [] for c in TRACING}
    for enquiry_id, (due_at, _, category_name) in sorted(last.items()):
        if due_at < now:
            out[category_name].append(enquiry_id)
    return out


def anonymise_enquiries(conn: Connection, ids: list[str], now: datetime) -> None:
    """Remove the personal fields of these enquiries and of their cases. The enquirer's
    sealed details (name, contact, location, note) go whole: an anonymised enquiry shows
    them as empty text (``tracing_enquirer.anonymised``)."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        cases = select(tracing_cases.c.id).where(tracing_cases.c.enquiry_id.in_(chunk))
        conn.execute(delete(tracing_case_keys).where(tracing_case_keys.c.case_id.in_(cases)))
        conn.execute(
            update(tracing_matches).where(tracing_matches.c.case_id.in_(cases)).values(reason=None)
        )
        forget_explanations(conn, tracing_matches.c.case_id.in_(cases))
        conn.execute(
            update(tracing_case_events)
            .where(
                tracing_case_events.c.case_id.in_(cases),
                tracing_case_events.c.reason.is_not(None),
            )
            .values(reason=None)
        )
        conn.execute(
            update(tracing_cases)
            .where(tracing_cases.c.enquiry_id.in_(chunk))
            .values(
                full_name=None,
                given_name=None,
                father_name=None,
                grandfather_name=None,
                family_name=None,
                name_original_script=None,
                alternate_names=[],
                mother_name=None,
                relatives_names=[],
                place_of_origin=None,
                last_seen_place=None,
                last_seen_date=None,
            )
        )
        conn.execute(
            update(tracing_enquiries)
            .where(tracing_enquiries.c.id.in_(chunk))
            .values(
                sealed=None,  # the enquirer's name, contact, location and the note
                created_by=None,
                anonymised_at=now,
            )
        )


def forget_notes(conn: Connection, person_ids: list[str]) -> None:
    """Blank the officers' notes about these persons, being anonymised: the reasons given
    deciding their matches, and the case log's reasons of those decisions and of the
    cases that found them (a found person's answer on disclosure). Who decided, when and
    between which states stay."""
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        theirs = select(tracing_matches.c.id).where(tracing_matches.c.person_id.in_(chunk))
        found = select(tracing_cases.c.id).where(tracing_cases.c.found_person_id.in_(chunk))
        # The cases' row locks first, as a case's decisions take them: a decision made at
        # the same moment commits before the notes are blanked, and its reason is blanked
        # with them (not left behind, naming an erased person: tests/api/test_races_every_pair.py).
        lock_cases(
            conn,
            select(tracing_matches.c.case_id)
            .where(tracing_matches.c.person_id.in_(chunk))
            .union(found),
        )
        conn.execute(
            update(tracing_case_events)
            .where(
                or_(
                    tracing_case_events.c.match_id.in_(theirs),
                    tracing_case_events.c.case_id.in_(found),
                ),
                tracing_case_events.c.reason.is_not(None),
            )
            .values(reason=None)
        )
        conn.execute(
            update(tracing_matches)
            .where(tracing_matches.c.person_id.in_(chunk), tracing_matches.c.reason.is_not(None))
            .values(reason=None)
        )


def lock_cases(conn: Connection, cases: Select[Any] | CompoundSelect[Any]) -> None:
    """Take the row locks (``FOR UPDATE`` on PostgreSQL, in id order; SQLite's one writer
    holds them already) of the cases ``cases`` selects (a select of case ids)."""
    conn.execute(
        select(tracing_cases.c.id)
        .where(tracing_cases.c.id.in_(cases))
        .order_by(tracing_cases.c.id)
        .with_for_update()
    ).all()


def set_aside_proposed(
    conn: Connection, person_ids: list[str], now: datetime, reason: str = ERASED
) -> None:
    """The candidates still proposed who are these persons, being anonymised, are set
    aside (rejected, "the candidate's record was erased", by the system) and logged; a
    case left without a candidate is open again. An erased person is found by nobody:
    no case keeps offering them, nor can an officer confirm them. ``reason``: why
    (``WITHDREW``: they withdrew their consent to tracing)."""
    for start in range(0, len(person_ids), CHUNK):
        chunk = person_ids[start : start + CHUNK]
        # The cases' row locks first (in id order), then the matches read again behind
        # them, as a case's decisions do: a confirmation or a rejection made at the same
        # moment is seen and kept, not overwritten as "erased" under a case verified
        # (tests/api/test_races_every_pair.py).
        lock_cases(
            conn,
            select(tracing_matches.c.case_id).where(
                tracing_matches.c.person_id.in_(chunk), tracing_matches.c.status == "proposed"
            ),
        )
        proposed = conn.execute(
            select(tracing_matches.c.id, tracing_matches.c.case_id)
            .where(tracing_matches.c.person_id.in_(chunk), tracing_matches.c.status == "proposed")
            .order_by(tracing_matches.c.case_id, tracing_matches.c.id)
        ).all()
        if not proposed:
            continue
        conn.execute(
            update(tracing_matches)
            .where(tracing_matches.c.id.in_([m.id for m in proposed]))
            .values(status="rejected", reason=reason, decided_by=SYSTEM, decided_at=now)
        )
        cases = sorted({m.case_id for m in proposed})
        states = dict(
            conn.execute(
                select(tracing_cases.c.id, tracing_cases.c.state).where(
                    tracing_cases.c.id.in_(cases)
                )
            ).all()
        )
        still = set(
            conn.execute(
                select(tracing_matches.c.case_id).where(
                    tracing_matches.c.case_id.in_(cases), tracing_matches.c.status == "proposed"
                )
            ).scalars()
        )
        reopened = [c for c in cases if states[c] == "possible_match" and c not in still]
        if reopened:
            conn.execute(
                update(tracing_cases)
                .where(tracing_cases.c.id.in_(reopened))
                .values(state="open", updated_at=now)
            )
        conn.execute(
            insert(tracing_case_events),
            [
                {
                    "case_id": m.case_id,
                    "kind": "match_rejected",
                    "from_state": states[m.case_id],
                    "to_state": "open" if m.case_id in reopened else states[m.case_id],
                    "match_id": m.id,
                    "reason": reason,
                    "recorded_by": SYSTEM,
                    "recorded_at": now,
                }
                for m in proposed
            ],
        )


def forget_explanations(conn: Connection, which: ColumnElement[bool]) -> None:
    """Blank the texts of the explanations of these tracing matches: they quote the
    names of both sides, in the English text and in the message's parameters, sealed
    (``sealed``) or, before migration 0013, in the clear. Each field's level and weight
    stay."""
    rows = conn.execute(select(tracing_matches.c.id, tracing_matches.c.explanation).where(which))
    for match_id, explanation in rows.all():
        if any(e.get(k) for e in explanation for k in _EXPLANATION_TEXTS):
            blank = [
                {**{k: v for k, v in e.items() if k not in _EXPLANATION_TEXTS}, "text": ""}
                for e in explanation
            ]
            conn.execute(
                update(tracing_matches)
                .where(tracing_matches.c.id == match_id)
                .values(explanation=blank)
            )


_EXPLANATION_TEXTS = ("text", "message", "sealed")
