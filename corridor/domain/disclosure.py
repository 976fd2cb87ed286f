"""Small counts withheld from aggregate figures (statistical disclosure control).

A count from 1 to ``below - 1`` of a place can point at a person: two people held at a
detention facility, one unaccompanied child at a small site. Where figures are all a
reader may see of a place, such a count is withheld (``None``, shown as ``<5``); when a
group whose sum is shown would then hide a single cell, the next smallest cell of the
group is hidden too, so that no hidden cell can be worked out from the sum; and a count
withheld withholds its breakdown whole (its cells, zeros included, would add up to it).

Withholding alone is per answer: two answers, or two tables of one, can be subtracted
(the women over 60 present one day and the next, when one arrived). So every count that
is shown is also rounded to the nearest multiple of ``below`` (``rounded``): any sum or
difference of shown counts is then a multiple of ``below`` too, and never a withheld
count, whichever answers, days, windows, sites or routes are compared. Exact zeros stay
(a multiple of every ``below``). Pure functions over plain numbers: the HXL report and
the figures of a site share them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_BELOW = 5  # counts under 5 are withheld (the HXL report's published rule)


def small(value: int | None, below: int) -> bool:
    """Whether a count is withheld on its own: from 1 to ``below - 1``."""
    return value is not None and 0 < value < below


def rounded(value: int, base: int) -> int:
    """``value`` to the nearest multiple of ``base`` (halves up); a count shown to a
    reader of aggregates only (``base``: the threshold ``below``).

    >>> [rounded(v, 5) for v in (0, 5, 7, 8, 12, 13, 31, 32, 33)]
    [0, 5, 5, 10, 10, 15, 30, 30, 35]
    >>> [rounded(v, 4) for v in (4, 5, 6)]
    [4, 4, 8]
    """
    return (value + base // 2) // base * base


def hidden_cells(values: Sequence[int], below: int, sum_shown: bool = True) -> set[int]:
    """The positions of ``values`` to withhold, where the values add up to a sum that
    is shown (``sum_shown``): the small ones, and one more when only one would be hidden.

    >>> sorted(hidden_cells([10, 2, 0, 7], 5))
    [1, 3]
    >>> sorted(hidden_cells([10, 2, 0, 7], 5, sum_shown=False))
    [1]
    >>> sorted(hidden_cells([10, 20], 5))
    []
    """
    hidden = {i for i, v in enumerate(values) if small(v, below)}
    if sum_shown and len(hidden) == 1:
        others = [(v, i) for i, v in enumerate(values) if i not in hidden]
        nonzero = [o for o in others if o[0] > 0]
        if nonzero or others:
            hidden.add(min(nonzero or others)[1])
    return hidden


def withhold(group: Mapping[str, int], below: int, sum_shown: bool) -> dict[str, int | None]:
    """``group`` (cells that add up to a sum) as a reader of aggregates only sees it: its
    hidden cells ``None``, the others rounded; every cell ``None`` when the sum is
    withheld (its breakdown would say how the few it counts are made up).

    >>> withhold({"f": 12, "m": 2, "unknown": 0}, 5, sum_shown=True)
    {'f': None, 'm': None, 'unknown': 0}
    >>> withhold({"f": 23, "m": 8, "unknown": 0}, 5, sum_shown=True)
    {'f': 25, 'm': 10, 'unknown': 0}
    >>> withhold({"f": 1, "m": 0, "unknown": 0}, 5, sum_shown=False)
    {'f': None, 'm': None, 'unknown': None}
    """
    if not sum_shown:
        return dict.fromkeys(group)
    keys = list(group)
    hidden = hidden_cells([group[k] for k in keys], below, sum_shown)
    return {k: None if i in hidden else rounded(group[k], below) for i, k in enumerate(keys)}


def withhold_one(value: int, below: int) -> int | None:
    """A count on its own as a reader of aggregates only sees it: withheld, or rounded."""
    return None if small(value, below) else rounded(value, below)


def withhold_table(table: Mapping[str, Any], below: int) -> dict[str, Any]:
    """A table of counts (``total``, ``by_sex``, ``by_bracket``, ``by_sex_bracket`` and
    any other ``by_*`` group adding up to the total) as an aggregate-only reader sees it:
    a sex whose count is withheld (small, or hidden with a small one) shows no bracket."""
    total = withhold_one(int(table["total"]), below)
    out: dict[str, Any] = {"total": total}
    for name, group in table.items():
        if name in ("total", "by_sex_bracket"):
            continue
        out[name] = withhold(group, below, sum_shown=total is not None)
    if "by_sex_bracket" in table:
        out["by_sex_bracket"] = {
            sex: withhold(row, below, sum_shown=out["by_sex"][sex] is not None)
            for sex, row in table["by_sex_bracket"].items()
        }
    return out


# The tables of a day's figures that move its count (``FigureService.site_figures``).
DAY_TABLES = ("arrivals", "departures", "duplicates")


def withhold_day(day: Mapping[str, Any], below: int) -> dict[str, Any]:
    """One day of a site's figures: its arrivals, departures and duplicates tables, and
    the numbers present at its start and end, which add up (end = start + arrivals -
    departures - duplicates): when one of them alone is withheld, the smallest of the
    tables shown is withheld whole (its total and every cell: they add up to it)."""
    tables = [t for t in DAY_TABLES if t in day]
    out = {
        **day,
        **{t: withhold_table(day[t], below) for t in tables},
        "present_at_start": withhold_one(int(day["present_at_start"]), below),
        "present_at_end": withhold_one(int(day["present_at_end"]), below),
    }
    terms = [
        out["present_at_start"],
        *(out[t]["total"] for t in tables),
        out["present_at_end"],
    ]
    if sum(v is None for v in terms) == 1:
        # A day with no duplicate resolved (nearly every day) hides one of arrivals and
        # departures as it always did: a hidden table of nothing would hide nothing.
        moves = sorted(
            (
                d
                for d in tables
                if out[d]["total"] is not None and (d != "duplicates" or day[d]["total"])
            ),
            key=lambda d: int(day[d]["total"]),
        )
        if moves:
            out[moves[0]] = _all_hidden(out[moves[0]])
    return out


def _all_hidden(table: Mapping[str, Any]) -> dict[str, Any]:
    """A table with every count withheld (its cells would add up to its total)."""
    return {
        name: None if not isinstance(value, Mapping) else _all_hidden(value)
        for name, value in table.items()
    }
