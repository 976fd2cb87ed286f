"""Calibration across registry sizes, and a reliability table (issue 14).

    python benchmarks/bench_calibration.py [--bench family-dev names-dev] [--sizes 200 2000 0]
        [--dump OUT.json | --load OUT.json] [--fit [--write VERSION]]

For each benchmark and each registry size, the registry is subsampled: the queries are
cut into batches of ``size // 4`` (so that about a fifth of a registry is sought
persons), and each batch is searched in a registry of its own holding every person the
batch seeks plus persons drawn at random from the rest, ``size`` in all (size 0: the
whole registry, every query at once). Printed per size: recall@1, likely@1 (the right
person first at probability >= 0.5), false_match_rate (a wrong person first at
probability >= 0.5), per query kind and over all, and at full size a reliability
table (probability bands of every offered candidate, ranks 1-10, against the share
that is the sought person) and the precision and recall of tracing proposals (ranks
1-5) at each probability from which one could propose. ``--dump`` writes every
query's candidates with their weights, ``--load`` reads them back (other calibrations
compared offline in seconds). ``--fit`` fits the calibration
(``training.fit_competition``) on every benchmark and size together, and, to
cross-validate, on each benchmark without the other, and reports each; ``--write
VERSION`` stores the fit on all in ``corridor/matching/data/model.json``. Refit after
any change of the weights: the calibration is fitted to them.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import random
from dataclasses import replace
from pathlib import Path

from corridor.matching.bench import derive_relatives, figures_by_kind, read_person_csv
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Calibration, Model
from corridor.matching.records import PersonRecord
from corridor.matching.training import Search, fit_competition, registered_offset

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared/bench"
LIKELY = 0.5  # what score.py calls a likely match (what a family is told)

# One answer: (record_id, weight) of every candidate scored, best first (the first 10
# are those offered); probabilities are computed from them with a calibration.
Answer = list[tuple[str, float]]
Result = tuple[str, int, Answer]  # query id, registry size, answer
TOP = 10
PROPOSED = 5  # tracing proposes at most this many per sought person (MAX_PROPOSED)
Bench = tuple[list[PersonRecord], list[PersonRecord], dict[str, str], dict[str, str]]


def load(bench: Path) -> Bench:
    registry = list(read_person_csv(bench / "registry.csv"))
    queries = list(read_person_csv(bench / "queries.csv", "query_id"))
    with (bench / "truth.csv").open(encoding="utf-8") as f:
        truth = {r["query_id"]: r["record_id"] for r in csv.DictReader(f)}
    with (bench / "queries.csv").open(encoding="utf-8") as f:
        kinds = {r["query_id"]: r["kind"] for r in csv.DictReader(f)}
    return registry, queries, truth, kinds


def batches(
    registry: list[PersonRecord],
    queries: list[PersonRecord],
    truth: dict[str, str],
    size: int,
    seed: int = 14,
) -> list[tuple[list[PersonRecord], list[PersonRecord]]]:
    """(registry, queries) pairs: every sought person kept, the rest sampled to ``size``.

    Each registry's records carry their relatives as ``corridor bench match`` derives
    them (``derive_relatives``: from the patronymic chains of that registry), so that
    both score the same searches.
    """
    if size <= 0 or size >= len(registry):
        return [(derive_relatives(registry), queries)]
    rng = random.Random(seed)
    order = list(queries)
    rng.shuffle(order)
    by_id = {r.record_id: r for r in registry}
    per_batch = max(1, size // 4)
    out = []
    for start in range(0, len(order), per_batch):
        batch = order[start : start + per_batch]
        wanted = {truth[q.record_id] for q in batch if truth.get(q.record_id)}
        kept = [by_id[r] for r in sorted(wanted) if r in by_id]
        rest = [r for r in registry if r.record_id not in wanted]
        kept += rng.sample(rest, max(0, size - len(kept)))
        out.append((derive_relatives(kept), batch))
    return out


_INDEX: MemoryIndex | None = None


def _answer(index: MemoryIndex, query: PersonRecord) -> Answer:
    cands = [index.records[r] for r in index.candidates(query)]
    return index.matcher.rank_weighed(query, cands, TOP)[1]


def _search(query: PersonRecord) -> Answer:
    assert _INDEX is not None
    return _answer(_INDEX, query)


def _run_batch(job: tuple[list[PersonRecord], list[PersonRecord]]) -> tuple[int, list[Answer]]:
    records, batch = job
    index = MemoryIndex(records)
    return len(index), [_answer(index, q) for q in batch]


def run(jobs: list[tuple[list[PersonRecord], list[PersonRecord]]]) -> list[Result]:
    """``(query_id, registry size, answer)`` for every query of every batch."""
    global _INDEX
    workers = min(os.cpu_count() or 1, 4)
    ctx = mp.get_context("fork")
    out: list[Result] = []
    if len(jobs) == 1:
        records, batch = jobs[0]
        _INDEX = MemoryIndex(records)
        try:
            with ctx.Pool(workers) as pool:
                answers = pool.map(_search, batch, chunksize=20)
        finally:
            n = len(_INDEX)
            _INDEX = None
        return [(q.record_id, n, a) for q, a in zip(batch, answers, strict=True)]
    with ctx.Pool(workers) as pool:
        for (_, batch), (n, answers) in zip(jobs, pool.map(_run_batch, jobs), strict=True):
            out.extend((q.record_id, n, a) for q, a in zip(batch, answers, strict=True))
    return out


def offered(cal: Calibration, result: Result) -> list[tuple[str, float]]:
    """The top 10 of an answer with their probabilities under ``cal``."""
    _, n, answer = result
    ps = cal.probabilities([w for _, w in answer], n)
    return [(rid, p) for (rid, _), p in zip(answer[:TOP], ps, strict=False)]


def figures(
    cal: Calibration, results: list[Result], truth: dict[str, str], kinds: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Per kind and ``all``: queries, recall@1, likely@1, false_match_rate."""
    return figures_by_kind(((r[0], offered(cal, r)) for r in results), truth, kinds, LIKELY)


