"""The level-weight fitter (issue 14): it recovers known weights, keeps the constraints an
explanation needs, and what it fits is a model file that reads back the same."""

from __future__ import annotations

import json
import math
import random

import pytest

from corridor.matching.model import Model
from corridor.matching.records import PersonRecord
from corridor.matching.scoring import Matcher
from corridor.matching.training import (
    LEVEL_NAMES,
    LEVELS,
    ORDER,
    STEP,
    Choice,
    fit_levels,
    group_moves,
    level_constraints,
    level_values,
    nudged,
    probe_groups,
    read_counts,
    with_levels,
)

SLOPE = 0.7


def _draw(rng: random.Random, utils: list[float]) -> int:
    ex = [math.exp(u - max(utils)) for u in utils]
    r = rng.random() * sum(ex)
    for i, e in enumerate(ex):
        if r <= e:
            return i
        r -= e
    return len(ex) - 1


def _searches(truth: list[float], n: int, per_search: int, seed: int = 7,
              prior_slope: float = 0.5, offset: float = -1.0) -> list[Choice]:
    """Searches drawn from the competing-candidates model with level weights ``truth``."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        population = rng.choice([200, 2000, 30000])
        cands = []
        for _ in range(per_search):
            fixed = rng.uniform(-2.0, 12.0)  # what name rarity says: held fixed
            counts = {k: float(rng.randint(0, 2)) for k in range(len(truth)) if rng.random() < 0.6}
            cands.append((fixed, counts))
        utils = [SLOPE * (f + sum(c * truth[k] for k, c in cs.items())) for f, cs in cands]
        utils.append(prior_slope * math.log2(population) + offset)
        pick = _draw(rng, utils)
        out.append(Choice(cands, population, pick if pick < per_search else None))
    return out


@pytest.mark.parametrize("per_search", [1, 4], ids=["pairs (logistic)", "searches (competing)"])
def test_the_fit_recovers_known_weights(per_search: int) -> None:
    truth = [3.0, -5.0, 1.5, -2.0]
    choices = _searches(truth, 3000, per_search)
    fit = fit_levels(choices, [1.0, -1.0, 1.0, -1.0], SLOPE, l2=1e-3)
    for got, want in zip(fit.levels, truth, strict=True):
        assert got == pytest.approx(want, abs=0.5)
    assert fit.prior_slope == pytest.approx(0.5, abs=0.2)
    # Held prior_slope (searches of one registry size): only the offset moves.
    held_slope = fit_levels(choices, [1.0, -1.0, 1.0, -1.0], SLOPE, l2=1e-3, prior_slope=0.5)
    assert held_slope.prior_slope == pytest.approx(0.5, abs=1e-9)
    assert held_slope.levels == pytest.approx(truth, abs=0.5)
    # Shrinkage pulls towards the start: a strong penalty keeps the hand-set values.
    held = fit_levels(choices, [1.0, -1.0, 1.0, -1.0], SLOPE, l2=1e6)
    assert held.levels == pytest.approx([1.0, -1.0, 1.0, -1.0], abs=0.01)


def test_an_agreeing_level_never_counts_against() -> None:
    # The data say level 0 ("agrees") is worth -2 bits; the sign bound keeps it at 0.
    choices = _searches([-2.0, -4.0], 2000, 3, seed=3)
    free = fit_levels(choices, [1.0, -1.0], SLOPE, l2=1e-3)
    assert free.levels[0] < -1.0  # without the bound the fit would count it against
    cons = level_constraints([0.0, None], [None, 0.0])
    fit = fit_levels(choices, [1.0, -1.0], SLOPE, cons, l2=1e-3)
    assert fit.levels[0] == pytest.approx(0.0, abs=1e-6)
    assert fit.levels[1] == pytest.approx(-4.0, abs=0.6)


def test_an_order_between_levels_holds() -> None:
    # The data say "close" (1) counts more than "same" (0); the order keeps same >= close.
    choices = _searches([1.0, 3.0, -2.0], 2000, 3, seed=5)
    free = fit_levels(choices, [2.0, 1.0, -1.0], SLOPE, l2=1e-3)
    assert free.levels[1] > free.levels[0] + 1.0
    fit = fit_levels(choices, [2.0, 1.0, -1.0], SLOPE, level_constraints(
        [0.0, 0.0, None], [None, None, 0.0], [(0, 1)]), l2=1e-3)
    assert fit.levels[0] >= fit.levels[1] - 1e-6
    assert fit.levels[0] == pytest.approx(fit.levels[1], abs=1e-3)


def test_a_start_that_breaks_a_constraint_is_refused() -> None:
    with pytest.raises(ValueError, match="constraint"):
        fit_levels(_searches([1.0], 10, 2), [-1.0], SLOPE, level_constraints([0.0], [None]))


def test_the_shipped_model_meets_the_constraints_it_is_fitted_under() -> None:
    values = level_values(Model.default())
    idx = {n: i for i, n in enumerate(LEVEL_NAMES)}
    for (_, name, _, lo, hi, _), v in zip(LEVELS, values, strict=True):
        assert lo is None or v >= lo - 1e-9, name
        assert hi is None or v <= hi + 1e-9, name
    for a, b in ORDER:
        assert values[idx[a]] >= values[idx[b]], (a, b)


def test_fitted_levels_make_a_model_file_that_reads_back_strictly() -> None:
    model = Model.default()
    assert with_levels(model, level_values(model)) == model
    values = [v + 0.123 if how == "bits" else v - 0.05
              for v, (_, _, how, *_) in zip(level_values(model), LEVELS, strict=True)]
    fitted = with_levels(model, values, version="test")
    text = fitted.to_json()
    again = Model.from_json(text)
    assert again == fitted and again.version == "test"
    assert level_values(again) == pytest.approx(values, abs=0.01)
    data = json.loads(text)
    data["fields"]["birth_same_fitted"] = 1.0
    with pytest.raises(ValueError, match="unknown"):
        Model.from_json(json.dumps(data))


PAIRS = [
    (PersonRecord("q", full_name="Ahmad Khalil Hassan", birth_year=1980, sex="m"),
     PersonRecord("c", full_name="Ahmad Khalil Hassan", birth_year=1980, sex="f")),
    (PersonRecord("q", given_name="Yasser", father_name="Ismail", family_name="Fadil",
                  birth_year=1990, mother_name="Amina"),
     PersonRecord("c", given_name="Nasser", father_name="Ismail", family_name="Fadil",
                  birth_year=1993, mother_name="Amina", nationality="SYR")),
    (PersonRecord("q", full_name="Hoessein Omar El Chatib", birth_year=1975, sex="m",
                  nationality="SYR", place_of_origin="Alep", relatives_names=("Rana",)),
     PersonRecord("c", full_name="Hussein Omar al-Khatib", birth_year=1971, sex="m",
                  nationality="SYR", place_of_origin="Aleppo", relatives_names=("Rania",))),
    (PersonRecord("q", full_name="Alkhatib, Samira"),
     PersonRecord("c", full_name="Samir Mahmoud Ali al-Khatib", birth_year=1950)),
]


def test_a_nudged_level_counts_as_often_as_the_explanation_says() -> None:
    # The fit measures how many times a level counts by scoring the pair again with the
    # level moved; here birth years agree, sex differs.
    model = Model.default()
    q, c = PAIRS[0]
    base = Matcher(model).score(q, c, explain=False).weight
    idx = {n: i for i, n in enumerate(LEVEL_NAMES)}

    def count(name: str) -> float:
        w = Matcher(nudged(model, {idx[name]: STEP})).score(q, c, explain=False).weight
        return round((w - base) / STEP, 3)

    assert count("birth_same") == 1.0
    assert count("sex_different") == 1.0
    assert count("sex_same") == 0.0
    assert count("birth_close") == 0.0


@pytest.mark.parametrize("pair", range(len(PAIRS)))
def test_levels_moved_together_read_the_same_counts_as_moved_alone(pair: int) -> None:
    model = Model.default()
    q, c = PAIRS[pair]
    base = Matcher(model).score(q, c, explain=False).weight
    alone = {}
    for k in range(len(LEVELS)):
        w = Matcher(nudged(model, {k: STEP})).score(q, c, explain=False).weight
        if abs(w - base) > 1e-9:
            alone[k] = round((w - base) / STEP, 3)
    together: dict[int, float] = {}
    for ks, _ in probe_groups():
        w = Matcher(nudged(model, group_moves(ks))).score(q, c, explain=False).weight
        got = read_counts(ks, w - base)
        assert got is not None
        together.update(got)
    assert together == pytest.approx(alone)
    assert alone  # the pair uses some level
