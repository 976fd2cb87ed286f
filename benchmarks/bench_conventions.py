"""How the engine finds a person whose name is spelt by another language's rules, one
spelling convention at a time (issue 14: "the held-out half ... holds spellings that
this half does not").

The dev benchmarks hold the Dutch, French and English ways of writing Arabic names;
relatives also write them the German, Swedish, Polish, Czech or Bosnian, Albanian,
Italian, Turkish, Kurdish (Kurmanji), Spanish, Portuguese or Russian ways (in Latin
letters, or in Cyrillic as the Caucasus writes them, г for h), in Sorani Kurdish
letters, the Uzbek (Latin) and Tajik (Cyrillic) ways (o for the long a), the Indonesian
and Malay way (sy for ش, sh for ص, ts for ث) and as Javanese and Sundanese say it (o
after the emphatic letters, p for f), or type them on a phone in the Arabic chat
alphabet (Arabizi: 7 for h, 5 for kh). This benchmark
makes its own enquiries from a registry's English-style spellings by each convention's
letter rules (``CONVENTIONS``: sh, kh, j, y, long vowels ...), so it measures a convention, not a
list of names: no rule of the engine was written from these strings, and these rules
were written from the orthographies, not from the engine.

For each sampled registered person with a given, father's and family name:

- a *registered* enquiry: the three names respelt, sex, and the birth year moved by up
  to two years (or left out, one time in four). It should find the person first and,
  where the names are told apart from the registry's others, at probability >= 0.5;
- a *brother or sister* enquiry: the same father's and family name respelt with a given
  name (same sex) that no registered person of that father and family bears, birth year
  near. Nobody should be offered at probability >= 0.5 (the sibling traps of
  family-dev).

    python benchmarks/bench_conventions.py --registry ../shared/bench/family-dev/registry.csv \
        [--n 300] [--seed 14] [--convention german polish ...]

Prints, per convention: recall@1, likely@1 (the right person first at p >= 0.5) and the
share of brother/sister enquiries given a likely match (false matches).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import Counter, defaultdict
from pathlib import Path

from corridor.matching.bench import derive_relatives, read_person_csv
from corridor.matching.index import MemoryIndex
from corridor.matching.keys import unit_keys
from corridor.matching.normalise import parse_name
from corridor.matching.records import PersonRecord

_V = "aeiou"


def _sub(rules: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(p), r) for p, r in rules]


# Letter rules from an English-style spelling (lower case) to the convention's, applied
# in order. Each is the convention's ordinary spelling of the Arabic sounds: sh, kh
# (خ), j (ج), y (ي), the long vowels; nothing else is changed.
_LONG = [("ou", "u"), ("oo", "u"), ("ee", "i")]
CONVENTIONS: dict[str, list[tuple[re.Pattern[str], str]]] = {
    "english": _sub([]),
    # German: a z sounds ts, so ز (and ذ, ظ: all z in English spellings) is written s.
    "german": _sub([*_LONG, ("sh", "sch"), ("kh", "ch"), ("j", "dsch"), (r"y(?=[aeiou])", "j"),
                    ("z", "s")]),
    "swedish": _sub([*_LONG, ("j", "dj"), ("sh", "sj"), ("kh", "ch"), (r"y(?=[aeiou])", "j")]),
    "polish": _sub([*_LONG, ("ch", "cz"), ("kh", "ch"), ("sh", "sz"), (r"j", "dż"),
                    (r"y(?=[aeiou])", "j")]),
    "czech_bosnian": _sub([*_LONG, ("ch", "č"), ("kh", "h"), ("sh", "š"), (r"j", "dž"),
                           (r"y(?=[aeiou])", "j")]),
    "albanian": _sub([*_LONG, ("ch", "ç"), ("kh", "h"), (r"j", "xh"), (r"y(?=[aeiou])", "j")]),
    "italian": _sub([*_LONG, (r"sh(?=[ei])", "sc"), ("sh", "sci"), (r"j(?=[ei])", "g"),
                     ("j", "gi"), (r"^y(?=[aeiou])", "i")]),
    "turkish": _sub([*_LONG, ("ch", "ç"), ("sh", "ş"), ("kh", "h"), ("j", "c"),
                     (r"(?<=[aeiou])d$", "t"), ("w", "v")]),
    "kurmanji": _sub([*_LONG, ("ch", "ç"), ("sh", "ş"), ("kh", "x"), ("j", "c"),
                      (r"(?<=[^aeiou])a(?=[^aeiou])", "e")]),
    # Spanish: j is kh (Jalid, Jadiya), y is j (Yamal, Yamila), gh is g.
    "spanish": _sub([*_LONG, ("j", "y"), ("kh", "j"), ("gh", "g"), ("w", "u")]),
    # Portuguese (and Catalan): x is sh (Xerife, Aixa), y before a vowel is i (Iussef).
    "portuguese": _sub([*_LONG, ("sh", "x"), (r"y(?=[aeiou])", "i"), ("w", "u")]),
    # Russian, as its Cyrillic is romanised (BGN/PCGN): h is kh (Mukhammad, Khasan,
    # Akhmed), j is dzh (Dzhamal), q is k, gh is g, th is s, dh is z, w is v.
    "russian": _sub([*_LONG, (r"(?<![sktdgc])h", "kh"), ("j", "dzh"), ("q", "k"), ("gh", "g"),
                     ("th", "s"), ("dh", "z"), ("w", "v")]),
    # Russian in Cyrillic letters, the way the Caucasus and Azerbaijan write names: h is г
    # (Гасан, Магомед, Ибрагим), kh х, gh г, j дж, y й at the start or after a vowel.
    "cyrillic_caucasian": _sub([
        *_LONG, ("sh", "ш"), ("kh", "х"), ("gh", "г"), ("ch", "ч"), ("th", "с"), ("dh", "з"),
        ("zh", "ж"), ("j", "дж"), ("ya", "я"), ("yu", "ю"), ("yo", "ё"), (r"^y", "й"),
        (r"(?<=[aeiou])y", "й"), ("y", "ы"), ("h", "г"), ("a", "а"), ("b", "б"), ("d", "д"),
        ("e", "е"), ("f", "ф"), ("g", "г"), ("i", "и"), ("k", "к"), ("l", "л"), ("m", "м"),
        ("n", "н"), ("o", "о"), ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"),
        ("u", "у"), ("v", "в"), ("w", "в"), ("z", "з"), ("'", ""),
    ]),
    # The Arabic chat alphabet typed on a phone: 5 for kh, 3' for gh, 7 for h.
    "arabizi": _sub([("kh", "5"), ("gh", "3'"), (r"(?<![sctdz])h", "7")]),
}


def respell(name: str, convention: str) -> str:
    """``name`` (English-style) spelt by the convention's letter rules, capitalised."""
    words = []
    for word in name.split():
        parts = []
        for part in word.split("-"):
            w = part.lower()
            for rx, rep in CONVENTIONS[convention]:
                w = rx.sub(rep, w)
            parts.append(w[:1].upper() + w[1:])
        words.append("-".join(parts))
    return " ".join(words)


