"""benchmarks/name_groups_reach.py counts the missed searches a name-group table bridges."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "name_groups_reach.py"
NAMES = "full_name,given_name,father_name,grandfather_name,family_name,name_original_script\n"


def test_counts_only_missed_queries_and_only_bridges_of_one_group(tmp_path: Path) -> None:
    (tmp_path / "groups.txt").write_text(
        "omar, umar, عمر => Q1\nahmad, ahmed => Q2\nsalih => Q3\n", encoding="utf-8"
    )
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "registry.csv").write_text(
        "record_id," + NAMES + "r1,Omar Khalil,,,,,\nr2,Ahmad Nasser,,,,,\nr3,Salih Hamad,,,,,\n",
        encoding="utf-8",
    )
    (bench / "queries.csv").write_text(
        "query_id,kind,"
        + NAMES
        + "q1,alias_good,Umar Halil,,,,,\n"  # missed, bridged by Q1
        + "q2,alias_good,Ahmed Naser,,,,,\n"  # found: not counted
        + "q3,alias_good,Saleh Hamid,,,,,\n"  # missed, Saleh is in no group
        + "q4,alias_low,Umar Khalil,,,,,\n",  # another kind
        encoding="utf-8",
    )
    (bench / "truth.csv").write_text(
        "query_id,record_id\nq1,r1\nq2,r2\nq3,r3\nq4,r1\n", encoding="utf-8"
    )
    ranked = tmp_path / "ranked.csv"
    ranked.write_text(
        "query_id,record_id,rank,probability\nq1,r3,1,0.1\nq2,r2,1,0.9\n", encoding="utf-8"
    )
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--groups",
            str(tmp_path / "groups.txt"),
            "--bench",
            str(bench),
            "--ranked",
            str(ranked),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[-1] == "alias_good: 2 queries whose person is not ranked; 1 with a bridge"
    assert lines[0].startswith("q1:") and "('umar', 'omar')" in lines[0]
