"""Fitting the calibration of a model on labelled pairs.

The weights of a :class:`~corridor.matching.model.Model` are Fellegi-Sunter
bits; the calibration maps ``weight - log2(population)`` to a probability with
a logistic curve whose slope and intercept are fitted here by maximum
likelihood (Newton's method, two parameters: hard to overfit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["fit_calibration"]


def fit_calibration(
    xs: Sequence[float],
    ys: Sequence[bool],
    l2: float = 1e-3,
    iterations: int = 50,
    fit_intercept: bool = True,
) -> tuple[float, float]:
    """Logistic regression of ``ys`` on ``xs``: returns ``(slope, intercept)``.

    ``xs`` are ``weight - log2(population)`` for scored pairs, ``ys`` whether the
    pair is truly one person. With ``fit_intercept=False`` the intercept stays 0:
    the prior odds remain ``1 / population`` instead of absorbing the share of
    sought persons who are registered in the training data (which differs from
    one deployment to the next).

    >>> a, b = fit_calibration([-10, -5, 0, 5, 10] * 20, [False, False, True, True, True] * 20)
    >>> a > 0
    True
    """
    if len(xs) != len(ys) or not xs:
        raise ValueError("need as many labels as scores, and at least one")
    a, b = 0.1, 0.0
    for _ in range(iterations):
        ga = gb = 0.0
        haa = hab = hbb = 0.0
        for x, y in zip(xs, ys, strict=True):
            z = max(-35.0, min(35.0, a * x + b))
            p = 1.0 / (1.0 + math.exp(-z))
            r = p - (1.0 if y else 0.0)
            ga += r * x
            gb += r
            w = p * (1.0 - p)
            haa += w * x * x
            hab += w * x
            hbb += w
        ga += l2 * a
        haa += l2
        hbb += 1e-9
        if not fit_intercept:
            if haa <= 0:
                break
            da, db = ga / haa, 0.0
        else:
            det = haa * hbb - hab * hab
            if det <= 0:
                break
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
        a -= da
        b -= db
        if abs(da) < 1e-9 and abs(db) < 1e-9:
            break
    return a, b
