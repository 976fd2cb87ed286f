"""The ``corridor bench match`` / ``corridor bench dedupe`` contracts (../shared/bench/README.md).

Both build a throwaway in-memory store, never touch a user's database, and
print their own timings. Run without the CLI as::

    python -m corridor.matching.bench match --registry R.csv --queries Q.csv --top 10 --out O.csv
    python -m corridor.matching.bench dedupe --records R.csv --out O.csv
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from corridor.matching.dedupe import find_duplicates
from corridor.matching.heap import heap_frozen
from corridor.matching.index import MemoryIndex
from corridor.matching.keys import unit_keys
from corridor.matching.normalise import parse_name
from corridor.matching.records import PersonRecord

__all__ = ["derive_relatives", "figures_by_kind", "read_person_csv", "run_dedupe", "run_match"]


def _opt(row: dict[str, str], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return value or None


def _year(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value[:4])
    except ValueError:
        return None


def _names(value: str | None) -> tuple[str, ...]:
    """A ``relatives_names`` cell: names separated by ``;`` or ``|``."""
    if not value:
        return ()
    return tuple(n.strip() for n in re.split(r"[;|]", value) if n.strip())


def read_person_csv(path: Path, id_column: str = "record_id") -> Iterator[PersonRecord]:
    """Person CSV rows (bench README columns, and family-dev's ``relatives_names``) as
    :class:`PersonRecord` values."""
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            sex = (_opt(row, "sex") or "").lower()[:1] or None
            yield PersonRecord(
                record_id=row[id_column],
                full_name=_opt(row, "full_name"),
                given_name=_opt(row, "given_name"),
                father_name=_opt(row, "father_name"),
                grandfather_name=_opt(row, "grandfather_name"),
                family_name=_opt(row, "family_name"),
                name_original_script=_opt(row, "name_original_script"),
                sex=sex if sex in ("m", "f") else None,
                birth_year=_year(_opt(row, "birth_year")),
                nationality=_opt(row, "nationality"),
                place_of_origin=_opt(row, "place_of_birth") or _opt(row, "place_of_origin"),
                mother_name=_opt(row, "mother_name"),
                relatives_names=_names(_opt(row, "relatives_names")),
            )


def figures_by_kind(
    answers: Iterable[tuple[str, Sequence[tuple[str, float]]]],
    truth: Mapping[str, str],
    kinds: Mapping[str, str],
    likely: float = 0.5,
) -> dict[str, dict[str, float]]:
    """Per kind of query and ``all``, as the benchmarks' ``score.py`` counts them:
    queries, recall@1, likely@1 (the right person first at ``likely`` or more: what a
    family is told) and false_match_rate (someone else first at ``likely`` or more).
    ``answers``: each query's id and its ranked (record id, probability)."""
    acc: dict[str, list[int]] = {}
    for qid, answer in answers:
        want = truth.get(qid) or None
        top = answer[0] if answer else None
        for key in (kinds[qid], "all"):
            a = acc.setdefault(key, [0, 0, 0, 0, 0])
            a[0] += 1
            if want:
                a[1] += 1
                if top and top[0] == want:
                    a[2] += 1
                    a[3] += top[1] >= likely
            if top and top[0] != want and top[1] >= likely:
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


def _name_key(text: str | None) -> str | None:
    """One name field as a spelling-free key (Mohammed and Muhammad alike)."""
    units = parse_name(text)
    if not units:
        return None
    return " ".join(unit_keys(u).latin for u in units)


def derive_relatives(records: list[PersonRecord]) -> list[PersonRecord]:
    """The records with the given names of their registered relatives, derived as a
    registry without household links would: brothers and sisters share father's and
    family name, and grandfather's and mother's where both records give one; a person's
    children carry the person's given name as father's name and the family name (and
    the person's father's name as grandfather's, where given). Records already carrying
    relatives keep theirs; a record without father's or family name gets none.

    >>> a = PersonRecord("a", given_name="Nasser", father_name="Ismail",
    ...                  grandfather_name="Ali", family_name="Fadil")
    >>> b = PersonRecord("b", given_name="Rana", father_name="Ismail", family_name="Fadil")
    >>> [r.relatives_names for r in derive_relatives([a, b])]
    [('Rana',), ('Nasser',)]
    """
    keys: dict[str, tuple[str | None, ...]] = {}
    by_parent: dict[tuple[str, str], list[PersonRecord]] = {}
    for r in records:
        mother = r.mother_name.split()[0] if r.mother_name else None
        k = keys[r.record_id] = (
            _name_key(r.given_name), _name_key(r.father_name), _name_key(r.grandfather_name),
            _name_key(r.family_name), _name_key(mother),
        )
        if k[0] and k[1] and k[3]:
            by_parent.setdefault((k[1], k[3]), []).append(r)

    def agree(x: str | None, y: str | None) -> bool:
        return x is None or y is None or x == y

    out: list[PersonRecord] = []
    for r in records:
        given, father, grand, family, mother = keys[r.record_id]
        if r.relatives_names or not (given and father and family):
            out.append(r)
            continue
        names = [
            s.given_name or ""
            for s in by_parent.get((father, family), ())
            if s.record_id != r.record_id
            and agree(grand, keys[s.record_id][2])
            and agree(mother, keys[s.record_id][4])
        ]
        names += [
            c.given_name or ""
            for c in by_parent.get((given, family), ())
            if agree(father, keys[c.record_id][2])
        ]
        out.append(replace(r, relatives_names=tuple(dict.fromkeys(n for n in names if n)))
                   if names else r)
    return out


def _workers() -> int:
    """Processes for the benchmark's work: one per core, at most four."""
    return min(os.cpu_count() or 1, 4)


_INDEX: MemoryIndex | None = None  # shared with forked workers (copy on write)


def _answer(job: tuple[PersonRecord, int]) -> list[tuple[str, float]]:
    query, top = job
    assert _INDEX is not None
    return [(m.record_id, m.probability) for m in _INDEX.search(query, top, explain=False)]


def _answers(
    index: MemoryIndex, queries: list[PersonRecord], top: int
) -> list[list[tuple[str, float]]]:
    """Every query's matches, in order; on several cores, forked workers share the index."""
    global _INDEX
    workers = _workers()
    _INDEX = index
    try:
        # The index is never walked by the collector again, here or in the workers,
        # whose pages it then leaves shared with this process (``heap``).
        with heap_frozen():
            if workers < 2 or len(queries) < 100 or "fork" not in mp.get_all_start_methods():
                return [_answer((q, top)) for q in queries]
            with mp.get_context("fork").Pool(workers) as pool:
                return pool.map(_answer, [(q, top) for q in queries], chunksize=20)
    finally:
        _INDEX = None


def run_match(registry_csv: Path, queries_csv: Path, top: int, out_csv: Path) -> dict[str, Any]:
    """Index the registry, answer every query, write ``query_id,record_id,rank,probability``."""
    t0 = time.perf_counter()
    index = MemoryIndex.built(derive_relatives(list(read_person_csv(registry_csv))),
                              workers=_workers())
    t1 = time.perf_counter()
    queries = list(read_person_csv(queries_csv, "query_id"))
    rows = 0
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "record_id", "rank", "probability"])
        for q, found in zip(queries, _answers(index, queries, top), strict=True):
            for rank, (record_id, probability) in enumerate(found, start=1):
                w.writerow([q.record_id, record_id, rank, f"{probability:.4f}"])
                rows += 1
    t2 = time.perf_counter()
    stats: dict[str, Any] = {
        "registry": len(index),
        "queries": len(queries),
        "rows": rows,
        "index_s": round(t1 - t0, 2),
        "search_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "per_query_ms": round(1000 * (t2 - t1) / max(len(queries), 1), 2),
    }
    print(
        f"bench match: indexed {stats['registry']} records in {stats['index_s']} s; "
        f"answered {stats['queries']} queries in {stats['search_s']} s "
        f"({stats['per_query_ms']} ms/query); total {stats['total_s']} s",
        file=sys.stderr,
    )
    return stats