# Sorani Kurdish in its own letters (the Arabic script that writes every vowel): made
# from the registry's Arabic spelling of each name, with the short vowels its
# English-style spelling hears written as Sorani writes them (a/e ە, i ی, o/u و), ة and a
# final ه as ە, the Kurdish letters ی ک, and ئ before an initial vowel (حسن, Hasan:
# حەسەن; فاطمة, Fatima: فاطیمە). Where the Latin and Arabic consonants do not pair one to
# one, no vowel is added (the Kurdish keyboard's letters only).
SORANI = "sorani"
_AR_VOWEL = "اىآ"
_AR_SILENT = "عءأإئؤ"  # written in Arabic, usually not in Latin (Ali, Saad, Raed)
_LATIN_TOKEN_RE = re.compile(r"(sh|kh|th|dh|gh|ch|[bcdfgjklmnpqrstvxz]|h|y(?=[aeiou])"
                             r"|w(?=[aeiou]))|([aeiouyw]+)")
_SHORT = {"a": "ە", "e": "ە", "i": "ی", "o": "و", "u": "و"}


def _latin_vowels_after(latin: str) -> list[str]:
    """The vowels heard after each consonant of an English-style spelling ("" if none),
    doubled consonants counted once (Hassan: h a, s a, n)."""
    out: list[str] = []
    prev = ""
    for m in _LATIN_TOKEN_RE.finditer(re.sub(r"[^a-z]", "", latin.lower())):
        cons, vow = m.group(1), m.group(2)
        if cons:
            if cons != prev:
                out.append("")
            prev = cons
        elif out:
            out[-1] += vow
            prev = ""
    return out


