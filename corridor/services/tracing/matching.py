"""Proposing registered persons for tracing cases: the engine's records and the keys.

Two ways in. An enquiry's sought persons are searched in the matching index like any
tracing search (``PersonSearchService.candidates``). A newly registered or arrived person
is scored only against the open cases sharing a blocking key with them
(``tracing_case_keys``), never against the whole registry: registration stays fast.

Household links feed matching: a registered person's record carries the names of the
relatives linked to them, and a sought person's record carries the enquirer's name as
their mother's name (the enquirer is the mother) or as a relative's name (any other
relative), so the engine's "mother's name" and "relatives" comparisons count them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from corridor.domain.tracing import CaseState
from corridor.matching import Match, Matcher, PersonRecord, blocking_keys
from corridor.services.protection.field_vault import FieldVault
from corridor.services.search.match_index import (
    documents_of,
    stored_records,
    with_relatives,
)
from corridor.services.search.person_search import PersonSearchService
from corridor.storage.tables import POPULATION_KEY, match_key_counts, persons
from corridor.storage.tracing_tables import tracing_case_keys, tracing_cases
from corridor.text import Text

# A candidate is proposed to the officer from the model's ``calibration.propose_at`` up
# (chosen from measured precision, docs/matching.md), at most this many per case and per
# run. Officers decide; a missed relative costs more than a rejected match.
MAX_PROPOSED = 5
# Cases still looking for someone: a new registration is checked against these only.
SEARCHING = (CaseState.OPEN.value, CaseState.POSSIBLE_MATCH.value)
_NOT_RELATIVES = {"friend", "other"}
# Once a sought person is confirmed, a member of their household is offered for each other
# person the enquiry seeks whom they fit within this many bits of the best (twins with
# names of their own go each to their own case; two unnamed children to both).
HOUSEHOLD_MARGIN = 2.0
# A registration is scored against a case only if they share this many keys (two names).
MIN_SHARED_KEYS = 2
# The field name bound into the sealed texts of a stored explanation (tracing key).
EXPLANATION_FIELD = "match_explanation"


def sought_record(
    case: Mapping[str, Any] | Any, enquirer_name: str | None, fellows: Iterable[str] = ()
) -> PersonRecord:
    """A case's sought person as the engine sees them, the enquirer's name included
    (where it can be read: ``None`` once the tracing key is destroyed). ``fellows``: the
    names of the other persons the same enquiry seeks (``fellow_names``), their relatives
    too: a candidate whose household holds them is the more likely, and a candidate who
    bears one of their names is more likely that other person."""
    relation = case["enquirer_is"]
    mother = case["mother_name"]
    relatives = [*(case["relatives_names"] or ()), *fellows]
    if relation == "mother":
        mother = mother or enquirer_name
    elif relation not in _NOT_RELATIVES and enquirer_name:
        relatives.append(enquirer_name)
    return PersonRecord(
        record_id=case["id"],
        given_name=case["given_name"],
        father_name=case["father_name"],
        grandfather_name=case["grandfather_name"],
        family_name=case["family_name"],
        full_name=case["full_name"],
        name_original_script=case["name_original_script"],
        alternate_names=tuple(case["alternate_names"] or ()),
        sex=case["sex"],
        birth_year=case["birth_year"],
        birth_year_tolerance=case["birth_year_tolerance"],
        nationality=case["nationality"],
        place_of_origin=case["place_of_origin"],
        mother_name=mother,
        relatives_names=tuple(relatives),
    )


def fellow_names(cases: Iterable[Mapping[str, Any] | Any]) -> dict[str, list[str]]:
    """case id -> the names of the other persons sought by the same enquiry (given
    name where one was written, else the full name or the name in Arabic script)."""
    by_enquiry: dict[str, list[tuple[str, str]]] = {}
    for c in cases:
        name = c["given_name"] or c["full_name"] or c["name_original_script"]
        by_enquiry.setdefault(c["enquiry_id"], []).append((c["id"], name or ""))
    return {
        cid: [n for other, n in sought if other != cid and n]
        for sought in by_enquiry.values()
        for cid, _ in sought
    }


def _name_keys(record: PersonRecord) -> set[str]:
    return {k for k in blocking_keys(record) if k.startswith(("n:", "ph:", "id:"))}


def _mother_keys(name: str | None) -> set[str]:
    if not name:
        return set()
    return {"m" + k for k in _name_keys(PersonRecord("m", full_name=name))}


def case_keys(sought: PersonRecord) -> set[str]:
    """The keys under which a case waits for a registration: its name keys and those
    of the mother's name."""
    return _name_keys(sought) | _mother_keys(sought.mother_name)


def person_keys(person: PersonRecord) -> set[str]:
    """The keys a newly registered person is looked up with (see ``case_keys``)."""
    return _name_keys(person) | _mother_keys(person.mother_name)


def candidate_records(
    conn: Connection, person_ids: Iterable[str], vault: FieldVault | None = None
) -> dict[str, PersonRecord]:
    """Registered persons (who consented to tracing) as the engine sees them, with the
    names of the relatives linked to them."""
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return {}
    rows = {
        r["id"]: r
        for r in conn.execute(
            select(persons).where(persons.c.id.in_(ids), persons.c.consent_tracing.is_(True))
        ).mappings()
    }
    if not rows:
        return {}
    docs = documents_of(conn, list(rows))
    records = stored_records([rows[pid] for pid in ids if pid in rows], docs, vault)
    return {r.record_id: r for r in with_relatives(conn, records, tracing=True)}


