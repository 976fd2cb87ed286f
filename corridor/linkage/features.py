"""Corridor's matching keys as columns: one row per person, for Splink to compare.

Every name unit of every spelling of a person's name (``PersonRecord.name_chains``) is
turned into tokens with the engine's own public functions (``corridor.matching``):

``n:<skeleton with long vowels>``
    the same name across scripts and spellings (محمد / Mohammed / Muhammad -> ``n:MHMD``,
    محمود / Mahmoud -> ``n:MHMUD``), as the engine's "skeletons equal and long vowels
    agree" rule; Arabic units with ض ظ ذ ث also get their Persian reading.
``k:<skeleton>`` (columns ``*_ks``)
    the skeleton alone (a weaker "same name": the engine's long-vowel rule is
    asymmetric, a long vowel agreeing with a short one, which tokens cannot say).
``t:<latin key>``
    the Latin spelling key (identical spellings up to the usual variants).
``v:<arabic name>``
    the shipped variant table's symbol: a Latin spelling attested for an Arabic name
    carries that name (Gamal -> ``v:جمال``), as does the Arabic unit itself.

Tokens are grouped by the unit's place in the chain: the given name, the father, the
grandfather and further ancestors (``chain``: father and grandfather are one piece of
evidence) and the family name, plus ``all_ids`` (every unit) for a name found in another
position, and ``all_cs`` (the coarse skeletons of every unit of two letters or more: how
many units two names share, whatever their places), and ``seq_cs`` (each spelling's chain
of those coarse skeletons in the order of its names: whether the names two records share
stand in the same order). ``pair_keys`` and ``name_keys`` are
the engine's own blocking keys (``blocking_keys``: ``p:`` pairs of names and ``n:``
single names). Scalar columns carry the skeleton of the first spelling's unit in each place
(term frequencies: how common the name is) and the coarse skeletons used for blocking
(``corridor.matching.coarse_skeleton``: d/dh/z/s/t/th and k/kh/q/g/j/sh/ch merged).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache, lru_cache
from typing import Any, NamedTuple

from corridor.matching.blocking import blocking_keys, coarse_skeleton, unit_name_keys
from corridor.matching.blocking import pair_keys as chain_pair_keys
from corridor.matching.keys import UnitKeys, unit_keys
from corridor.matching.normalise import NameUnit
from corridor.matching.records import CHAIN, FAMILY, GIVEN, GIVEN2, PersonRecord
from corridor.matching.variants import VariantTable

__all__ = [
    "COLUMNS",
    "LIST_COLUMNS",
    "feature_row",
    "feature_row_reference",
    "feature_rows",
    "scalar_columns",
    "unit_tokens",
]

# Column name -> kind ("str", "int", "list").
COLUMNS: dict[str, str] = {
    "unique_id": "str",
    "given_sk": "str",
    "given_c": "str",
    "given_lat": "str",
    "given_ids": "list",
    "given_xs": "list",
    "given_cs": "list",
    "given_ks": "list",
    "father_sk": "str",
    "father_c": "str",
    "father_ids": "list",
    "father_xs": "list",
    "chain_ids": "list",
    "chain_xs": "list",
    "chain_cs": "list",
    "chain_ks": "list",
    "grand_c": "str",
    "family_sk": "str",
    "family_c": "str",
    "family_lat": "str",
    "family_ids": "list",
    "family_xs": "list",
    "family_cs": "list",
    "family_ks": "list",
    "all_ids": "list",
    "all_xs": "list",
    "all_cs": "list",
    "seq_cs": "lists",
    "birth_year": "int",
    "sex": "str",
    "nationality": "str",
    "identifiers": "list",
    "pair_keys": "list",
    "name_keys": "list",
}
LIST_COLUMNS = frozenset(k for k, v in COLUMNS.items() if v == "list")


@cache
def _variants() -> VariantTable:
    return VariantTable.default()


_QUALITY = {"U": "U", "u": "U", "o": "U", "I": "I", "i": "I", "e": "I", "A": "A", "a": "A"}
_MAX_OPEN_SLOTS = 5


def _vkeys(slots: tuple[tuple[str, frozenset[str]], ...]) -> set[str]:
    """Tokens of the skeleton with vowel qualities, so that two units share one exactly
    when the engine's long-vowel rule holds (``compare.vowels_agree``): a long vowel
    (capital in ``slots``) must be met by a vowel of its quality on the other side, a
    short one demands nothing. Each slot's long vowels are always written; its short
    vowels may be (every combination is a token: at most 2**5 per unit)."""
    patterns = [""]
    open_slots = 0
    for cons, vowels in slots:
        long = {_QUALITY[v] for v in vowels if v.isupper() and v != "Y"}
        # An alef maqsura (Y) is a long a or a long i: the unit is written both ways.
        longs = [long | {"A"}, long | {"I"}] if "Y" in vowels else [long]
        short = {_QUALITY[v] for v in vowels if v.islower() and v in _QUALITY}
        options = ["".join(sorted(q)) for q in longs]
        if any(short - q for q in longs) and open_slots < _MAX_OPEN_SLOTS:
            open_slots += 1
            options += ["".join(sorted(q | short)) for q in longs if short - q]
        patterns = [p + cons + o for p in patterns for o in options]
    return set(patterns)


@cache
def _tokens(keys: UnitKeys) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(what the unit is, what it could be in Arabic script): ``n:`` patterns of an Arabic
    unit are what it is; those of a Latin unit what it may be written as, so that two
    Latin spellings never meet through them (Mahmud and Mohammed: the engine calls them
    only similar), only through their Latin key or the variant table."""
    toks = {f"t:{keys.latin}"} if keys.latin else set()
    table = _variants()
    patterns: set[str] = set()
    if len(keys.skeleton) >= 2:
        patterns.update(f"n:{v}" for v in _vkeys(keys.slots))
    if len(keys.alt_skeleton) >= 2 and keys.alt_skeleton != keys.skeleton:
        patterns.update(f"n:{v}" for v in _vkeys(keys.alt_slots))
    if keys.script == "ar":
        toks |= patterns
        if keys.text in table.arabic_to_latin:
            toks.add(f"v:{keys.text}")
        return tuple(sorted(toks)), ()
    toks.update(f"v:{ar}" for ar in table.latin_to_arabic.get(keys.latin, ()))
    return tuple(sorted(toks)), tuple(sorted(patterns))


