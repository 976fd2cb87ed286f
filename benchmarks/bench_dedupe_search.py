"""names-dev deduplication by the matching engine's search (``corridor.linkage.search``),
every threshold of the rule from one pass, overall and on two halves of the persons.

The halves: the truth's clusters (persons) split by ``crc32(cluster_id) % 2``. A half's
true pairs are its persons' pairs; its found pairs are those with at least one record
in it (a false pair between the halves counts against both). Rule: the lowest threshold
whose precision on half 0 is at least 0.97; half 1 is the held-out figure.

The searches (about 4 minutes under load) do not depend on the clustering: ``--cache
FILE`` keeps their links in a JSON file, written on the first run and read on the next,
so that clusterings (``--clustering``, several at once) and shares (``--share``: the
cache keeps every link among each record's best ``--top``) are compared on the same
searches.

    python benchmarks/bench_dedupe_search.py \
        --records ../shared/bench/names-dev/records.csv \
        --truth ../shared/bench/names-dev/clusters.csv \
        --cache /tmp/names-dev-links.json --clustering connected average:0.3 \
        --share 0.1 0.01
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

from corridor.linkage.search import (
    SEARCH_SHARE,
    SearchLink,
    cluster_links,
    pair_probability,
    search_links,
)
from corridor.matching.bench import read_person_csv
from corridor.matching.index import MemoryIndex

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--share", type=float, nargs="+", default=[SEARCH_SHARE],
                   help="the least share of the best candidate's probability that links "
                   "(several are compared; the searches keep every link of the best --top)")
    p.add_argument("--precision", type=float, default=0.97)
    p.add_argument("--cache", type=Path, default=None, help="JSON file of the search's links")
    p.add_argument("--clustering", nargs="+", default=["connected", "average:0.3"],
                   help="connected, or average:JOIN_AT (several are compared)")
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
    index = MemoryIndex(records)
    if args.cache is not None and args.cache.exists():
        links = [SearchLink(*row) for row in json.loads(args.cache.read_text())]
        how = f"read from {args.cache}"
    else:
        links = list(search_links(index, top=args.top, share=0.0))
        how = "searched"
        if args.cache is not None:
            args.cache.write_text(json.dumps([list(vars(k).values()) for k in links]))
    print(f"{len(records)} records {how} in {time.perf_counter() - t0:.1f} s; "
          f"{len(links)} candidate links")
    probability = pair_probability(index)
    ids = list(index.records)

    best = {k.record_id: k.probability for k in links if k.rank == 1}
    for share, spec in itertools.product(args.share, args.clustering):
        clustering, _, join = spec.partition(":")
        join_at = float(join or 0.3)
        kept = [k for k in links if k.rank == 1 or k.probability >= share * best[k.record_id]]
        chosen = None
        for th in THRESHOLDS:
            clusters, _kept = cluster_links(ids, kept, th, clustering, join_at, probability)
            found = {pr for g in clusters for pr in itertools.combinations(g, 2)}
            row: dict[str, object] = {"share": share, "clustering": spec, "threshold": th}
            for name, h in (("all", None), ("half0", 0), ("half1", 1)):
                f_ = {pr for pr in found if h is None or h in (half[pr[0]], half[pr[1]])}
                t_ = {pr for pr in true_pairs if h is None or half[pr[0]] == h}
                tp = len(f_ & t_)
                row[name] = {"precision": round(tp / len(f_), 3) if f_ else 0.0,
                             "recall": round(tp / len(t_), 3), "found_pairs": len(f_)}
            print(json.dumps(row), flush=True)
            if chosen is None and row["half0"]["precision"] >= args.precision:  # type: ignore[index]
                chosen = (th, row["half0"]["recall"])  # type: ignore[index]
        print(f"share {share}, {spec}: lowest threshold with half-0 precision >= {args.precision} "
              f"(and half 0's recall there): {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
