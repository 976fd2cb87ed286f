"""Batch deduplication on Splink (DuckDB): known duplicates found, brothers kept apart,
the same clusters whatever the chunk size, and the CLI path through a real database."""

from __future__ import annotations

import pytest

from corridor.linkage.bench import chunked
from corridor.linkage.engine import dedupe
from corridor.linkage.features import feature_row
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
