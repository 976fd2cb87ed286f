"""Fitting the calibration of a model on labelled pairs.

The weights of a :class:`~corridor.matching.model.Model` are Fellegi-Sunter
bits; the calibration maps ``weight - log2(population)`` to a probability with
a logistic curve whose slope and intercept are fitted here by maximum
likelihood (Newton's method, two parameters: hard to overfit).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["Search", "fit_calibration", "fit_competition", "registered_offset"]


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


# One labelled search: (weights of the candidates offered, registry size, index of the
# sought person among them or None when they are not among them / not registered).
Search = tuple[Sequence[float], int, int | None]


def fit_competition(
    searches: Sequence[Search], iterations: int = 60, l2: float = 1e-4
) -> tuple[float, float, float]:
    """Fit ``(slope, prior_slope, offset)`` of :class:`~corridor.matching.model.Calibration`.

    Maximum likelihood of a conditional logit: each search chooses one of its
    candidates or "none" (its sought person not offered), the candidates' utilities
    ``slope * weight``, that of "none" ``prior_slope * log2(population) + offset``.
    Convex in the three parameters; Newton's method. The ``offset`` returned holds
    the share of searches whose sought person is registered in the training data;
    ``registered_offset`` takes it out.

    >>> searches = [([20.0, 5.0], 1000, 0), ([4.0], 1000, None), ([18.0, 17.0], 1000, 1),
    ...             ([3.0, 2.0], 1000, None), ([16.0], 1000, 0), ([9.0], 1000, None)] * 5
    >>> slope, prior_slope, offset = fit_competition(searches)
    >>> slope > 0
    True
    """
    theta = [0.35, 0.35, 0.0]
    for _ in range(iterations):
        grad = [l2 * t for t in theta]
        hess = [[l2 if i == j else 0.0 for j in range(3)] for i in range(3)]
        for weights, population, chosen in searches:
            lp = math.log2(max(population, 2))
            feats = [(w, 0.0, 0.0) for w in weights] + [(0.0, lp, 1.0)]
            utils = [theta[0] * f[0] + theta[1] * f[1] + theta[2] * f[2] for f in feats]
            top = max(utils)
            ex = [math.exp(u - top) for u in utils]
            total = sum(ex)
            probs = [e / total for e in ex]
            mean = [sum(p * f[k] for p, f in zip(probs, feats, strict=True)) for k in range(3)]
            pick = feats[len(weights) if chosen is None else chosen]
            for k in range(3):
                grad[k] += mean[k] - pick[k]
                for m in range(3):
                    hess[k][m] += sum(
                        p * (f[k] - mean[k]) * (f[m] - mean[m])
                        for p, f in zip(probs, feats, strict=True)
                    )
        step = _solve3(hess, grad)
        theta = [t - s for t, s in zip(theta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return theta[0], theta[1], theta[2]


def _solve3(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a 3x3 linear system by Gaussian elimination (partial pivoting)."""
    m = [row[:] + [v] for row, v in zip(a, b, strict=True)]
    n = 3
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        if abs(m[col][col]) < 1e-12:
            return [0.0] * n
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def registered_offset(offset: float, registered_share: float) -> float:
    """The offset fitted on data where ``registered_share`` of the searches seek a
    registered person, as stored in the model (for a share of 0.5): the prior odds
    that the sought person is not registered, ``(1 - share) / share``, taken out."""
    return offset + math.log(registered_share / (1 - registered_share))
