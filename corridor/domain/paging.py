"""A page of a list: which slice the reader asked for and in which order, and what came
back (the slice and the total). Plain values: the storage layer turns them into
``ORDER BY ... LIMIT ... OFFSET`` and a count query.

>>> Paging.of(limit=50, offset=100, sort="-departed", sorts=("departed", "vehicle"))
Paging(limit=50, offset=100, sort='departed', descending=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from corridor.errors import Problem, ValidationFailed
from corridor.text import N_

T = TypeVar("T")

MAX_LIMIT = 500  # one page of any list, at most
# The rows a page may skip, at most: far beyond any registry, and within the databases'
# 64-bit integers (a larger offset reached SQLite and failed with a server error).
MAX_OFFSET = 1_000_000_000
PAGE_SIZE = 50  # the web pages' page


@dataclass(frozen=True)
class Paging:
    """``limit`` rows from ``offset`` on (``limit`` None: all of them), ordered by
    ``sort`` (a key the list offers; None: the list's own order)."""

    limit: int | None = None
    offset: int = 0
    sort: str | None = None
    descending: bool = False

    @classmethod
    def of(
        cls,
        *,
        limit: int | None,
        offset: int = 0,
        sort: str | None = None,
        sorts: Sequence[str] = (),
    ) -> Paging:
        """Checked: every problem at once, each naming its field."""
        problems: list[Problem] = []
        if limit is not None and not 1 <= limit <= MAX_LIMIT:
            problems.append(Problem("limit", N_("must be between 1 and 500")))
        if offset < 0:
            problems.append(Problem("offset", N_("must be 0 or more")))
        elif offset > MAX_OFFSET:
            problems.append(Problem("offset", N_("must be at most {n}", n=MAX_OFFSET)))
        key = (sort or "").removeprefix("-") or None
        if key is not None and key not in sorts:
            problems.append(Problem("sort", N_("is not one of the orders this list offers")))
        if problems:
            raise ValidationFailed(problems)
        return cls(limit, offset, key, bool(sort and sort.startswith("-")))

    @property
    def sort_param(self) -> str | None:
        """The ``sort`` query parameter that gives this order back."""
        if self.sort is None:
            return None
        return f"-{self.sort}" if self.descending else self.sort


@dataclass(frozen=True)
class Page(Generic[T]):
    """One slice of a list and the size of the whole list."""

    items: list[T]
    total: int
    limit: int | None
    offset: int

    @property
    def first(self) -> int:
        """1-based position of the first item shown (0 when none)."""
        return self.offset + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.items)


ALL = Paging()  # every row, in the list's own order
