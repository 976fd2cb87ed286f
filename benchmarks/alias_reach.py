"""How far names can take names-dev's alias queries: an upper bound on recall@1 per kind
for any engine that finds a person by name (issue 14; issue 11 rules out finding one by
nationality or birth year).

For each registered query of the kinds asked (``--kind``) that a ranked answer file
(``corridor bench match ... --out RANKED.csv``) does not put right at rank 1, the query's
name units are compared with the registered record's (every name field and the
original-script name) by the engine's unit comparator, and by Jaro-Winkler >= 0.8
between same-script words as a looser test that no engine rule decides. Each miss falls
in the first class that fits:

- ``no name in common``: no unit of the query is the same, another spelling, the other
  script or similar to a unit of the record, and no word pair is that close. No rule of
  names can reach it (kunyas, noms de guerre, other persons' names).
- ``only names borne by N or more``: every unit it shares is borne by at least
  ``--common`` persons of the registry (Mohammad, Ali, Hassan). Among them only birth
  year, sex and nationality can pick one out, which issue 11 rules out as a route.
- ``the same record twice``: the registry holds another record with the same full name
  and birth year (the list names one person twice); whichever comes first, the other is
  not the truth's.
- ``within reach``: the rest.

The bound: (right at rank 1 + within reach) / queries of the kind.

    B=../shared/bench/names-dev
    python benchmarks/alias_reach.py --registry $B/registry.csv --queries $B/queries.csv \\
        --truth $B/truth.csv --ranked RANKED.csv [--kind alias_good alias_low] [--common 1000]
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from rapidfuzz.distance import JaroWinkler

from corridor.matching.compare import DIFFERENT, UnitComparator
from corridor.matching.keys import unit_keys
from corridor.matching.normalise import NameUnit, parse_name
from corridor.matching.variants import VariantTable

NAME_FIELDS = ("full_name", "given_name", "father_name", "grandfather_name", "family_name",
               "name_original_script")


def units(row: dict[str, str]) -> list[NameUnit]:
    return [u for f in NAME_FIELDS for u in parse_name(row.get(f) or "")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--queries", type=Path, required=True)
    p.add_argument("--truth", type=Path, required=True)
    p.add_argument("--ranked", type=Path, required=True)
    p.add_argument("--kind", nargs="+", default=["alias_good", "alias_low"])
    p.add_argument("--common", type=int, default=1000)
    p.add_argument("--show", action="store_true",
                   help="print each miss within reach: query, registered record, rank-1 record")
    args = p.parse_args()

    def rows(path: Path) -> list[dict[str, str]]:
        with path.open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    registry = {r["record_id"]: r for r in rows(args.registry)}
    truth = {r["query_id"]: r["record_id"] for r in rows(args.truth)}
    first: dict[str, str] = {}
    for r in rows(args.ranked):
        if r["rank"] == "1":
            first[r["query_id"]] = r["record_id"]
    bearers: Counter[str] = Counter()
    for rec in registry.values():
        bearers.update({unit_keys(u).skeleton for u in units(rec)})
    twice = Counter((r["full_name"].casefold(), r["birth_year"]) for r in registry.values())
    comparator = UnitComparator(VariantTable.default())

    for kind in args.kind:
        counts: Counter[str] = Counter()
        n = 0
        for q in rows(args.queries):
            if q["kind"] != kind or not truth.get(q["query_id"]):
                continue
            n += 1
            rec = registry[truth[q["query_id"]]]
            if first.get(q["query_id"]) == rec["record_id"]:
                counts["right at rank 1"] += 1
                continue
            qu, ru = units(q), units(rec)
            shared = [b for a in qu for b in ru if comparator.level(a, b) != DIFFERENT]
            close = any(a.script == b.script and JaroWinkler.similarity(a.text, b.text) >= 0.8
                        for a in qu for b in ru)
            if not shared and not close:
                counts["no name in common"] += 1
            elif shared and min(bearers[unit_keys(b).skeleton] for b in shared) >= args.common:
                counts[f"only names borne by {args.common} or more"] += 1
            elif twice[(rec["full_name"].casefold(), rec["birth_year"])] > 1:
                counts["the same record twice"] += 1
            else:
                counts["within reach"] += 1
                if args.show:
                    top = registry.get(first.get(q["query_id"], ""), {})
                    print(f"  within reach: {q['full_name'] or q['name_original_script']!r}"
                          f" ({q['birth_year'] or '-'}) -> {rec['full_name']!r}"
                          f" ({rec['birth_year'] or '-'}); first: {top.get('full_name', '-')!r}")
        print(f"{kind}: {n} registered queries")
        for what, k in counts.most_common():
            print(f"  {what:38} {k:5}  {k / n:.3f}")
        bound = (counts["right at rank 1"] + counts["within reach"]) / n
        print(f"  bound on recall@1 by names:            {bound:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
