"""Spreadsheet cells that cannot run as formulas (CSV injection, OWASP).

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some
programs skip before looking) is read by spreadsheet programs as a formula. Exported
text cells that start so get a leading apostrophe; importers take it off again.
"""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
