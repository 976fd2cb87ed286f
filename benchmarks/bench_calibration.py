"""Calibration across registry sizes, and a reliability table (issue 14).

    python benchmarks/bench_calibration.py [--bench family-dev names-dev] [--sizes 200 2000 0]
        [--dump OUT.json]

For each benchmark and each registry size, the registry is subsampled: the queries are
cut into batches of ``size // 4`` (so that about a fifth of a registry is sought
persons), and each batch is searched in a registry of its own holding every person the
batch seeks plus persons drawn at random from the rest, ``size`` in all (size 0: the
whole registry, every query at once). Printed per size: recall@1, likely@1 (the right
person first at probability >= 0.5), false_match_rate (a wrong person first at
probability >= 0.5), per query kind and over all, and at full size a reliability
table (probability bands of every offered candidate, ranks 1-10, against the share
that is the sought person). ``--dump`` writes every query's top-10 (record, weight,
probability, correct) so that other calibrations can be compared offline.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from corridor.matching.bench import read_person_csv
from corridor.matching.index import MemoryIndex
from corridor.matching.records import PersonRecord

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared/bench"
LIKELY = 0.5  # what score.py calls a likely match (what a family is told)

# One answer: (record_id, weight, probability) for each offered candidate, best first.
Answer = list[tuple[str, float, float]]


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
    """(registry, queries) pairs: every sought person kept, the rest sampled to ``size``."""
    if size <= 0 or size >= len(registry):
        return [(registry, queries)]
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
        out.append((kept, batch))
    return out


_INDEX: MemoryIndex | None = None


def _search(query: PersonRecord) -> Answer:
    assert _INDEX is not None
    return [(m.record_id, m.weight, m.probability) for m in _INDEX.search(query, 10)]


def _run_batch(job: tuple[list[PersonRecord], list[PersonRecord]]) -> tuple[int, list[Answer]]:
    records, batch = job
    index = MemoryIndex(records)
    return len(index), [[(m.record_id, m.weight, m.probability) for m in index.search(q, 10)]
                        for q in batch]


def run(
    jobs: list[tuple[list[PersonRecord], list[PersonRecord]]],
) -> list[tuple[str, int, Answer]]:
    """``(query_id, registry size, answer)`` for every query of every batch."""
    global _INDEX
    workers = min(os.cpu_count() or 1, 4)
    ctx = mp.get_context("fork")
    out: list[tuple[str, int, Answer]] = []
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


def figures(
    results: list[tuple[str, int, Answer]], truth: dict[str, str], kinds: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Per kind and ``all``: queries, recall@1, likely@1, false_match_rate."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for qid, _, answer in results:
        want = truth.get(qid) or None
        for key in (kinds[qid], "all"):
            a = acc[key]
            a[0] += 1
            top = answer[0] if answer else None
            if want:
                a[1] += 1
                if top and top[0] == want:
                    a[2] += 1
                    a[3] += top[2] >= LIKELY
            if top and top[0] != want and top[2] >= LIKELY:
                a[4] += 1
    return {
        k: {
            "queries": a[0],
            "recall@1": a[2] / a[1] if a[1] else float("nan"),
            "likely@1": a[3] / a[1] if a[1] else float("nan"),
            "false_match_rate": a[4] / a[0],
        }
        for k, a in sorted(acc.items())
    }


def reliability(
    results: list[tuple[str, int, Answer]], truth: dict[str, str]
) -> list[tuple[str, int, float, float]]:
    """(band, candidates, mean probability, share correct) over every offered candidate."""
    bands: list[list[float]] = [[0, 0.0, 0.0] for _ in range(10)]
    for qid, _, answer in results:
        want = truth.get(qid) or None
        for rid, _, p in answer:
            b = bands[min(int(p * 10), 9)]
            b[0] += 1
            b[1] += p
            b[2] += rid == want
    return [
        (f"{i / 10:.1f}-{(i + 1) / 10:.1f}", int(b[0]), b[1] / b[0] if b[0] else 0.0,
         b[2] / b[0] if b[0] else 0.0)
        for i, b in enumerate(bands)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", nargs="+", default=["family-dev", "names-dev"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[200, 2000, 0])
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args()
    dump: dict[str, Any] = {}
    for name in args.bench:
        registry, queries, truth, kinds = load(BENCH / name)
        for size in args.sizes:
            results = run(batches(registry, queries, truth, size))
            label = "full" if size <= 0 or size >= len(registry) else str(size)
            sizes = sorted({n for _, n, _ in results})
            print(f"\n{name} registry size {label} ({min(sizes)}-{max(sizes)} persons)")
            print("kind                      queries  recall@1  likely@1  false_match_rate")
            for kind, f in figures(results, truth, kinds).items():
                print(f"{kind:25s} {f['queries']:7d}  {f['recall@1']:8.3f}  {f['likely@1']:8.3f}"
                      f"  {f['false_match_rate']:.3f}")
            if label == "full":
                print("band      candidates  mean p  share correct")
                for band, n, mean_p, correct in reliability(results, truth):
                    print(f"{band:9s} {n:10d}  {mean_p:6.3f}  {correct:.3f}")
            dump[f"{name}/{label}"] = [
                {"query_id": qid, "kind": kinds[qid], "truth": truth.get(qid) or None,
                 "population": n, "answer": answer}
                for qid, n, answer in results
            ]
    if args.dump:
        args.dump.write_text(json.dumps(dump), encoding="utf-8")


if __name__ == "__main__":
    main()