def sorani(arabic: str, latin: str, before_h: bool = False, short_e: str = "ە") -> str:
    """``arabic`` as Sorani Kurdish writes it, its short vowels from ``latin``; with
    ``before_h``, also a short vowel before ه (which Sorani leaves out: زهرا); ``short_e``:
    the letter for a short e (Sorani's is its a, ە)."""
    short = {**_SHORT, "e": short_e}
    no_vowel_before = "اىآوية" if before_h else "اىآويةه"
    letters = [c for c in arabic if not c.isspace()]
    starts, pos = set(), 0  # where each word begins among the letters
    for word in arabic.split():
        starts.add(pos)
        pos += len(word)
    cons = [i for i, c in enumerate(letters)
            if c not in _AR_VOWEL + _AR_SILENT and not (c in "وي" and i > 0
                                                         and letters[i - 1] not in _AR_VOWEL)
            and not (c in "ةه" and i == len(letters) - 1)]
    vowels = _latin_vowels_after(latin)
    lead = re.match(r"[aeiou]?", re.sub(r"[^a-z]", "", latin.lower())).group(0) or "a"
    insert: dict[int, str] = {}
    if letters and letters[0] == "ع" and len(letters) > 1 and letters[1] not in _AR_VOWEL + "وي":
        insert[0] = short[lead]  # عومەر, عەبد: the vowel after an initial ain
    if len(cons) == len(vowels):
        for k, i in enumerate(cons):
            nxt = letters[i + 1] if i + 1 < len(letters) else ""
            v = vowels[k][:1]
            article = letters[i] == "ل" and i - 1 in starts and letters[i - 1] == "ا"
            if (v in short and nxt and nxt not in no_vowel_before and k + 1 < len(cons)
                    and not article):  # al-Ali: the vowel heard is the name's, not the ل's
                insert[i] = short[v]
    out: list[str] = []
    pos = 0
    for word in arabic.split():
        w = ""
        for j, c in enumerate(word):
            i = pos + j
            if j == 0 and c in "أإآا" and word != "ال" and not word.startswith("ال"):
                first = lead if i == 0 else "a"
                long_i = c == "إ" and word[1:2] == "ي"  # إيمان: ئیمان
                c = "ئا" if c == "آ" else "ئ" if long_i else "ئ" + (
                    "ی" if c == "إ" or first == "i" else "و" if first in "ou" else "ە")
            elif c in "ةه" and j == len(word) - 1 and j > 0:
                c = "ە"
            c = {"ي": "ی", "ك": "ک", "ى": "ا"}.get(c, c)
            w += c + insert.get(i, "")
        out.append(w)
        pos += len(word)
    return " ".join(out)


# Uzbek (Latin) and Tajik (Cyrillic), made from the Sorani spelling above (the Arabic
# with the short vowels its English-style spelling hears): the long a (ا, ى) is o, the
# short a a, i and u as heard (y and v at the start of a word and after a vowel), خ x
# (Tajik х), ح and ه h (ҳ), غ gʻ (ғ), ق q (қ), ج j (ҷ), ع and the hamza not written, ة a;
# the article is written al- (Uzbek and Tajik keep it, as their lists of Arabic names
# do). Khadija Jamal al-Shammari: Xadija Jamol Al-Shammariy is what they write (-iy for
# the nisba); this keeps a plain -i.
UZBEK, TAJIK = "uzbek", "tajik"
_FROM_ARABIC = {
    UZBEK: {"ب": "b", "ت": "t", "ث": "s", "ج": "j", "ح": "h", "خ": "x", "د": "d", "ذ": "z",
            "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "z", "ط": "t", "ظ": "z",
            "غ": "gʻ", "ف": "f", "ق": "q", "ک": "k", "ك": "k", "ل": "l", "م": "m", "ن": "n",
            "ه": "h", "ا": "o", "ە": "a", "ی": "i", "و": "u", "y": "y", "w": "v"},
    TAJIK: {"ب": "б", "ت": "т", "ث": "с", "ج": "ҷ", "ح": "ҳ", "خ": "х", "د": "д", "ذ": "з",
            "ر": "р", "ز": "з", "س": "с", "ش": "ш", "ص": "с", "ض": "з", "ط": "т", "ظ": "з",
            "غ": "ғ", "ف": "ф", "ق": "қ", "ک": "к", "ك": "к", "ل": "л", "م": "м", "ن": "н",
            "ه": "ҳ", "ا": "о", "ە": "а", "ی": "и", "و": "у", "y": "й", "w": "в"},
}


