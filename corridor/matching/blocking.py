"""Blocking keys: short strings that find candidates without scanning the registry.

A storage layer keeps ``(person_id, key)`` rows in an indexed table, updated on
every write; a search computes the sought person's keys and fetches
``WHERE key IN (...)``. Keys:

``n:<skeleton>``
    one per name unit (any script), over a *coarse* consonant skeleton that
    also merges the classes spellings confuse most across scripts
    (d/dh/z/s/t/th and k/kh/q/g/j/sh/ch), so ضیا and Zia, ثاقب and Saqib share a key.
``s:<skeleton>``
    one per name unit over the exact skeleton: rarer, it lifts close spellings
    above merely similar ones when candidates are pre-ranked.
``t:<latin key>``
    one per name unit over its Latin spelling key (Arabic romanised): the
    rarest of all, it brings identical spellings first.
``p:<skeleton>|<skeleton>``
    one per pair of units of the same name (unordered): finds people whose
    names are all common (Mohammed Ali) without fetching every Mohammed.
``rn:``, ``id:``, ``ph:``
    registration number, document numbers, phone (last 9 digits).

``nat:<ISO3>``
    a stored record's nationality: a *count* key. Its count (persons of that
    nationality) weighs nationality agreement by rarity (``Matcher``); no search
    ever fetches it (``CandidatePolicy`` skips it and ``query=True`` does not
    emit it), so there is no search by nationality.

There is no key of nationality, birth year, sex or origin: a candidate comes only by a
name it shares with the query (any script or spelling) or by an identifier. Those other
fields weigh a candidate found that way (``Matcher``), never bring one in: walking the
birth years with a rare nationality and a name of nobody would list that nationality
(issue 11). Indexes built before this change may still hold ``nb:<ISO3>|<year>`` rows;
no search computes such a key and ``CandidatePolicy`` never fetches one.

A search also fetches the keys of a unit's *exact* readings (``keys.exact_readings``:
Hatice, Halit, Hıdır read with the Turkish h as kh are خديجة, خالد, الخضر), which a
stored record never holds: they are *weak* (``query_key_groups``), never pre-ranking a
candidate above those who share the name as written (``CandidatePolicy.choose_keys``).

Frequency cap: a ``n:`` key shared by more than a few hundred persons (or
about 1 % of the registry) says little; a search skips it and relies on the
pair keys, which stay selective. See ``CandidatePolicy`` for the reference policy.

>>> sorted(k for k in blocking_keys(PersonRecord("x", full_name="Zia-ur-Rahman Madani"))
...        if k.startswith(("n:", "p:")))
['n:DRHMN', 'n:MDN', 'p:DRHMN|MDN']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from corridor.matching.keys import UnitKeys, unit_keys, vouched_keys
from corridor.matching.latin_keys import load_latin_seen
from corridor.matching.normalise import NameUnit
from corridor.matching.records import PersonRecord

__all__ = [
    "blocking_key_groups",
    "blocking_keys",
    "query_key_groups",
    "coarse_skeleton",
    "frequency_keys",
    "nationality_key",
    "pair_keys",
    "unit_name_keys",
]

_COARSE = str.maketrans({"T": "D", "S": "D", "Z": "D", "X": "K", "J": "K", "W": "", "Y": ""})


def coarse_skeleton(skeleton: str) -> str:
    """Merge easily confused classes; drop the initial W/Y marks."""
    return skeleton.translate(_COARSE)


def frequency_keys(rec: PersonRecord) -> set[str]:
    """Name skeletons a person bears (count each once per person for name frequencies)."""
    return {unit_keys(u).skeleton for ch in rec.name_chains() for u in ch.units}


def nationality_key(nationality: str | None) -> str | None:
    """The count key of a nationality (``nat:SYR``), or None."""
    code = (nationality or "").strip().upper()
    return f"nat:{code}" if code else None


def unit_name_keys(k: UnitKeys) -> tuple[set[str], tuple[str, ...]]:
    """One name unit's ``n:`` keys (its coarse skeleton, those of its other readings:
    Dutch Joessef = Youssef, Chalil = Khalil, Somali Xasan = Hasan; and a compound's
    core alone in each reading: Naim in Naimullah, Kader in Abd el-Kader, Rashid in Abdul
    Rosyid), and the coarse skeletons its pair keys are built from (its own first).
    Coarse skeletons only, so name counts stay exact. The one definition that search,
    bench and the Splink columns (``linkage.features``) share."""
    c = coarse_skeleton(k.skeleton)
    names = {f"n:{c}"} if c else set()
    mine = [c] if c else []
    for r in k.readings:
        rc = coarse_skeleton(r.skeleton)
        if r.exact and len(c) >= 2:
            continue  # a name with consonants of its own is found by them (Sayed)
        # Yaya (no consonant but y) read as Yahya: H; and Jahja, whose j are the y of a
        # Dutch, German or Scandinavian writer: Yahya's H too.
        if rc:
            names.add(f"n:{rc}")
            if rc not in mine:
                mine.append(rc)
    for rc in _vouched_skeletons(k.unit):
        names.add(f"n:{rc}")
        if rc not in mine:
            mine.append(rc)
    parts = k.unit.parts
    if len(parts) > 1:
        core = parts[-1] if parts[0] in ("abd", "abu", "allah", "عبد", "ابو") else parts[0]
        core_keys = unit_keys(NameUnit((core,), k.script))
        for sk in (core_keys.skeleton, *(r.skeleton for r in core_keys.readings)):
            if len(sk) >= 2:
                names.add(f"n:{coarse_skeleton(sk)}")
    return names, tuple(mine)


@lru_cache(maxsize=100_000)
def _vouched_skeletons(unit: NameUnit) -> tuple[str, ...]:
    """The coarse skeletons of a Latin unit's readings that the name data vouch for
    (``keys.vouched``, as ``compare.UnitComparator`` accepts them), where they differ from
    its own: Sholeh is found as Saleh, Yusup as Yusuf, Lhoussine as Houssine."""
    if unit.script != "la":
        return ()
    seen = load_latin_seen()
    own = coarse_skeleton(unit_keys(unit).skeleton)
    out: list[str] = []
    for r in vouched_keys(unit, lambda key: seen.get(key, 0)):
        # The reading's own readings too: Sholeh read Saleh is also Saleh with its h the
        # consonant ح (صالح's key).
        for sk in (r.skeleton, *(x.skeleton for x in r.readings if not x.exact)):
            rc = coarse_skeleton(sk)
            if len(rc) >= 2 and rc != own and rc not in out:
                out.append(rc)
    return tuple(out)


def exact_reading_skeletons(k: UnitKeys) -> tuple[str, ...]:
    """The coarse skeletons of a unit's exact readings that ``unit_name_keys`` leaves
    out (a name with consonants of its own), where the reading asks a letter of the
    other name (``Reading.begins``, ``Reading.holds``: Hatice read Khadice, Halit read
    Khalid, Jalil read Khalil, Nadja read Nadya) and its skeleton differs, so that the
    name as written shares no key with the name it spells. A search fetches them as weak
    keys; a record never stores them, so the readings' common keys (Khalid's) never fill
    with persons written otherwise (Halit, Hasan)."""
    c = coarse_skeleton(k.skeleton)
    if len(c) < 2:
        return ()  # unit_name_keys keys every reading of such a name already
    out: list[str] = []
    for r in k.readings:
        rc = coarse_skeleton(r.skeleton)
        asks = r.begins is not None or r.holds is not None
        if r.exact and asks and len(rc) >= 2 and rc != c and rc not in out:
            out.append(rc)
    return tuple(out)


def pair_keys(alts: Sequence[Sequence[str]]) -> set[str]:
    """The ``p:`` keys of one name chain: each pair of its units, over every reading of
    both (``alts``: each unit's coarse skeletons, from ``unit_name_keys``)."""
    out: set[str] = set()
    for i, first in enumerate(alts):
        for second in alts[i + 1 :]:
            for a in first:
                for b in second:
                    if a != b:
                        x, y = sorted((a, b))
                        out.add(f"p:{x}|{y}")
    return out


def blocking_key_groups(rec: PersonRecord, query: bool = False) -> list[set[str]]:
    """Blocking keys grouped by what they stand for: one group per name unit (its
    ``n:``/``s:``/``t:`` keys), one for the pair keys, one per identifier.

    ``query=True`` gives a search's keys (no ``nat:`` count key); the default gives
    the keys to store for a record. A search should reward candidates that agree on
    many *groups*, not on many keys of one name (see ``CandidatePolicy``). Nationality
    and birth year give no key a search could fetch:

    >>> rec = PersonRecord("x", full_name="Abu Hamza", nationality="fra", birth_year=1965)
    >>> [g for g in blocking_key_groups(rec) if not any(k.startswith("n:") for k in g)]
    [{'nat:FRA'}]
    >>> blocking_key_groups(PersonRecord("q", nationality="FRA", birth_year=1965), query=True)
    []
    """
    return _key_groups(rec, query, None)


def query_key_groups(rec: PersonRecord) -> tuple[list[set[str]], frozenset[str]]:
    """A search's key groups (``blocking_key_groups(rec, query=True)``) with the weak
    keys of its units' exact readings in them (``exact_reading_skeletons``: each unit's
    in its group, the pairs they make in the pair group), and which keys are weak (none
    that is also a key of the name as written).

    >>> groups, weak = query_key_groups(PersonRecord("q", full_name="Hatice Omar"))
    >>> sorted(weak)
    ['n:KDK', 'p:AMR|KDK']
    >>> groups, weak = query_key_groups(PersonRecord("q", full_name="Khadija Omar"))
    >>> sorted(weak)
    []
    """
    extras: list[tuple[set[str], set[str]]] = []
    groups = _key_groups(rec, True, extras)
    own = set().union(*groups)
    weak: set[str] = set()
    for group, more in extras:
        more -= own
        group |= more
        weak |= more
    return [g for g in groups if g], frozenset(weak)


def _key_groups(
    rec: PersonRecord, query: bool, extras: list[tuple[set[str], set[str]]] | None
) -> list[set[str]]:
    """``blocking_key_groups``; ``extras`` (a search's only): where given, each group
    with the keys of its exact readings (``exact_reading_skeletons``) is added to it, and
    the pair group is kept even if empty, for ``query_key_groups`` to weigh."""
    groups: dict[str, set[str]] = {}
    pairs: set[str] = set()
    read_pairs: set[str] = set()
    for chain in rec.name_chains():
        uk = [unit_keys(u) for u in chain.units]
        coarse = [coarse_skeleton(k.skeleton) for k in uk]
        alts: list[tuple[str, ...]] = []
        read: list[tuple[str, ...]] = []
        for k, c in zip(uk, coarse, strict=True):
            group = groups.setdefault(c or k.latin, set())
            if k.skeleton:
                group.add(f"s:{k.skeleton}")
            group.add(f"t:{k.latin}")
            names, mine = unit_name_keys(k)
            group.update(names)
            alts.append(mine)
            extra = exact_reading_skeletons(k) if extras is not None else ()
            read.append((*mine, *(x for x in extra if x not in mine)))
            if extras is not None and extra:
                extras.append((group, {f"n:{x}" for x in extra}))
        pairs.update(pair_keys(alts))
        if extras is not None and read != alts:
            read_pairs |= pair_keys(read)
    out = list(groups.values())
    if extras is not None:
        out.append(pairs)
        extras.append((pairs, read_pairs))
    elif pairs:
        out.append(pairs)
    code = (rec.nationality or "").strip().upper()
    if code and not query:
        out.append({f"nat:{code}"})
    if rec.registration_number:
        out.append({"rn:" + re.sub(r"[^0-9A-Za-z]", "", rec.registration_number).upper()})
    for doc in rec.document_numbers:
        norm = re.sub(r"[^0-9A-Za-z]", "", doc).upper()
        if len(norm) >= 4:
            out.append({"id:" + norm})
    if rec.phone:
        digits = re.sub(r"\D", "", rec.phone)
        if len(digits) >= 7:
            out.append({"ph:" + digits[-9:]})
    return out


def blocking_keys(rec: PersonRecord, query: bool = False) -> set[str]:
    """All blocking keys of a record (to store), or of a search with ``query=True``."""
    keys: set[str] = set()
    for group in blocking_key_groups(rec, query):
        keys |= group
    return keys
