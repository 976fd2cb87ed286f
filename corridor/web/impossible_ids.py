"""Ids and filters in a URL that no record can match: refused before any query.

An id in a path or an id filter (``site_id=``) longer than the ids Corridor gives (36
characters), or any path or query value holding a control character, is no id at all:
a 422 naming the parameter, before the database is asked and before anyone is asked who
they are (like a body that cannot be read: only the value's shape decides, so it says
nothing of what exists, and it never answers an anonymous caller more than that).
PostgreSQL refused such values with a 500 (a NUL cannot be sent to it; a longer id fails
the column's type), where SQLite found nothing.

A dependency of every route (``routers.guarded_router``), so that its errors are rendered
where every error is (``web/errors.py``): JSON for the API, the error page for pages.
"""

from __future__ import annotations

from fastapi import Request

from corridor.domain.control_characters import control_character
from corridor.errors import Problem, ValidationFailed
from corridor.storage.metadata import ID
from corridor.text import N_

__all__ = ["refuse_impossible_ids"]

ID_LENGTH = int(ID.length or 36)


async def refuse_impossible_ids(request: Request) -> None:
    values = [(n, v) for n, v in request.path_params.items() if isinstance(v, str)]
    problems = []
    for name, value in [*values, *request.query_params.multi_items()]:
        char = control_character(value)
        if char:
            problems.append(Problem(name, N_("holds a control character ({char})", char=char)))
        elif name.endswith("_id") and len(value) > ID_LENGTH:
            problems.append(Problem(name, N_("is not an id (over {n} characters)", n=ID_LENGTH)))
    if problems:
        raise ValidationFailed(problems)
