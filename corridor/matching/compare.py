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

from corridor.matching.keys import UnitKeys, unit_keys, vouched_keys
from corridor.matching.normalise import NameUnit, fold_maqsura
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


# Y: an alef maqsura ending an Arabic name (مصطفى, ليلى, على), heard as a long a or i,
# and written o by Uzbek and Tajik (Muso, Iso, Mustafo for موسى, عيسى, مصطفى).
_COMPAT = {
    "U": frozenset("Uuo"),
    "I": frozenset("IieY"),
    "A": frozenset("AaY"),
    "Y": frozenset("AaIieYo"),
}
_LONG = frozenset("UIAY")


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


_LATIN_VOWELS = frozenset("aeiouy")
_AR_FINAL_I = frozenset("يى")


def _nisba(word: str) -> bool:
    """A Latin name ending in consonant + i/y: the nisba ending (al-Obeidi, Husseini)."""
    return len(word) >= 4 and word[-1] in "iy" and word[-2] not in _LATIN_VOWELS


def two_names(a: UnitKeys, b: UnitKeys) -> bool:
    """Names that rules would take for spellings of one but that are two names.

    - The nisba ending ``-i`` (ي) added to a name: al-Obeid and al-Obeidi, Hussein and
      Husseini (حسين, حسيني) are two families. The Arabic script writes the final ي,
      a Latin spelling the final i (or y).
    - ``Abd al-Ilah`` (عبد الإله) and ``Abd Allah`` (عبد الله): the second halves share
      their consonants but are two words.

    >>> from corridor.matching.normalise import parse_name
    >>> from corridor.matching.keys import unit_keys
    >>> k = lambda s: unit_keys(parse_name(s)[0])
    >>> two_names(k("Obeidi"), k("al-Obeid")), two_names(k("حسين"), k("Husseini"))
    (True, True)
    >>> two_names(k("Abdel Ilah"), k("Abdullah")), two_names(k("Hashemi"), k("الهاشمي"))
    (True, False)
    """
    pa, pb = a.unit.parts, b.unit.parts
    if len(pa) == 2 and len(pb) == 2:
        ca, cb = _theophoric(pa[1]), _theophoric(pb[1])
        return bool(ca and cb and ca != cb)
    if len(pa) != 1 or len(pb) != 1:
        return False
    x, y = pa[0], pb[0]
    if a.script == b.script == "la":
        short, long_ = (x, y) if len(x) < len(y) else (y, x)
        return (
            len(short) >= 3 and short[-1] not in _LATIN_VOWELS
            and long_ in (short + "i", short + "y")
        )
    if a.script == b.script:
        return False
    ar, la = (x, y) if a.script == "ar" else (y, x)
    if len(ar) < 3 or len(la) < 3:
        return False
    if la[-1] == "h" and la[-2] in _LATIN_VOWELS and ar[-1] not in "هح":
        la = la[:-1]  # a silent final h: Lubnah, Moussah end in their vowel (Salih: ح)
    ar_i = ar[-1] in _AR_FINAL_I and ar[-2] not in "اوي"
    if _nisba(la):
        return ar[-1] not in _AR_FINAL_I
    return ar_i and la[-1] not in _LATIN_VOWELS


