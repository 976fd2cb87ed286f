"""The key columns computed in DuckDB (``corridor.linkage.columns``: each distinct name
value parsed once, the set unions in SQL) equal the engine's own per-record computation
(``features.feature_row_reference``) row for row, and give the same pairs and
probabilities as the per-record path (``write_features(method="python")``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from corridor.demo.names import spelling_variant
from corridor.demo.scenario import _Draw
from corridor.linkage.columns import build_feature_table, raw_table
from corridor.linkage.engine import dedupe
from corridor.linkage.features import COLUMNS, feature_row_reference
from corridor.matching import PersonRecord

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_PARTS = ("given_name", "father_name", "grandfather_name", "family_name")


def generated(n: int, seed: int = 7) -> list[PersonRecord]:
    """Records as ``benchmarks/bench_dedupe.py`` draws them (the demo generator's
    households; second registrations in Arabic script only, as a Latin full name, or
    other Latin spellings of the parts), with parts left out now and then."""
    rng = random.Random(seed)
    draw = _Draw(rng)
    out: list[PersonRecord] = []
    while len(out) < n:
        for m in draw.household(datetime(2019, 3, 10, 12, tzinfo=UTC)).members:
            names = m.names
            arabic = " ".join(names[f"{k}_original"] for k in _PARTS)
            parts = {k: names[k] if rng.random() > 0.1 else None for k in _PARTS}
            year = 2019 - m.age
            out.append(PersonRecord(f"p{m.key}", **parts, name_original_script=arabic,
                                    sex=m.sex, birth_year=year, nationality="SYR"))
            how = rng.random()
            latin = [spelling_variant(rng, names[k]) for k in _PARTS]
            rid = f"p{m.key}-2"
            if how < 0.3:
                out.append(PersonRecord(rid, name_original_script=arabic, birth_year=year))
            elif how < 0.6:
                out.append(PersonRecord(rid, full_name=" ".join(latin), sex=m.sex))
            else:
                out.append(PersonRecord(rid, **dict(zip(_PARTS, latin, strict=True)),
                                        name_original_script=arabic if how < 0.8 else None))
    return out[:n]


# What the parser reads by its neighbours, and the other ways chains are built.
EDGES = [
    PersonRecord("e-none"),
    PersonRecord("e-empty", given_name="", father_name="", full_name=" ",
                 name_original_script=""),
    PersonRecord("e-split-compound", given_name="Abdel", father_name="Rahman",
                 family_name="Ali"),
    PersonRecord("e-split-arabic", given_name="عبد", father_name="الله", family_name="حسن"),
    PersonRecord("e-comma", full_name="AWES, Shaykh Hassan Dahir"),
    PersonRecord("e-upper-first", full_name="AL-MOUSSA Ali Hassan"),
    PersonRecord("e-title-connector", name_original_script="الشيخ عبد الله بن محمد"),
    PersonRecord("e-head-last", name_original_script="محمد حسن عبد"),
    PersonRecord("e-abu", name_original_script="ابو بكر محمد الحسن"),
    PersonRecord("e-suffix", name_original_script="نصر الله علي الدين"),
    PersonRecord("e-allah-first", name_original_script="الله داد خان"),
    PersonRecord("e-article-apart", name_original_script="محمد ال حسن"),
    PersonRecord("e-brackets", name_original_script="محمد (ابو علي) حسن"),
    PersonRecord("e-double-space", name_original_script="محمد  حسن   علي"),
    PersonRecord("e-head-double-space", name_original_script="عبد  الله حسن"),
    PersonRecord("e-hyphen", name_original_script="محمد-علي حسن_خان"),
    PersonRecord("e-mixed-words", name_original_script="محمد Ali حسن"),
    PersonRecord("e-diacritics", name_original_script="مُحَمَّـد فاطمة عبدالله"),
    PersonRecord("e-mixed-parts", given_name="Ali", family_name="حسن"),
    PersonRecord("e-no-given", father_name="Ali", family_name="Hassan",
                 name_original_script="علي حسن"),
    PersonRecord("e-one-name", given_name="Ali", full_name="Ali", name_original_script="علي"),
    PersonRecord("e-given-two", given_name="Mohammad Naim", father_name="Ali",
                 full_name="Mohammad Naim Ali Khan", name_original_script="محمد نعيم علي خان"),
    PersonRecord("e-longer", given_name="Yasin", father_name="Ali", family_name="Omar",
                 full_name="Yasin Haj Ali Omar Saleh"),
    PersonRecord("e-known-roles", given_name="Ali", father_name="Hassan", full_name="Aly Hasan",
                 name_original_script="علي حسن"),
    PersonRecord("e-no-given-same-units", father_name="Ali", family_name="Hassan Omar",
                 full_name="Ali Hassan Omar"),
    PersonRecord("e-same-units", given_name="Ali", father_name="Hassan", family_name="Omar",
                 full_name="Ali Hassan Omar", name_original_script="علي حسن عمر"),
    PersonRecord("e-alternates", given_name="Mustafa", alternate_names=("Abu Hamza",
                                                                          "مصطفى كامل")),
    PersonRecord("e-latin-links", full_name="Zia-ur-rahman Madani bin Abdul Aziz"),
    PersonRecord("e-persian", name_original_script="ضیا الرحمان مدنی"),
    # Sorani Kurdish (``matching.vocalised``): a vocalised word makes the whole name, and
    # every name part of the record, read as romanised; an unmarked word (خالید) too.
    PersonRecord("e-sorani", name_original_script="خالید حەسەن عەبدوڵڵا"),
    PersonRecord("e-sorani-parts", given_name="خالید", father_name="حەسەن",
                 family_name="عبد", full_name="Xalid Hesen"),
    PersonRecord("e-sorani-head", name_original_script="عبد ڕەحمان محمد"),
    PersonRecord("e-sorani-title", name_original_script="مەلا ئەحمەد", given_name="ئەحمەد"),
    PersonRecord("e-scalars", given_name="Ali", family_name="Khan", sex="Male",
                 nationality=" syr ", phone="+963 912 345 678",
                 document_numbers=("ab-1234", "x1"), birth_year=1980),
]


ENCODED = [c for c in COLUMNS if c.endswith(("_ids", "_xs", "_cs")) and COLUMNS[c] == "list"]
# Lists of lists of tokens (each spelling's names in order, ``seq_cs``).
ENCODED_SEQ = [c for c in COLUMNS if COLUMNS[c] == "lists"]


def sql_rows(records: list[PersonRecord], encode: bool = False) -> dict[str, dict[str, Any]]:
    con = duckdb.connect()
    con.register("raw_arrow", raw_table(records))
    con.execute("CREATE TABLE raw AS SELECT * FROM raw_arrow")
    tokens = build_feature_table(con, "raw", "features", encode=encode)
    table = con.sql("SELECT * FROM features").to_arrow_table()
    assert table.column_names == list(COLUMNS)
    rows = {r["unique_id"]: r for r in table.to_pylist()}
    if encode:
        assert tokens is not None
        for row in rows.values():
            assert all(isinstance(t, int) for c in ENCODED for t in row[c])
            row.update({c: sorted(tokens[t] for t in row[c]) for c in ENCODED})
            # (A name of one letter is a null in its place.)
            assert all(t is None or isinstance(t, int)
                       for c in ENCODED_SEQ for q in row[c] for t in q)
            row.update({c: sorted(
                ([None if t is None else tokens[t] for t in q] for q in row[c]),
                key=lambda q: [(t is None, t or "") for t in q]) for c in ENCODED_SEQ})
    return rows


@pytest.mark.parametrize("encode", [False, True])
def test_sql_columns_equal_the_engines_per_record_columns(encode: bool) -> None:
    records = generated(400) + EDGES
    assert any(r.name_original_script for r in records)
    assert any(not r.given_name and r.name_original_script for r in records)
    rows = sql_rows(records, encode)
    assert len(rows) == len(records)
    for rec in records:
        assert rows[rec.record_id] == feature_row_reference(rec), rec.record_id


def test_sql_columns_do_not_depend_on_the_other_records() -> None:
    # Each record alone (its values' ids are others) gives the same row as in the batch.
    records = EDGES + generated(30, seed=3)
    together = sql_rows(records)
    for rec in records[::3]:
        assert sql_rows([rec])[rec.record_id] == together[rec.record_id]


def test_sql_and_per_record_paths_give_the_same_pairs_and_probabilities() -> None:
    records = generated(1500, seed=11) + EDGES
    new = dedupe([records], keep_pairs=True, min_weight=-5.0)
    old = dedupe([records], keep_pairs=True, min_weight=-5.0, features="python")
    assert new.pairs == old.pairs and new.pairs > 100
    assert sorted(new.pair_weights) == sorted(old.pair_weights)
    assert new.clusters == old.clusters


def test_an_unknown_method_is_refused(tmp_path: Any) -> None:
    from corridor.linkage.engine import write_features

    with pytest.raises(ValueError, match="unknown method"):
        write_features([[PersonRecord("x")]], tmp_path, method="other")


CSV = (
    "record_id,full_name,given_name,father_name,grandfather_name,family_name,"
    "name_original_script,sex,birth_year,nationality,place_of_origin\n"
    'a1,,Ali,Hassan,Omar,Khan,علي حسن عمر خان,M,1980,syr,Homs\n'
    'a2,"Khan, Ali Hassan",,,,,,female,1980-05-01, SYR ,\n'
    'a3,,\u00a0Abdel ,Rahman,,"Al ""Hamad""",,x,abc,,\n'
    'a4,, , ,,,"  محمد  حسن ",m, 1975 ,IRQ,\n'
    "a5,,,,,,,,,,\n"
)


