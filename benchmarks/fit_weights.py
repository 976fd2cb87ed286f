"""Fit the model's level weights on labelled searches of the dev benchmarks (issue 14).

    python benchmarks/fit_weights.py [--bench family-dev names-dev] [--top 10]
        [--features FEATURES.json] [--l2 1.0] [--pairs] [--cv] [--write VERSION]

1. For every query of each benchmark, the engine's candidates (the whole pool the
   candidate index gives; the same whichever weights score them) are scored with the
   model shipped in ``corridor/matching/data/model.json``, and the ``--top`` best are kept
   as pairs labelled right or wrong from ``truth.csv``.
2. For each pair, the level weights of ``training.LEVELS`` are moved a little and the
   pair scored again: the change says how many times each level counts in the pair (the
   engine is piecewise linear in these values: caps and floors included; levels counted
   in whole numbers are moved four at a time and read off as digits, ``probe_groups``).
   The rest of the weight (name rarity) is held fixed. ``--features`` caches this (the
   slow part) as JSON, with each query's 50 best candidates by the hand-set weights,
   which step 4 ranks again with other weights.
3. ``training.fit_levels`` fits the levels by maximum likelihood of each search choosing
   its sought person among its candidates or "none of them" (the engine's calibration,
   its slope held), shrunk towards the hand-set values (``--l2``), under the sign and
   order constraints an explanation needs: a level that says "agrees" never counts
   against, one that says "differs" never counts for, "same birth year" counts at least
   as much as "close", a name agreeing exactly at least as much as a spelling.
4. The fitted weights are scored end to end on queries the fit did not see (``--cv``):
   fitted on one benchmark and scored on the other, and fitted on half of a benchmark's
   queries of every benchmark (split by family name on family-dev, so a household and
   its siblings' enquiries fall in one half; by person on names-dev) and scored on the
   other half of each, beside the hand-set weights with their calibration's offset
   fitted on the same queries.
5. ``--write VERSION`` writes the fit on every benchmark into data/model.json (only
   where the cross-validation says it beats the hand-set weights: see docs/matching.md,
   "Learned weights"); refit the calibration after it
   (``benchmarks/bench_calibration.py --fit --write VERSION``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from corridor.matching.bench import derive_relatives, figures_by_kind, read_person_csv
from corridor.matching.index import MemoryIndex
from corridor.matching.keys import unit_keys
from corridor.matching.model import Model
from corridor.matching.normalise import parse_name
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
    registered_offset,
    with_levels,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared/bench"
START: list[float] = []  # the model's hand-set level values (``level_values``)
PAIRS = False  # --pairs: each pair on its own instead of each search's candidates
LIKELY = 0.5

# -- features -----------------------------------------------------------------------------

_STATE: dict[str, Any] = {}
_INDEXES: dict[str, MemoryIndex] = {}


def bench_index(name: str) -> MemoryIndex:
    """The benchmark's registry indexed once (relatives derived as ``bench match`` does)."""
    if name not in _INDEXES:
        registry = derive_relatives(list(read_person_csv(BENCH / name / "registry.csv")))
        _INDEXES[name] = MemoryIndex(registry, Model.default())
    return _INDEXES[name]


EVAL_POOL = 50  # candidates kept per query to score other weights with (best by hand)


def _present(q: PersonRecord, c: PersonRecord) -> set[str]:
    """The fields the two records both give (a field's levels count only there)."""
    out = set()
    if q.birth_year is not None and c.birth_year is not None:
        out.add("birth year")
    if q.sex and c.sex:
        out.add("sex")
    if q.nationality and c.nationality:
        out.add("nationality")
    if q.place_of_origin and c.place_of_origin:
        out.add("place of origin")
    if q.mother_units and c.mother_units:
        out.add("mother's name")
    if q.relative_units:
        out.add("relatives")
    return out


def _features(query: PersonRecord) -> dict[str, Any]:
    index: MemoryIndex = _STATE["index"]
    probes: list[tuple[list[int], str | None, Matcher]] = _STATE["probes"]
    singles: list[Matcher] = _STATE["singles"]
    pool = [index.records[r] for r in index.candidates(query)]
    _, ranked = index.matcher.rank_weighed(query, pool, 1)
    pairs = []
    for rid, w0 in ranked[: _STATE["top"]]:
        cand = index.records[rid]
        present = _present(query, cand)
        counts: dict[int, float] = {}
        for ks, fld, matcher in probes:
            if fld is not None and fld not in present:
                continue
            change = matcher.score(query, cand, explain=False).weight - w0
            got = read_counts(ks, change)
            if got is None:  # not whole numbers: each level alone
                got = {}
                for k in ks:
                    d = (singles[k].score(query, cand, explain=False).weight - w0) / STEP
                    if abs(d) > 1e-6:
                        got[k] = round(d, 3)
            counts.update(got)
        pairs.append([rid, w0, counts])
    return {"query": query.record_id, "pool": [rid for rid, _ in ranked[:EVAL_POOL]],
            "pairs": pairs}


def _workers() -> int:
    return min(os.cpu_count() or 1, 4)


