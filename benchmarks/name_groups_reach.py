"""How many of a benchmark's missed searches a table of name groups could bridge (issue 14).

    corridor bench match --registry ../shared/bench/names-dev/registry.csv \\
        --queries ../shared/bench/names-dev/queries.csv --top 10 --out /tmp/ranked.csv
    pip download --no-deps rigour==1.8.2 -d /tmp/rig && unzip /tmp/rig/rigour-1.8.2-*.whl \\
        'rigour/data/names/persons.txt' -d /tmp/rig
    python benchmarks/name_groups_reach.py --groups /tmp/rig/rigour/data/names/persons.txt \\
        --bench ../shared/bench/names-dev --ranked /tmp/ranked.csv --kind alias_good

For each query of ``--kind`` whose sought person is not among its ranked candidates,
the name words of the query and of the registered record are compared: a pair of
differently written words that one group of the table joins is a bridge the table
could add. The table's lines read ``name, name, ... => group id`` (rigour's
``persons.txt``, built from Wikidata). Prints the count and each bridged query.
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import unicodedata
from pathlib import Path

NAME_FIELDS = (
    "full_name",
    "given_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "name_original_script",
)


def words(text: str) -> list[str]:
    """Lower-case name words without marks or punctuation."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^\w\s]", " ", text).split()


def read_groups(path: Path) -> dict[str, set[str]]:
    """One-word names of the table, each with the ids of the groups that hold it."""
    groups: dict[str, set[str]] = collections.defaultdict(set)
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if "=>" not in line:
                continue
            names, group = line.rsplit("=>", 1)
            for name in names.split(","):
                found = words(name)
                if len(found) == 1:
                    groups[found[0]].add(group.strip())
    return groups


def record_words(row: dict[str, str]) -> set[str]:
    return set(words(" ".join(row[f] for f in NAME_FIELDS if row.get(f))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=Path, required=True)
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--ranked", type=Path, required=True)
    parser.add_argument("--kind", default="alias_good")
    args = parser.parse_args()
    groups = read_groups(args.groups)
    with (args.bench / "queries.csv").open(encoding="utf-8") as f:
        queries = {r["query_id"]: r for r in csv.DictReader(f)}
    with (args.bench / "registry.csv").open(encoding="utf-8") as f:
        registry = {r["record_id"]: r for r in csv.DictReader(f)}
    truth: dict[str, set[str]] = collections.defaultdict(set)
    with (args.bench / "truth.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            truth[r["query_id"]].add(r["record_id"])
    ranked: dict[str, set[str]] = collections.defaultdict(set)
    with args.ranked.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            ranked[r["query_id"]].add(r["record_id"])
    missed = bridged = 0
    for query_id, query in queries.items():
        if query["kind"] != args.kind or not truth[query_id] or ranked[query_id] & truth[query_id]:
            continue
        missed += 1
        asked = record_words(query)
        held = set().union(*(record_words(registry[r]) for r in truth[query_id]))
        bridges = [
            (a, b)
            for a in sorted(asked - held)
            for b in sorted(held - asked)
            if groups.get(a, set()) & groups.get(b, set())
        ]
        if bridges:
            bridged += 1
            shared = sorted(asked & held)
            print(f"{query_id}: {sorted(asked)} / {sorted(held)} bridges {bridges} shared {shared}")
    print(f"{args.kind}: {missed} queries whose person is not ranked; {bridged} with a bridge")


if __name__ == "__main__":
    main()
