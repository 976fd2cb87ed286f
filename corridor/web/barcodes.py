"""Barcodes drawn on the server as inline SVG, for wristbands and cards: a QR code (segno's
encoder) and a Code 128 barcode (python-barcode's encoder) of a registration number.

Both are drawn the same way, as dark rectangles on a light one: presentation attributes
only (no ``style``, no script), so the strict Content Security Policy applies unchanged,
and ``shape-rendering="crispEdges"`` so that a thermal printer's dots do not blur the
module edges. The quiet zone each symbology needs (4 modules for QR, 10 for Code 128) is
part of the drawing, so a label cut close to the code still scans.
"""

from __future__ import annotations

from collections.abc import Sequence

import barcode
import segno
from barcode.charsets import code128
from markupsafe import Markup, escape

__all__ = ["code128_modules", "code128_svg", "qr_modules", "qr_svg"]

DARK = "#000"
LIGHT = "#fff"
QR_QUIET = 4
CODE128_QUIET = 10
# The bars' height in modules: a wristband's code is about 15 times as wide as high, and
# CSS can stretch it (preserveAspectRatio="none": the modules stay exact horizontally).
CODE128_HEIGHT = 40


def qr_modules(payload: str) -> list[list[bool]]:
    """The QR code of ``payload`` as rows of modules (True: dark), without quiet zone.

    Error correction level Q (a quarter of the code may be scratched or wet), raised by
    segno where the version has room to spare.

    >>> rows = qr_modules("CORRIDOR:K7M4Q2XA9")
    >>> len(rows) == len(rows[0]) == 25  # version 2
    True
    """
    code = segno.make(payload, error="q", micro=False)
    return [[bool(v) for v in row] for row in code.matrix_iter(scale=1, border=0)]


class _Code128(barcode.Code128):  # type: ignore[misc]
    """python-barcode's Code 128 (0.16.1) without its start optimisation's slip: it always
    begins in code set C and then folds "start C, switch to B" into "start B", taking any
    second value of 99 for the switch to C, but in code set C 99 is the digits 99. So a
    text that begins with 99 lost them: a wristband of 99QFSRCDP scanned as QFSRCDP, and
    one of 99 as nothing."""

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if len(encoded) > 1 and encoded[0] == code128.START_CODES["C"] and encoded[1] == 99:
            return encoded  # the digits 99, not a switch: nothing to fold
        return list(super()._try_to_optimize(encoded))


def code128_modules(text: str) -> str:
    """The Code 128 symbol of ``text`` as modules, ``1`` a bar and ``0`` a space: start
    character, data (code set B, or C for runs of digits), the mod-103 check character
    and the stop pattern, without quiet zone.

    >>> code128_modules("A")[:11]  # start B
    '11010010000'
    >>> code128_modules("99AB")[11:22] == code128_modules("9999")[11:22]  # the digits 99
    True
    """
    return str(_Code128(text, writer=None).build()[0])


def _runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of dark modules in ``row``."""
    out: list[tuple[int, int]] = []
    start = None
    for x, dark in enumerate([*row, False]):
        if dark and start is None:
            start = x
        elif not dark and start is not None:
            out.append((start, x - start))
            start = None
    return out


def _svg(width: int, height: int, title: str, path: str, css_class: str, aspect: str) -> Markup:
    t = escape(title)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="{css_class}" role="img" aria-label="{t}" preserveAspectRatio="{aspect}" '
        f'shape-rendering="crispEdges"><title>{t}</title>'
        f'<rect width="{width}" height="{height}" fill="{LIGHT}"/>'
        f'<path fill="{DARK}" d="{path}"/></svg>'
    )


def qr_svg(payload: str, title: str) -> Markup:
    """The QR code of ``payload`` as inline SVG, quiet zone included.

    >>> svg = qr_svg("CORRIDOR:K7M4Q2XA9", "QR code")
    >>> svg.startswith("<svg") and 'viewBox="0 0 33 33"' in svg and "style" not in svg
    True
    """
    rows = qr_modules(payload)
    size = len(rows) + 2 * QR_QUIET
    path = "".join(
        f"M{x + QR_QUIET} {y + QR_QUIET}h{n}v1h-{n}z"
        for y, row in enumerate(rows)
        for x, n in _runs(row)
    )
    return _svg(size, size, title, path, "qr", "xMidYMid meet")


def code128_svg(text: str, title: str) -> Markup:
    """The Code 128 barcode of ``text`` as inline SVG, quiet zones included; its width
    and height are free (the page's CSS sets them), its bars exact.

    >>> svg = code128_svg("K7M4Q2XA9", "Code 128")
    >>> 'class="code128"' in svg and 'preserveAspectRatio="none"' in svg
    True
    """
    modules = code128_modules(text)
    width = len(modules) + 2 * CODE128_QUIET
    path = "".join(
        f"M{x + CODE128_QUIET} 0h{n}v{CODE128_HEIGHT}h-{n}z"
        for x, n in _runs([m == "1" for m in modules])
    )
    return _svg(width, CODE128_HEIGHT, title, path, "code128", "none")