def test_duckdb_reads_a_person_csv_as_read_person_csv_does(tmp_path: Any) -> None:
    from pathlib import Path

    from corridor.linkage.columns import raw_from_person_csv
    from corridor.linkage.engine import dedupe_person_csv
    from corridor.matching.bench import read_person_csv

    path = Path(tmp_path) / "persons.csv"
    path.write_text(CSV, encoding="utf-8")
    con = duckdb.connect()
    raw_from_person_csv(con, path, "raw")
    got = {r["unique_id"]: r for r in con.sql("SELECT * FROM raw").to_arrow_table().to_pylist()}
    want = {r["unique_id"]: r for r in raw_table(read_person_csv(path)).to_pylist()}
    assert got == want
    assert want["a3"]["given"] == "Abdel" and want["a2"]["birth_year"] == 1980

    records = generated(600, seed=5)
    lines = ["record_id,full_name,given_name,father_name,grandfather_name,family_name,"
             "name_original_script,sex,birth_year,nationality"]
    for r in records:
        cells = [r.record_id, r.full_name, r.given_name, r.father_name, r.grandfather_name,
                 r.family_name, r.name_original_script, r.sex, r.birth_year, r.nationality]
        lines.append(",".join("" if c is None else str(c) for c in cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    on_csv = dedupe_person_csv(path, keep_pairs=True)
    on_records = dedupe([list(read_person_csv(path))], keep_pairs=True)
    assert on_csv.pairs == on_records.pairs > 10
    assert sorted(on_csv.pair_weights) == sorted(on_records.pair_weights)
    assert on_csv.clusters == on_records.clusters


def test_the_columns_written_for_spark_equal_the_per_record_ones(tmp_path: Any) -> None:
    # write_features(method="sql") is what Spark reads: the same rows as method="python".
    from pathlib import Path

    import pyarrow.parquet as pq

    from corridor.linkage.bench import chunked
    from corridor.linkage.engine import write_features

    records = generated(120, seed=2) + EDGES
    rows = {}
    for method in ("sql", "python"):
        out = Path(tmp_path) / method
        out.mkdir()
        assert write_features(chunked(records, 50), out, method=method) == len(records)
        table = pq.read_table(out)
        assert table.column_names == list(COLUMNS)
        rows[method] = sorted(table.to_pylist(), key=lambda r: r["unique_id"])
    assert rows["sql"] == rows["python"]
