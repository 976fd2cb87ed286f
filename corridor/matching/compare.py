"""Comparing names: unit against unit, chain against chain.

Unit levels, best first:

``same``      identical after normalisation (same script)
``spelling``  the same name spelled differently in Latin script (Mohammed/Muhammad)
``script``    the same name in another script (محمد/Mohammed)
``similar``   close enough to be a mistyping or an unusual spelling (Barech/Barich)
``different`` anything else; Mohammed/Mahmoud and Ahmed/Hamed are different.

Two units are the same name by rule when their consonant skeletons are equal
and the long vowels agree (``keys.slots``), or by the shipped variant table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz.distance import JaroWinkler, Levenshtein

from corridor.matching.keys import UnitKeys, unit_keys
from corridor.matching.normalise import NameUnit
from corridor.matching.variants import VariantTable
from corridor.text import N_

__all__ = [
    "SAME",
    "SPELLING",
    "SCRIPT",
    "SIMILAR",
    "DIFFERENT",
    "LEVEL_WORDS",
    "UnitComparator",
    "rules_connect",
    "vowels_agree",
]

SAME, SPELLING, SCRIPT, SIMILAR, DIFFERENT = "same", "spelling", "script", "similar", "different"

LEVEL_WORDS = {
    SAME: N_("same name"),
    SPELLING: N_("same name, different spelling"),
    SCRIPT: N_("same name in another script"),
    SIMILAR: N_("similar name"),
    DIFFERENT: N_("different name"),
}


_COMPAT = {
    "U": frozenset("Uuo"),
    "I": frozenset("Iie"),
    "A": frozenset("Aa"),
}
_LONG = frozenset("UIA")


def _gap_ok(mine: frozenset[str], other: frozenset[str]) -> bool:
    return all(v not in _LONG or other & _COMPAT[v] for v in mine)


def vowels_agree(a: UnitKeys, b: UnitKeys, alt: bool = False) -> bool:
    """Long vowels agree slot by slot (skeletons must already be equal).

    Mohammed/محمد agree (no long vowel); Mahmoud/محمود agree (``ou``/``و``);
    Mohammed/Mahmoud do not. ``alt`` compares the Persian readings (``alt_slots``).
    """
    sa = a.alt_slots if alt else a.slots
    sb = b.alt_slots if alt else b.slots
    return all(_gap_ok(va, vb) and _gap_ok(vb, va) for (_, va), (_, vb) in zip(sa, sb, strict=True))


def rules_connect(a: UnitKeys, b: UnitKeys) -> bool:
    """True when spelling rules alone make ``a`` and ``b`` the same name."""
    if a.script == b.script == "la" and a.latin == b.latin:
        return True
    return a.skeleton == b.skeleton and len(a.skeleton) >= 2 and vowels_agree(a, b)


def _close_keys(la: str, lb: str, skeleton_len: int) -> bool:
    if Levenshtein.distance(la, lb, score_cutoff=2) > 1:
        return False
    if skeleton_len >= 4:
        return True
    if skeleton_len <= 2:
        return la == lb
    return len(la) == len(lb) and la[:1] == lb[:1]


@dataclass
class UnitComparator:
    """Compares name units; caches results because names repeat across records."""

    variants: VariantTable

    def __post_init__(self) -> None:
        # UnitKeys hash by identity (they are interned by ``unit_keys``): fast keys.
        self._kcache: dict[tuple[UnitKeys, UnitKeys], str] = {}

    def level(self, a: NameUnit, b: NameUnit) -> str:
        return self.level_keys(unit_keys(a), unit_keys(b))

    def level_keys(self, a: UnitKeys, b: UnitKeys) -> str:
        key = (a, b)
        hit = self._kcache.get(key)
        if hit is None:
            hit = self._level(a, b)
            if len(self._kcache) > 2_000_000:
                self._kcache.clear()
            self._kcache[key] = hit
        return hit

    def _level(self, a: UnitKeys, b: UnitKeys) -> str:
        if a.script == b.script:
            if a.text == b.text:
                return SAME
            if a.script == "la" and (
                a.latin == b.latin or self.variants.latin_pair(a.latin, b.latin)
            ):
                return SPELLING
        else:
            ar, la = (a, b) if a.script == "ar" else (b, a)
            if self.variants.cross(ar.text, la.latin):
                return SCRIPT
        if a.skeleton == b.skeleton:
            if len(a.skeleton) >= 2 and vowels_agree(a, b):
                if a.script != b.script:
                    return SCRIPT
                if a.script == "ar" or self._close_latin(a, b):
                    return SPELLING
                return SIMILAR
            return DIFFERENT
        if (
            a.script != b.script
            and a.alt_skeleton == b.alt_skeleton
            and len(a.alt_skeleton) >= 2
            and vowels_agree(a, b, alt=True)
        ):
            return SCRIPT
        if a.readings or b.readings:
            lvl = self._reading_level(a, b) or self._reading_level(b, a)
            if lvl:
                return lvl
        if self._similar(a, b) or self._compound_part(a, b) or self._compound_part(b, a):
            return SIMILAR
        return DIFFERENT

    @staticmethod
    def _reading_level(a: UnitKeys, b: UnitKeys) -> str | None:
        """The level when another reading of ``a`` (Dutch ch = kh, j = y; Turkish c = j,
        final t = d) is ``b``'s name: Chalil/Khalil, Joessef/يوسف, Mehmet/Mohammed."""
        for r in a.readings:
            if r.skeleton != b.skeleton or len(r.skeleton) < 2:
                continue
            if not all(_gap_ok(va, vb) and _gap_ok(vb, va)
                       for (_, va), (_, vb) in zip(r.slots, b.slots, strict=True)):
                continue
            if a.script != b.script:
                return SCRIPT
            if _close_keys(r.latin, b.latin, len(r.skeleton)):
                return SPELLING
            return SIMILAR
        return None

    @staticmethod
    def _close_latin(a: UnitKeys, b: UnitKeys) -> bool:
        """Latin keys one edit apart; for short names also same length and first letter
        (Omar/Amer and Ali/Allah are different names)."""
        return _close_keys(a.latin, b.latin, len(a.skeleton))

    def _compound_part(self, whole: UnitKeys, part: UnitKeys) -> bool:
        """``Kader`` within ``Abd el-Kader``, ``Naim`` within ``Naimullah``."""
        parts = whole.unit.parts
        if len(parts) < 2 or len(part.unit.parts) != 1:
            return False
        core = parts[-1] if parts[0] in ("abd", "abu", "عبد", "ابو") else parts[0]
        if len(core) < 3:
            return False
        core_keys = unit_keys(NameUnit((core,), whole.script))
        lvl = self._level(core_keys, part)
        return lvl in (SAME, SPELLING, SCRIPT)

    @staticmethod
    def _similar(a: UnitKeys, b: UnitKeys) -> bool:
        sa, sb = a.skeleton, b.skeleton
        if min(len(sa), len(sb)) < 3:
            return False
        if sa[1:] == sb or sb[1:] == sa:
            # Differ only by an initial vowel/glottal: Ahmed and Hamed.
            return False
        if Levenshtein.distance(sa, sb, score_cutoff=1) > 1:
            return False
        if a.script == b.script == "la":
            return JaroWinkler.similarity(a.latin, b.latin) >= 0.85
        if a.script == b.script:
            return Levenshtein.distance(a.text, b.text, score_cutoff=1) <= 1
        return JaroWinkler.similarity(a.latin, b.latin) >= 0.75
