"""Why an input has the wrong shape, in words the pages translate.

Pydantic's own messages are English only; the pages show these instead (the JSON API
keeps pydantic's). Each maps one pydantic error type to a message marked with ``N_``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from corridor.text import N_

__all__ = ["reason"]


def _too_short(ctx: Mapping[str, Any]) -> str:
    if ctx.get("min_length") == 1:
        return N_("must not be empty")
    return N_("must have at least {n} characters", n=ctx.get("min_length"))


_REASONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "missing": lambda ctx: N_("is required"),
    "int_parsing": lambda ctx: N_("must be a whole number"),
    "int_from_float": lambda ctx: N_("must be a whole number"),
    "int_type": lambda ctx: N_("must be a whole number"),
    "float_parsing": lambda ctx: N_("must be a number"),
    "float_type": lambda ctx: N_("must be a number"),
    "bool_parsing": lambda ctx: N_("must be yes or no"),
    "date_parsing": lambda ctx: N_("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": lambda ctx: N_("must be a date (YYYY-MM-DD)"),
    "date_type": lambda ctx: N_("must be a date (YYYY-MM-DD)"),
    "datetime_parsing": lambda ctx: N_("must be a date and time"),
    "datetime_from_date_parsing": lambda ctx: N_("must be a date and time"),
    "string_too_short": _too_short,
    "string_too_long": lambda ctx: N_("must have at most {n} characters", n=ctx.get("max_length")),
    # One item (a registration number to check in): "needs at least 1 items" read badly.
    "too_short": lambda ctx: N_("give at least one")
    if ctx.get("min_length") == 1
    else N_("needs at least {n} items", n=ctx.get("min_length")),
    "too_long": lambda ctx: N_("takes at most {n} items", n=ctx.get("max_length")),
    "greater_than": lambda ctx: N_("must be greater than {n}", n=ctx.get("gt")),
    "greater_than_equal": lambda ctx: N_("must be at least {n}", n=ctx.get("ge")),
    "less_than": lambda ctx: N_("must be less than {n}", n=ctx.get("lt")),
    "less_than_equal": lambda ctx: N_("must be at most {n}", n=ctx.get("le")),
    # The choices' internal values ('spouse', 'other_relative') mean nothing to a reader.
    "literal_error": lambda ctx: N_("choose one of the options offered"),
    "enum": lambda ctx: N_("choose one of the options offered"),
    "string_pattern_mismatch": lambda ctx: N_("is not in the expected form"),
    "extra_forbidden": lambda ctx: N_("is not expected here"),
    "uuid_parsing": lambda ctx: N_("is not a valid identifier"),
    "string_type": lambda ctx: N_("must be text"),
    "datetime_range": lambda ctx: N_("is outside the years 1 to 9999 once in UTC"),
    "control_character": lambda ctx: N_("holds a control character ({char})", char=ctx.get("char")),
    "void_site": lambda ctx: N_("a void records no site: leave it out"),
    "json_invalid": lambda ctx: N_("is not valid JSON"),
}


def reason(error: Mapping[str, Any]) -> str:
    """The reason for one pydantic error (``ValidationError.errors()`` item).

    >>> str(reason({"type": "less_than_equal", "ctx": {"le": 120}, "msg": "..."}))
    'must be at most 120'
    >>> str(reason({"type": "too_short", "ctx": {"min_length": 1}})), str(
    ...     reason({"type": "too_short", "ctx": {"min_length": 2}}))
    ('give at least one', 'needs at least 2 items')
    >>> reason({"type": "something_new", "msg": "Input is odd"})
    'Input is odd'
    """
    make = _REASONS.get(str(error.get("type")))
    if make is None:
        return str(error.get("msg", "invalid"))
    return make(error.get("ctx") or {})
