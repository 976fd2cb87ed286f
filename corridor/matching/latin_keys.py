"""The Latin spelling key of a word, how often the shipped name data spell some Arabic
name with each key, and the reader of the shipped tables.

The key folds the usual variants of Latin spellings (ou/u/oo, ee/i, e/a, doubled letters,
kh/k, dh/d, ph/f, q/k, and the digraphs of the languages relatives write in);
``keys.latin_key`` gives a name unit's (an Arabic unit romanised first). Kept apart from
``keys`` and ``variants`` so that the parser (``normalise``) may ask whether the data know
a word without importing either (both import the parser).

>>> fold_latin("mohammed") == fold_latin("muhammad")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["fold_latin", "load_latin_seen", "shipped_rows"]

_LATIN_KEY_SUBS = [
    (r"dsch|dsj|dzh|dzs|xh", "j"), (r"tsch|tsj", "ch"), (r"sch|sz", "sh"), (r"tch|cz", "ch"),
    (r"sj", "sh"),
    (r"oe", "u"), (r"ij(?![aeiou])", "ei"), (r"ph", "f"), (r"kh", "k"), (r"gh", "g"),
    (r"dh", "d"), (r"th", "t"), (r"ck", "k"), (r"q", "k"), (r"c(?=[eiy])", "s"), (r"ch", "sh"),
    (r"c", "k"), (r"x", "ks"),
    (r"dj", "j"), (r"ou|oo|o|uw", "u"), (r"ee|ie", "i"), (r"ei|ey|ay|ai", "ai"),
    (r"y(?![aeiou])", "i"),
    (r"(?<=[bcdfgjklmnpqrstvxz])e$", ""),  # French silent final e: Hassane, Yacine
    (r"e", "a"), (r"w", "u"), (r"v", "u"), (r"(?<=[aiu])h$", ""), (r"(.)\1+", r"\1"),
]
_LATIN_KEY_RES = [(re.compile(p), r) for p, r in _LATIN_KEY_SUBS]


def fold_latin(text: str) -> str:
    """The Latin spelling key of ``text`` (lower-case Latin letters)."""
    for rx, rep in _LATIN_KEY_RES:
        text = rx.sub(rep, text)
    return text


def shipped_rows(name: str) -> Iterator[tuple[str, str]]:
    """The first column and the rest of each line of a shipped table (``data/name``),
    comments and blank lines skipped."""
    text = resources.files("corridor.matching").joinpath(f"data/{name}")
    for line in text.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, rest = line.partition("\t")
            yield key, rest


@cache
def load_latin_seen() -> Mapping[str, int]:
    """Latin key -> how often the shipped name data (``data/latin-keys.tsv``) spell some
    Arabic name so (3 or more times; ``VariantTable.seen``), read once."""
    return MappingProxyType({key: int(count) for key, count in shipped_rows("latin-keys.tsv")})
