"""Blocking keys, the in-memory index, dedupe, the model file and calibration."""

import doctest
import importlib
import math
from pathlib import Path

import pytest

from corridor.matching import (
    CandidatePolicy,
    Matcher,
    MemoryIndex,
    Model,
    PersonRecord,
    blocking_key_groups,
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
        "corridor.matching.heap",
        "corridor.matching.training",
        "corridor.matching.candidates",
        "corridor.matching.model",
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
        PersonRecord(
            "a",
            registration_number="reg-001",
            phone="+963 944 123 456",
            document_numbers=("N 123 456",),
        )
    )
    assert {"rn:REG001", "ph:944123456", "id:N123456"} <= keys


def test_blocking_keys_are_short_strings() -> None:
    keys = blocking_keys(
        PersonRecord(
            "a",
            full_name="Hassan Hamid Sarir Al-Tikriti",
            name_original_script="حسن حميد سرير التكريتي",
        )
    )
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
        cand = (
            PersonRecord("c", full_name=name)
            if name.isascii()
            else PersonRecord("c", name_original_script=name)
        )
        assert m.score(PersonRecord("q", full_name="Mohammed Ali"), cand).probability < 0.5


def test_index_ranks_same_spelling_family_first() -> None:
    idx = MemoryIndex(read_person_csv(FIXTURES / "registry.csv"))
    res = idx.search(PersonRecord("q", full_name="Mohamed Ali Hussein", birth_year=1990))
    assert res[0].record_id == "r-m-ali-1"
    assert "r-mahmoud" not in [m.record_id for m in res[:1]]


def test_index_exact_identifier_wins() -> None:
    recs = [
        PersonRecord("a", full_name="Ali Hassan", phone="0944123456"),
        PersonRecord("b", full_name="Ali Hassan"),
    ]
    idx = MemoryIndex(recs)
    assert (
        idx.search(PersonRecord("q", full_name="Ali Hasan", phone="+963944123456"))[0].record_id
        == "a"
    )


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
    full = PersonRecord(
        "q",
        full_name="Abdul Qadeer Basir Abdul Baseer",
        birth_year=1964,
        sex="m",
        nationality="AFG",
    )
    same = PersonRecord(
        "c",
        name_original_script="عبد القدير بصير عبد البصير",
        birth_year=1964,
        sex="m",
        nationality="AFG",
    )
    unrelated = PersonRecord("c", full_name="Hassan Dahir Awes", birth_year=1935)
    assert m.score(full, same).probability > 0.95
    assert m.score(full, unrelated).probability < 0.01


def test_fit_calibration_recovers_a_logistic_curve() -> None:
    xs = [x / 4 for x in range(-80, 80)]
    ys = [1 / (1 + math.exp(-(0.5 * x + 1))) > 0.5 for x in xs] * 3
    a, b = fit_calibration(xs * 3, ys)
    assert a > 0
    assert -b / a == pytest.approx(-2.0, abs=0.5)


# -- nationality + birth year ---------------------------------------------------------

_GIVEN = [
    "Mohammed",
    "Ahmed",
    "Ali",
    "Hassan",
    "Hussein",
    "Omar",
    "Khaled",
    "Youssef",
    "Ibrahim",
    "Mahmoud",
    "Hamza",
    "Abdullah",
    "Mustafa",
    "Saleh",
    "Tariq",
]
_FAMILY = [
    "Haddad",
    "Khatib",
    "Najjar",
    "Jabbouri",
    "Tikriti",
    "Hamdan",
    "Saleh",
    "Darwish",
    "Masri",
    "Halabi",
    "Shami",
    "Obeidi",
    "Dulaimi",
    "Ani",
    "Zoubi",
]


def _registry_with_one_french_person() -> list[PersonRecord]:
    """1,500 Syrians and Iraqis with common names, and a few of rarer nationalities."""
    recs = []
    i = 0
    for g in _GIVEN:
        for f in _FAMILY:
            for _k in range(7):
                recs.append(
                    PersonRecord(
                        f"d{i}",
                        full_name=f"{g} {_GIVEN[(i * 7) % 15]} {f}",
                        sex="m",
                        birth_year=1950 + (i * 13) % 50,
                        nationality="SYR" if i % 3 else "IRQ",
                    )
                )
                i += 1
    recs.append(
        PersonRecord("fr-1", full_name="Lionel Dumont", sex="m", birth_year=1971, nationality="FRA")
    )
    recs.append(
        PersonRecord(
            "fr-2", full_name="Christophe Caze", sex="m", birth_year=1960, nationality="FRA"
        )
    )
    recs.append(
        PersonRecord("gb-1", full_name="Jack Letts", sex="m", birth_year=1972, nationality="GBR")
    )
    return recs


def test_a_kunya_sharing_no_name_is_not_found_by_nationality_and_birth_year() -> None:
    # Before issue 11 a rare nationality and a birth year within two years brought in
    # the persons of that nationality (the nb: route): a search by nationality. Now a
    # candidate must share a name or an identifier with the query.
    idx = MemoryIndex(_registry_with_one_french_person())
    query = PersonRecord("q", full_name="Abu Hamza", sex="m", birth_year=1972, nationality="FRA")
    ids = [m.record_id for m in idx.search(query, 10)]
    assert not {"fr-1", "fr-2", "gb-1"} & set(ids)
    # A name he bears finds him; the rare nationality then weighs the candidate.
    named = PersonRecord(
        "q", full_name="Abu Hamza Lionel", sex="m", birth_year=1972, nationality="FRA"
    )
    res = idx.search(named, 10)
    assert [m.record_id for m in res][:1] == ["fr-1"]
    assert any(e.field == "nationality" and e.weight > 0 for e in res[0].explanation)


