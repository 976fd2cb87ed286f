"""Characters no text that comes in may hold: the control characters XML 1.0 cannot
carry (a PFIF or XLSX export would break on them), NUL among them (PostgreSQL cannot
store it at all). Tabs and line breaks are text; the rest are never typed by a person
and come from broken files or encodings."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
REASON = "holds a control character ({char})"


def control_character(text: str) -> str | None:
    """The first control character of ``text`` as ``U+XXXX``; None when it has none.

    >>> control_character("Om\\x00ar")
    'U+0000'
    >>> control_character("first line\\r\\n\\tsecond") is None
    True
    """
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None
