"""Charts drawn on the server as inline SVG: light on a cheap tablet, no script, no
library. Pure functions from figures to markup; labels come in already translated, and
numbers are written by ``fmt`` (the page's ``num`` filter: 1,234 in English, ١٬٢٣٤ in
Arabic).

Only presentation attributes are used (no ``style``), so the strict Content Security
Policy applies unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["daily_bars", "pyramid"]

FEMALE = "#b2386b"
MALE = "#2a6fb0"
BAR = "#12355b"
AXIS = "#555555"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    t = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{t}" direction="ltr" font-size="12" '
        f'font-family="DejaVu Sans, sans-serif"><title>{t}</title>{"".join(body)}</svg>'
    )


def pyramid(
    by_sex_bracket: Mapping[str, Mapping[str, int | None]],
    brackets: Sequence[tuple[str, str]],
    labels: Mapping[str, str],
    fmt: Callable[[int | None], str] = str,
) -> Markup:
    """An age and sex pyramid: youngest at the bottom, men to the left, women to the right.

    ``brackets`` are (key, label) pairs from youngest to oldest; ``labels`` holds
    ``title``, ``male`` and ``female``. A withheld count (``None``: a small count of
    figures read as aggregates only) draws no bar and is labelled by ``fmt``.

    >>> svg = pyramid({"m": {"0-4": 3}, "f": {"0-4": 5}}, [("0-4", "0-4")],
    ...               {"title": "Present", "male": "Men", "female": "Women"})
    >>> '<title>Present</title>' in svg and '>5</text>' in svg
    True
    """
    width, row, top, mid_gap = 480, 34, 30, 60
    height = top + row * len(brackets) + 10
    half = (width - mid_gap) / 2 - 40
    biggest = max(
        [by_sex_bracket.get(s, {}).get(k) or 0 for s in ("m", "f") for k, _ in brackets] + [1]
    )
    centre = width / 2
    body = [
        f'<text x="{centre - mid_gap / 2 - 4}" y="16" text-anchor="end" fill="{MALE}">'
        f"{escape(labels['male'])}</text>",
        f'<text x="{centre + mid_gap / 2 + 4}" y="16" fill="{FEMALE}">'
        f"{escape(labels['female'])}</text>",
    ]
    for i, (key, label) in enumerate(reversed(brackets)):
        y = top + i * row
        men = by_sex_bracket.get("m", {}).get(key, 0)
        women = by_sex_bracket.get("f", {}).get(key, 0)
        wm = half * (men or 0) / biggest
        ww = half * (women or 0) / biggest
        left = centre - mid_gap / 2
        right = centre + mid_gap / 2
        body += [
            f'<rect x="{left - wm:.1f}" y="{y}" width="{wm:.1f}" height="{row - 8}" '
            f'fill="{MALE}"/>',
            f'<text x="{left - wm - 4:.1f}" y="{y + row / 2}" text-anchor="end" '
            f'fill="{AXIS}">{escape(fmt(men))}</text>',
            f'<rect x="{right}" y="{y}" width="{ww:.1f}" height="{row - 8}" fill="{FEMALE}"/>',
            f'<text x="{right + ww + 4:.1f}" y="{y + row / 2}" fill="{AXIS}">'
            f"{escape(fmt(women))}</text>",
            f'<text x="{centre}" y="{y + row / 2}" text-anchor="middle" fill="{AXIS}">'
            f"{escape(label)}</text>",
        ]
    return _svg(width, height, labels["title"], body)


def daily_bars(
    days: Sequence[tuple[str, int | None]], title: str, fmt: Callable[[int | None], str] = str
) -> Markup:
    """One bar per day (oldest on the left), its count above it (a withheld count,
    ``None``: no bar, ``fmt``'s label).

    >>> svg = daily_bars([("1 Mar", 2), ("2 Mar", 7)], "Arrivals")
    >>> svg.count("<rect")
    2
    """
    width, height, bottom, top = 480, 220, 40, 20
    n = max(len(days), 1)
    slot = width / n
    biggest = max([c or 0 for _, c in days] + [1])
    plot = height - bottom - top
    body = [
        f'<line x1="0" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="{AXIS}"/>'
    ]
    for i, (label, count) in enumerate(days):
        h = plot * (count or 0) / biggest
        x = i * slot + slot * 0.15
        y = height - bottom - h
        body += [
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{BAR}"><title>{escape(label)}: {escape(fmt(count))}</title></rect>',
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
            f'fill="{AXIS}" font-size="11">{escape(fmt(count))}</text>',
        ]
        if n <= 16 or i % 2 == 0:
            body.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle" fill="{AXIS}" font-size="10">{escape(label)}</text>'
            )
    return _svg(width, height, title, body)
