"""Shipped name data: known Arabic<->Latin variants and default name frequencies.

Both tables are built from the project's shared name lists by
``python -m corridor.matching._build_data`` and shipped in ``corridor/matching/data``.

``name-variants.tsv``
    ``arabic<TAB>latin key,latin key,...``: Latin spellings attested for an
    Arabic name (Wikidata labels and the Syria/Iraq common-names list) that the
    spelling rules alone do not connect.
``latin-names.tsv``
    ``latin key<TAB>arabic``: the Arabic name a Latin spelling stands for, where the
    data say so clearly (Fatma and Fatima both spell فاطمة): two Latin spellings of
    one such name are the same name even where the rules alone would not say so.
``latin-keys.tsv``
    ``latin key<TAB>times seen``: every Latin spelling the data give for some Arabic
    name (seen at least 3 times), clear or not, and how often (``VariantTable.seen``).
``name-frequencies.tsv``
    ``skeleton<TAB>persons per million``: how common a name is, used when the
    caller has no counts of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from corridor.matching.latin_keys import load_latin_seen, shipped_rows
from corridor.matching.normalise import fold_maqsura

__all__ = [
    "DEFAULT_POPULATION",
    "FREQUENCY_TABLE_TOTAL",
    "VariantTable",
    "load_default_frequencies",
]

# The shipped frequency table counts persons per million.
FREQUENCY_TABLE_TOTAL = 1_000_000
# Registry size assumed for the prior when the caller gives none.
DEFAULT_POPULATION = 50_000


@dataclass(frozen=True)
class VariantTable:
    """Arabic name -> attested Latin keys, and Latin key -> Arabic names."""

    arabic_to_latin: Mapping[str, frozenset[str]] = field(default_factory=dict)
    latin_to_arabic: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Latin key -> the one Arabic name it spells in the data (Fatma and Fatima: فاطمه).
    latin_names: Mapping[str, str] = field(default_factory=dict)
    # Latin key -> how often the data spell some Arabic name so (3 or more times).
    latin_seen: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> VariantTable:
        a2l: dict[str, set[str]] = {}
        l2a: dict[str, set[str]] = {}
        for ar, la in pairs:
            ar = fold_maqsura(ar)  # the form ``cross`` looks up (a final ى written ي)
            a2l.setdefault(ar, set()).add(la)
            l2a.setdefault(la, set()).add(ar)
        return cls(
            {k: frozenset(v) for k, v in a2l.items()},
            {k: frozenset(v) for k, v in l2a.items()},
        )

    @classmethod
    def default(cls) -> VariantTable:
        """The table shipped with the package."""
        table = cls.from_pairs([
            (ar, la) for ar, latins in shipped_rows("name-variants.tsv")
            for la in latins.split(",") if la
        ])
        names = {key: fold_maqsura(arabic) for key, arabic in shipped_rows("latin-names.tsv")}
        return cls(table.arabic_to_latin, table.latin_to_arabic, names, load_latin_seen())

    def seen(self, latin_key: str) -> int:
        """How often the data spell some Arabic name with ``latin_key`` (0 where fewer
        than 3 times): Omar's key 2,215 times, Fatima's 1,032, Fotima's never."""
        return self.latin_seen.get(latin_key, 0)

    def cross(self, arabic_text: str, latin_key: str) -> bool:
        """True when ``latin_key`` is an attested spelling of ``arabic_text``."""
        return latin_key in self.arabic_to_latin.get(arabic_text, ())

    def latin_pair(self, key_a: str, key_b: str) -> bool:
        """True when two Latin keys are attested spellings of one Arabic name."""
        name = self.latin_names.get(key_a)
        if name is not None and name == self.latin_names.get(key_b):
            return True
        a = self.latin_to_arabic.get(key_a)
        if not a:
            return False
        b = self.latin_to_arabic.get(key_b)
        return b is not None and not a.isdisjoint(b)


@cache
def load_default_frequencies() -> Mapping[str, int]:
    """Default skeleton -> persons-per-million table shipped with the package (read once)."""
    rows = shipped_rows("name-frequencies.tsv")
    return MappingProxyType({key: int(count) for key, count in rows})
