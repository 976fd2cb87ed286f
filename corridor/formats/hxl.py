"""Published daily figures as an HXL-tagged CSV: a header row, a row of hashtags, then
one row per day, site and figure. Aggregates only; small counts are suppressed.

Suppression (``domain.disclosure``, policy ``Settings.small_counts_below``, 5 by
default): a count from 1 to 4 is written ``<5``; when a row would then hide only one
cell, the next smallest count is hidden too, so that no hidden cell can be worked out
from the total; a total under 5 is hidden as well, and then every cell of its row. Every
count written is rounded to the nearest 5, so that no row can be subtracted from another
(the present of one day from the next's) to give a hidden count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from corridor.domain.birth import BRACKETS, UNKNOWN_BRACKET
from corridor.domain.disclosure import DEFAULT_BELOW, withhold, withhold_one

COUNTRY = "SYR"
_BRACKETS = (*BRACKETS, UNKNOWN_BRACKET)


def _age_attribute(bracket: str) -> str:
    if bracket == UNKNOWN_BRACKET:
        return "age_unknown"
    return "age_" + bracket.replace("-", "_").replace("+", "_")


CELLS: tuple[tuple[str, str], ...] = tuple(
    (sex, bracket) for sex in ("f", "m") for bracket in _BRACKETS
) + (("unknown", "all"),)
HEADER = (
    ["Date", "Country", "Governorate", "Site", "Site id", "Figure", "Destination kind", "Total"]
    + [f"{'Female' if s == 'f' else 'Male'} {b}" for s, b in CELLS[:-1]]
    + ["Sex unknown"]
)
TAGS = (
    [
        "#date+reported",
        "#country+code",
        "#adm1+code",
        "#loc+name",
        "#loc+code",
        "#indicator+type",
        "#loc+dest+type",
        "#affected+displaced+ind",
    ]
    + [f"#affected+displaced+ind+{s}+{_age_attribute(b)}" for s, b in CELLS[:-1]]
    + ["#affected+displaced+ind+sex_unknown"]
)


def suppress(values: list[int], total: int, below: int = DEFAULT_BELOW) -> tuple[list[str], str]:
    """Hide counts of 1 to ``below - 1`` (and one more cell when only one would be hidden;
    every cell when the total is hidden); round the others to the nearest ``below``.

    >>> suppress([10, 2, 0, 7], 19)
    (['10', '<5', '0', '<5'], '20')
    >>> suppress([3, 0], 3)
    (['<5', '<5'], '<5')
    >>> suppress([13, 17, 0], 30, below=11)
    (['11', '22', '0'], '33')
    """
    hidden_text = f"<{below}"
    shown_total = withhold_one(total, below)
    row = {str(i): v for i, v in enumerate(values)}
    cells = withhold(row, below, sum_shown=shown_total is not None)
    shown = [hidden_text if v is None else str(v) for v in cells.values()]
    return shown, (hidden_text if shown_total is None else str(shown_total))


def render(rows: Iterable[Mapping[str, Any]], below: int = DEFAULT_BELOW) -> str:
    """The HXL CSV of ``services.reports`` rows, counts under ``below`` withheld."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerow(TAGS)
    for row in rows:
        counts = row["counts"]
        values = [counts.get(cell, 0) for cell in CELLS[:-1]]
        values.append(sum(n for (sex, _), n in counts.items() if sex == "unknown"))
        total = sum(counts.values())
        if total == 0:
            continue
        cells, shown_total = suppress(values, total, below)
        writer.writerow(
            [
                row["date"],
                COUNTRY,
                row["pcode"],
                row["site_name"],
                row["site_id"],
                row["figure"],
                row["destination_kind"],
                shown_total,
                *cells,
            ]
        )
    return out.getvalue()
