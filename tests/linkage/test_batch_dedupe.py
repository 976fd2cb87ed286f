"""Batch deduplication on Splink (DuckDB): known duplicates found, brothers kept apart,
the same clusters whatever the chunk size, and the CLI path through a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.linkage.bench import chunked
from corridor.linkage.engine import dedupe
from corridor.linkage.features import feature_row, feature_row_reference
from corridor.linkage.model import SplinkModel, build_model, splink_settings
from corridor.matching import PersonRecord
from tests.linkage.registry import EXPECTED, REGISTRY

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_known_duplicates_are_clustered_and_brothers_kept_apart() -> None:
    result = dedupe([REGISTRY], backend="duckdb")
    assert result.clusters == EXPECTED
    assert result.records == len(REGISTRY)
    together = {frozenset(c) for c in result.clusters}
    # c1's brothers (same father, grandfather and family name) are not c1.
    assert not any({"c1", "d1"} <= c or {"c1", "d2"} <= c for c in together)


@pytest.mark.parametrize(("size", "workers"), [(1, 1), (3, 1), (7, 1), (3, 2)])
def test_streaming_in_chunks_gives_the_same_clusters_as_one_chunk(
    size: int, workers: int
) -> None:
    seen: list[int] = []
    one = dedupe([REGISTRY]).clusters
    chunks = dedupe(chunked(REGISTRY, size), progress=seen.append, workers=workers).clusters
    assert chunks == one
    assert sum(seen) == len(REGISTRY) and max(seen) <= size


def test_a_higher_threshold_never_adds_a_pair() -> None:
    low = dedupe([REGISTRY], threshold=0.5)
    high = dedupe([REGISTRY], threshold=0.999999)
    assert high.pairs <= low.pairs
    members = {r for c in low.clusters for r in c}
    assert all(r in members for c in high.clusters for r in c)


def test_empty_and_single_registries() -> None:
    assert dedupe([]).clusters == []
    assert dedupe([[PersonRecord("x", full_name="Ali Hassan")]]).clusters == []


def test_same_name_across_scripts_shares_a_token() -> None:
    la = feature_row(PersonRecord("l", full_name="Mahmoud Khalil Darwish"))
    ar = feature_row(PersonRecord("a", name_original_script="محمود خليل درويش"))
    other = feature_row(PersonRecord("o", full_name="Mohammed Khalil Darwish"))
    assert set(la["given_xs"]) & set(ar["given_ids"])
    assert not set(other["given_xs"]) & set(ar["given_ids"])  # Mohammed is not محمود
    assert not set(other["given_ids"]) & set(la["given_ids"])


def test_the_shipped_model_is_set_from_corridors_and_builds_for_both_dialects() -> None:
    shipped = SplinkModel.default()
    built = build_model()
    assert shipped.data["format"] == "corridor-splink-model/1"
    assert shipped.data["comparisons"].keys() == built.data["comparisons"].keys()
    for dialect in ("duckdb", "spark"):
        settings = splink_settings(shipped, dialect, 1000)
        assert settings["probability_two_random_records_match"] == pytest.approx(1 / 1000)
        assert {c["output_column_name"] for c in settings["comparisons"]} == set(
            shipped.data["comparisons"]
        )
    with pytest.raises(ValueError):
        SplinkModel.from_json('{"format": "other"}')
    assert shipped.threshold_weight(0.5) == pytest.approx(0.0)


def test_kept_pairs_carry_each_comparisons_weight() -> None:
    result = dedupe([REGISTRY], keep_pairs=True)
    pairs = {frozenset((a, b)) for a, b, _ in result.pair_weights}
    assert frozenset(("a1", "a2")) in pairs
    row = next(
        d for d in result.pair_details if {d["unique_id_l"], d["unique_id_r"]} == {"a1", "a2"}
    )
    assert {"mw_given", "mw_chain", "mw_family", "mw_birth_year"} <= set(row)
    assert row["mw_given"] > 0 and row["mw_family"] > 0  # the same names, in two scripts


# Records that exercise every path of the key columns: compounds split over two fields,
# both scripts, a full name without structure, other names, documents and a phone.
_VARIED = [
    *REGISTRY,
    PersonRecord("v1", given_name="Faisal", father_name="Abdel", grandfather_name="Réda",
                 family_name="al-Hamad", name_original_script="فيصل عبد الرضا الحمد",
                 document_numbers=("N-123 456",), phone="+963 944 123 456"),
    PersonRecord("v2", full_name="Zia-ur-rahman Madani", alternate_names=("Abu Hamza",)),
    PersonRecord("v3", given_name="Joessef", family_name="Chalil", birth_year=1990),
    PersonRecord("v4", name_original_script="نور الدين محمد", sex="f"),
    PersonRecord("v5", full_name="Mohammed", given_name="Mohammed", document_numbers=("12",)),
    PersonRecord("v6"),
]


@pytest.mark.parametrize("rec", _VARIED, ids=lambda r: r.record_id)
def test_cached_key_columns_equal_the_reference_computation(rec: PersonRecord) -> None:
    # feature_row computes each distinct name unit's keys once; it must give exactly
    # what the per-record computation (and the engine's blocking_keys) gives.
    assert feature_row(rec) == feature_row_reference(rec)


def test_a_memory_limit_gives_the_same_clusters(tmp_path: Path) -> None:
    # DuckDB spills to the working directory beyond its limit; the clusters are the same.
    free = dedupe([REGISTRY])
    capped = dedupe([REGISTRY], memory_limit="64MB", workdir=tmp_path)
    assert capped.clusters == free.clusters == EXPECTED
    assert capped.pairs == free.pairs


def test_blocking_rules_of_the_model_file_reach_splink() -> None:
    model = SplinkModel.default()
    rules = splink_settings(model, "duckdb", 1000)["blocking_rules_to_generate_predictions"]
    # Whole name chains (four coarse skeletons), or three and the birth year: blocks that
    # a single name's or a nationality's could never be (PROTECTION.md).
    assert rules[0] == (
        "l.given_c = r.given_c AND l.father_c = r.father_c"
        " AND coalesce(l.grand_c, '') = coalesce(r.grand_c, '') AND l.family_c = r.family_c"
    )
    assert "birth_year" in rules[1] and "father_c" in rules[1]
    assert not any("nationality" in str(r) for r in rules)
    assert rules[-1]["arrays_to_explode"] == ["block_keys"]
    rules_only = SplinkModel({**model.data, "blocking": {**model.data["blocking"], "keys": False}})
    assert len(splink_settings(rules_only, "duckdb", 10)[
        "blocking_rules_to_generate_predictions"]) == len(rules) - 1


def test_the_shipped_model_file_blocks_as_built() -> None:
    # The versioned file (version 2: tighter blocking; 3: whole names) and ``build_model``
    # block alike.
    shipped = SplinkModel.default()
    assert shipped.version.startswith("3+")
    assert shipped.data["blocking"] == build_model().data["blocking"]
    # The whole-name levels (version 3) are set from Corridor's model as built.
    assert shipped.data["comparisons"]["cover"] == build_model().data["comparisons"]["cover"]


def test_chains_without_a_grandfather_meet_on_the_rules_alone() -> None:
    # Blocking on the rules only (no keys): two registrations of a three-name chain, in
    # two scripts and without a birth year, meet on given, father and family name.
    model = SplinkModel.default()
    rules_only = SplinkModel({**model.data, "blocking": {**model.data["blocking"], "keys": False}})
    records = [
        PersonRecord("x1", given_name="Abdul Rahman", father_name="Hamid",
                     family_name="al-Jabouri", sex="m", nationality="SYR"),
        PersonRecord("x2", name_original_script="عبد الرحمن حميد الجبوري", sex="m",
                     nationality="SYR"),
        PersonRecord("y1", given_name="Fatima", father_name="Ali", family_name="Haddad"),
    ]
    assert dedupe([records], model=rules_only, threshold=0.5).clusters == [["x1", "x2"]]


def test_a_whole_name_spelled_otherwise_is_linked_without_a_birth_year() -> None:
    # Four names spelled otherwise (Abdelrahman / Abd Al-Rahman, Jahani / Juhani), no
    # birth year on one side: the per-place levels alone left it at 2.8 bits, below 0.9
    # (6.2); every name of one found in the other lifts it (version 3). The brother (same
    # father, grandfather and family name, another given name) stays apart.
    records = [
        PersonRecord("p1", full_name="Abdelrahman Mouhamad Zafir Al Jahani", birth_year=1971),
        PersonRecord("p2", full_name="Abd Al-Rahman Muhammad Zafir Al-Juhani"),
        PersonRecord("q1", full_name="Omar Mouhamad Zafir Al Jahani", birth_year=1975),
    ]
    result = dedupe([records], threshold=0.9, keep_pairs=True, min_weight=-100.0)
    assert result.clusters == [["p1", "p2"]]
    row = next(
        d for d in result.pair_details if {d["unique_id_l"], d["unique_id_r"]} == {"p1", "p2"}
    )
    assert row["mw_cover"] > 0
    brother = [w for a, b, w in result.pair_weights if "q1" in (a, b)]
    assert brother and max(brother) < SplinkModel.default().threshold_weight(0.5)


def test_whole_name_columns_keep_every_unit_of_two_letters_or_more() -> None:
    long = feature_row(PersonRecord("l", full_name="Abdelrahman Mouhamad Zafir Al Jahani"))
    short = feature_row(PersonRecord("s", name_original_script="ظافر الجهني"))
    assert len(long["all_cs"]) == 4
    assert set(short["all_cs"]) < set(long["all_cs"])  # across scripts
    korean = feature_row(PersonRecord("k", full_name="Ri Je Son"))
    assert all(len(c) >= 2 for c in korean["all_cs"])


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        # Given and family names agree in place, both have a father: counted by place.
        (["n:A", "MR", "DFR", "KHN"], ["n:A", "MR", "DFR", "KHN"], "cover_placed"),
        (["DBDRHMN", "DFR", "KHN"], ["DFR", "KHN"], "cover_subset"),  # alias inside
        (["DFR", "KHN"], ["DFR", "KHN"], "cover_subset"),
        (["DBDRHMN", "MHMD", "DFR", "KHN"], ["MR", "MHMD", "DFR", "KHN"], "cover_three"),
        (["MR", "DFR", "KHN"], ["DBDRHMN", "DFR", "KHN"], "else"),  # brothers: 2 of 3
        (["DFR"], ["DFR", "KHN"], "else"),  # one name is not a whole name
        ([], ["DFR"], "cover_null"),
    ],
)
def test_whole_name_levels_in_duckdb(left: list[str], right: list[str], level: str) -> None:
    import duckdb

    model = SplinkModel.default()
    settings = splink_settings(model, "duckdb", 1000)
    cover = next(c for c in settings["comparisons"] if c["output_column_name"] == "cover")
    names = [lv["level"] for lv in model.data["comparisons"]["cover"]]
    con = duckdb.connect()
    # The places (given, family, chain) agree when both lists start with a name token.
    placed = left[:1] == right[:1] == ["n:A"]
    cols = ", ".join(
        f"?::VARCHAR[] AS {c}_{side}"
        for c in ("given_ids", "given_xs", "family_ids", "family_xs", "chain_ids")
        for side in "lr"
    )
    con.execute(f"CREATE TABLE p AS SELECT ?::VARCHAR[] AS all_cs_l, ?::VARCHAR[] AS all_cs_r, "
                f"{cols}", [left, right, *[left[:1] if placed else []] * 10])
    hit = None
    for name, lv in zip(names, cover["comparison_levels"], strict=True):
        if name == "else":
            hit = name
            break
        row = con.execute(f"SELECT {lv['sql_condition']} FROM p").fetchone()
        if row is not None and row[0]:
            hit = name
            break
    assert hit == level
    # Names only: never nationality or birth year (PROTECTION.md).
    assert not any("nationality" in lv["sql_condition"] or "birth" in lv["sql_condition"]
                   for lv in cover["comparison_levels"])