def unit_tokens(unit: NameUnit) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The tokens of one name unit: what it is, and (Latin) what it may be in Arabic.
    Two units are the same name when one's first set meets the other's first or second.

    >>> from corridor.matching import parse_name
    >>> ar, la = unit_tokens(parse_name("محمد")[0]), unit_tokens(parse_name("Mohammed")[0])
    >>> sorted(set(ar[0]) & set(la[0] + la[1]))
    ['n:MHMD', 'v:محمد']
    """
    return _tokens(unit_keys(unit))


def _coarse(keys: UnitKeys) -> str:
    return coarse_skeleton(keys.skeleton) or keys.latin


def _seq_order(seq: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    """DuckDB's order of lists (a missing name after every name, a prefix first)."""
    return tuple((c is None, c or "") for c in seq)


def _ids(values: Iterable[str]) -> list[str]:
    return sorted({re.sub(r"[^0-9A-Za-z]", "", v).upper() for v in values if v} - {""})


class _Unit:
    """Everything ``feature_row`` needs of one name unit, computed once per distinct unit
    (a registry of a million persons has a few thousand distinct name units)."""

    __slots__ = ("ids", "xs", "coarse", "ks", "sk", "lat", "pair_cs", "name_keys")

    def __init__(self, unit: NameUnit) -> None:
        k = unit_keys(unit)
        self.ids, self.xs = _tokens(k)
        self.coarse = _coarse(k)
        self.ks = (f"k:{k.skeleton}",) if len(k.skeleton) >= 2 else ()
        self.sk = k.skeleton or k.latin or None
        self.lat = k.latin or None
        # The engine's blocking keys of the unit (``blocking_key_groups``, one definition).
        names, self.pair_cs = unit_name_keys(k)
        self.name_keys = tuple(names)


@cache
def _unit(unit: NameUnit) -> _Unit:
    return _Unit(unit)


