"""Blocking keys, the in-memory index, dedupe, the model file and calibration."""

import doctest
import importlib
import math
from pathlib import Path

import pytest

from corridor.matching import (
    Matcher,
    MemoryIndex,
    Model,
    PersonRecord,
    blocking_keys,
    find_duplicates,
)
from corridor.matching.bench import read_person_csv, run_dedupe, run_match
from corridor.matching.training import fit_calibration

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    "module",
    [
        "corridor.matching",
        "corridor.matching.normalise",
        "corridor.matching.keys",
        "corridor.matching.blocking",
        "corridor.matching.records",
        "corridor.matching.scoring",
        "corridor.matching.index",
        "corridor.matching.dedupe",
        "corridor.matching.training",
        "corridor.matching.candidates",
    ],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_blocking_keys_shared_across_scripts() -> None:
    latin = blocking_keys(PersonRecord("a", full_name="Abdul Latif Mansur"))
    arabic = blocking_keys(PersonRecord("b", name_original_script="عبد اللطيف منصور"))
    assert {k for k in latin if k.startswith("n:")} & {k for k in arabic if k.startswith("n:")}
    assert any(k.startswith("p:") for k in latin & arabic)


def test_blocking_keys_identifiers() -> None:
    keys = blocking_keys(
        PersonRecord("a", registration_number="reg-001", phone="+963 944 123 456",
                     document_numbers=("N 123 456",))
    )
    assert {"rn:REG001", "ph:944123456", "id:N123456"} <= keys


def test_blocking_keys_are_short_strings() -> None:
    keys = blocking_keys(PersonRecord("a", full_name="Hassan Hamid Sarir Al-Tikriti",
                                      name_original_script="حسن حميد سرير التكريتي"))
    assert all(isinstance(k, str) and 2 < len(k) < 40 for k in keys)


def test_index_finds_across_scripts_and_ranks() -> None:
    idx = MemoryIndex(read_person_csv(FIXTURES / "registry.csv"))
    res = idx.search(PersonRecord("q", name_original_script="عبد الرحمن زاهد", birth_year=1963))
    assert res[0].record_id == "r-zahed"
    assert res[0].probability > 0.5
    assert [m.weight for m in res] == sorted((m.weight for m in res), reverse=True)


def test_common_name_only_is_not_a_likely_match() -> None:
    # In a registry of 50,000 (the default prior), "Mohammed Ali" fits hundreds.
    m = Matcher.default()
    for name in ("Mohammed Ali Hussein", "Muhammad Ali Jabbar", "محمد علي حسين"):
        cand = PersonRecord("c", full_name=name) if name.isascii() else \
            PersonRecord("c", name_original_script=name)
        assert m.score(PersonRecord("q", full_name="Mohammed Ali"), cand).probability < 0.5


def test_index_ranks_same_spelling_family_first() -> None:
    idx = MemoryIndex(read_person_csv(FIXTURES / "registry.csv"))
    res = idx.search(PersonRecord("q", full_name="Mohamed Ali Hussein", birth_year=1990))
    assert res[0].record_id == "r-m-ali-1"
    assert "r-mahmoud" not in [m.record_id for m in res[:1]]


def test_index_exact_identifier_wins() -> None:
    recs = [PersonRecord("a", full_name="Ali Hassan", phone="0944123456"),
            PersonRecord("b", full_name="Ali Hassan")]
    idx = MemoryIndex(recs)
    assert idx.search(PersonRecord("q", full_name="Ali Hasan", phone="+963944123456"))[0] \
        .record_id == "a"


def test_find_duplicates_every_record_once() -> None:
    recs = list(read_person_csv(FIXTURES / "registry.csv"))
    clusters = find_duplicates(recs)
    ids = [r for c in clusters for r in c]
    assert sorted(ids) == sorted(r.record_id for r in recs)
    as_sets = [set(c) for c in clusters]
    assert {"r-zahed", "r-zahed-ar"} in as_sets
    # Brothers are not merged.
    assert not any({"r-ahmed-tikriti", "r-omar-tikriti"} <= c for c in as_sets)


def test_bench_contracts(tmp_path: Path) -> None:
    ranked = tmp_path / "ranked.csv"
    stats = run_match(FIXTURES / "registry.csv", FIXTURES / "queries.csv", 3, ranked)
    assert stats["queries"] == 3
    lines = ranked.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "query_id,record_id,rank,probability"
    assert lines[1].startswith("q1,r-zahed,1,")
    clusters = tmp_path / "clusters.csv"
    run_dedupe(FIXTURES / "registry.csv", clusters)
    rows = clusters.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "record_id,cluster_id"
    assert len(rows) - 1 == len(list(read_person_csv(FIXTURES / "registry.csv")))


def test_model_round_trip_and_version() -> None:
    model = Model.default()
    assert model.version
    again = Model.from_json(model.to_json())
    assert again == model


def test_model_rejects_unknown_settings() -> None:
    bad = Model.default().to_json().replace('"m_same"', '"m_sane"')
    with pytest.raises(ValueError, match="m_sane"):
        Model.from_json(bad)


def test_probability_monotone_and_bounded() -> None:
    m = Matcher.default()
    ps = [m.probability(w) for w in range(-40, 60, 5)]
    assert all(0.0 <= p <= 1.0 for p in ps)
    assert ps == sorted(ps)
    assert ps[0] < 0.01 and ps[-1] > 0.99


def test_calibration_sanity() -> None:
    m = Matcher.default()
    full = PersonRecord("q", full_name="Abdul Qadeer Basir Abdul Baseer", birth_year=1964,
                        sex="m", nationality="AFG")
    same = PersonRecord("c", name_original_script="عبد القدير بصير عبد البصير",
                        birth_year=1964, sex="m", nationality="AFG")
    unrelated = PersonRecord("c", full_name="Hassan Dahir Awes", birth_year=1935)
    assert m.score(full, same).probability > 0.95
    assert m.score(full, unrelated).probability < 0.01


def test_fit_calibration_recovers_a_logistic_curve() -> None:
    xs = [x / 4 for x in range(-80, 80)]
    ys = [1 / (1 + math.exp(-(0.5 * x + 1))) > 0.5 for x in xs] * 3
    a, b = fit_calibration(xs * 3, ys)
    assert a > 0
    assert -b / a == pytest.approx(-2.0, abs=0.5)
