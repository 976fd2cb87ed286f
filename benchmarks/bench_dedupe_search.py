"""names-dev deduplication by the matching engine's search (``corridor.linkage.search``),
every threshold of the rule from one pass, overall and on two halves of the persons.

The halves: the truth's clusters (persons) split by ``crc32(cluster_id) % 2``. A half's
true pairs are its persons' pairs; its found pairs are those with at least one record
in it (a false pair between the halves counts against both). Rule: the lowest threshold
whose precision on half 0 is at least 0.97; half 1 is the held-out figure.

    python benchmarks/bench_dedupe_search.py \
        --records ../shared/bench/names-dev/records.csv \
        --truth ../shared/bench/names-dev/clusters.csv
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
import zlib
from collections import defaultdict
from pathlib import Path

from corridor.linkage.search import search_links
from corridor.matching.bench import read_person_csv

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def find(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--share", type=float, default=0.1)
    p.add_argument("--precision", type=float, default=0.97)
    args = p.parse_args()
    with args.truth.open(encoding="utf-8") as f:
        truth = {r["record_id"]: r["cluster_id"] for r in csv.DictReader(f)}
    half = {rid: zlib.crc32(c.encode()) % 2 for rid, c in truth.items()}
    members: dict[str, list[str]] = defaultdict(list)
    for rid, c in truth.items():
        members[c].append(rid)
    true_pairs = {pr for m in members.values() for pr in itertools.combinations(sorted(m), 2)}

    t0 = time.perf_counter()
    records = list(read_person_csv(args.records))
    links = list(search_links(records, top=args.top, share=args.share))
    print(f"{len(records)} records searched in {time.perf_counter() - t0:.1f} s; "
          f"{len(links)} candidate links")

    chosen = None
    for th in THRESHOLDS:
        parent = {r.record_id: r.record_id for r in records}

        for link in links:
            if link.registered >= th:
                ra, rb = find(parent, link.record_id), find(parent, link.other)
                if ra != rb:
                    parent[ra] = rb
        groups: dict[str, list[str]] = defaultdict(list)
        for r in records:
            groups[find(parent, r.record_id)].append(r.record_id)
        found = {pr for g in groups.values() for pr in itertools.combinations(sorted(g), 2)}
        row: dict[str, object] = {"threshold": th}
        for name, h in (("all", None), ("half0", 0), ("half1", 1)):
            f_ = {pr for pr in found if h is None or h in (half[pr[0]], half[pr[1]])}
            t_ = {pr for pr in true_pairs if h is None or half[pr[0]] == h}
            tp = len(f_ & t_)
            row[name] = {"precision": round(tp / len(f_), 3) if f_ else 0.0,
                         "recall": round(tp / len(t_), 3), "found_pairs": len(f_)}
        print(json.dumps(row))
        if chosen is None and row["half0"]["precision"] >= args.precision:  # type: ignore[index]
            chosen = th
    print(f"rule: lowest threshold with half-0 precision >= {args.precision}: {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
