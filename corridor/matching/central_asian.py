"""Names written the Uzbek and Tajik way: ``o`` for the Arabic long a.

Uzbek (in its Latin and its Cyrillic alphabet) and Tajik (Cyrillic) write the vowel of
the Persian and Arabic long a, alif, with the letter o: Fotima for Fatima (فاطمة),
Ibrohim for Ibrahim, Ismoil, Sobir, Nodir, Qodir, Usmon (عثمان), Abdulloh and Tajik
Abdullo (عبد الله), Muso and Yahyo (موسى, يحيى), Tajik Фотима, Иброҳим, Исмоил. Their
u is the Arabic u, long or short (Umar, Yusuf, Mahmud), and their short a is a (Ahmad,
Hasan). Relatives in Uzbekistan, Tajikistan and Kyrgyzstan write a name so, and the
passports of those countries romanise it so (Ibrokhim, Kholid). The keys read a Latin o
as the Arabic u, never as a long a, so every such name was another name.

Two ways in:

- **A name written so** (``is_central_asian``) is read with its o as a
  (``read_central_asian``): it has a letter only Tajik or Uzbek use (Cyrillic ҳ ҷ ӯ ӣ ў,
  where no Kazakh, Kyrgyz or Tatar letter stands beside them; Latin gʻ, and oʻ with the
  Uzbek ʻ), or a word only they form: a name ending in -jon or -xon (Ahmadjon,
  Muhammadjon, Mohiraxon), -boy (Rahimboy), the Tajik -ullo and Uzbek -ulloh of names
  with Allah (Abdullo, Nurulloh) or the Tajik surname in -zoda (Rahmonzoda). The Uzbek
  oʻ (an o or u) is read u, gʻ is gh (غ) and x kh (خ), and the endearment -jon is
  dropped (Ahmadjon is Ahmad). The other name parts of the record are read the same
  way (``central_asian_parts``).
- **A word alone**: a Latin name that is no spelling the name data know, but would be
  with its o read a (Fotima in ``Fotima Karimova``), is that name
  (``compare.UnitComparator``; ``keys.o_reading`` gives the reading). Omar, Soad or Hosam,
  known spellings, are never read so: Omar is not Amir.

>>> is_central_asian("Ahmadjon Ibrohimov"), is_central_asian("Фотима Раҳмонова")
(True, True)
>>> is_central_asian("Omar Mohammed"), is_central_asian("Mo'men Osman")
(False, False)
>>> read_central_asian("Ibrohim Gʻofurov Oʻrinboy Ahmadjon")
'Ibrahim Ghafurov Urinbay Ahmad'
>>> read_central_asian("Фотима Раҳмонова")
'Фатима Раҳманова'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["central_asian_parts", "is_central_asian", "read_central_asian"]

# Cyrillic letters of Tajik (ҳ ҷ ӯ ӣ) and Uzbek (ҳ ў); Kazakh, Kyrgyz and Tatar write the
# long a as a, and their own letters (ә ө ү ұ і ң һ) say the name is theirs.
_TAJIK_UZBEK_RE = re.compile("[ҳҷӯӣў]")
_TURKIC_RE = re.compile("[әөүұіңһ]")
# The Uzbek Latin gʻ (غ) and oʻ, with any of the apostrophes that stand for the ʻ; the
# oʻ only with the Uzbek letter itself (a Korean name writes o' and o’: My’ong).
_APOSTROPHE = "ʻ‘'’`"
_UZBEK_LATIN_RE = re.compile(f"g[{_APOSTROPHE}](?=[aeiou])|oʻ")
# Words only Tajik and Uzbek names form: -jon, -xon, -boy; -ullo, -ulloh (Allah); -zoda.
_WORD_RE = re.compile(r"\b(?:[a-z]{3,}(?:jon|zhon|xon|boy|zoda)|[a-z]{2,}ull?oh?)\b")


def is_central_asian(text: str) -> bool:
    """True when ``text`` is a name written the Tajik or Uzbek way (module docstring)."""
    t = unicodedata.normalize("NFC", text.casefold())
    if _TAJIK_UZBEK_RE.search(t) and not _TURKIC_RE.search(t):
        return True
    if _UZBEK_LATIN_RE.search(t):
        return True
    plain = re.sub(f"[{_APOSTROPHE}]", "", t)
    plain = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
    return _WORD_RE.search(plain) is not None


# The Uzbek oʻ and gʻ (with whatever apostrophe was typed) first; then, word by word, o
# (Latin and Cyrillic) as a and the Uzbek x as kh. A Russian ending, and the Tajik
# -zoda, is kept as it is written (Ibrohimov, Раҳмонова, Karimovna, Rahmonzoda), so that
# ``normalise`` reads it as the father's or forebear's name. Case is kept: the parser
# reads an upper-case word as the family name.
_OU_RE = re.compile(f"([oO])[{_APOSTROPHE}]")
_GH_RE = re.compile(f"([gG])[{_APOSTROPHE}](?=[aeiouAEIOU])")
_LETTERS_RE = re.compile(r"[^\W\d_]+")
_RUSSIAN_ENDING_RE = re.compile(
    r"(?P<stem>.{3,}?)(?P<ending>ovich|ovych|ovna|ova|ov|zoda|ович|овна|ова|ов|зода)",
    re.IGNORECASE,
)
_O_AS_A = str.maketrans({"o": "a", "O": "A", "о": "а", "О": "А", "x": "kh", "X": "Kh"})
# -jon (Tajik -ҷон, Uzbek Cyrillic -жон, romanised -zhon), the endearment added to a
# name and often kept in documents: Ahmadjon and Akhmadzhon are Ahmad.
_JON_RE = re.compile(r"(?P<stem>.{3,})(?:jon|zhon|ҷон|жон)", re.IGNORECASE)


def _word(m: re.Match[str]) -> str:
    word = m.group(0)
    jon = _JON_RE.fullmatch(word)
    if jon:
        word = jon.group("stem")
    russian = _RUSSIAN_ENDING_RE.fullmatch(word)
    if russian:
        return russian.group("stem").translate(_O_AS_A) + russian.group("ending")
    return word.translate(_O_AS_A)


def read_central_asian(text: str) -> str:
    """``text`` with the Uzbek and Tajik letters read as the keys read Arabic names:
    o (Cyrillic о) as a, oʻ as u, gʻ as gh, x as kh; the endearment -jon dropped; a
    Russian ending kept."""
    text = _OU_RE.sub(lambda m: "u" if m.group(1) == "o" else "U", text)
    text = _GH_RE.sub(lambda m: m.group(1) + "h", text)
    return _LETTERS_RE.sub(_word, text)


def central_asian_parts(fields: list[str | None]) -> list[str | None]:
    """A record's name parts, all read the Tajik and Uzbek way where one of them is
    written so: Fotima beside Rahmonzoda is Fatima.

    >>> central_asian_parts(["Fotima", None, "Rahmonzoda"])
    ['Fatima', None, 'Rahmanzoda']
    >>> central_asian_parts(["Omar", "Osman"])
    ['Omar', 'Osman']
    """
    if not any(f and is_central_asian(f) for f in fields):
        return fields
    return [read_central_asian(f) if f else f for f in fields]