# Indonesian and Malay, the way their lists of Arabic names write them (the Ministry of
# Religious Affairs' transliteration): ش sy, ص sh, ض dh, ط th, ظ zh, ث ts, ذ dz, خ kh,
# غ gh, ق q, ة ah, ع not written; the vowels a, i, u. ``javanese``: as Javanese and
# Sundanese say and write them, the a after ص ض ط ظ ق خ غ ر is o (Sholeh, Ridho, Thoriq,
# Rosyid, Ibrohim) and ف is p (Yusup, Arip, Sopyan).
INDONESIAN, JAVANESE = "indonesian", "javanese"
_FROM_ARABIC[INDONESIAN] = {
    "ب": "b", "ت": "t", "ث": "ts", "ج": "j", "ح": "h", "خ": "kh", "د": "d", "ذ": "dz", "ر": "r",
    "ز": "z", "س": "s", "ش": "sy", "ص": "sh", "ض": "dh", "ط": "th", "ظ": "zh", "غ": "gh",
    "ف": "f", "ق": "q", "ک": "k", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "ا": "a",
    "ە": "a", "ې": "e", "ی": "i", "و": "u", "y": "y", "w": "w",
}
_FROM_ARABIC[JAVANESE] = {**_FROM_ARABIC[INDONESIAN], "ف": "p"}
_O_AFTER = {JAVANESE: "صضطظقخغر"}


def from_arabic(arabic: str, latin: str, convention: str) -> str:
    """``arabic`` as Uzbek (Latin), Tajik (Cyrillic), Indonesian or Javanese writes it,
    its short vowels heard from ``latin`` (by way of ``sorani``)."""
    letters = _FROM_ARABIC[convention]
    o_after = _O_AFTER.get(convention, "")
    article = arabic.startswith("ال") and len(arabic) > 3 and " " not in arabic
    if article:  # the name after the article, as a name of its own (al-Ali: Ali)
        arabic, latin = arabic[2:], re.sub(r"^[ae]l[- ]?", "", latin, flags=re.IGNORECASE)
    words = []
    # Indonesian writes the short e it hears (Saleh, Sholeh), as the registry's spelling
    # does; Uzbek and Tajik write a.
    short_e = "ې" if "ې" in letters else "ە"
    for word in sorani(arabic, latin, before_h=True, short_e=short_e).split():
        out, start = "", 0
        if word.startswith("ال") and len(word) > 3:  # Abd al-Hadi: the article is al
            out, start = letters["ە"] + letters["ل"], 2
        for j, c in enumerate(word):
            if j < start:
                continue
            if c == "ئ":
                if j > 0:  # the hamza on ya within a word: Oisha (عائشة)
                    out += letters["ی"]
                continue  # the carrier of an initial vowel
            nxt = word[j + 1] if j + 1 < len(word) else ""
            if c in "یو" and (j == 0 or word[j - 1] in "اە" or (nxt and nxt in "اە")):
                if j > 0 and word[j - 1] not in "اەیو":
                    out += letters["ە"]  # the short a before a glide: Navol, Hayot
                out += letters["y" if c == "ی" else "w"]  # Yusuf, Vafo
                continue
            if c in "ةە" and j == len(word) - 1:
                out += letters["ت" if word[j - 1:j] == "ا" else "ە"]  # Hayot; Fotima
                if convention in (INDONESIAN, JAVANESE) and word[j - 1:j] != "ا":
                    out += "h"  # Fatimah, Aisyah
                continue
            if c in "اە" and j > 0 and word[j - 1] in o_after:
                out += "o"  # Sholeh, Rosyid
                continue
            out += letters.get(c, "")
        out = out[:1].upper() + out[1:]
        words.append(("Ал-" if convention == TAJIK else "Al-") + out if article else out)
    return " ".join(words)


def _arabic_parts(rec: PersonRecord) -> list[str] | None:
    """The record's Arabic name as its given, father's, grandfather's and family name,
    where its words (Abd and Abu joined to the next) are four."""
    parts: list[str] = []
    for w in (rec.name_original_script or "").split():
        if parts and parts[-1] in ("عبد", "أبو", "ابو"):
            parts[-1] += " " + w
        else:
            parts.append(w)
    return parts if len(parts) == 4 else None


def _skeleton(name: str) -> str:
    return " ".join(unit_keys(u).skeleton for u in parse_name(name))


