"""`corridor bench match` and `corridor bench dedupe`, on small fixtures of our own."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from corridor.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures"


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_bench_match_writes_ranked_candidates(tmp_path):
    out = tmp_path / "ranked.csv"
    r = CliRunner().invoke(
        main,
        [
            "bench",
            "match",
            "--registry",
            str(FIXTURES / "bench_registry.csv"),
            "--queries",
            str(FIXTURES / "bench_queries.csv"),
            "--top",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = read(out)
    assert list(rows[0]) == ["query_id", "record_id", "rank", "probability"]
    first = {row["query_id"]: row for row in rows if row["rank"] == "1"}
    assert first["q1"]["record_id"] == "r1"
    assert first["q2"]["record_id"] == "r4"
    assert first["q3"]["record_id"] == "r5"
    assert all(float(row["probability"]) < 0.5 for row in rows if row["query_id"] == "q4")
    assert all(int(row["rank"]) <= 3 for row in rows)


def test_bench_dedupe_clusters_every_record(tmp_path):
    out = tmp_path / "clusters.csv"
    r = CliRunner().invoke(
        main,
        ["bench", "dedupe", "--records", str(FIXTURES / "bench_records.csv"), "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    clusters = {row["record_id"]: row["cluster_id"] for row in read(out)}
    assert set(clusters) == {"a1", "a2", "b1", "c1", "c2"}
    assert clusters["a1"] == clusters["a2"]
    assert clusters["c1"] != clusters["c2"]  # Ahmed Mohammed Ali is not Ali Mohammed Ahmed
    assert clusters["b1"] not in (clusters["a1"], clusters["c1"])


def test_bench_dedupe_by_search(tmp_path):
    out = tmp_path / "clusters.csv"
    r = CliRunner().invoke(
        main,
        ["bench", "dedupe", "--engine", "search", "--records",
         str(FIXTURES / "bench_records.csv"), "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    clusters = {row["record_id"]: row["cluster_id"] for row in read(out)}
    assert set(clusters) == {"a1", "a2", "b1", "c1", "c2"}
    assert clusters["a1"] == clusters["a2"] == "a1"
    assert len({clusters["b1"], clusters["c1"], clusters["c2"], clusters["a1"]}) == 4