def test_no_search_by_nationality_without_a_name() -> None:
    idx = MemoryIndex(_registry_with_one_french_person())
    nameless = PersonRecord("q", sex="m", birth_year=1972, nationality="FRA")
    assert blocking_key_groups(nameless, query=True) == []
    assert idx.candidates(nameless) == []
    assert idx.search(nameless) == []
    # The policy itself never fetches a nationality+year key (an index built before
    # issue 11 may still hold some).
    sizes = {"nb:FRA|1971": 1, "nb:FRA|1972": 1}
    assert CandidatePolicy().choose_keys([set(sizes)], sizes, population=1500) == []


def test_frequent_nationality_and_year_is_not_fetched() -> None:
    groups = [{"t:abuhamza"}, {f"nb:SYR|{y}" for y in range(1978, 1983)}]
    sizes = {"t:abuhamza": 12, **{f"nb:SYR|{y}": 140 for y in range(1978, 1983)}}
    chosen = CandidatePolicy().choose_keys(groups, sizes, population=30_000)
    assert [key for _, key, _ in chosen] == ["t:abuhamza"]
    idx = MemoryIndex(_registry_with_one_french_person())
    # Syrians born around 1972 are many: no Syrian comes by nationality and year alone.
    query = PersonRecord("q", full_name="Abu Zzzyx", birth_year=1972, nationality="SYR")
    assert idx.candidates(query) == []


def test_nationality_is_a_count_key_only() -> None:
    rec = PersonRecord("r", full_name="Lionel Dumont", birth_year=1971, nationality="fra")
    assert not any(k.startswith("nb:") for k in blocking_keys(rec))
    wide = PersonRecord(
        "q", full_name="Abu Hamza", birth_year=1971, birth_year_tolerance=1, nationality="FRA"
    )
    assert not any(k.startswith("nb:") for k in blocking_keys(wide, query=True))
    # nat: is a count key of stored records; a search never carries or fetches it.
    assert "nat:FRA" in blocking_keys(rec)
    assert not any(k.startswith("nat:") for k in blocking_keys(wide, query=True))
    groups = blocking_key_groups(rec)  # as if a caller forgot query=True
    sizes = {k: 1 for g in groups for k in g}
    chosen = CandidatePolicy().choose_keys(groups, sizes, population=30_000)
    assert not any(key.startswith("nat:") for _, key, _ in chosen)


def test_nationality_weight_by_rarity_from_counts() -> None:
    idx = MemoryIndex(_registry_with_one_french_person())
    m = idx.matcher
    assert idx.frequencies["nat:FRA"] == 2
    assert m.nationality_weight("FRA") > m.nationality_weight("SYR") + 3
    assert m.nationality_weight("SYR") == Model.default().fields.nationality_same
    # A caller that passes no nationality counts gets the plain weight.
    assert Matcher(Model.default(), {"MHMD": 10}, 1000).nationality_weight("FRA") == 1.0
    # A rare name already says much of what a rare nationality says.
    assert m.nationality_weight("FRA", name_bits=12.0) < m.nationality_weight("FRA")


def test_a_ranking_without_explanations_is_the_same_ranking() -> None:
    """``explain=False`` (the benchmark, deduplication) skips the explanations only:
    the same candidates in the same order with the same probabilities; ties in weight
    are still broken by how alike the spellings look, then by id."""
    from rapidfuzz import fuzz

    from corridor.matching.scoring import _spelling

    recs = list(read_person_csv(FIXTURES / "registry.csv"))
    # Twins of every record (the same fields, another id) and spellings beside them:
    # candidates that tie in weight.
    recs += [PersonRecord(r.record_id + "-twin", full_name=r.full_name,
                          name_original_script=r.name_original_script, sex=r.sex,
                          birth_year=r.birth_year) for r in recs]
    recs += [PersonRecord("sp-1", full_name="Mohammed Ali Hussein", birth_year=1990),
             PersonRecord("sp-2", full_name="Muhammad Ali Husein", birth_year=1990),
             PersonRecord("sp-3", full_name="Mohamed Aly Hussain", birth_year=1990)]
    idx = MemoryIndex(recs)
    queries = list(read_person_csv(FIXTURES / "queries.csv", "query_id")) + [
        PersonRecord("q-ali", full_name="Mohamed Ali Hussein", birth_year=1990),
        PersonRecord("q-zahed", name_original_script="عبد الرحمن زاهد"),
    ]
    ties = 0
    for q in queries:
        cands = [idx.records[r] for r in idx.candidates(q)]
        shown = idx.matcher.rank(q, cands, 50)
        bare = idx.matcher.rank(q, cands, 50, explain=False)
        assert [(m.record_id, m.probability) for m in bare] == [
            (m.record_id, m.probability) for m in shown]
        # The order, computed the long way: every candidate's closeness.
        q_text = [_spelling(ch) for ch in q.name_chains()]

        def closeness(rid: str, q_text: list[str] = q_text) -> float:
            c_text = [_spelling(ch) for ch in idx.records[rid].name_chains()]
            return max((fuzz.token_sort_ratio(a, b) for a in q_text for b in c_text),
                       default=0)

        weights = {m.record_id: round(m.weight, 6) for m in bare}
        assert [m.record_id for m in bare] == sorted(
            weights, key=lambda rid: (-weights[rid], -closeness(rid), rid))
        ties += len(weights) - len(set(weights.values()))
    assert ties > 0