def run_dedupe(records_csv: Path, out_csv: Path, threshold: float = 0.5) -> dict[str, Any]:
    """Cluster duplicate records; write ``record_id,cluster_id`` for every input record."""
    t0 = time.perf_counter()
    records = list(read_person_csv(records_csv))
    t1 = time.perf_counter()
    clusters = find_duplicates(records, threshold)
    t2 = time.perf_counter()
    with out_csv.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "cluster_id"])
        for cluster in clusters:
            head = cluster[0]
            for rid in cluster:
                w.writerow([rid, head])
    stats: dict[str, Any] = {
        "records": len(records),
        "clusters": len(clusters),
        "multi_record_clusters": sum(1 for c in clusters if len(c) > 1),
        "read_s": round(t1 - t0, 2),
        "cluster_s": round(t2 - t1, 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }
    print(
        f"bench dedupe: {stats['records']} records -> {stats['clusters']} clusters "
        f"({stats['multi_record_clusters']} with duplicates) in {stats['total_s']} s",
        file=sys.stderr,
    )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corridor.matching.bench")
    sub = parser.add_subparsers(dest="command", required=True)
    pm = sub.add_parser("match")
    pm.add_argument("--registry", type=Path, required=True)
    pm.add_argument("--queries", type=Path, required=True)
    pm.add_argument("--top", type=int, default=10)
    pm.add_argument("--out", type=Path, required=True)
    pd = sub.add_parser("dedupe")
    pd.add_argument("--records", type=Path, required=True)
    pd.add_argument("--out", type=Path, required=True)
    pd.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    if args.command == "match":
        run_match(args.registry, args.queries, args.top, args.out)
    else:
        run_dedupe(args.records, args.out, args.threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