def _query(rec: PersonRecord, given: str, convention: str, rng: random.Random,
           arabic: dict[str, str]) -> PersonRecord:
    year = None
    if rec.birth_year is not None and rng.random() >= 0.25:
        year = rec.birth_year + rng.randint(-2, 2)
    names = [given, rec.father_name or "", rec.family_name or ""]
    if convention == SORANI:
        full = " ".join(sorani(arabic[n], n) for n in names)
    elif convention in _FROM_ARABIC:
        full = " ".join(from_arabic(arabic[n], n, convention) for n in names)
    else:
        full = respell(" ".join(n for n in names if n), convention)
    return PersonRecord("q", full_name=full, sex=rec.sex, birth_year=year)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--n", type=int, default=300, help="registered persons sampled")
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--convention", nargs="+", default=[*CONVENTIONS, SORANI, *_FROM_ARABIC])
    p.add_argument("--show", action="store_true",
                   help="print each enquiry missed and each brother or sister given a match")
    args = p.parse_args()

    t0 = time.perf_counter()
    records = derive_relatives(list(read_person_csv(args.registry)))
    index = MemoryIndex(records)
    # Given names borne in each family (father's and family name, by skeleton: the
    # registry spells one name more than one way), so that a brother's or sister's
    # enquiry never uses a name somebody of that family is registered under.
    families: dict[tuple[str, str], set[str]] = defaultdict(set)
    given_by_sex: dict[str | None, set[str]] = defaultdict(set)
    for r in records:
        if r.given_name and r.father_name and r.family_name:
            families[(_skeleton(r.father_name), _skeleton(r.family_name))].add(
                _skeleton(r.given_name))
            given_by_sex[r.sex].add(r.given_name)
    # Each Latin name's Arabic spelling (the commonest, where a record's words align).
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        parts = _arabic_parts(r)
        fields = (r.given_name, r.father_name, r.grandfather_name, r.family_name)
        if parts and all(fields):
            for latin, ar in zip(fields, parts, strict=True):
                if latin:
                    seen[latin][ar] += 1
    arabic = {latin: c.most_common(1)[0][0] for latin, c in seen.items()}
    eligible = [r for r in records
                if r.given_name and r.father_name and r.family_name and r.sex in ("m", "f")]
    rng = random.Random(args.seed)
    sample = rng.sample(eligible, min(args.n, len(eligible)))
    print(f"{len(records)} persons indexed in {time.perf_counter() - t0:.1f} s; "
          f"{len(sample)} sampled (seed {args.seed})")
    for convention in args.convention:
        crng = random.Random(f"{args.seed}-{convention}")
        first = likely = traps = trapped = 0
        t1 = time.perf_counter()
        persons = sample
        spelt_from_arabic = convention == SORANI or convention in _FROM_ARABIC
        if spelt_from_arabic:  # those whose three names have an Arabic spelling
            persons = [r for r in sample if all(
                n in arabic for n in (r.given_name, r.father_name, r.family_name))]
        for rec in persons:
            assert rec.given_name is not None and rec.father_name and rec.family_name
            q = _query(rec, rec.given_name, convention, crng, arabic)
            found = index.search(q, top=1)
            if found and found[0].record_id == rec.record_id:
                first += 1
                likely += found[0].probability >= 0.5
            if args.show and not (found and found[0].record_id == rec.record_id
                                  and found[0].probability >= 0.5):
                print(f"  missed: {q.full_name!r} for {rec.full_name!r}: "
                      f"{[(m.record_id == rec.record_id, round(m.probability, 3)) for m in found]}")
            taken = families[(_skeleton(rec.father_name), _skeleton(rec.family_name))]
            others = sorted(g for g in given_by_sex[rec.sex] if _skeleton(g) not in taken
                            and (not spelt_from_arabic or g in arabic))
            sibling = _query(rec, crng.choice(others), convention, crng, arabic)
            traps += 1
            offered = index.search(sibling, top=1)
            trapped += bool(offered and offered[0].probability >= 0.5)
            if args.show and offered and offered[0].probability >= 0.5:
                print(f"  sibling matched: {sibling.full_name!r} to {offered[0].record_id} "
                      f"at {offered[0].probability:.3f} ({rec.full_name!r})")
        n = len(persons)
        sample_names = [("خديجة", "Khadija"), ("جمال", "Jamal"), ("الشمري", "al-Shammari")]
        if convention == SORANI:
            example = " ".join(sorani(a, la) for a, la in sample_names)
        elif convention in _FROM_ARABIC:
            example = " ".join(from_arabic(a, la, convention) for a, la in sample_names)
        else:
            example = respell("Khadija Jamal al-Shammari", convention)
        print(f"{convention:14} recall@1={first / n:.3f} likely@1={likely / n:.3f} "
              f"sibling_false_matches={trapped / traps:.3f}  e.g. {example!r}  "
              f"({n} persons, {time.perf_counter() - t1:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
