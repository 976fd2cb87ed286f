"""What every list page shares: the page, order and filters read from the query string
(none of them personal: no name or number goes in a URL), and the pager's links.

``?page=3&sort=-departed&site=...`` is page 3 (50 rows a page) in that order; a page or
an order the list does not offer is a 422 naming the parameter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request

from corridor.domain.paging import PAGE_SIZE, Paging
from corridor.errors import Problem, ValidationFailed
from corridor.services import Services
from corridor.services.protection.accounts import Caller
from corridor.services.protection.read_models import Listed
from corridor.text import N_

T = TypeVar("T")


def paging_of(request: Request, sorts: Sequence[str], size: int = PAGE_SIZE) -> Paging:
    """The page the query string asks for (``page``, 1-based, ``size`` rows; ``sort``)."""
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed([Problem("page", N_("must be a whole number from 1"))])
    number = int(raw)
    sort = request.query_params.get("sort") or None
    return Paging.of(limit=size, offset=(number - 1) * size, sort=sort, sorts=sorts)


def day_of(request: Request, name: str) -> date | None:
    """A date filter (``YYYY-MM-DD``, as a date field sends it); empty: none."""
    raw = request.query_params.get(name) or ""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed([Problem(name, N_("is not a date (YYYY-MM-DD)"))]) from None


def filters_of(request: Request, names: Sequence[str]) -> dict[str, str]:
    """The list's filters as given (for the form and the pager's links)."""
    return {n: v for n in names if (v := request.query_params.get(n) or "")}


def pager(
    request: Request, listed: Listed, shown: int, kept: dict[str, str], path: str | None = None
) -> dict[str, Any]:
    """What the pager shows: "Showing 51–100 of 19,000" and links to the first, previous,
    nearby, next and last pages, each keeping the filters and order (``kept``); ``path``:
    the list's own (a form's answer shows the list under another URL)."""
    size = listed.limit or max(shown, 1)
    current = listed.offset // size + 1
    pages = max(1, -(-listed.total // size))

    def url(n: int) -> str:
        return f"{path or request.url.path}?{urlencode({**kept, 'page': n})}"

    nearby = [n for n in range(current - 2, current + 3) if 1 <= n <= pages]
    return {
        "first": listed.offset + 1 if shown else 0,
        "last": listed.offset + shown,
        "total": listed.total,
        "current": current,
        "pages": pages,
        "previous": url(current - 1) if current > 1 else None,
        "next": url(current + 1) if current < pages else None,
        "first_url": url(1) if 1 not in nearby else None,
        "last_url": url(pages) if pages not in nearby else None,
        "nearby": [(n, url(n)) for n in nearby],
    }


def sliced(rows: list[T], paging: Paging, total: list[int]) -> list[T]:
    """The page's rows of a list ordered outside the database (the tracing queue);
    its length is appended to ``total``."""
    total.append(len(rows))
    end = None if paging.limit is None else paging.offset + paging.limit
    return rows[paging.offset : end]


def filter_sites(svc: Services, who: Caller) -> dict[str, str]:
    """The sites a list may be filtered on: never a detention facility (no list by
    detention, docs/security.md), whoever asks."""
    return {s["id"]: s["name"] for s in svc.sites.all() if s.get("kind") != "detention"}


def export_query(list_name: str, kept: dict[str, str]) -> str:
    """The query string of ``/exports/new`` for this list's filter (its order and page
    are no part of a selection: the export holds every person of the list)."""
    chosen = {k: v for k, v in kept.items() if k in ("site", "since", "until", "alone")}
    return urlencode({"list": list_name, **chosen})


def paging_data(listed: Listed) -> dict[str, Any]:
    """The ``.json`` twin's account of the page."""
    return {"total": listed.total, "limit": listed.limit, "offset": listed.offset}
