"""Ids and filters in a URL that no record can match: refused before any query.

An id in a path longer than the ids Corridor gives (36 characters), or holding a control
character, names nothing: 404, as an unknown id does (it says nothing of what exists:
only the id's shape decides). A query parameter holding a control character, or an id
filter (``site_id=``) longer than an id, is a 422 naming it. PostgreSQL refused both
with a 500 (a NUL cannot be sent to it; a longer id fails the column's type), where
SQLite found nothing; now both answer the same, before the database is asked.

A dependency of every route (``routers.guarded_router``), so that its errors are rendered
where every error is (``web/errors.py``): JSON for the API, the error page for pages.
"""

from __future__ import annotations

from fastapi import Request

from corridor.domain.control_characters import control_character
from corridor.errors import NotFound, Problem, ValidationFailed
from corridor.storage.metadata import ID
from corridor.text import N_

__all__ = ["refuse_impossible_ids"]

ID_LENGTH = int(ID.length or 36)
# What a path id names, where its parameter's name does not say it.
_WHAT = {"event_id": "movement"}


def _impossible(value: str) -> bool:
    return len(value) > ID_LENGTH or control_character(value) is not None


async def refuse_impossible_ids(request: Request) -> None:
    for name, value in request.path_params.items():
        if name.endswith("_id") and isinstance(value, str) and _impossible(value):
            raise NotFound(_WHAT.get(name, name.removesuffix("_id")))
    problems = []
    for name, value in request.query_params.multi_items():
        char = control_character(value)
        if char:
            problems.append(Problem(name, N_("holds a control character ({char})", char=char)))
        elif name.endswith("_id") and len(value) > ID_LENGTH:
            problems.append(Problem(name, N_("is not an id (over {n} characters)", n=ID_LENGTH)))
    if problems:
        raise ValidationFailed(problems)
