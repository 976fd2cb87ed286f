"""Benchmark the matching engine on a names benchmark: search and duplicate detection.

    python benchmarks/bench_matching.py [--bench ../shared/bench/names-dev]

Runs ``bench match`` and ``bench dedupe`` end to end, scores them with the
benchmark's ``score.py``, and prints timings. The calibration is fitted by
``benchmarks/bench_calibration.py --fit --write VERSION`` (issue 14).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from corridor.matching.bench import run_dedupe, run_match

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", type=Path, default=ROOT.parent / "shared/bench/names-dev")
    args = ap.parse_args()
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