def _theophoric(part: str) -> str:
    """``allah`` or ``ilah`` for the second half of a compound, else ``""``."""
    if part in ("الله", "لله") or part.endswith("llah") or part in ("alla", "ulla"):
        return "allah"
    if part in ("اله", "إله", "ilah", "illah", "ilahi"):
        return "ilah"
    return ""


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
        self._vcache: dict[UnitKeys, tuple[UnitKeys, ...]] = {}
        self._ccache: dict[UnitKeys, UnitKeys | None] = {}

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
        lvl = self._rules_level(a, b)
        if lvl in (SIMILAR, DIFFERENT) and (a.script == "la" or b.script == "la"):
            return self._vouched_level(a, b) or self._vouched_level(b, a) or lvl
        return lvl

    def _vouched_level(self, a: UnitKeys, b: UnitKeys) -> str | None:
        """SPELLING or SCRIPT where the Latin ``a``, read by ``keys.vouched_readings``, is
        ``b``'s name and the name data vouch for the reading (``keys.vouched``):

        - its o read as the long a (Fotima for Fatima and فاطمة, Ibrokhim for Ibrahim,
          Muso for Musa, as Uzbek and Tajik write them): where the data know the
          reading more than twice as often as ``a`` as written. Omar (2,215) is not read
          Amar (2,079: عامر), nor Soad Saad.
        - a letter read as Indonesian, Malay, Sundanese or a Turkic language writes it
          (Sholeh for صالح, Hafizh for حافظ, Utsman for Uthman, Yusup for يوسف): only
          where the data never saw ``a`` as written. Hisham and Shadi, known spellings,
          are never read Hisam and Sadi.
        - the Moroccan and Algerian article taken off (Lhoussine, Lahcen for الحسين,
          الحسن).
        """
        if a.script != "la" or two_names(a, b):
            return None
        for r in self._vouched_readings(a):
            if self._rules_level(r, b) in (SAME, SPELLING, SCRIPT):
                return SCRIPT if a.script != b.script else SPELLING
        return None

    def _vouched_readings(self, a: UnitKeys) -> tuple[UnitKeys, ...]:
        """``keys.vouched_keys`` of ``a`` by this comparator's name data (computed once)."""
        hit = self._vcache.get(a)
        if hit is None:
            if len(self._vcache) > 200_000:  # as many as ``unit_keys`` keeps
                self._vcache.clear()
            hit = self._vcache[a] = tuple(vouched_keys(a.unit, self.variants.seen))
        return hit

    def _rules_level(self, a: UnitKeys, b: UnitKeys) -> str:
        if a.script == b.script and a.text == b.text:
            return SAME
        if two_names(a, b):
            return DIFFERENT
        if a.script == b.script:
            if a.script == "la" and (
                a.latin == b.latin or self.variants.latin_pair(a.latin, b.latin)
            ):
                return SPELLING
        else:
            ar, la = (a, b) if a.script == "ar" else (b, a)
            if self.variants.cross(fold_maqsura(ar.text), la.latin):
                return SCRIPT
        if a.skeleton == b.skeleton:
            if len(a.skeleton) >= 2 and vowels_agree(a, b):
                if a.script != b.script:
                    return SCRIPT
                if a.script == "ar" or self._close_latin(a, b) or self._exact_spelling(a, b):
                    return SPELLING
                return SIMILAR
            # Another reading may hear the vowels the other name has (Portuguese Eiad
            # read Eyad is إياد); none makes a merely similar name here.
            if a.readings or b.readings:
                lvl = self._reading_level(a, b) or self._reading_level(b, a)
                if lvl in (SCRIPT, SPELLING):
                    return lvl
            return DIFFERENT
        if (
            a.script != b.script
            and a.alt_skeleton == b.alt_skeleton
            and len(a.alt_skeleton) >= 2
            and vowels_agree(a, b, alt=True)
        ):
            return SCRIPT
        if a.readings or b.readings:
            lvl = (self._reading_level(a, b) or self._reading_level(b, a)
                   or self._reading_variant(a, b) or self._reading_variant(b, a))
            if lvl:
                return lvl
        if self._similar(a, b) or self._compound_part(a, b) or self._compound_part(b, a):
            return SIMILAR
        return DIFFERENT

    @staticmethod
    def _reading_level(a: UnitKeys, b: UnitKeys) -> str | None:
        """The level when another reading of ``a`` (Dutch ch = kh, j = y; Turkish c = j,
        final t = d) is ``b``'s name: Chalil/Khalil, Joessef/يوسف, Mehmet/Mohammed."""
        # An Arabic name as Persian, Urdu and Turkish speakers sound ذ ض ظ (z) and ث (s)
        # too: Zabih read with its final h the consonant is ذبيح.
        targets = [(b.skeleton, b.slots)]
        if a.script == "la" and b.script == "ar" and b.alt_skeleton != b.skeleton:
            targets.append((b.alt_skeleton, b.alt_slots))
        for r in a.readings:
            slots = next((sl for sk, sl in targets if sk == r.skeleton), None)
            if slots is None or (len(r.skeleton) < 2 and r.latin != b.latin):
                continue  # a one-consonant name only where the reading spells it (Cho/Jo)
            if r.exact and a.script == b.script and r.latin != b.latin:
                continue  # Yaya read Yahya is Yahya; Zayed read Zahyed is not Zahid
            if not r.asks_of(b.text, b.script == "ar"):
                continue  # Halil read Khalil is خليل, not غسان (the keys class خ with غ)
            if not all(_gap_ok(va, vb) and _gap_ok(vb, va)
                       for (_, va), (_, vb) in zip(r.slots, slots, strict=True)):
                continue
            if a.script != b.script:
                return SCRIPT
            if _close_keys(r.latin, b.latin, len(r.skeleton)):
                return SPELLING
            return SIMILAR
        return None

    def _reading_variant(self, la: UnitKeys, ar: UnitKeys) -> str | None:
        """SCRIPT where another reading of the Latin ``la`` is a spelling the variant
        table gives for the Arabic ``ar`` (Aixa read Aisha is عائشة)."""
        if la.script != "la" or ar.script != "ar":
            return None
        folded = fold_maqsura(ar.text)
        for r in la.readings:
            if not r.asks_of(ar.text, True):
                continue
            if self.variants.cross(folded, r.latin):
                return SCRIPT
        return None

    @staticmethod
    def _exact_spelling(a: UnitKeys, b: UnitKeys) -> bool:
        """One Latin unit's exact reading is the other, letter for letter (Cyrillic
        Гусейнов, read Khuseynov, and the passport's Guseynov; Khassan is not Ghassan)."""
        return any(r.exact and r.text == y.text for x, y in ((a, b), (b, a))
                   for r in x.readings)

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
        core_keys = self._core(whole)
        return core_keys is not None and self.level_keys(core_keys, part) in (
            SAME, SPELLING, SCRIPT)

    def _core(self, whole: UnitKeys) -> UnitKeys | None:
        """The keys of the name within the compound ``whole`` (Kader of Abd el-Kader,
        Naim of Naimullah); None for a short one. Computed once a unit."""
        try:
            return self._ccache[whole]
        except KeyError:
            pass
        parts = whole.unit.parts
        core = parts[-1] if parts[0] in ("abd", "abu", "عبد", "ابو") else parts[0]
        keys = unit_keys(NameUnit((core,), whole.script)) if len(core) >= 3 else None
        if len(self._ccache) > 200_000:  # as many as ``unit_keys`` keeps
            self._ccache.clear()
        self._ccache[whole] = keys
        return keys

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
