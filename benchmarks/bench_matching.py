"""Benchmark (and optionally re-calibrate) the matching engine on a names benchmark.

    python benchmarks/bench_matching.py [--bench ../shared/bench/names-dev] [--fit]

Runs ``bench match`` and ``bench dedupe`` end to end, scores them with the
benchmark's ``score.py``, and prints timings. ``--fit`` refits the model's
two calibration parameters on the scored (query, candidate) pairs of the run
and writes ``corridor/matching/data/model.json`` with a new version.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from corridor.matching.bench import read_person_csv, run_dedupe, run_match
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Model
from corridor.matching.training import fit_calibration

ROOT = Path(__file__).resolve().parents[1]


def fit(bench: Path, version: str) -> None:
    truth = {r["query_id"]: r["record_id"] for r in csv.DictReader((bench / "truth.csv").open())}
    index = MemoryIndex(read_person_csv(bench / "registry.csv"))
    xs: list[float] = []
    ys: list[bool] = []
    prior = index.matcher.prior_bits
    for q in read_person_csv(bench / "queries.csv", "query_id"):
        for m in index.search(q, 10):
            xs.append(m.weight - prior)
            ys.append(truth.get(q.record_id) == m.record_id)
    # Intercept fixed at 0: the prior stays 1/population (see docs/matching.md).
    slope, intercept = fit_calibration(xs, ys, fit_intercept=False)
    model = Model.default().with_calibration(slope, intercept, version)
    path = ROOT / "corridor/matching/data/model.json"
    path.write_text(model.to_json(), encoding="utf-8")
    print(f"fitted slope={slope:.4f} intercept={intercept:.4f} on {len(xs)} pairs -> {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=Path, default=ROOT.parent / "shared/bench/names-dev")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--version", default="1")
    args = ap.parse_args()
    if args.fit:
        fit(args.bench, args.version)
    score = ROOT.parent / "shared/bench/score.py"
    with tempfile.TemporaryDirectory() as tmp:
        ranked, clusters = Path(tmp) / "ranked.csv", Path(tmp) / "clusters.csv"
        print(run_match(args.bench / "registry.csv", args.bench / "queries.csv", 10, ranked))
        subprocess.run(
            [
                sys.executable,
                score,
                "match",
                args.bench / "truth.csv",
                ranked,
                "--queries",
                args.bench / "queries.csv",
            ],
            check=True,
        )
        print(run_dedupe(args.bench / "records.csv", clusters))
        subprocess.run(
            [sys.executable, score, "dedupe", args.bench / "clusters.csv", clusters], check=True
        )


if __name__ == "__main__":
    main()