@lru_cache(maxsize=100_000)  # one entry per distinct chain: bounded
def _pair_keys(alts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """The engine's ``p:`` keys of one chain (``blocking.pair_keys``)."""
    return tuple(chain_pair_keys(alts))


class _Place(NamedTuple):
    """The sorted tokens of the units in one place of a name (given, father, ...)."""

    ids: tuple[str, ...]
    xs: tuple[str, ...]
    cs: tuple[str, ...]
    ks: tuple[str, ...]


@lru_cache(maxsize=100_000)
def _place(units: tuple[_Unit, ...]) -> _Place:
    # Keyed by the units' identity (``_unit`` returns one object per distinct unit).
    return _Place(
        tuple(sorted({t for u in units for t in u.ids})),
        tuple(sorted({t for u in units for t in u.xs})),
        tuple(sorted({u.coarse for u in units})),
        tuple(sorted({t for u in units for t in u.ks})),
    )


_PLACES = ("given", "father", "grand", "family")


def scalar_columns(rec: PersonRecord) -> tuple[str | None, str | None, list[str]]:
    """The record's ``sex``, ``nationality`` and ``identifiers`` columns."""
    docs = rec.document_numbers
    identifiers = [f"id:{d}" for d in _ids(docs) if len(d) >= 4] if docs else []
    if rec.phone:
        digits = re.sub(r"\D", "", rec.phone)
        if len(digits) >= 7:
            identifiers.append(f"ph:{digits[-9:]}")
    sex = (rec.sex or "").lower()[:1] or None
    nationality = (rec.nationality or "").strip().upper() or None
    return (sex if sex in ("m", "f") else None), nationality, sorted(identifiers)


def feature_row(rec: PersonRecord) -> dict[str, Any]:
    """One person's columns (see ``COLUMNS``); lists are sorted, empty when unknown.

    Equal to ``feature_row_reference`` (tested); each distinct name unit's keys and tokens
    are computed once (``_Unit``), so a record costs its parse and a few set unions."""
    places: dict[str, list[_Unit]] = {p: [] for p in _PLACES}
    first: dict[str, _Unit] = {}
    pair_keys: set[str] = set()
    name_keys: set[str] = set()
    sequences: set[tuple[str | None, ...]] = set()
    for chain in rec.name_chains():
        seen_chain = 0
        units = [_unit(u) for u in chain.units]
        for u, role in zip(units, chain.roles, strict=True):
            name_keys.update(u.name_keys)
            if role in (GIVEN, GIVEN2):
                places["given"].append(u)
                if role == GIVEN:
                    first.setdefault("given", u)
                continue
            if role == CHAIN:
                place = "father" if seen_chain == 0 else "grand"
                seen_chain += 1
            elif role == FAMILY:
                place = "family"
            else:  # pragma: no cover - roles are the four above
                continue
            places[place].append(u)
            first.setdefault(place, u)
        pair_keys.update(_pair_keys(tuple(u.pair_cs for u in units)))
        seq = tuple(u.coarse if len(u.coarse) >= 2 else None for u in units)
        if any(seq):
            sequences.add(seq)

    given, family = _place(tuple(places["given"])), _place(tuple(places["family"]))
    father = _place(tuple(places["father"]))
    chain_place = _place(tuple(places["father"] + places["grand"]))

    def attr(place: str, name: str) -> str | None:
        u = first.get(place)
        return getattr(u, name) if u is not None else None

    def c(place: str) -> str | None:
        u = first.get(place)
        return (u.coarse or None) if u is not None else None

    sex, nationality, identifiers = scalar_columns(rec)
    return {
        "unique_id": rec.record_id,
        "given_sk": attr("given", "sk"),
        "given_c": c("given"),
        "given_lat": attr("given", "lat"),
        "given_ids": list(given.ids),
        "given_xs": list(given.xs),
        "given_cs": list(given.cs),
        "given_ks": list(given.ks),
        "father_sk": attr("father", "sk"),
        "father_c": c("father"),
        "father_ids": list(father.ids),
        "father_xs": list(father.xs),
        "chain_ids": list(chain_place.ids),
        "chain_xs": list(chain_place.xs),
        "chain_cs": list(chain_place.cs),
        "chain_ks": list(chain_place.ks),
        "grand_c": c("grand"),
        "family_sk": attr("family", "sk"),
        "family_c": c("family"),
        "family_lat": attr("family", "lat"),
        "family_ids": list(family.ids),
        "family_xs": list(family.xs),
        "family_cs": list(family.cs),
        "family_ks": list(family.ks),
        "all_ids": sorted({*given.ids, *chain_place.ids, *family.ids}),
        "all_xs": sorted({*given.xs, *chain_place.xs, *family.xs}),
        "all_cs": sorted(c for c in {*given.cs, *chain_place.cs, *family.cs} if len(c) >= 2),
        "seq_cs": [list(q) for q in sorted(sequences, key=_seq_order)],
        "birth_year": rec.birth_year,
        "sex": sex,
        "nationality": nationality,
        "identifiers": identifiers,
        "pair_keys": sorted(pair_keys),
        "name_keys": sorted(name_keys),
    }


def feature_row_reference(rec: PersonRecord) -> dict[str, Any]:
    """One person's columns (see ``COLUMNS``); lists are sorted, empty when unknown."""
    places: dict[str, list[UnitKeys]] = {"given": [], "father": [], "grand": [], "family": []}
    first: dict[str, UnitKeys] = {}
    # Each chain's names in order (coarse skeletons of two letters or more; a shorter
    # name is there as a null: a name that never agrees): the whole-name level "in the
    # same order" (version 4).
    sequences = sorted({
        seq for chain in rec.name_chains()
        if any(seq := tuple(c if len(c) >= 2 else None
                            for c in (_coarse(unit_keys(u)) for u in chain.units)))
    }, key=_seq_order)
    for chain in rec.name_chains():
        seen_chain = 0
        for unit, role in zip(chain.units, chain.roles, strict=True):
            if role in (GIVEN, GIVEN2):
                place = "given" if role == GIVEN else "given2"
            elif role == CHAIN:
                place = "father" if seen_chain == 0 else "grand"
                seen_chain += 1
            elif role == FAMILY:
                place = "family"
            else:  # pragma: no cover - roles are the four above
                continue
            k = unit_keys(unit)
            if place == "given2":
                places["given"].append(k)
                continue
            places[place].append(k)
            first.setdefault(place, k)

    def toks(ks: list[UnitKeys]) -> list[str]:
        return sorted({t for k in ks for t in _tokens(k)[0]})

    def xs(ks: list[UnitKeys]) -> list[str]:
        return sorted({t for k in ks for t in _tokens(k)[1]})

    def coarse(ks: list[UnitKeys]) -> list[str]:
        return sorted({_coarse(k) for k in ks})

    def ks(ks_: list[UnitKeys]) -> list[str]:
        return sorted({f"k:{k.skeleton}" for k in ks_ if len(k.skeleton) >= 2})

    def sk(place: str) -> str | None:
        k = first.get(place)
        return (k.skeleton or k.latin or None) if k is not None else None

    def lat(place: str) -> str | None:
        k = first.get(place)
        return (k.latin or None) if k is not None else None

    def c(place: str) -> str | None:
        k = first.get(place)
        return _coarse(k) or None if k is not None else None

    chain_keys = places["father"] + places["grand"]
    every = places["given"] + chain_keys + places["family"]
    identifiers = [f"id:{d}" for d in _ids(rec.document_numbers) if len(d) >= 4]
    if rec.phone:
        digits = re.sub(r"\D", "", rec.phone)
        if len(digits) >= 7:
            identifiers.append(f"ph:{digits[-9:]}")
    sex = (rec.sex or "").lower()[:1] or None
    keys = blocking_keys(rec, query=True)
    return {
        "unique_id": rec.record_id,
        "given_sk": sk("given"),
        "given_c": c("given"),
        "given_lat": lat("given"),
        "given_ids": toks(places["given"]),
        "given_xs": xs(places["given"]),
        "given_cs": coarse(places["given"]),
        "given_ks": ks(places["given"]),
        "father_sk": sk("father"),
        "father_c": c("father"),
        "father_ids": toks(places["father"]),
        "father_xs": xs(places["father"]),
        "chain_ids": toks(chain_keys),
        "chain_xs": xs(chain_keys),
        "chain_cs": coarse(chain_keys),
        "chain_ks": ks(chain_keys),
        "grand_c": c("grand"),
        "family_sk": sk("family"),
        "family_c": c("family"),
        "family_lat": lat("family"),
        "family_ids": toks(places["family"]),
        "family_xs": xs(places["family"]),
        "family_cs": coarse(places["family"]),
        "family_ks": ks(places["family"]),
        "all_ids": toks(every),
        "all_xs": xs(every),
        "all_cs": [c for c in coarse(every) if len(c) >= 2],
        "seq_cs": [list(q) for q in sequences],
        "birth_year": rec.birth_year,
        "sex": sex if sex in ("m", "f") else None,
        "nationality": (rec.nationality or "").strip().upper() or None,
        "identifiers": sorted(identifiers),
        "pair_keys": sorted(k for k in keys if k.startswith("p:")),
        "name_keys": sorted(k for k in keys if k.startswith("n:")),
    }


def feature_rows(records: Iterable[PersonRecord]) -> Iterator[dict[str, Any]]:
    """``feature_row`` of every record, in order."""
    for rec in records:
        yield feature_row(rec)
