"""Enquiries spelt by a convention, each against its person registered in Arabic script
among a registry's persons (issue 14): is the person first, and likely (p >= 0.5)?

A cases file has one enquiry a line, ``#`` lines are comments:

    arabic name|registrar's Latin spelling (may be empty)|sex|birth year|enquiry's name

Each case's person (the Arabic name, the Latin one if given, sex, birth year, nationality
SYR) is added to the registry; the enquiry gives its name, sex and birth year.

    python benchmarks/probe_spellings.py --registry ../shared/bench/family-dev/registry.csv \\
        --cases benchmarks/probe_german_names.txt [--explain]

Prints each enquiry (OK: first at p >= 0.5) and how many of all; ``--explain`` adds the
pair's own score and evidence where the person was not even a candidate.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from corridor.matching import MemoryIndex, PersonRecord
from corridor.matching.bench import derive_relatives, read_person_csv


def read_cases(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("|") for line in lines if line.strip() and not line.startswith("#")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--cases", type=Path, required=True)
    p.add_argument("--explain", action="store_true")
    args = p.parse_args()
    cases = read_cases(args.cases)
    targets = [
        PersonRecord(f"T{i}", name_original_script=arabic, full_name=latin or None, sex=sex,
                     birth_year=int(year), nationality="SYR")
        for i, (arabic, latin, sex, year, _) in enumerate(cases)
    ]
    index = MemoryIndex(derive_relatives([*read_person_csv(args.registry), *targets]))
    ok = 0
    for i, (arabic, _, sex, year, written) in enumerate(cases):
        query = PersonRecord(f"q{i}", full_name=written, sex=sex, birth_year=int(year))
        found = index.search(query, top=3)
        first = found[0] if found else None
        hit = first is not None and first.record_id == f"T{i}" and first.probability >= 0.5
        ok += hit
        mine = next((m.probability for m in found if m.record_id == f"T{i}"), None)
        print(f"{'OK' if hit else '--'} {written!r:36} -> {arabic}: first "
              f"{first.record_id if first else None} at {first.probability if first else 0:.3f}, "
              f"the person at {'-' if mine is None else f'{mine:.3f}'}")
        if args.explain and not hit and mine is None:
            pair = index.matcher.score(query, targets[i])
            print("    alone:", round(pair.probability, 3),
                  [(e.field, str(e.level)) for e in pair.explanation])
    print(f"{ok} of {len(cases)} first at p >= 0.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
