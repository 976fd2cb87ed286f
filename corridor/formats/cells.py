"""Spreadsheet cells that cannot run as formulas (CSV injection, OWASP).

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
programs skip before looking) is read by spreadsheet programs as a formula. Exported
text cells that start so get a leading apostrophe; importers take it off again.

Also: an id that a spreadsheet turned into a number and saved as it shows it
(``rounded``), which importers refuse.
"""

from __future__ import annotations

import re
from typing import Any

from corridor.text import N_, Text

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A number as a spreadsheet shows one of more than 15 digits: rounded (1.23457E+16).
_SHOWN_ROUNDED = re.compile(r"^[0-9](?:[.,][0-9]+)?E\+[0-9]+$", re.IGNORECASE)


def neutralise(value: Any) -> Any:
    """``'=1+1'`` becomes ``"'=1+1"``; numbers and other text pass unchanged.

    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("Hassan")
    'Hassan'
    """
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """Undo ``neutralise`` on import.

    >>> restore("'=1+1")
    '=1+1'
    """
    if value.startswith("'") and value[1:].startswith(TRIGGERS):
        return value[1:]
    return value


def rounded(value: str) -> Text | None:
    """Why ``value`` cannot be an id: a number a spreadsheet rounded, as it shows it
    (its digits are lost); None when it is not one.

    >>> print(rounded("1.23457E+16"))  # doctest: +ELLIPSIS
    1.23457E+16 is a number as a spreadsheet shows it, rounded: format the column as text...
    >>> rounded("NGO-1") is None
    True
    """
    if not _SHOWN_ROUNDED.match(value):
        return None
    return N_(
        "{value} is a number as a spreadsheet shows it, rounded: format the column as "
        "text and type it again",
        value=value,
    )
