"""Fitting the calibration of a model on labelled pairs.

The weights of a :class:`~corridor.matching.model.Model` are Fellegi-Sunter
bits; the calibration maps ``weight - log2(population)`` to a probability with
a logistic curve whose slope and intercept are fitted here by maximum
likelihood (Newton's method, two parameters: hard to overfit).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from corridor.matching.model import Model

__all__ = [
    "LEVELS",
    "LEVEL_NAMES",
    "ORDER",
    "STEP",
    "Choice",
    "Constraint",
    "LevelFit",
    "Search",
    "fit_calibration",
    "fit_competition",
    "fit_levels",
    "level_constraints",
    "level_values",
    "group_moves",
    "nudged",
    "probe_groups",
    "read_counts",
    "with_levels",
    "registered_offset",
]


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


# -- the levels of a model that are fitted ---------------------------------------------------

STEP = 1e-3  # how far a level is moved to measure how many times it counts in a pair

# (section, setting, how it enters the weight, lower, upper, field of the explanation
# it appears under or None for names). "log2": a probability m whose log2 is the level
# weight (a name agreeing at that level counts log2(m / u) bits).
LEVELS: list[tuple[str, str, str, float | None, float | None, str | None]] = [
    ("names", "m_same", "log2", -3.0, 0.0, None),
    ("names", "m_spelling", "log2", -3.0, 0.0, None),
    ("names", "m_script", "log2", -3.0, 0.0, None),
    ("names", "m_similar", "log2", -6.0, 0.0, None),
    ("names", "given_different", "bits", -12.0, 0.0, None),
    ("names", "given_elsewhere", "bits", -12.0, 0.0, None),
    ("names", "family_different", "bits", -12.0, 0.0, None),
    ("names", "chain_different", "bits", -12.0, 0.0, None),
    ("names", "unmatched_unit", "bits", -6.0, 0.0, None),
    ("names", "reordered_penalty", "bits", -6.0, 0.0, None),
    ("names", "father_different", "bits", -12.0, 0.0, None),
    ("names", "given_different_cap", "bits", -16.0, 0.0, None),
    ("names", "given_elsewhere_cap", "bits", -16.0, 0.0, None),
    ("names", "father_different_cap", "bits", -16.0, 0.0, None),
    ("names", "no_name_agrees_floor", "bits", -12.0, 0.0, None),
    ("fields", "birth_same", "bits", 0.0, 8.0, "birth year"),
    ("fields", "birth_close", "bits", 0.0, 8.0, "birth year"),
    ("fields", "birth_near", "bits", -8.0, 8.0, "birth year"),
    ("fields", "birth_far", "bits", -12.0, 0.0, "birth year"),
    ("fields", "birth_generation", "bits", -16.0, 0.0, "birth year"),
    ("fields", "sex_same", "bits", 0.0, 4.0, "sex"),
    ("fields", "sex_different", "bits", -12.0, 0.0, "sex"),
    ("fields", "nationality_same", "bits", 0.0, 4.0, "nationality"),
    ("fields", "nationality_different", "bits", -8.0, 0.0, "nationality"),
    ("fields", "origin_same", "bits", 0.0, 8.0, "place of origin"),
    ("fields", "origin_similar", "bits", 0.0, 8.0, "place of origin"),
    ("fields", "origin_different", "bits", -8.0, 0.0, "place of origin"),
    ("fields", "mother_same", "bits", 0.0, 10.0, "mother's name"),
    ("fields", "mother_similar", "bits", 0.0, 10.0, "mother's name"),
    ("fields", "mother_different", "bits", -12.0, 0.0, "mother's name"),
    ("fields", "relative_same", "bits", 0.0, 8.0, "relatives"),
    ("fields", "relative_weight_cap", "bits", 0.0, 12.0, "relatives"),
    ("fields", "relative_is_candidate", "bits", -12.0, 0.0, "relatives"),
]
# (a, b): level a counts at least as much as level b.
ORDER = [
    ("m_same", "m_spelling"), ("m_same", "m_script"), ("m_spelling", "m_similar"),
    ("m_script", "m_similar"),
    ("given_elsewhere", "given_different"), ("given_elsewhere_cap", "given_different_cap"),
    ("birth_same", "birth_close"), ("birth_close", "birth_near"), ("birth_near", "birth_far"),
    ("birth_far", "birth_generation"),
    ("origin_same", "origin_similar"), ("mother_same", "mother_similar"),
    ("relative_weight_cap", "relative_same"),
]
LEVEL_NAMES = [name for _, name, *_ in LEVELS]


def level_values(model: Model) -> list[float]:
    """The model's values of ``LEVELS``, as the fit sees them (log2 for the m's)."""
    out = []
    for section, name, how, *_ in LEVELS:
        value = float(getattr(getattr(model, section), name))
        out.append(math.log2(value) if how == "log2" else value)
    return out


def with_levels(model: Model, values: list[float], version: str | None = None) -> Model:
    """``model`` with ``LEVELS`` set to ``values`` (rounded as a hand would write them)."""
    names: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for (section, name, how, *_), v in zip(LEVELS, values, strict=True):
        value = round(2.0 ** v, 4) if how == "log2" else round(v, 2)
        (names if section == "names" else fields)[name] = value
    return replace(model, names=replace(model.names, **names),
                   fields=replace(model.fields, **fields),
                   version=version or model.version)


def nudged(model: Model, moves: Mapping[int, float]) -> Model:
    """``model`` with level ``k`` moved by ``moves[k]`` (in log2 for the m's): scoring
    a pair with it says how many times those levels count in the pair (``probe``)."""
    values = level_values(model)
    parts: dict[str, dict[str, Any]] = {"names": {}, "fields": {}}
    for k, delta in moves.items():
        section, name, how, *_ = LEVELS[k]
        v = values[k] + delta
        parts[section][name] = 2.0 ** v if how == "log2" else v
    return replace(model, names=replace(model.names, **parts["names"]),
                   fields=replace(model.fields, **parts["fields"]))


# Levels measured together: each ``bits`` level counts a whole number of times in a pair
# (a penalty once, a name not found twice...), so the levels of one group are moved by
# GROUP_STEP * 16 ** j and the counts read off the change as digits in base 16.
GROUP_STEP = 1e-8
GROUP_SIZE = 4


def probe_groups() -> list[tuple[list[int], str | None]]:
    """The levels scored together, with the field of the explanation they belong to
    (None: names): each m alone, the ``bits`` levels of one field four at a time."""
    out: list[tuple[list[int], str | None]] = []
    by_field: dict[str | None, list[int]] = {}
    for k, (_, _, how, _, _, fld) in enumerate(LEVELS):
        if how == "log2":
            out.append(([k], fld))
        else:
            by_field.setdefault(fld, []).append(k)
    for fld, ks in by_field.items():
        out.extend((ks[i : i + GROUP_SIZE], fld) for i in range(0, len(ks), GROUP_SIZE))
    return out


def group_moves(ks: Sequence[int]) -> dict[int, float]:
    """How far each level of a group is moved (``probe_groups``)."""
    if len(ks) == 1 and LEVELS[ks[0]][2] == "log2":
        return {ks[0]: STEP}
    return {k: GROUP_STEP * 16.0**j for j, k in enumerate(ks)}


def read_counts(ks: Sequence[int], change: float) -> dict[int, float] | None:
    """The counts of a group's levels from the change of a pair's weight when the group
    is moved (``group_moves``); None when they are not whole numbers below 16 (then
    each level is to be moved alone)."""
    if len(ks) == 1 and LEVELS[ks[0]][2] == "log2":
        d = round(change / STEP, 3)
        return {ks[0]: d} if abs(d) > 1e-6 else {}
    digits = change / GROUP_STEP
    whole = round(digits)
    if abs(digits - whole) > 1e-3 or whole < 0:
        return None
    out: dict[int, float] = {}
    for j, k in enumerate(ks):
        c = (whole // 16**j) % 16
        if c:
            out[k] = float(c)
    if whole >= 16 ** len(ks):
        return None
    return out


# -- level weights -----------------------------------------------------------------------
#
# The weights of a model's levels (a given name that differs, birth years close, a name
# agreeing as a spelling...) fitted on labelled searches. Each candidate's weight is
# ``fixed + sum(count[k] * level[k])``: ``count[k]`` is how many times level ``k`` counts
# in this pair (``benchmarks/fit_weights.py`` measures it by scoring the pair again with
# that level moved a little), ``fixed`` the rest (what name rarity says). The candidates
# of a search compete with "none of them" as in ``fit_competition``.


@dataclass(frozen=True)
class Choice:
    """One labelled search: its candidates as ``(fixed bits, {level: count})``, the
    registry size, and the index of the sought person among them (None: not offered,
    or not registered)."""

    candidates: Sequence[tuple[float, Mapping[int, float]]]
    population: int
    chosen: int | None


@dataclass(frozen=True)
class LevelFit:
    """Fitted level weights (bits), the calibration's ``prior_slope`` and ``offset`` for
    "none of them", and the mean log-likelihood per search."""

    levels: list[float]
    prior_slope: float
    offset: float
    loglik: float


# A linear constraint ``sum(c * v[k]) <= bound`` over the parameters (the levels, then
# prior_slope and offset).
Constraint = tuple[Mapping[int, float], float]


def level_constraints(
    lower: Sequence[float | None],
    upper: Sequence[float | None],
    order: Sequence[tuple[int, int]] = (),
) -> list[Constraint]:
    """Bounds per level and ``(a, b)`` pairs meaning level ``a`` counts at least as much
    as level ``b`` (birth year "same" at least "close")."""
    out: list[Constraint] = []
    for k, lo in enumerate(lower):
        if lo is not None:
            out.append(({k: -1.0}, -lo))
    for k, hi in enumerate(upper):
        if hi is not None:
            out.append(({k: 1.0}, hi))
    for a, b in order:
        out.append(({b: 1.0, a: -1.0}, 0.0))
    return out


def fit_levels(
    choices: Sequence[Choice],
    start: Sequence[float],
    slope: float,
    constraints: Sequence[Constraint] = (),
    scale: Sequence[float] | None = None,
    l2: float = 1.0,
    iterations: int = 40,
    prior_slope: float | None = None,
) -> LevelFit:
    """Maximum likelihood of the level weights, shrunk towards ``start`` (the hand-set
    values): penalty ``l2 / 2 * sum(((v - start) / scale) ** 2)``.

    Each search chooses one of its candidates, utility ``slope * weight``, or "none",
    utility ``prior_slope * log2(population) + offset``; a search of one candidate is a
    plain logistic regression on that pair. The objective is convex; each Newton step
    solves its quadratic model under ``constraints`` (``_qp``), and a backtracking line
    search keeps every iterate feasible. ``start`` must satisfy the constraints. With
    ``prior_slope`` given, it is held and only the offset of "none" is fitted (searches
    in registries of one size cannot tell the two apart).

    >>> # Two levels: "agrees" (+) and "differs" (-); the truth is 4 and -3 bits.
    >>> import random
    >>> rng = random.Random(1)
    >>> choices = []
    >>> for _ in range(400):
    ...     cands = [(0.0, {0: rng.randint(0, 2), 1: rng.randint(0, 2)}) for _ in range(3)]
    ...     u = [math.exp(0.7 * (4 * c[1][0] - 3 * c[1][1])) for c in cands] + [math.exp(1.0)]
    ...     r, pick = rng.random() * sum(u), 0
    ...     while r > u[pick]:
    ...         r -= u[pick]
    ...         pick += 1
    ...     choices.append(Choice(cands, 1000, pick if pick < 3 else None))
    >>> fit = fit_levels(choices, [1.0, -1.0], 0.7, l2=0.01)
    >>> [round(v) for v in fit.levels]
    [4, -3]
    """
    k_levels = len(start)
    n = k_levels + 2
    scale = list(scale) if scale is not None else [1.0] * k_levels
    prior = [*start, 0.0, 0.0]
    ridge = [l2 / (s * s) for s in scale] + [1e-6, 1e-6]
    cons = list(constraints)
    v = [*start, 0.5 if prior_slope is None else prior_slope, 0.0]
    if prior_slope is not None:
        cons += [({k_levels: 1.0}, prior_slope), ({k_levels: -1.0}, -prior_slope)]
    if any(_lhs(c, v) > b + 1e-9 for c, b in cons):
        raise ValueError("the starting weights break a constraint")

    def objective(x: list[float]) -> float:
        total = 0.5 * sum(r * (xi - p) ** 2 for r, xi, p in zip(ridge, x, prior, strict=True))
        for ch in choices:
            utils = _utilities(ch, x, slope, k_levels)
            top = max(utils)
            total += top + math.log(sum(math.exp(u - top) for u in utils))
            total -= utils[len(ch.candidates) if ch.chosen is None else ch.chosen]
        return total

    current = objective(v)
    for _ in range(iterations):
        grad = [r * (xi - p) for r, xi, p in zip(ridge, v, prior, strict=True)]
        hess = [[ridge[i] if i == j else 0.0 for j in range(n)] for i in range(n)]
        for ch in choices:
            feats = [{k: slope * c for k, c in counts.items()} for _, counts in ch.candidates]
            feats.append({k_levels: math.log2(max(ch.population, 2)), k_levels + 1: 1.0})
            utils = _utilities(ch, v, slope, k_levels)
            top = max(utils)
            ex = [math.exp(u - top) for u in utils]
            total = sum(ex)
            mean: dict[int, float] = {}
            for e, f in zip(ex, feats, strict=True):
                p = e / total
                for k, x in f.items():
                    mean[k] = mean.get(k, 0.0) + p * x
                    row = hess[k]
                    for m, y in f.items():
                        row[m] += p * x * y
            for k, x in mean.items():
                grad[k] += x
                row = hess[k]
                for m, y in mean.items():
                    row[m] -= x * y
            for k, x in feats[len(ch.candidates) if ch.chosen is None else ch.chosen].items():
                grad[k] -= x
        shifted = [(c, b - _lhs(c, v)) for c, b in cons]
        step = _qp(hess, grad, shifted)
        t = 1.0
        while t > 1e-6:
            trial = [x + t * d for x, d in zip(v, step, strict=True)]
            value = objective(trial)
            if value <= current:
                break
            t /= 2
        else:
            break
        done = current - value < 1e-7 * max(1.0, abs(current))
        v, current = trial, value
        if done:
            break
    return LevelFit(v[:k_levels], v[k_levels], v[k_levels + 1], -current / max(len(choices), 1))


def _lhs(c: Mapping[int, float], v: Sequence[float]) -> float:
    return sum(a * v[k] for k, a in c.items())


def _utilities(ch: Choice, v: Sequence[float], slope: float, k_levels: int) -> list[float]:
    utils = [
        slope * (fixed + sum(c * v[k] for k, c in counts.items()))
        for fixed, counts in ch.candidates
    ]
    utils.append(v[k_levels] * math.log2(max(ch.population, 2)) + v[k_levels + 1])
    return utils


def _qp(
    hess: list[list[float]], grad: list[float], cons: Sequence[Constraint], sweeps: int = 2000
) -> list[float]:
    """``argmin grad.d + d.H.d / 2`` subject to ``sum(c * d) <= bound`` for each
    constraint: Hildreth's dual coordinate ascent (``hess`` positive definite)."""
    n = len(grad)
    hinv = _inverse(hess)
    base = [-sum(hinv[i][j] * grad[j] for j in range(n)) for i in range(n)]
    if not cons:
        return base
    # Columns of H^-1 A^T, one per constraint.
    cols = [[sum(hinv[i][k] * a for k, a in c.items()) for i in range(n)] for c, _ in cons]
    m = len(cons)
    gram = [[sum(a * cols[j][k] for k, a in cons[i][0].items()) for j in range(m)]
            for i in range(m)]
    slack = [b - _lhs(c, base) for c, b in cons]  # constraint i holds when A_i d <= b_i
    lam = [0.0] * m
    for _ in range(sweeps):
        moved = 0.0
        for i in range(m):
            if gram[i][i] <= 1e-15:
                continue
            # A_i d(lam) - b_i, with d(lam) = base - sum_j lam_j cols_j
            excess = -slack[i] - sum(gram[i][j] * lam[j] for j in range(m) if lam[j])
            new = max(0.0, lam[i] + excess / gram[i][i])
            moved = max(moved, abs(new - lam[i]))
            lam[i] = new
        if moved < 1e-12:
            break
    return [base[i] - sum(lam[j] * cols[j][i] for j in range(m) if lam[j]) for i in range(n)]


def _inverse(a: list[list[float]]) -> list[list[float]]:
    """Inverse of a square matrix (Gauss-Jordan, partial pivoting)."""
    n = len(a)
    m = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-15:
            raise ValueError("singular matrix")
        m[col], m[piv] = m[piv], m[col]
        d = m[col][col]
        m[col] = [x / d for x in m[col]]
        for r in range(n):
            if r != col and m[r][col]:
                f = m[r][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [row[n:] for row in m]
