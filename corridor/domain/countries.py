"""Countries by name in the reader's language, stored as ISO 3166-1 alpha-3 codes.

A registrar picks "Netherlands", "هولندا" or "Holanda" from a list; the record keeps
``NLD``. The names come from the CLDR data shipped with Babel (a language that lacks a
name falls back to English); the codes from pycountry.

>>> dict(country_names("ar"))["NLD"]
'هولندا'
>>> country_code("Netherlands", "ku"), country_code("هولندا", "ar"), country_code("nld", "en")
('NLD', 'NLD', 'NLD')
>>> country_code("Atlantis", "en") is None
True
"""

from __future__ import annotations

import unicodedata
from functools import cache

__all__ = ["country_code", "country_names"]

FALLBACK = "en"


@cache
def _alpha3() -> dict[str, str]:
    """alpha-2 -> alpha-3, for every country pycountry knows."""
    import pycountry

    return {c.alpha_2: c.alpha_3 for c in pycountry.countries}


@cache
def _territories(language: str) -> dict[str, str]:
    from babel import Locale, UnknownLocaleError

    try:
        return dict(Locale.parse(language).territories)
    except (UnknownLocaleError, ValueError):
        return {}


@cache
def country_names(language: str) -> tuple[tuple[str, str], ...]:
    """(alpha-3 code, name in ``language``) for every country, sorted by name."""
    own, english = _territories(language), _territories(FALLBACK)
    pairs = []
    for alpha2, alpha3 in _alpha3().items():
        name = own.get(alpha2) or english.get(alpha2) or alpha3
        pairs.append((alpha3, name))
    return tuple(sorted(pairs, key=lambda p: _key(p[1])))


def _key(text: str) -> str:
    """Case, accents and spacing do not matter when a name is typed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


@cache
def _by_name(language: str) -> dict[str, str]:
    out: dict[str, str] = {}
    # English last-resort first, the reader's language over it.
    for lang in (FALLBACK, language):
        for code, name in country_names(lang):
            out[_key(name)] = code
    return out


def country_code(text: str, language: str) -> str | None:
    """The alpha-3 code of a country typed by its name (in ``language`` or English) or
    its alpha-3 code; None when it is neither."""
    typed = text.strip()
    if typed.upper() in _alpha3().values():
        return typed.upper()
    return _by_name(language).get(_key(typed))
