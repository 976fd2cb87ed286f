"""Languages of the web interface: gettext catalogues (``locale/<lang>/LC_MESSAGES``),
chosen per user by a cookie, with the writing direction of each language.

Adding a language is a catalogue and one line in ``LANGUAGES`` (docs/web.md).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.support import Translations

__all__ = ["DEFAULT", "LANG_COOKIE", "LANGUAGES", "Language", "choose", "translations"]

LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "corridor_lang"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself, as a user looks for it
    direction: str  # "ltr" or "rtl"


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "ar": Language("ar", "العربية", "rtl"),
    "ku": Language("ku", "Kurmancî", "ltr"),  # Kurmanji, Latin script (Babel: "ku")
}

DEFAULT = "en"


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``code`` (English is the source language)."""
    if code == DEFAULT:
        return gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [code], domain="messages")


def choose(cookie: str | None, accept_language: str | None) -> Language:
    """The user's stored choice, else the browser's first known language, else English.

    >>> choose("ar", None).direction
    'rtl'
    >>> choose(None, "fr-FR,ar;q=0.8").code
    'ar'
    """
    if cookie in LANGUAGES:
        return LANGUAGES[cookie]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return LANGUAGES[code]
    return LANGUAGES[DEFAULT]