def matcher_for(
    conn: Connection, search: PersonSearchService, records: list[PersonRecord]
) -> Matcher:
    """A Matcher weighing names by how common they are in this registry."""
    population = conn.execute(
        select(match_key_counts.c.n).where(match_key_counts.c.key == POPULATION_KEY)
    ).scalar()
    frequencies = search.frequencies(conn, records)
    return Matcher(search.model, frequencies, int(population or 0), search.variants)


def best_for_sought(
    conn: Connection, search: PersonSearchService, sought: PersonRecord
) -> list[tuple[Match, PersonRecord]]:
    """The registered persons worth proposing for one sought person, best first."""
    cands, _ = search.candidates(conn, sought, tracing=True)
    records = candidate_records(conn, cands)
    if not records:
        return []
    matcher = matcher_for(conn, search, [sought, *records.values()])
    ranked = matcher.rank(sought, records.values(), MAX_PROPOSED)
    at = search.model.calibration.propose_at
    return [(m, records[m.record_id]) for m in ranked if m.probability >= at]


def any_searching(conn: Connection) -> bool:
    """Whether any case is still searching (if none, a registration costs nothing)."""
    return (
        conn.execute(
            select(tracing_cases.c.id).where(tracing_cases.c.state.in_(SEARCHING)).limit(1)
        ).first()
        is not None
    )


def searching_cases_for(conn: Connection, people: Iterable[PersonRecord]) -> dict[str, set[str]]:
    """person id -> ids of the searching cases sharing a key with them: at least two keys
    (two names agreeing), or every key of a case that has fewer."""
    keys_of = {p.record_id: person_keys(p) for p in people}
    wanted = sorted({k for ks in keys_of.values() for k in ks})
    cases_of: dict[str, set[str]] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(tracing_case_keys.c.key, tracing_case_keys.c.case_id)
            .join(tracing_cases, tracing_cases.c.id == tracing_case_keys.c.case_id)
            .where(
                tracing_case_keys.c.key.in_(wanted[start : start + 500]),
                tracing_cases.c.state.in_(SEARCHING),
            )
        )
        for key, case_id in rows:
            cases_of.setdefault(key, set()).add(case_id)
    shared: dict[str, Counter[str]] = {}
    for pid, keys in keys_of.items():
        shared[pid] = Counter(c for k in keys for c in cases_of.get(k, ()))
    touched = sorted({c for counts in shared.values() for c in counts})
    sizes: dict[str, int] = {}
    for start in range(0, len(touched), 500):
        for case_id, n in conn.execute(
            select(tracing_case_keys.c.case_id, func.count())
            .where(tracing_case_keys.c.case_id.in_(touched[start : start + 500]))
            .group_by(tracing_case_keys.c.case_id)
        ):
            sizes[case_id] = int(n)
    out: dict[str, set[str]] = {}
    for pid, counts in shared.items():
        cases = {c for c, n in counts.items() if n >= min(MIN_SHARED_KEYS, sizes.get(c, 0))}
        if cases:
            out[pid] = cases
    return out


def explanation_json(match: Match, seal: Callable[[str, str], str] | None) -> list[dict[str, Any]]:
    """The explanation as stored: per field, the level and weight in the clear, and the
    English text with its message and parameters (so that the pages can show it in the
    reader's language) sealed under the tracing key by ``seal`` (``FieldVault.sealer_in``):
    the texts quote both sides' names, the enquirer's among them (as the sought person's
    mother's or relative's name). Without ``seal`` (no master key) the texts are left
    out."""
    out = []
    for e in match.explanation:
        item: dict[str, Any] = {"field": e.field, "level": e.level, "weight": round(e.weight, 2)}
        if seal is not None:
            message = e.text.as_data() if isinstance(e.text, Text) else None
            texts = json.dumps({"text": str(e.text), "message": message}, ensure_ascii=False)
            item["sealed"] = seal(EXPLANATION_FIELD, texts)
        out.append(item)
    return out


def stored_explanation(
    items: Any, open_sealed: Callable[[str], str | None] | None = None
) -> list[dict[str, Any]]:
    """A stored explanation as the API shows it (field, level, weight, text), its texts
    translatable again where their message was stored. A sealed text is opened with
    ``open_sealed``; it reads as empty text when it cannot be (the tracing key was
    destroyed). Texts stored in the clear (before migration 0013) read as they are."""
    out = []
    for e in items or ():
        english, message = str(e.get("text") or ""), e.get("message")
        if e.get("sealed"):
            opened = open_sealed(e["sealed"]) if open_sealed is not None else None
            texts = json.loads(opened) if opened is not None else {}
            english, message = str(texts.get("text") or ""), texts.get("message")
        out.append(
            {
                "field": Text(str(e["field"])),
                "level": e["level"],
                "weight": e["weight"],
                "text": Text.from_data(english, message),
            }
        )
    return out
