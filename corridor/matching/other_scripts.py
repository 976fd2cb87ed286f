"""Names in the letters of other alphabets: Greek, Georgian, Armenian, Hebrew, Thaana,
Devanagari, Ethiopic and the rest, read in Latin letters.

The parser reads Latin, Arabic and Cyrillic letters. A name written in any other
alphabet came out as nothing: no name unit, so an enquiry or a registration with it
matched nobody and nobody matched it. Relatives and documents write such names: the
Greek asylum service writes names of those who crossed to the islands in Greek letters
(Μοχάμεντ, Χασάν, Φατιμά), a family in Georgia's Pankisi valley in Georgian (ფატიმა),
one in the Maldives in Thaana (ފާޠިމާ).

Each letter of such an alphabet is romanised by ``anyascii`` (a well-kept table of every
Unicode letter), after a few rules that table does not know about names of Arabic
origin:

- Greek writes b as μπ and d as ντ (Αμπντουλάχ is Abdullah, Μοχάμεντ Mohamed), g as
  γκ, j as τζ, y before a vowel as γι (Γιουσέφ: Yusef), u as ου (long where it bears
  the stress: Μαχμούντ, Mahmoud); αι is e, ει οι υι are i, and χ (ح, خ and ه alike) is
  kh, which the keys also read h.
- Georgian writes f with ფ (ფატიმა: Fatima), which ``anyascii`` gives as p'.
- Armenian writes u as ու (Մուհամմադ: Muhammad).
- Hebrew ו and י in a name are mostly the vowels u and i (מוחמד: Muhmd).

>>> romanise_other("Μοχάμεντ Χασάν"), romanise_other("ფატიმა"), romanise_other("Γιουσέφ")
('mokhamed khasan', "fat'ima", 'yusef')
>>> romanise_other("ޙަސަން")
"h'asan"
>>> romanise_other("Hasan حسن Гасан")
'Hasan حسن Гасан'
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

__all__ = ["has_other_script", "romanise_other"]

# Letters the parser reads itself: Latin (with its accents and the letters of the
# languages relatives write in), Arabic, Cyrillic. Anything else that is a letter or a
# mark is another alphabet's.
_OWN = re.compile(
    "[\u0000-\u024f\u0250-\u02ff\u1e00-\u1eff"  # Latin, IPA, modifier letters (ʻ ʿ)
    "\u0300-\u036f"  # combining accents
    "\u0400-\u052f"  # Cyrillic
    "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"  # Arabic
    "\u2000-\u206f\u200c\u200d]"  # punctuation, zero-width (non-)joiners
)
# A character of none of them (a C-level scan: most names have none).
_NOT_OWN_RE = re.compile("[^" + _OWN.pattern[1:])

_GREEK_DIGRAPHS = [
    (re.compile(pattern), latin)
    for pattern, latin in [
        ("γι(?=[αεηιουω])", "y"), ("μπ", "b"), ("ντ", "d"), ("γκ", "g"), ("γγ", "ng"),
        ("τζ", "j"), ("τσ", "ts"), ("ου", "u"), ("αι", "e"), ("[εου]ι", "i"), ("αυ", "av"),
        ("ευ", "ev"),
    ]
]  # fmt: skip
_GREEK = str.maketrans(
    {
        "α": "a",
        "β": "v",
        "γ": "g",
        "δ": "d",
        "ε": "e",
        "ζ": "z",
        "η": "i",
        "θ": "th",
        "ι": "i",
        "κ": "k",
        "λ": "l",
        "μ": "m",
        "ν": "n",
        "ξ": "ks",
        "ο": "o",
        "π": "p",
        "ρ": "r",
        "σ": "s",
        "ς": "s",
        "τ": "t",
        "υ": "i",
        "φ": "f",
        "χ": "kh",
        "ψ": "ps",
        "ω": "o",
    }
)
_GREEK_RE = re.compile("[\u0370-\u03ff\u1f00-\u1fff]+")
_BEFORE = str.maketrans({"ფ": "f", "ו": "u", "י": "i"})
_ARMENIAN_U_RE = re.compile("ու|ՈՒ|Ու")


def has_other_script(text: str) -> bool:
    """True when ``text`` holds a letter of an alphabet the parser does not read."""
    return any(c.isalpha() or unicodedata.category(c) == "Mn" for c in _NOT_OWN_RE.findall(text))


def _greek(m: re.Match[str]) -> str:
    # Accents off, the diaeresis kept apart (Χουσεΐν: e and i are two vowels, not ει).
    word = unicodedata.normalize("NFD", m.group(0).casefold())
    # A stressed ου is the long u of the name (Μαχμούντ: Mahmoud, not Muhammad); an
    # unstressed one its short u (Χουσεΐν: Husayn).
    word = word.replace("ου\u0301", "ou").replace("\u0301", "")
    word = word.replace("\u0308", "#")
    word = re.sub(r"(.)#", r"#\1", unicodedata.normalize("NFC", word))
    for rx, rep in _GREEK_DIGRAPHS:
        word = rx.sub(rep, word)
    return word.translate(_GREEK).replace("#", "")


def romanise_other(text: str) -> str:
    """``text`` with every letter of an alphabet other than Latin, Arabic and Cyrillic in
    Latin letters (Greek by its rules above, the others by ``anyascii``); the rest as it
    is."""
    if not has_other_script(text):
        return text
    text = _GREEK_RE.sub(_greek, text)
    text = _ARMENIAN_U_RE.sub("u", text).translate(_BEFORE)
    return "".join(c if _OWN.match(c) else anyascii(c) for c in text)