def reliability(
    cal: Calibration, results: list[Result], truth: dict[str, str]
) -> list[tuple[str, int, float, float]]:
    """(band, candidates, mean probability, share correct) over every offered candidate."""
    bands: list[list[float]] = [[0, 0.0, 0.0] for _ in range(10)]
    for result in results:
        want = truth.get(result[0]) or None
        for rid, p in offered(cal, result):
            b = bands[min(int(p * 10), 9)]
            b[0] += 1
            b[1] += p
            b[2] += rid == want
    return [
        (f"{i / 10:.1f}-{(i + 1) / 10:.1f}", int(b[0]), b[1] / b[0] if b[0] else 0.0,
         b[2] / b[0] if b[0] else 0.0)
        for i, b in enumerate(bands)
    ]


def proposals(
    cal: Calibration, results: list[Result], truth: dict[str, str], at: float
) -> tuple[int, float, float]:
    """Candidates proposed (ranks 1-5 at probability >= ``at``), their precision, and
    the share of registered sought persons among them (recall)."""
    shown = right = registered = 0
    for result in results:
        want = truth.get(result[0]) or None
        registered += want is not None
        for rid, p in offered(cal, result)[:PROPOSED]:
            if p >= at:
                shown += 1
                right += rid == want
    return shown, right / shown if shown else float("nan"), right / max(registered, 1)


def searches(results: list[Result], truth: dict[str, str]) -> list[Search]:
    out: list[Search] = []
    for qid, n, answer in results:
        ids = [rid for rid, _ in answer]
        want = truth.get(qid) or None
        out.append(([w for _, w in answer], n, ids.index(want) if want in ids else None))
    return out


def registered_share(runs: list[tuple[list[Result], dict[str, str]]]) -> float:
    n = sum(len(results) for results, _ in runs)
    return sum(bool(truth.get(r[0])) for results, truth in runs for r in results) / n


