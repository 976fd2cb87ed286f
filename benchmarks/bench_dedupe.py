"""Batch deduplication, side by side in one run: Corridor's deduplication on Splink
(``corridor.linkage``: Corridor's keys as columns, model set from Corridor's) and Splink
set up the usual way (Jaro-Winkler levels on the name columns, EM training), on the same
synthetic records drawn by the demo generator's household model, with its truth.

Records: persons of households drawn by ``corridor.demo.scenario._Draw`` (real Syrian and
Iraqi name parts in both scripts, registrars' spelling variants, fathers' and family names
shared within households). A share of them (``--duplicates``) is registered a second time
by another registrar: other Latin spellings of each name, or the Arabic script only, or
both, the birth year now and then off by one. The truth is the person each record is.

Each engine runs in a child process (its peak resident memory is the child's). Figures:
pairwise precision and recall against the truth (pairs within clusters), wall time.

    python benchmarks/bench_dedupe.py --records 100000
    python benchmarks/bench_dedupe.py --records 1000000 --engines corridor-splink
    python benchmarks/bench_dedupe.py --records 1000000 --usual-blocking narrow
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# --baseline runs an engine from another checkout (its code and its .venv).
CODE_ROOT = Path(os.environ.get("CORRIDOR_BENCH_CODE_ROOT") or ROOT)
sys.path.insert(0, str(CODE_ROOT))

COLUMNS = [
    "record_id", "full_name", "given_name", "father_name", "grandfather_name", "family_name",
    "name_original_script", "sex", "birth_year", "nationality",
]
REGISTERED = datetime(2019, 3, 10, 12, tzinfo=UTC)


def generate(path: Path, truth_path: Path, n: int, duplicates: float, seed: int) -> None:
    """``n`` records (persons and second registrations) and their truth."""
    from corridor.demo.names import spelling_variant
    from corridor.demo.scenario import _Draw

    rng = random.Random(seed)
    draw = _Draw(rng)
    written = 0
    with path.open("w", newline="", encoding="utf-8") as f, truth_path.open(
        "w", newline="", encoding="utf-8"
    ) as t:
        w, tw = csv.writer(f), csv.writer(t)
        w.writerow(COLUMNS)
        tw.writerow(["record_id", "cluster_id"])
        while written < n:
            for m in draw.household(REGISTERED).members:
                if written >= n:
                    break
                names = m.names
                year = 2019 - m.age
                nat = "SYR" if m.key % 5 else "IRQ"
                arabic = " ".join(
                    names[k] for k in ("given_name_original", "father_name_original",
                                       "grandfather_name_original", "family_name_original")
                )
                pid = f"p{m.key}"
                w.writerow([pid, "", names["given_name"], names["father_name"],
                            names["grandfather_name"], names["family_name"], arabic, m.sex,
                            year, nat])
                tw.writerow([pid, pid])
                written += 1
                if written >= n or rng.random() >= duplicates:
                    continue
                how = rng.random()
                latin = [spelling_variant(rng, names[k]) for k in
                         ("given_name", "father_name", "grandfather_name", "family_name")]
                year2 = year + (rng.choice((-1, 1)) if rng.random() < 0.3 else 0)
                rid = f"{pid}-2"
                if how < 0.3:  # Arabic script only
                    row = [rid, "", "", "", "", "", arabic, m.sex, year2, nat]
                elif how < 0.6:  # a full name in Latin letters, no structure
                    row = [rid, " ".join(latin), "", "", "", "", "", m.sex, year2, ""]
                else:
                    row = [rid, "", *latin, arabic if how < 0.8 else "", m.sex, year2, nat]
                w.writerow(row)
                tw.writerow([rid, pid])
                written += 1


def pairwise(truth_path: Path, clusters_path: Path) -> dict[str, float]:
    """Pairwise precision and recall of found clusters against the truth."""
    truth: dict[str, str] = {}
    with truth_path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            truth[r["record_id"]] = r["cluster_id"]
    found: dict[str, str] = {}
    with clusters_path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            found[r["record_id"]] = r["cluster_id"]
    c2 = lambda k: k * (k - 1) // 2  # noqa: E731
    true_pairs = sum(c2(k) for k in Counter(truth.values()).values())
    found_pairs = sum(c2(k) for k in Counter(found.values()).values())
    both = sum(c2(k) for k in Counter((found[r], truth[r]) for r in found).values())
    return {
        "true_pairs": true_pairs,
        "found_pairs": found_pairs,
        "precision": round(both / found_pairs, 4) if found_pairs else 1.0,
        "recall": round(both / true_pairs, 4) if true_pairs else 1.0,
    }


def run_corridor_splink(
    records: Path, out: Path, threshold: float, memory_limit: str | None
) -> dict[str, Any]:
    import inspect

    from corridor.linkage.bench import run_dedupe_splink

    # (--code-root may name an older checkout, whose function has no memory limit.)
    if "memory_limit" in inspect.signature(run_dedupe_splink).parameters:
        return run_dedupe_splink(records, out, "duckdb", threshold, memory_limit=memory_limit)
    return run_dedupe_splink(records, out, "duckdb", threshold)


# The usual Splink's blocking: "pairs" (two names each, EM on given + family and birth year
# + father: on 1,000,000 generator records these make 150 million pairs to predict and 341
# million for the second EM), or "narrow" (three names, or two and the birth year; EM on
# given + father + family, birth year + father + grandfather and birth year + given +
# grandfather: 6 million pairs to predict at 1,000,000), which lets it finish there.
USUAL_BLOCKING = ("pairs", "narrow")


def run_usual_splink(
    records: Path, out: Path, threshold: float, blocking: str = "pairs"
) -> dict[str, Any]:
    """Splink as its documentation sets it up: Jaro-Winkler name levels, exact birth year
    and sex, blocking on name pairs (or ``narrow``), u by random sampling, m by EM."""
    import logging

    import duckdb
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    con = duckdb.connect()
    # One name column per place: the Latin one, else the name in Arabic script split the
    # same way (a full name is split on spaces).
    con.execute(f"""
        CREATE TABLE recs AS
        WITH r AS (SELECT *, string_split(coalesce(nullif(full_name, ''),
                        nullif(name_original_script, ''), ''), ' ') AS parts
                   FROM read_csv('{records}', all_varchar = true))
        SELECT record_id AS unique_id,
          lower(coalesce(nullif(given_name, ''), parts[1])) AS given_name,
          lower(coalesce(nullif(father_name, ''), parts[2])) AS father_name,
          lower(coalesce(nullif(grandfather_name, ''), parts[3])) AS grandfather_name,
          lower(coalesce(nullif(family_name, ''), parts[-1])) AS family_name,
          try_cast(birth_year AS INTEGER) AS birth_year,
          nullif(sex, '') AS sex
        FROM r
    """).fetchall()
    api = DuckDBAPI(con)
    table = api.register("recs")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]).configure(
                term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("father_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("grandfather_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("family_name", [0.92, 0.8]).configure(
                term_frequency_adjustments=True),
            cl.CustomComparison(
                output_column_name="birth_year",
                comparison_levels=[
                    cll.NullLevel("birth_year"),
                    cll.ExactMatchLevel("birth_year"),
                    cll.AbsoluteDifferenceLevel("birth_year", 1),
                    cll.AbsoluteDifferenceLevel("birth_year", 3),
                    cll.ElseLevel(),
                ],
            ),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "family_name"),
            block_on("given_name", "father_name"),
            block_on("father_name", "family_name", "birth_year"),
        ] if blocking == "pairs" else [
            block_on("given_name", "father_name", "family_name"),
            block_on("given_name", "family_name", "birth_year"),
            block_on("father_name", "family_name", "birth_year"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    t0 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "father_name", "family_name", "birth_year")], recall=0.6
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    em_rules = (
        [block_on("given_name", "family_name"), block_on("birth_year", "father_name")]
        if blocking == "pairs" else
        [block_on("given_name", "father_name", "family_name"),
         block_on("birth_year", "father_name", "grandfather_name"),
         block_on("birth_year", "given_name", "grandfather_name")]
    )
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    train_s = time.perf_counter() - t0
    # The trained model (m and u of every level, the prior), kept beside the clusters.
    model = linker.misc.save_model_to_json(str(out.with_suffix(".model.json")), overwrite=True)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    clusters.to_csv(str(out.with_suffix(".raw.csv")), overwrite=True)
    con.execute(
        f"COPY (SELECT unique_id AS record_id, cluster_id FROM "
        f"read_csv('{out.with_suffix('.raw.csv')}')) TO '{out}' (HEADER)"
    ).fetchall()
    return {"train_s": round(train_s, 2), "blocking": blocking,
            "prior": model.get("probability_two_random_records_match"),
            "predict_and_cluster_s": round(time.perf_counter() - t0 - train_s, 2)}


def child(
    engine: str, records: Path, out: Path, threshold: float, memory_limit: str | None,
    usual_blocking: str = "pairs",
) -> None:
    t0 = time.perf_counter()
    if engine.startswith("corridor-splink"):
        stats = run_corridor_splink(records, out, threshold, memory_limit)
    else:
        stats = run_usual_splink(records, out, threshold, usual_blocking)
    stats["wall_s"] = round(time.perf_counter() - t0, 2)
    print("RESULT " + json.dumps(stats))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--duplicates", type=float, default=0.2, help="share registered twice")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--engines", default="corridor-splink,usual-splink")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/corridor-bench-dedupe"))
    p.add_argument("--memory-limit", default="3GB",
                   help="DuckDB's memory limit for Corridor's path (it spills beyond it)")
    p.add_argument("--baseline", type=Path, default=None,
                   help="another checkout (with its .venv): its Corridor path runs first as "
                   "corridor-splink-baseline, in the same run")
    p.add_argument("--usual-blocking", choices=USUAL_BLOCKING, default="pairs",
                   help="the usual Splink's blocking: pairs (two names; as at 100,000) or "
                   "narrow (three names, or two and the birth year; lets it finish at "
                   "1,000,000)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    records = args.workdir / f"records-{args.records}-{args.seed}.csv"
    truth = args.workdir / f"truth-{args.records}-{args.seed}.csv"
    if args.child:
        child(args.child, records, args.workdir / f"clusters-{args.child}.csv", args.threshold,
              args.memory_limit, args.usual_blocking)
        return 0
    if not records.exists():
        t0 = time.perf_counter()
        generate(records, truth, args.records, args.duplicates, args.seed)
        print(f"generated {args.records} records in {time.perf_counter() - t0:.1f} s: {records}")
    print(f"machine: {os.cpu_count()} cores; threshold {args.threshold}")
    engines = args.engines.split(",")
    if args.baseline:
        engines.insert(0, "corridor-splink-baseline")
    for engine in engines:
        python, env = sys.executable, dict(os.environ)
        if engine == "corridor-splink-baseline":
            python = str(args.baseline / ".venv" / "bin" / "python")
            env["CORRIDOR_BENCH_CODE_ROOT"] = str(args.baseline.resolve())
        cmd = [python, __file__, "--records", str(args.records), "--seed",
               str(args.seed), "--threshold", str(args.threshold), "--workdir",
               str(args.workdir), "--memory-limit", args.memory_limit,
               "--usual-blocking", args.usual_blocking, "--child", engine]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        out = proc.stdout.read() if proc.stdout else ""
        wall = time.perf_counter() - t0
        if status != 0:
            print(f"{engine}: failed (status {status})\n{out}")
            continue
        result = next(line for line in out.splitlines() if line.startswith("RESULT "))
        stats = json.loads(result[len("RESULT "):])
        score = pairwise(truth, args.workdir / f"clusters-{engine}.csv")
        print(json.dumps({
            "engine": engine, "records": args.records, **score,
            "wall_s": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "details": stats,
        }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
