"""Arabic-script alphabets that write their vowels: Kurdish (Sorani) and Uyghur.

Arabic writes consonants and long vowels; the keys read a name's skeleton and long
vowels from that. Sorani Kurdish, as the Kurdistan Region of Iraq and many Kurds in
Syria and abroad write it, and Uyghur write every vowel: ``ە`` is a short a or e, ``ێ``
(Uyghur ``ې``) an e, ``ۆ`` an o, and ``ی``, ``و`` are vowels as often as they are y and w.
Arabic names come out with letters Arabic does not have in them: حەسەن for حسن
(Hasan), عەلی for علي, ئەحمەد for أحمد, فاتیمە for فاطمة, عومەر for عمر, خالید for خالد.
Read as Arabic, ``ە`` was a consonant (an h) and every name a different one.

A name written so is romanised letter by letter, as Kurdish is written in Latin letters
(Hawar) but with the digraphs the keys read (``kh`` for خ, ``sh`` for ش, ``j`` for ج)
and ``a`` for ``ە``, the fatha of the Arabic name (Hasan, Ali, Ahmad, Fatima, Umar,
Khalid), and is compared as a Latin name: the Latin keys treat a short vowel as no
demand on the other name, which is what the Kurdish spelling of an Arabic name needs
(its ی and و are as often the Arabic short i and u as the long ones).

Only a name with a letter that Arabic and Persian do not use (``ە ێ ۆ ڕ ڵ`` and the
Uyghur ``ۇ ۈ ۋ ڭ``), or a word that begins with the vowel carrier ``ئ`` (Arabic never
begins a word with it), is read so; Persian and Arabic names are not touched. Kurdish
typed with ``ه`` for ``ە`` (an old keyboard habit) cannot be told from Arabic and is not
recognised.

>>> romanise_vocalised("حەسەن عەلی ئەحمەد")
'hasan ali ahmad'
>>> romanise_vocalised("فاتیمە زەینەب عومەر مەحموود")
'fatima zaynab umar mahmuud'
>>> is_vocalised("حسن علي"), is_vocalised("ئازاد")
(False, True)
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_vocalised", "romanise_vocalised", "vocalised_parts"]

# Uyghur letters no other alphabet of the region uses (Uyghur's ې is Pashto's too, and
# Pashto does not write every vowel: it is read as Uyghur only beside these).
_UYGHUR_LETTERS = "ۇۈۋڭ"
_MARKERS_RE = re.compile(f"[ەێۆڕڵ{_UYGHUR_LETTERS}]|(?:^|[\\s\\-_.,،(])ئ")
# Harakat, Quranic marks, superscript alef, tatweel, zero-width (non-)joiners.
_MARKS_RE = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640\u200c\u200d]")

# Consonants, as the keys read Latin (the letters Arabic shares keep the Arabic values).
_CONSONANTS = {
    "ب": "b", "پ": "p", "ت": "t", "ط": "t", "ث": "th", "ج": "j", "چ": "ch", "ح": "h",
    "خ": "kh", "د": "d", "ذ": "dh", "ر": "r", "ڕ": "r", "ز": "z", "ژ": "zh", "س": "s",
    "ص": "s", "ش": "sh", "ض": "d", "ظ": "z", "غ": "gh", "ف": "f", "ڤ": "v", "ق": "q",
    "ک": "k", "ك": "k", "گ": "g", "ڭ": "ng", "ل": "l", "ڵ": "l", "م": "m", "ن": "n",
    "ه": "h", "ھ": "h", "ۋ": "w",
}
# Letters that are always vowels.
_VOWELS = {
    "ا": "a", "أ": "a", "آ": "a", "ٱ": "a", "إ": "i", "ە": "a", "ة": "a", "ێ": "e", "ې": "e",
    "ۆ": "o", "ۇ": "u", "ۈ": "u",
}
# Letters that h would join into another letter (zh, sh, kh, th, dh, gh, ch): where
# Kurdish leaves the short vowel between them unwritten, it is written.
_BEFORE_H = frozenset("zsktdgc")
_CARRIERS = frozenset("ئءؤ")  # a glottal stop before a vowel: not written in Latin
_VOWEL_LETTERS = frozenset(_VOWELS) | frozenset("وی")


def is_vocalised(text: str) -> bool:
    """True when ``text`` is written in an Arabic-script alphabet that writes its vowels
    (Sorani Kurdish, Uyghur): it has a letter of theirs or a word that begins with ئ."""
    return _MARKERS_RE.search(_MARKS_RE.sub("", text)) is not None


def romanise_vocalised(text: str) -> str:
    """``text`` in Latin letters, word by word (other characters are kept)."""
    text = _MARKS_RE.sub("", unicodedata.normalize("NFC", text))
    uyghur = any(c in _UYGHUR_LETTERS for c in text)
    return re.sub(r"[^\s\-_.,،()]+", lambda m: _word(m.group(0), uyghur), text)


# Letters of an Arabic keyboard that a Kurdish one types otherwise (ی ک ە): a word with
# them and no Kurdish vowel letter was written the Arabic way (pasted from a document,
# typed by an Arabic-speaking clerk), and its ي and و are the long vowels Arabic writes.
_ARABIC_ONLY = frozenset("يكةىأإآ")
_KURDISH_VOWELS = frozenset("ەێۆ")


def _word(word: str, uyghur: bool) -> str:
    arabic = not uyghur and any(c in _ARABIC_ONLY for c in word) and not any(
        c in _KURDISH_VOWELS for c in word)
    long_i, long_u = ("ii", "uu") if arabic else ("i", "u")
    out: list[str] = []
    n = len(word)
    i = 0
    carried = False  # the previous letter was the vowel carrier: a vowel follows
    while i < n:
        ch = word[i]
        nxt = word[i + 1] if i + 1 < n else ""
        prev_vowel = bool(out) and out[-1][-1:] in ("a", "e", "i", "o", "u")
        if ch in _CARRIERS:
            carried = True
            i += 1
            continue
        if ch == "ع":
            # The ain begins a word as its vowel does (Elî, Umer); before a consonant the
            # vowel is not written and is an a (عبد, Abd).
            if not out and nxt and nxt not in _VOWEL_LETTERS:
                out.append("a")
            i += 1
            carried = True  # a vowel follows the ain: Se'îd, not Seyd
            continue
        if uyghur and ch in "وىي":
            out.append({"و": "o", "ى": "i", "ي": "y"}[ch])
        elif ch == "ى":
            out.append("a" if i == n - 1 else "i")  # Arabic's final alef maqsura; Uyghur i
        elif ch in ("ی", "ي"):
            if not carried and (not out or prev_vowel):
                out.append("y")  # Yûsif; Zeyneb, Huseyn
            else:  # Xalid, Kerîm; Ziad, Mariam (the keys read ia as iya); Îbrahîm
                out.append(long_i)
        elif ch == "و":
            if nxt == "و":
                out.append("uu")  # the long u: Mehmûd is not Mihemed
                i += 1
            elif not carried and (not out or prev_vowel or (nxt in _VOWELS and nxt != "ة")):
                out.append("w")  # Welîd; Newzad; Rizwan before a vowel
            else:
                out.append(long_u)  # Umer, Huseyn; Umêd after the carrier
        elif ch in _VOWELS:
            out.append(_VOWELS[ch])  # a final ە is the feminine ending: Fatima, Hamza
        elif ch == "ه" and i == n - 1 and out and not prev_vowel:
            out.append("a")  # typed for the final ە: فاتیمه
        elif ch in _CONSONANTS:
            latin = _CONSONANTS[ch]
            if latin == "h" and out and out[-1] in _BEFORE_H:
                out.append("i")  # the unwritten vowel: زهرا Zihra, not zhra (ژ), ادهم Adiham
            out.append(latin)
        else:
            out.append(ch)
        carried = False
        i += 1
    return "".join(out)


def vocalised_parts(fields: list[str | None]) -> list[str | None]:
    """A record's name parts, all romanised where one of them is written in a vocalised
    alphabet: a Kurdish registrar's خالید (no letter of its own to tell it from Arabic)
    beside حەسەن is Kurdish too, and the parts of one name stay in one script.

    >>> vocalised_parts(["خالید", "حەسەن", None])
    ['khalid', 'hasan', None]
    >>> vocalised_parts(["خالد", "Hasan"])
    ['خالد', 'Hasan']
    """
    if not any(f and is_vocalised(f) for f in fields):
        return fields
    return [romanise_vocalised(f) if f else f for f in fields]