def extract(name: str, model: Model, top: int, limit: int = 0) -> dict[str, Any]:
    queries = list(read_person_csv(BENCH / name / "queries.csv", "query_id"))
    if limit:
        queries = queries[:limit]
    index = bench_index(name)
    def matcher(moves: dict[int, float]) -> Matcher:
        return Matcher(nudged(model, moves), index.frequencies, len(index))

    probes = [(ks, fld, matcher(group_moves(ks))) for ks, fld in probe_groups()]
    singles = [matcher({k: STEP}) for k in range(len(LEVELS))]
    _STATE.update(index=index, probes=probes, singles=singles, top=top)
    with mp.get_context("fork").Pool(_workers()) as pool:
        rows = pool.map(_features, queries, chunksize=10)
    return {"population": len(index), "queries": rows}


# -- benchmarks -----------------------------------------------------------------------------

def load_truth(name: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """truth (query -> record or ''), kinds, and the group each query falls in for the
    halves: the family name (family-dev: a household and its siblings' enquiries
    together) or the person (names-dev)."""
    bench = BENCH / name
    with (bench / "truth.csv").open(encoding="utf-8") as f:
        truth = {r["query_id"]: r["record_id"] for r in csv.DictReader(f)}
    with (bench / "queries.csv").open(encoding="utf-8") as f:
        queries = {r["query_id"]: r for r in csv.DictReader(f)}
    with (bench / "registry.csv").open(encoding="utf-8") as f:
        family = {r["record_id"]: r["family_name"] or r["full_name"].split()[-1]
                  for r in csv.DictReader(f)}
    kinds = {q: r["kind"] for q, r in queries.items()}
    groups = {}
    for q, r in queries.items():
        if name.startswith("family"):
            text = family.get(truth.get(q) or "") or r["family_name"] or (
                r["full_name"].replace(",", " ").split() or [""])[0]
            units = parse_name(text)
            groups[q] = unit_keys(units[-1]).skeleton if units else text
        else:
            groups[q] = truth.get(q) or q
    return truth, kinds, groups


def half(group: str) -> int:
    return hashlib.sha256(group.encode()).digest()[0] % 2


def choices(data: dict[str, Any], truth: dict[str, str], keep: set[str] | None) -> list[Choice]:
    out: list[Choice] = []
    for row in data["queries"]:
        if keep is not None and row["query"] not in keep:
            continue
        cands = [(w0, {int(k): c for k, c in counts.items()}) for _, w0, counts in row["pairs"]]
        ids = [rid for rid, _, _ in row["pairs"]]
        want = truth.get(row["query"]) or None
        shifted = [(w0 - sum(c * START[k] for k, c in counts.items()), counts)
                   for w0, counts in cands]
        if PAIRS:  # each pair on its own: a plain logistic regression, right or wrong
            out.extend(Choice([c], data["population"], 0 if rid == want else None)
                       for c, rid in zip(shifted, ids, strict=True))
        else:
            out.append(Choice(shifted, data["population"],
                              ids.index(want) if want in ids else None))
    return out



def fit(data: list[tuple[dict[str, Any], dict[str, str], set[str] | None]], model: Model,
        l2: float, free: bool = True) -> Model:
    """``model`` with its levels (``free``) and the calibration's prior_slope and offset
    fitted on ``data``; the offset stored for a registered share of 0.5, as
    ``bench_calibration.py`` stores it."""
    chs = [c for d, truth, keep in data for c in choices(d, truth, keep)]
    lower = [lo for *_, lo, _, _ in LEVELS]
    upper = [hi for *_, hi, _ in LEVELS]
    if not free:
        lower = upper = list(START)
    idx = {n: i for i, n in enumerate(LEVEL_NAMES)}
    cons = level_constraints(lower, upper, [(idx[a], idx[b]) for a, b in ORDER])
    scale = [1.0 if how == "bits" else 0.5 for _, _, how, *_ in LEVELS]
    # The searches are all in registries of about 30,000 persons: the calibration's
    # prior_slope (how "none of them" grows with the registry) is held, the offset fitted.
    res = fit_levels(chs, START, model.calibration.slope, cons, scale, l2,
                     prior_slope=model.calibration.prior_slope)
    kept = [q for d, _, keep in data for q in (r["query"] for r in d["queries"])
            if keep is None or q in keep]
    registered = {q for _, truth, _ in data for q, r in truth.items() if r}
    share = sum(q in registered for q in kept) / max(len(kept), 1)
    out = with_levels(model, res.levels) if free else model
    return replace(out, calibration=replace(
        model.calibration, prior_slope=round(res.prior_slope, 4),
        offset=round(registered_offset(res.offset, share), 4)))


_EVAL: dict[str, Any] = {}


def _rank(job: tuple[PersonRecord, list[str]]) -> list[tuple[str, float]]:
    query, pool = job
    index: MemoryIndex = _EVAL["index"]
    matcher: Matcher = _EVAL["matcher"]
    cands = [index.records[r] for r in pool]
    ws = sorted(((matcher.score(query, c, explain=False).weight, c.record_id) for c in cands),
                key=lambda t: (-round(t[0], 6), t[1]))
    ps = matcher.probabilities([w for w, _ in ws])
    return [(rid, p) for (_, rid), p in zip(ws[:10], ps, strict=False)]


def evaluate(name: str, data: dict[str, Any], models: dict[str, Model],
             keep: set[str] | None) -> dict[str, dict[str, dict[str, float]]]:
    """On ``keep`` (None: every query): each model ranks the 50 candidates of each query
    that the hand-set weights put first, and its calibration gives the probabilities."""
    truth, kinds, _ = load_truth(name)
    queries = {q.record_id: q for q in read_person_csv(BENCH / name / "queries.csv", "query_id")}
    index = bench_index(name)
    jobs = [(queries[r["query"]], r["pool"]) for r in data["queries"]
            if keep is None or r["query"] in keep]
    out = {}
    for label, model in models.items():
        _EVAL.update(index=index, matcher=Matcher(model, index.frequencies, len(index)))
        with mp.get_context("fork").Pool(_workers()) as pool:
            answers = pool.map(_rank, jobs, chunksize=10)
        out[label] = figures([q.record_id for q, _ in jobs], answers, truth, kinds)
    return out


def figures(qids: list[str], answers: list[list[tuple[str, float]]], truth: dict[str, str],
            kinds: dict[str, str]) -> dict[str, dict[str, float]]:
    return figures_by_kind(zip(qids, answers, strict=True), truth, kinds, LIKELY)


def show(title: str, table: dict[str, dict[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    labels = list(table)
    print(f"{'kind':26s}" + "".join(f"{lbl:>30s}" for lbl in labels))
    print(f"{'':26s}" + "".join(f"{'r@1  likely@1  FMR':>30s}" for _ in labels))
    for kind in table[labels[0]]:
        cells = []
        for lbl in labels:
            f = table[lbl][kind]
            cells.append(f"{f['recall@1']:8.3f} {f['likely@1']:9.3f} {f['false_match_rate']:6.3f}")
        print(f"{kind:26s}" + "".join(f"{c:>30s}" for c in cells))
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", nargs="+", default=["family-dev", "names-dev"])
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--features", type=Path, help="cache of the features (JSON)")
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--limit", type=int, default=0, help="only the first N queries (a trial)")
    ap.add_argument("--cv", action="store_true", help="cross-validate (see the docstring)")
    ap.add_argument("--pairs", action="store_true",
                    help="fit each pair on its own (logistic regression) instead of each "
                         "search's candidates competing")
    ap.add_argument("--write", metavar="VERSION", help="write the fit on all into model.json")
    args = ap.parse_args()
    global PAIRS
    PAIRS = args.pairs
    model = Model.default()
    START[:] = level_values(model)
    feats: dict[str, Any] = {}
    if args.features and args.features.exists():
        feats = json.loads(args.features.read_text(encoding="utf-8"))
    for name in args.bench:
        if name not in feats:
            t = time.perf_counter()
            feats[name] = extract(name, model, args.top, args.limit)
            print(f"{name}: features in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            if args.features:
                args.features.write_text(json.dumps(feats), encoding="utf-8")
    truths = {name: load_truth(name) for name in args.bench}

    def data(names: list[str], part: int | None = None
             ) -> list[tuple[dict[str, Any], dict[str, str], set[str] | None]]:
        out = []
        for n in names:
            truth, _, groups = truths[n]
            keep = None if part is None else {q for q, g in groups.items() if half(g) == part}
            out.append((feats[n], truth, keep))
        return out

    learnt = fit(data(args.bench), model, args.l2)
    print("\nlevel                      hand    fitted on all")
    for (_, nm, how, *_), a, b in zip(LEVELS, START, level_values(learnt), strict=True):
        unit = " (log2 m)" if how == "log2" else ""
        print(f"{nm:24s} {a:7.2f} {b:9.2f}{unit}")
    print(f"calibration fitted with the levels: {learnt.calibration}")
    if args.cv:
        for name in args.bench:
            others = [n for n in args.bench if n != name]
            if others:
                models = {"hand, cal. on other": fit(data(others), model, args.l2, free=False),
                          "fitted on other": fit(data(others), model, args.l2)}
                show(f"{name}: fitted on {', '.join(others)}",
                     evaluate(name, feats[name], models, None))
        for part in (0, 1):
            # Fitted on the other half of every benchmark, scored on this half of each.
            train = data(args.bench, 1 - part)
            models = {"hand, cal. on other half": fit(train, model, args.l2, free=False),
                      "fitted on other half": fit(train, model, args.l2)}
            for name in args.bench:
                _, _, groups = truths[name]
                keep = {q for q, g in groups.items() if half(g) == part}
                show(f"{name}: held-out half {part} ({len(keep)} queries), fitted on half "
                     f"{1 - part} of {' and '.join(args.bench)}",
                     evaluate(name, feats[name], models, keep))
    if args.write:
        path = ROOT / "corridor/matching/data/model.json"
        path.write_text(replace(learnt, version=args.write).to_json(), encoding="utf-8")
        print(f"wrote {path} (version {args.write}); refit the calibration next")


if __name__ == "__main__":
    main()
