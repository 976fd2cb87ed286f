"""Script-independent keys for name units.

Three keys are computed for every :class:`~corridor.matching.normalise.NameUnit`:

``skeleton``
    The consonant skeleton over coarse sound classes shared by Arabic and Latin
    spellings (``محمد``, ``Mohammed``, ``Muhammad`` -> ``MHMD``). An initial
    vowel or ``ع`` is kept as ``A`` so that Ahmed (``AHMD``) and Hamed (``HMD``)
    stay apart. Skeletons find candidates and carry name frequencies; they are
    never the final word, because Mohammed and Mahmoud share one.
``slots``
    The skeleton with the vowels heard between consonants, used to tell
    Mohammed (no long vowel before the D) from Mahmoud (``ou``/``و``).
``latin``
    A Latin spelling key folding the usual variants (ou/u/oo, ee/i, e/a,
    doubled letters, kh/k, dh/d, ph/f, q/k ...); Arabic units are romanised first.

>>> skeleton(parse_name("محمد")[0]), skeleton(parse_name("Mohammed")[0])
('MHMD', 'MHMD')
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from functools import lru_cache

from corridor.matching.latin_keys import fold_latin
from corridor.matching.normalise import SYLLABLE_RE, NameUnit, parse_name

__all__ = ["VOUCH_KNOWN", "VOUCH_MORE", "VOUCH_UNSEEN", "Reading", "UnitKeys",
           "article_readings", "exact_readings", "german_s_readings", "is_syllable",
           "latin_key", "latin_readings", "letter_reading", "o_reading", "romanise",
           "skeleton", "slots", "unit_keys",
           "vouched", "vouched_keys", "vouched_readings"]

# Arabic letter -> (consonant class or "" , vowel heard or "").
_AR_CLASS: dict[str, tuple[str, str]] = {
    "ب": ("B", ""), "ت": ("T", ""), "ط": ("T", ""), "ث": ("T", ""),
    "د": ("D", ""), "ذ": ("D", ""), "ض": ("D", ""), "ظ": ("Z", ""), "ز": ("Z", ""),
    "س": ("S", ""), "ص": ("S", ""), "ش": ("X", ""), "ج": ("J", ""),
    "ح": ("H", ""), "ه": ("H", ""), "خ": ("K", ""), "ك": ("K", ""), "ق": ("K", ""),
    "غ": ("K", ""), "ف": ("F", ""), "ل": ("L", ""), "م": ("M", ""), "ن": ("N", ""),
    "ر": ("R", ""), "ا": ("", "A"), "و": ("", "U"), "ي": ("", "I"), "ع": ("", ""),
    "ى": ("", "Y"),  # alef maqsura ending a word: a long a or i (``compare._COMPAT``)
}
# Arabic letter -> simple Latin rendering (for the Latin key of Arabic names).
_AR_LATIN: dict[str, str] = {
    "ب": "b", "ت": "t", "ط": "t", "ث": "th", "د": "d", "ذ": "dh", "ض": "d", "ظ": "z",
    "ز": "z", "س": "s", "ص": "s", "ش": "sh", "ج": "j", "ح": "h", "ه": "h", "خ": "kh",
    "ك": "k", "ق": "q", "غ": "gh", "ف": "f", "ل": "l", "م": "m", "ن": "n", "ر": "r",
    "ا": "a", "و": "u", "ي": "i", "ى": "i", "ع": "",
}

_AR_ALT = str.maketrans({"ض": "ز", "ظ": "ز", "ذ": "ز", "ث": "س"})

# Digraphs of the languages relatives write in: English/French (sh, ch, kh, dj),
# Dutch (sj = sh, dj = j), German (sch = sh, tsch = ch, dsch = j), Turkish (ş/ç are
# made sh/ch by normalise_latin), Polish (sz = sh, cz = ch; dż made dzh), Albanian
# (xh = j), Hungarian (dzs = j); the háček letters of Czech and Bosnian are made sh,
# ch, zh by normalise_latin (dž = dzh). Longest first where one begins another.
_LATIN_DIGRAPHS = [
    ("dsch", "J"), ("tsch", "X"), ("sch", "X"), ("tch", "X"), ("tsj", "X"), ("dsj", "J"),
    ("dzs", "J"), ("sj", "X"), ("sz", "X"), ("cz", "X"), ("xh", "J"), ("kh", "K"), ("gh", "K"),
    ("sh", "X"), ("ch", "X"), ("th", "T"),
    ("dh", "D"), ("ph", "F"), ("zh", "J"), ("dj", "J"), ("dzh", "J"), ("dz", "D"), ("ck", "K"),
    ("ts", "S"),
    ("tz", "S"), ("ks", "KS"),
]
_LATIN_SINGLE = {
    "b": "B", "p": "B", "t": "T", "d": "D", "z": "Z", "s": "S", "c": "K", "j": "J", "g": "K",
    "k": "K", "q": "K", "h": "H", "f": "F", "v": "", "l": "L", "m": "M", "n": "N", "r": "R",
    "x": "KS", "w": "", "y": "",
}
_VOWEL_OF = {"a": "a", "e": "e", "i": "i", "o": "o", "u": "u", "y": "I", "w": "U", "v": "U"}
# Long vowels; Dutch and German write a long i as ie (Aziez, Dien).
_LONG_VOWELS = [
    ("ie", "I"), ("ou", "U"), ("oo", "U"), ("uu", "U"), ("ow", "U"), ("aw", "U"), ("au", "U"),
    ("ee", "I"), ("ii", "I"), ("ai", "I"), ("ay", "I"), ("ei", "I"), ("ey", "I"), ("aa", "A"),
]


def _arabic_segments(word: str, first: bool) -> list[tuple[str, str]]:
    """(class, vowel) pairs for one Arabic word; class '' means a vowel/glide."""
    out: list[tuple[str, str]] = []
    for i, ch in enumerate(word):
        cls, vow = _AR_CLASS.get(ch, ("", ""))
        if i == 0 and first:
            if ch in "اع":
                out.append(("A", ""))
                continue
            if ch == "ي":
                out.append(("Y", ""))
                continue
            if ch == "و":
                out.append(("W", ""))
                continue
        if ch == "ه" and i == len(word) - 1 and i > 1:  # taa marbuta / final heh
            # After one letter it is the consonant: no stem of one letter takes the taa
            # marbuta, and طه is Taha (its h written in every spelling).
            out.append(("", "a"))
            continue
        if ch == "ا" and i == 0:  # alef after a prefix: no long vowel to demand
            continue
        if ch == "ع":
            # The ain within a name, heard as a lengthened a: Latin writes it aa (Mosaab,
            # Mishaal, Naama for مصعب, مشعل, نعمة), so a long a there is no other name.
            out.append(("", "a"))
            continue
        out.append((cls, vow))
        if i == 0 and word.startswith("مم"):
            # The prefix mu- or ma- before a root in m: two consonants with a short
            # vowel between, which Latin writes (Mamdouh, Mumtaz: ممدوح, ممتاز).
            out.append(("", "a"))
    return out


def _latin_segments(word: str, first: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i = 0
    n = len(word)
    while i < n:
        ch = word[i]
        if i == 0 and first:
            if ch in "aeiou":
                # The initial vowel is the glottal or ain (A) and the vowel heard after
                # it, as a short vowel (it never demands a long one of the other name,
                # and meets the ا of عا: Alia for عالية, Atif for عاطف). An initial
                # vowel digraph counts once: "ou" in Oussama.
                out.append(("A", ""))
                out.append(("", ch))
                while i < n and word[i] in "aeiou":
                    i += 1
                continue
            if ch == "y":
                out.append(("Y", ""))
                i += 1
                continue
            if ch in "wv":
                out.append(("W", ""))
                i += 1
                continue
        if word.startswith("oe", i):
            out.append(("", "u"))  # Dutch oe is u, long or short: Hoessein, Mahmoed
            i += 2
            continue
        if word.startswith("ij", i) and (i + 2 == n or word[i + 2] not in "aeiou"):
            out.append(("", "I"))  # Dutch ij: Zijnab
            i += 2
            continue
        for dg, vow in _LONG_VOWELS:
            if word.startswith(dg, i):
                out.append(("", vow))
                i += len(dg)
                break
        else:
            vow = ""
        if vow:
            continue
        for dg, cls in _LATIN_DIGRAPHS:
            if word.startswith(dg, i):
                out.append((cls, ""))
                i += len(dg)
                break
        else:
            if ch == "o" and i == n - 1 and i > 0 and word[i - 1] not in "aeiou":
                # A final o after a consonant: the o of و (Hammo, Habbo: حمو) or, as Uzbek
                # and Tajik write it, the long a of a final alif (Asmo, Zahro, Vafo: أسماء,
                # زهراء, وفاء). The a, short, asks nothing of the other name.
                out.append(("", "o"))
                out.append(("", "a"))
            elif ch in "aeiou":
                out.append(("", _VOWEL_OF[ch]))
            elif ch == "h" and i == n - 1 and i > 0 and word[i - 1] in "aeiou":
                # A silent h after a vowel: Shah, Abdullah, Fatimah (a reading keeps it:
                # Fateh, ``_READING_GROUPS``).
                pass
            elif ch == "y" and 0 < i < n - 1 and word[i - 1] not in "aeiouy" \
                    and word[i + 1] not in "aeiouy":
                # A y between consonants is a short i: Kazakh and Tatar names as their
                # Cyrillic ы is romanised (Kasym, Rakhym, Salykh).
                out.append(("", "i"))
            elif ch in "ywv":
                out.append(("", _VOWEL_OF[ch]))
            else:
                out.append((_LATIN_SINGLE.get(ch, ""), ""))
            i += 1
    return out


def _segments(unit: NameUnit) -> list[tuple[str, str]]:
    segs: list[tuple[str, str]] = []
    for k, part in enumerate(unit.parts):
        if unit.script == "ar":
            if part.endswith("ه") and len(part) > 2 and unit.parts[k + 1 : k + 2] == ("الله",):
                # A taa marbuta before Allah is the t of the construct state, which every
                # spelling writes: Hibatullah, Rahmatullah, Nematallah (هبة الله, رحمة الله).
                segs.extend([*_arabic_segments(part[:-1], k == 0), ("T", "a")])
                continue
            segs.extend(_arabic_segments(part, k == 0))
        else:
            segs.extend(_latin_segments(part, k == 0))
    return segs


def _collapse(segs: list[tuple[str, str]]) -> list[tuple[str, frozenset[str]]]:
    """Consonant classes with the set of vowels heard after each (doubles collapsed)."""
    out: list[tuple[str, set[str]]] = [("", set())]
    for cls, vow in segs:
        if cls:
            for c in cls:
                if out[-1][0] == c and not out[-1][1]:
                    continue
                out.append((c, set()))
        elif vow:
            out[-1][1].add(vow)
    return [(c, frozenset(v)) for c, v in out]


def skeleton(unit: NameUnit) -> str:
    """Consonant-class skeleton of a unit, the same for Arabic and Latin spellings."""
    return "".join(c for c, _ in _collapse(_segments(unit)))


def slots(unit: NameUnit) -> tuple[tuple[str, frozenset[str]], ...]:
    """Skeleton consonants each with the vowels heard after them (index 0: before any)."""
    return tuple(_collapse(_segments(unit)))


def romanise(unit: NameUnit) -> str:
    """A plain Latin rendering (consonants and long vowels) of an Arabic unit.

    >>> romanise(parse_name("عبد الرحمن")[0])
    'abdrhmn'
    """
    if unit.script != "ar":
        return unit.text
    parts = []
    for part in unit.parts:
        if part == "الله":
            parts.append("allah")
            continue
        s = "".join(_AR_LATIN.get(ch, "") for ch in part)
        if part.startswith("ع"):
            s = "a" + s
        parts.append(s)
    return "".join(parts)


def latin_key(unit: NameUnit) -> str:
    """Latin spelling key folding common spelling variants.

    >>> latin_key(parse_name("Mohammed")[0]) == latin_key(parse_name("Muhammad")[0])
    True
    """
    return fold_latin(romanise(unit))


# Letters whose sound depends on the language of the writer. Each entry is one
# alternative reading; a unit gets every combination of the readings its spelling
# allows (most units have none).
#   ch: French/English sh (Chadi, Aicha: the primary reading), Dutch/German/Swedish kh
#       (Chalil, Chadidja) or h (Achmed);
#   j:  English/French j (Jamil: primary), Dutch/German/Swedish y (Joessef, Ejad, Jasmien);
#   Turkish: c is j (Cemal, Cafer), a final t or p is a devoiced d or b
#       (Mehmet, Ahmet, Murat, Recep);
#   Somali (official Latin orthography): x is the Arabic h (ح: Xasan, Maxamed, Xirsi)
#       and c the ain (ع) before a, o or u (Cabdi, Cali, Cumar, Macalin; before e or i
#       c stays the French s: Yacine, Eljacem);
#   Indonesian/Malay: sy is sh (Rasyid, Hisyam, Basyir, Syarif) and, in the spelling
#       before 1972, tj is ch (Tjahjo).
#   English, French and Urdu spellings write ز or ظ and then ه as zh between vowels
#       (Azhar, Mazhar, Lazhar, Izhar: أزهر, مظهر, الأزهر, إظهار), where the zh of Russian
#       names is ж: the reading keeps the z and the h apart (z'h).
#   Kurdish (Kurmanji) and Azerbaijani: x is kh (خ: Xalid, Xelîl, Xedîce); their c, as
#       the Turkish c anywhere in a name (Hatice, Hecî, Necmi), is j; a final c stays
#       (Abdelhac).
#   Italian: sci before a vowel and sc before e or i are sh (Sciarif, Hisciam), gi
#       before a vowel and g before e or i are j (Giamal, Gihan; Egyptian spellings
#       write ج as g too: Magid).
#   Hungarian: sz is s (Juszuf), where Polish reads it sh (Szarif: the first reading).
#   Spanish: y before a vowel is j (Yamal, Yamila, Jadiya for Khadija; its j = kh is
#       an exact reading below).
#   Portuguese and Catalan: x is sh (Xerife, Aixa), beside the Somali h and Kurdish kh;
#       Portuguese, Romanian and Italian write the glides as vowels: i for y at the start
#       of a name or between vowels (Iussef, Iasmin, Al-Baiati), u for w there (Uahab,
#       Sauaf) and in a final -ui (Al-Raui, Hamui).
#   French, as Algeria and Morocco write names: an initial ou before a vowel is w
#       (Ouahiba, Oualid, Ouassim for وهيبة, وليد, وسيم).
#   Russian, as its Cyrillic is romanised: kh is also h (ح, ه: Mukhammad, Khasan,
#       Akhmed, Ibrakhim), as the Cyrillic х writes all three of ح ه خ.
#   A final h after a vowel is silent (the ta marbuta of Fatimah and Aishah, the ه of
#       Shah and Abdullah, as the Arabic script's final ه is read) or the consonant ح
#       (Salih, Fateh, Mamdouh, Rabah, Masih for صالح, فاتح, ممدوح, رباح, مسيح): the
#       reading keeps it (written hh, a consonant for the segments); never the h of
#       Allah in a compound (Zabihullah: the h of Zabih is ح, Allah's is silent).
#   (and ``_EXACT_READINGS``) French and West African spellings drop the h of hy
#       between vowels (Yaya for Yahya, يحيى): a y between vowels after a consonant may
#       be read hy. Not at the start of a name (Ayad, Ayoub keep their y).
_READING_GROUPS: list[list[list[tuple[re.Pattern[str], str]]]] = [
    [[(re.compile(r"(?<![st])ch"), "kh")], [(re.compile(r"(?<![st])ch"), "h")]],
    [[(re.compile(r"(?<![dst])j"), "y")]],
    [[(re.compile(r"y(?=[aeiou])"), "j")]],
    [[(re.compile(r"(?<![sdtc])c(?:c|(?![hkz]|$))"), "j"), (re.compile(r"(?<=[aeiouy])t$"), "d"),
      (re.compile(r"(?<=[aeiouy])p$"), "b")]],
    [[(re.compile(r"(?<![kcs])x(?!h)"), "h"), (re.compile(r"(?:^|(?<=[aeiou]))c(?=[aou])"), "")],
     [(re.compile(r"(?<![kcs])x(?!h)"), "kh")], [(re.compile(r"(?<![kcs])x(?!h)"), "sh")]],
    [[(re.compile(r"(?<![sc])kh"), "h")]],
    [[(re.compile(r"sy(?=[aeiou])"), "sh"), (re.compile(r"tj(?=[aeiou])"), "ch")]],
    [[(re.compile(r"sci(?=[aou])"), "sh"), (re.compile(r"sc(?=[ei])"), "sh"),
      (re.compile(r"gi(?=[aou])"), "j"), (re.compile(r"(?<![gn])g(?=[ei])"), "j")]],
    [[(re.compile(r"(?<![dc])sz"), "s")]],
    [[(re.compile(r"(?<=[aeiou])(?<!^alla)h$"), "hh")]],
    [[(re.compile(r"(?<=[aeiou])zh(?=[aeiou])"), "z'h")]],
    [[(re.compile(r"(?:^|(?<=[aeou]))i(?=[aeou])"), "y"),
      (re.compile(r"(?:^|(?<=[aeio]))u(?=[aei])"), "w"), (re.compile(r"(?<=[^aeiou])ui$"), "wi")]],
    [[(re.compile(r"^ou(?=[aei])"), "w")]],
]
# Readings that count only where they spell the other name exactly (or are it in
# another script), never as a merely similar name: Yaya read Yahya is Yahya, but Zayed
# read Zahyed is not "similar" to Zahid. One list of rules per reading:
#   a y between vowels after a consonant may be hy (above);
#   an initial h may be kh: Turkish, Bosnian and Albanian write خ as h (Halil, Hatice,
#       Hadidža, Halit for Khalil, Khadija, Khalid), and so is a Spanish initial j
#       (Jalid, Jadiya, Jalil for Khalid, Khadija, Khalil). Only where the other name begins
#       with that letter (``Reading.begins``: kh in Latin, خ in Arabic): the keys class
#       خ with غ ق ك, and Hasan read Khasan must not be Ghassan (غسان), nor Hadi Qadi.
#   The Spanish j is read kh only where the name is written with it (Jadiya, also with
#   its y read j), not where another reading made a j of a y (Yaya is not Khaja).
#   kh may be g: the Cyrillic г of Caucasian and Azerbaijani names is h, gh or g
#       (Гасан Hasan, Гафур Ghafur, Гульнара), read kh (``normalise._CYRILLIC``), and a
#       Russian passport writes it g (Guseynov, Magomed, Gasan for Гусейнов, Магомед,
#       Гасан): the passport's spelling exactly, never a merely similar name.
#   A final u after a syllable in u may be the long i of a nisba: Turkish vowel harmony
#       writes شكري, حسني, لطفي as Şükrü, Hüsnü, Lütfü (Shukri, Husni, Lutfi).
#   th may be ذ or ظ, as Iraqi and Gulf English spellings write them (Thanoon, Hathal,
#       Thakir, Athraa, Thiab, Kathim, Nathim for ذنون, هذال, ذاكر, عذراء, ذياب, كاظم,
#       ناظم; beside th for ث: Thamer, Haitham). Only where the other name holds such a
#       letter (``Reading.holds``: dh in Latin, ذ or ظ in Arabic): the keys read ذ and د
#       alike, and Fathi read Fadhi must not be Fadi (فادي), nor Thamer ضامر.
#   Turkish writes a final خ after a consonant as h and a final ج as c (Şeyh, Hac:
#       الشيخ, الحاج). Only where the other name holds خ or ج: a final h after a vowel
#       is the ح or ه of Salih and Shah, and is never read so.
#   German and Scandinavian dj between vowels is d and y (Nadja for نادية, as Nadia),
#       beside the Dutch and French j of Nadjib; only where the other name holds د.
_EXACT_READINGS: list[
    tuple[
        list[tuple[re.Pattern[str], str]], tuple[str, str] | None, bool, tuple[str, str] | None
    ]
] = [
    ([(re.compile(r"(?<=[^aeiou][aeiou])y(?=[aeiou])"), "hy")], None, False, None),
    ([(re.compile(r"^h(?=[aeiou])"), "kh")], ("kh", "خ"), False, None),
    ([(re.compile(r"^j(?=[aeiou])"), "kh")], ("kh", "خ"), True, None),
    ([(re.compile(r"(?<![sc])kh"), "g")], None, False, None),
    ([(re.compile(r"(?:(?<=u[^aeiou])|(?<=u[^aeiou]{2}))u$"), "i")], None, False, None),
    ([(re.compile(r"th"), "dh")], None, True, ("dh", "ذظ")),
    ([(re.compile(r"(?<=[^aeiouhkscgtdz])h$"), "kh")], None, True, ("kh", "خ")),
    ([(re.compile(r"(?<=[aeiou])c$"), "j")], None, True, ("j", "ج")),
    ([(re.compile(r"(?<=[aeiou])dj(?=[aeiou])"), "dy")], None, True, ("d", "د")),
]
# What an exact reading asks of the other name: the letter it begins with and the letter
# it holds (Latin, Arabic), each where the reading says so.
Letters = tuple[tuple[str, str] | None, tuple[str, str] | None]
# Korean: McCune-Reischauer (and the North's own spelling) writes the plain ㅈ as ch,
# the South's Revised Romanisation as j (Cho/Jo, Chae/Jae, Chang/Jang, Chung/Jung);
# read so only in a one-syllable unit, where no Arabic name is written with ch.
_SYLLABLE_READINGS: list[tuple[re.Pattern[str], str]] = [(re.compile(r"^ch"), "j")]

# One syllable of a Korean or Chinese name as romanised: an initial consonant, a vowel
# (with y/w glide) and at most n, ng, l, k, p or m (Kim, Sok, Chol, Myong, Jang, Wen).
# A syllable may also begin with its vowel where a final consonant closes it (Il, Ok,
# Un, Eun: Kim Il Sung, Pak Ok Sun); a bare vowel (O, U) is not taken for one.
# (Defined in ``normalise``, which reads such names word by word.)


def is_syllable(unit: NameUnit) -> bool:
    """True for a one-word Latin unit shaped like one syllable of a Korean or Chinese
    name (Kim, Chol, Myong, Ok; not Ali, Omar, Naim).

    >>> [is_syllable(parse_name(n)[0]) for n in ["Kim", "Myong", "Ok", "Ali", "Naim", "Omar"]]
    [True, True, True, False, False, False]
    """
    return unit.script == "la" and len(unit.parts) == 1 and bool(SYLLABLE_RE.match(unit.text))


def _apply(parts: tuple[str, ...], rules: list[tuple[re.Pattern[str], str]]) -> tuple[str, ...]:
    out = parts
    for rx, rep in rules:
        out = tuple(rx.sub(rep, p) for p in out)
    return out


def latin_readings(unit: NameUnit) -> list[NameUnit]:
    """Other readings of a Latin unit, one per way its writer's language may sound it.

    >>> [u.text for u in latin_readings(parse_name("Chalil")[0])]
    ['khalil', 'halil']
    >>> [u.text for u in latin_readings(parse_name("Joessef")[0])]
    ['yoessef']
    >>> latin_readings(parse_name("Hassan")[0])
    []
    """
    if unit.script != "la":
        return []
    variants = [unit.parts]
    groups = _READING_GROUPS
    if is_syllable(unit):
        # A Korean syllable's ch is never the Dutch kh or h (Cho is not Kho).
        groups = [*groups[1:], [_SYLLABLE_READINGS]]
    seen = {unit.parts}
    for group in groups:
        more = []
        for parts in variants:
            for rules in group:
                alt = _apply(parts, rules)
                if alt not in seen:  # Joessef read Yoessef is not read back as Joessef
                    seen.add(alt)
                    more.append(alt)
        variants.extend(more)
    return [NameUnit(p, "la") for p in variants[1:]]


def exact_readings(unit: NameUnit) -> list[NameUnit]:
    """Readings of a Latin unit that count only where they spell the other name exactly
    (``_EXACT_READINGS``: Yaya read Yahya, Halil read Khalil).

    >>> [u.text for u in exact_readings(parse_name("Yaya")[0])]
    ['yahya']
    >>> [u.text for u in exact_readings(parse_name("Halil")[0])]
    ['khalil']
    >>> exact_readings(parse_name("Ayad")[0])
    []
    """
    return [u for u, _ in _exact_readings(unit)]


def _exact_readings(
    unit: NameUnit, others: list[NameUnit] | None = None
) -> list[tuple[NameUnit, Letters]]:
    """``exact_readings`` with the letters the other name must begin with and hold
    (Latin, Arabic), where the reading says so; ``others``: the unit's
    ``latin_readings`` where the caller has them already."""
    if unit.script != "la":
        return []
    # Over the unit's other readings too: Hadica is Turkish for Khadija by h = kh and
    # c = j together.
    if others is None:
        others = latin_readings(unit)
    spellings = [unit.parts, *(u.parts for u in others)]
    out: dict[tuple[str, ...], Letters] = {}
    for rules, begins, own_only, holds in _EXACT_READINGS:
        if own_only and _apply(unit.parts, rules) == unit.parts:
            continue  # the letter is not the writer's (a y read j)
        for parts in spellings:
            alt = _apply(parts, rules)
            if alt != parts and alt not in spellings and alt not in out:
                out[alt] = (begins, holds)
    return [(NameUnit(alt, "la"), letters) for alt, letters in out.items()]


# An o within a word that is not part of the Dutch oe, the French ou or an oo (u, all
# three). Not a final o: Syrian and Kurdish names end in the o of و (Habbo, Hammo, Hasso:
# حبو, حمو, حسو); the Uzbek final o meets a final alif by ``_latin_segments`` and a ى by
# ``compare._COMPAT``.
_O_AS_A_RE = re.compile(r"(?<!o)o(?![eou])(?=[a-z])")


def o_reading(unit: NameUnit, long: bool = True) -> NameUnit | None:
    """The Latin ``unit`` with its o read as the long a (written aa), as Uzbek and Tajik
    write it (Fotima, Ibrohim: ``central_asian``), and Javanese (Rochman, Sholeh); None
    where it has no such o (the Dutch oe, the French ou are u). The comparator reads a
    name so only where the reading is a spelling the name data know far better. Long,
    so that it asks the other name for its alif: Rokaya is not Raqiya (راقية);
    ``long=False`` gives the short a, which ``vouched_readings`` tries only beside a
    letter of Indonesian spelling (Shofiyah: صفية).

    >>> o_reading(parse_name("Fotima")[0])
    NameUnit(parts=('faatima',), script='la')
    >>> [o_reading(parse_name(n)[0]) for n in ("Hasan", "Choeli", "Habbo")]
    [None, None, None]
    """
    if unit.script != "la" or _O_AS_A_RE.search(unit.text) is None:
        return None
    a = "aa" if long else "a"
    return NameUnit(tuple(_O_AS_A_RE.sub(a, p) for p in unit.parts), "la")


# Letters that Indonesian and Malay (and Sundanese, Tagalog and the Turkic languages for
# the f) give to Arabic sounds which other Latin spellings give to another sound:
#   sh is ص (Sholeh, Shofiyah, Nashir, Hafshah: صالح, صفية, ناصر, حفصة), not ش, which
#       they write sy (``_READING_GROUPS``);
#   a final zh is ظ (Hafizh, Mahfuzh: حافظ, محفوظ), not the ж of Russian names (within
#       a word it is mostly z and h: Azhar, Mazhar, Lazhar: أزهر, مظهر, الأزهر);
#   ts is ث (Utsman, Harits, Haitsam: عثمان, حارث, هيثم), which English writes th;
#   p is ف, as Sundanese, Tagalog and the Turkic languages say it (Yusup, Arip, Sopyan,
#       Lutpi; Kazakh and Tatar Yusupov): not a ph.
# The comparator reads a name so only where the data vouch for it (``vouched_readings``).
_LETTER_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![cst])sh"), "s"), (re.compile(r"(?<![dst])zh$"), "z"),
    (re.compile(r"ts(?!ch)"), "th"), (re.compile(r"p(?!h)"), "f"),
]


# How much the name data must vouch for a reading (``vouched``): the reading is a spelling
# they know (3 times or more) and
VOUCH_MORE = "more"  # they know it more than twice as often as the name as written;
VOUCH_UNSEEN = "unseen"  # they never saw the name as written;
VOUCH_KNOWN = "known"  # nothing more: the spelling says what it is.

# The article that Moroccan and Algerian names fuse to the name, as their French spellings
# write it: l before a consonant (Lhoussine, Lhoucine, Lbachir, Lmahdi, Lhaj: الحسين,
# البشير, المهدي, الحاج) and lah before one (Lahcen, Lahbib: الحسن, الحبيب), which no
# other name begins with; la before a consonant (Lahoucine: الحسين) and l before a (Laid:
# العيد) only where the data never saw the name as written: Lamis, Latifa and Layla are
# names of their own.
_ARTICLE_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^l(?=[^aeiouy'])"), "", VOUCH_KNOWN),
    (re.compile(r"^lah(?=[^aeiouy])"), "ha", VOUCH_KNOWN),
    (re.compile(r"^la(?=[^aeiouy])"), "", VOUCH_UNSEEN),
    (re.compile(r"^l(?=a)"), "", VOUCH_UNSEEN),
]


# A single s that German (and Austrian and Swiss German) spelling writes for ز, since a
# German s before a vowel sounds z and a z sounds ts: Siad, Seinab, Sakaria, Rasan,
# Hamsa, Asis, Nisar for زياد, زينب, زكريا, رزان, حمزة, عزيز, نزار (the German press wrote
# al-Sarkawi and al-Sawahiri). Not the s of sh, sch, ss, ts, sz or ds. Read so only where
# the data know the reading more than twice as often as the name as written: Samir, Sami
# and Yasin stay as they are.
_GERMAN_S_RE = re.compile(r"(?<![stdz])s(?![hsz])")


def german_s_readings(unit: NameUnit) -> list[NameUnit]:
    """The Latin ``unit`` with one or more of its single s read as z, as German spelling
    writes ز (``_GERMAN_S_RE``): every s, and where a word has two or three, each of them
    alone. Not in a syllable of a Korean or Chinese name (Sok, Song).

    >>> [u.text for u in german_s_readings(parse_name("Siad")[0])]
    ['ziad']
    >>> [u.text for u in german_s_readings(parse_name("Asis")[0])]
    ['aziz', 'azis', 'asiz']
    >>> german_s_readings(parse_name("Hassan")[0])
    []
    """
    if unit.script != "la" or is_syllable(unit):
        return []
    out: dict[tuple[str, ...], None] = {}
    out[tuple(_GERMAN_S_RE.sub("z", p) for p in unit.parts)] = None
    for i, part in enumerate(unit.parts):
        spots = [m.start() for m in _GERMAN_S_RE.finditer(part)]
        if 1 < len(spots) <= 3:
            for at in spots:
                alt = (*unit.parts[:i], part[:at] + "z" + part[at + 1 :], *unit.parts[i + 1 :])
                out[alt] = None
    out.pop(unit.parts, None)
    return [NameUnit(parts, "la") for parts in out]


def vouched(kind: str, written: int, reading: int) -> bool:
    """True where the name data vouch for a reading of ``kind`` (``VOUCH_*``), given how
    often they spell some Arabic name as written and as read (``VariantTable.seen``)."""
    if reading < 3:
        return False
    if kind == VOUCH_MORE:
        return reading > 2 * written
    return kind == VOUCH_KNOWN or not written


def article_readings(unit: NameUnit) -> list[tuple[NameUnit, str]]:
    """The Latin ``unit`` without the article fused to its first word the Moroccan and
    Algerian way (``_ARTICLE_RULES``), each with how much the data must vouch for it.

    >>> [(u.text, kind) for u, kind in article_readings(parse_name("Lahcen")[0])]
    [('hacen', 'known'), ('hcen', 'unseen'), ('ahcen', 'unseen')]
    >>> [u.text for u, _ in article_readings(parse_name("Lhoussine")[0])]
    ['houssine']
    """
    if unit.script != "la" or is_syllable(unit) or not unit.parts[0].startswith("l"):
        return []
    out: dict[NameUnit, str] = {}
    first, rest = unit.parts[0], unit.parts[1:]
    for rx, rep, kind in _ARTICLE_RULES:
        word = rx.sub(rep, first, count=1)
        if word != first and len(word) >= 2:
            out.setdefault(NameUnit((word, *rest), "la"), kind)
    return list(out.items())


def letter_reading(unit: NameUnit) -> NameUnit | None:
    """The Latin ``unit`` with the letters Indonesian, Malay, Sundanese and the Turkic
    languages give to other Arabic sounds read as those sounds (``_LETTER_RULES``); None
    where it has none of them.

    >>> [letter_reading(parse_name(n)[0]).text for n in ("Sholeh", "Hafizh", "Utsman", "Yusup")]
    ['soleh', 'hafiz', 'uthman', 'yusuf']
    >>> letter_reading(parse_name("Hasan")[0]) is None
    True
    """
    if unit.script != "la" or is_syllable(unit):  # Korean Pong, Pae are not Fong, Fae
        return None
    parts = _apply(unit.parts, _LETTER_RULES)
    return None if parts == unit.parts else NameUnit(parts, "la")


def vouched_readings(unit: NameUnit) -> list[tuple[NameUnit, str]]:
    """Readings of a Latin ``unit`` that count only where the name data vouch for them
    (``vouched``), each with how much they must:

    - the o read as the long a (``o_reading``: Fotima read Faatima): ``VOUCH_MORE``;
    - the letters of Indonesian, Malay, Sundanese and Turkic spellings read as the sounds
      they stand for there, alone or with the o read a, long or short (``letter_reading``:
      Sholeh read Saleh, Yusup read Yusuf): ``VOUCH_UNSEEN``;
    - the Moroccan and Algerian article taken off (``article_readings``: Lhoussine read
      Houssine);
    - the German s read as z (``german_s_readings``: Siad read Ziad): ``VOUCH_MORE``.

    ``compare.UnitComparator`` accepts a reading that the data vouch for and that is the
    other name; ``blocking`` gives such a reading a key of its own.

    >>> [(u.text, kind) for u, kind in vouched_readings(parse_name("Sholeh")[0])]
    [('shaaleh', 'more'), ('soleh', 'unseen'), ('saaleh', 'unseen'), ('saleh', 'unseen')]
    """
    if unit.script != "la":
        return []
    out: list[tuple[NameUnit, str]] = []
    o_read = o_reading(unit)
    if o_read is not None:
        out.append((o_read, VOUCH_MORE))
    out.extend(article_readings(unit))
    out.extend((r, VOUCH_MORE) for r in german_s_readings(unit))
    letters = letter_reading(unit)
    if letters is not None:
        out.append((letters, VOUCH_UNSEEN))
        both = o_reading(letters)
        if both is not None:
            # Javanese writes o for the a after these letters, long or short (Sholeh,
            # Shofiyah: صالح, صفية).
            out.append((both, VOUCH_UNSEEN))
            out.append((o_reading(letters, long=False) or both, VOUCH_UNSEEN))
    return out


def vouched_keys(unit: NameUnit, seen: Callable[[str], int]) -> list[UnitKeys]:
    """The keys of ``unit``'s readings (``vouched_readings``) that the name data vouch for
    (``vouched``), given ``seen``: how often the data spell some Arabic name with a Latin
    key (``VariantTable.seen``). A reading is known by its own key or by a key of its
    other readings (Sholeh read Saleh: the h of Saleh read as ح)."""
    written = seen(latin_key(unit)) if unit.script == "la" else 0
    out = []
    for reading, kind in vouched_readings(unit):
        if not vouched(kind, written, sys.maxsize):
            continue  # no count of the reading could vouch for it: skip its keys
        r = unit_keys(reading)  # its Latin key folds the aa: Faatima's is fatima
        known = max([seen(r.latin), *(seen(x.latin) for x in r.readings if not x.exact)])
        if vouched(kind, written, known):
            out.append(r)
    return out


class Reading:
    """Skeleton, slots and Latin key of one other reading of a unit; ``exact``: the
    reading counts only where it spells the other name exactly (``exact_readings``);
    ``begins``: where not None, the other name must begin with this (Latin, Arabic)
    letter (Halil read Khalil is خليل, not غسان's kind of K); ``holds``: where not None,
    the other name must hold this letter (Thakir read Dhakir is ذاكر, not Fathi Fadi)."""

    __slots__ = ("skeleton", "slots", "latin", "text", "exact", "begins", "holds")

    def __init__(
        self,
        unit: NameUnit,
        exact: bool = False,
        begins: tuple[str, str] | None = None,
        holds: tuple[str, str] | None = None,
    ) -> None:
        self.text = unit.text
        self.slots = slots(unit)
        self.skeleton = "".join(c for c, _ in self.slots)
        self.latin = latin_key(unit)
        self.exact = exact
        self.begins = begins
        self.holds = holds

    def asks_of(self, text: str, arabic: bool) -> bool:
        """Whether the other name (its ``text``, in Arabic script or not) begins with and
        holds the letters this reading asks for."""
        if self.begins is not None and not text.startswith(self.begins[arabic]):
            return False
        if self.holds is None:
            return True
        if arabic:  # any of the Arabic letters
            return any(letter in text for letter in self.holds[1])
        return self.holds[0] in text


class UnitKeys:
    """All keys of one unit, computed once (units repeat a lot: cache by unit)."""

    __slots__ = ("unit", "skeleton", "slots", "alt_skeleton", "alt_slots", "latin", "text",
                 "script", "readings", "syllable")

    def __init__(self, unit: NameUnit) -> None:
        self.unit = unit
        self.syllable = is_syllable(unit)  # one syllable of a Korean or Chinese name
        self.text = unit.text
        self.script = unit.script
        sl = slots(unit)
        self.slots = sl
        self.skeleton = "".join(c for c, _ in sl)
        self.latin = latin_key(unit)
        # Other readings by the writer's language (Dutch ch = kh, j = y; Turkish c = j).
        others = latin_readings(unit)
        # A reading with this unit's skeleton is kept where it hears other vowels
        # (Portuguese Eiad read Eyad has the long i and a of إياد), or where it counts
        # only as the other name's exact spelling and spells another (Khuseynov read
        # Guseynov, as a Russian passport writes Гусейнов).
        self.readings = tuple(
            r for r in (
                *(Reading(u) for u in others),
                *(Reading(u, exact=True, begins=b, holds=h)
                  for u, (b, h) in _exact_readings(unit, others)),
            ) if r.skeleton != self.skeleton or r.slots != sl
            or (r.exact and r.text != self.text)
        )
        # Persian/Urdu say z for ض ظ ذ and s for ث: Zia for ضیا, Saqib for ثاقب.
        if unit.script == "ar" and any(ch in unit.text for ch in "ضظذث"):
            alt = NameUnit(tuple(p.translate(_AR_ALT) for p in unit.parts), "ar")
            self.alt_slots = slots(alt)
            self.alt_skeleton = "".join(c for c, _ in self.alt_slots)
        else:
            self.alt_slots = sl
            self.alt_skeleton = self.skeleton


@lru_cache(maxsize=200_000)
def unit_keys(unit: NameUnit) -> UnitKeys:
    """Cached :class:`UnitKeys` for ``unit``."""
    return UnitKeys(unit)


def _demo() -> None:  # pragma: no cover - manual check
    for name in ["محمد", "Mohammed", "محمود", "Mahmoud", "Ahmed", "Hamed"]:
        u = parse_name(name)[0]
        print(name, skeleton(u), latin_key(u), slots(u))