def fitted(runs: list[tuple[list[Result], dict[str, str]]], base: Calibration) -> Calibration:
    """``base`` with slope, prior_slope and offset fitted on ``runs``."""
    data = [s for results, truth in runs for s in searches(results, truth)]
    slope, prior_slope, offset = fit_competition(data)
    return replace(base, slope=round(slope, 4), prior_slope=round(prior_slope, 4),
                   offset=round(registered_offset(offset, registered_share(runs)), 4))


def report(name: str, label: str, sizes: list[int], cal: Calibration, results: list[Result],
           truth: dict[str, str], kinds: dict[str, str], title: str) -> None:
    print(f"\n{name} registry size {label} ({min(sizes)}-{max(sizes)} persons), {title}")
    print("kind                      queries  recall@1  likely@1  false_match_rate")
    for kind, f in figures(cal, results, truth, kinds).items():
        print(f"{kind:25s} {f['queries']:7d}  {f['recall@1']:8.3f}  {f['likely@1']:8.3f}"
              f"  {f['false_match_rate']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", nargs="+", default=["family-dev", "names-dev"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[200, 2000, 0])
    ap.add_argument("--dump", type=Path, help="write every answer (weights) as JSON")
    ap.add_argument("--load", type=Path, help="read the answers from a --dump instead")
    ap.add_argument("--fit", action="store_true",
                    help="fit the calibration on every benchmark and size; report it too "
                         "(each benchmark also scored with the fit on the other)")
    ap.add_argument("--write", metavar="VERSION",
                    help="with --fit: write the fitted calibration into data/model.json")
    args = ap.parse_args()
    model = Model.default()
    runs: dict[str, tuple[list[Result], dict[str, str], dict[str, str]]] = {}
    loaded = json.loads(args.load.read_text(encoding="utf-8")) if args.load else {}
    for name in args.bench:
        registry, queries, truth, kinds = load(BENCH / name)
        for size in args.sizes:
            label = "full" if size <= 0 or size >= len(registry) else str(size)
            if loaded:
                results = [(q, n, [(r, w) for r, w in a]) for q, n, a in loaded[f"{name}/{label}"]]
            else:
                results = run(batches(registry, queries, truth, size))
            runs[f"{name}/{label}"] = (results, truth, kinds)
    if args.dump:
        args.dump.write_text(json.dumps({k: v[0] for k, v in runs.items()}), encoding="utf-8")
    cals = {"shipped": model.calibration}
    if args.fit:
        every = [(r, t) for r, t, _ in runs.values()]
        cals["fitted on all"] = fitted(every, model.calibration)
        print(f"fitted on all: {cals['fitted on all']} "
              f"(registered share {registered_share(every):.3f})")
        share = round(registered_share(every), 3)
        cals["fitted, at the benchmarks' registered share"] = replace(
            cals["fitted on all"], registered_share=share)
        for name in args.bench:
            other = [(r, t) for k, (r, t, _) in runs.items() if not k.startswith(name + "/")]
            if other:
                cals[f"fitted without {name}"] = fitted(other, model.calibration)
                print(f"fitted without {name}: {cals[f'fitted without {name}']}")
    for key, (results, truth, kinds) in runs.items():
        name, label = key.split("/")
        sizes = sorted({n for _, n, _ in results})
        for title, cal in cals.items():
            if title.startswith("fitted without") and not title.endswith(name):
                continue
            report(name, label, sizes, cal, results, truth, kinds, title)
            if label == "full":
                print("band      candidates  mean p  share correct")
                for band, n, mean_p, correct in reliability(cal, results, truth):
                    print(f"{band:9s} {n:10d}  {mean_p:6.3f}  {correct:.3f}")
                print("propose at  proposed  precision  recall")
                for at in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
                    shown, precision, recall = proposals(cal, results, truth, at)
                    print(f"{at:10.1f}  {shown:8d}  {precision:9.3f}  {recall:.3f}")
    if args.fit and args.write:
        new = replace(model, calibration=cals["fitted on all"], version=args.write)
        path = ROOT / "corridor/matching/data/model.json"
        path.write_text(new.to_json(), encoding="utf-8")
        print(f"wrote {path} (version {args.write})")


if __name__ == "__main__":
    main()
