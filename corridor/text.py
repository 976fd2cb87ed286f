"""Sentences for people, written in English and translatable later.

The core (domain, matching, services) knows nothing of languages or requests. It writes
every sentence a person may read with ``N_``::

    N_("must be between {low} and {high} mm (got {got})", low=45, high=300, got=12)

which marks the English message for extraction into the catalogue (``make messages``)
and returns a ``Text``: a ``str`` holding the English sentence, so that the JSON API,
the logs and every comparison see plain English, and which remembers its message and
its parameters. The web layer translates it with the reader's language and only then
fills in the parameters (``translated``); a parameter may itself be a ``Text`` (a word
such as a state name), translated in turn.

Messages use ``str.format`` fields (``{low}``); the templates' own messages use the
``%(name)s`` fields of Jinja's gettext. A translation must keep the same fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from string import Formatter
from typing import Any

__all__ = ["N_", "Gettext", "Listing", "Text", "fields_of", "text_of", "translated"]

Gettext = Callable[[str], str]


class Text(str):
    """English text that remembers its message id and parameters.

    >>> t = N_("is over {limit}", limit=120)
    >>> t == "is over 120", t.msgid, t.params
    (True, 'is over {limit}', {'limit': 120})
    >>> translated(t, {"is over {limit}": "fazlatir ji {limit}"}.get)
    'fazlatir ji 120'
    """

    msgid: str
    params: dict[str, Any]

    def __new__(
        cls, msgid: str, params: Mapping[str, Any] | None = None, *, english: str | None = None
    ) -> Text:
        values = dict(params or {})
        if english is None:
            english = msgid.format(**values) if values else msgid
        self = super().__new__(cls, english)
        self.msgid = msgid
        self.params = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self.as_data()))

    def as_data(self) -> dict[str, Any]:
        """The message as JSON data (to store beside the English text)."""
        return {"id": self.msgid, "params": {k: _data(v) for k, v in self.params.items()}}

    @classmethod
    def from_data(cls, english: str, data: Any) -> str:
        """The stored English ``english`` as a Text again, when ``data`` (``as_data``)
        was stored with it; plain ``english`` otherwise."""
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            params = data.get("params")
            values = {k: _undata(v) for k, v in params.items()} if isinstance(params, dict) else {}
            return cls(data["id"], values, english=english)
        if isinstance(data, dict) and isinstance(data.get("parts"), list):
            return Listing(str(data.get("join", ", ")), [_undata(p) for p in data["parts"]])
        return english


class Listing(Text):
    """Several texts joined, each translated on its own.

    >>> str(Listing("; ", [N_("is in the future"), "plain"]))
    'is in the future; plain'
    """

    parts: list[Any]
    sep: str

    def __new__(cls, sep: str, parts: Iterable[Any]) -> Listing:
        items = list(parts)
        self = str.__new__(cls, sep.join(str(p) for p in items))
        self.msgid = ""
        self.params = {}
        self.parts = items
        self.sep = sep
        return self

    def as_data(self) -> dict[str, Any]:
        return {"join": self.sep, "parts": [_data(p) for p in self.parts]}


def N_(msgid: str, /, **params: Any) -> Text:
    """Mark ``msgid`` for the catalogue; its parameters are filled in after translation."""
    return Text(msgid, params)


def text_of(exc: BaseException) -> str:
    """The message an exception was raised with, a Text kept as it is (``str(exc)``
    would turn it into a plain string)."""
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, str) else str(exc)


def translated(value: str, gettext: Gettext) -> str:
    """``value`` in the language of ``gettext``: a Text is translated, then its
    parameters (translated in turn) are filled in; any other string is left as it is
    (a name, a note someone typed). A translation whose fields do not fit falls back
    to the English message."""
    if isinstance(value, Listing):
        return value.sep.join(_param(p, gettext) for p in value.parts)
    if isinstance(value, Text):
        params = {k: _param(v, gettext) for k, v in value.params.items()}
        message = gettext(value.msgid) if value.msgid else ""
        for candidate in (message, value.msgid):
            try:
                return candidate.format(**params) if params else candidate
            except (KeyError, IndexError, ValueError):
                continue
        return str(value)
    return value


def fields_of(message: str) -> set[str]:
    """The ``str.format`` fields a message uses (a translation must use the same).

    >>> sorted(fields_of("between {low} and {high} mm"))
    ['high', 'low']
    """
    return {name for _, name, _, _ in Formatter().parse(message) if name}


def _param(value: Any, gettext: Gettext) -> Any:
    return translated(value, gettext) if isinstance(value, str) else value


def _data(value: Any) -> Any:
    if isinstance(value, Text):
        return {"text": str(value), **value.as_data()}
    return value


def _undata(value: Any) -> Any:
    if isinstance(value, dict) and "text" in value:
        return Text.from_data(str(value["text"]), value)
    return value


def _rebuild(english: str, data: dict[str, Any]) -> str:
    return Text.from_data(english, data)
