"""A search fetches the keys of readings that change the letter a name begins with
(Turkish Hatice, Halit, Hıdır for خديجة, خالد, خضر; Spanish Jalid for خالد) as weak keys:
they bring the person in, but never pre-rank a reading's namesakes above the persons
who bear the name as written, and never make a name's own common key too common to
fetch. A stored record never holds them (``blocking_keys``)."""

from __future__ import annotations

from corridor.matching import CandidatePolicy, MemoryIndex, PersonRecord
from corridor.matching.blocking import blocking_keys, query_key_groups


def test_a_search_holds_the_key_of_an_initial_h_read_kh_and_a_record_does_not() -> None:
    hatice = PersonRecord("q", full_name="Hatice Ömer")
    groups, weak = query_key_groups(hatice)
    assert weak == {"n:KDK", "p:AMR|KDK"}
    assert weak <= set().union(*groups)
    # Registered so, she keeps only her name as written: Khadija's key would otherwise
    # fill with every Hatice, and Ghassan's with every Hasan.
    assert not weak & blocking_keys(hatice)
    assert "n:KDK" in blocking_keys(PersonRecord("k", name_original_script="خديجة"))


def test_a_name_that_already_begins_with_kh_has_no_weak_key() -> None:
    assert query_key_groups(PersonRecord("q", full_name="Khadija Omar"))[1] == frozenset()
    # A reading inside the name (Yaya read Yahya) is a key of its own already.
    assert query_key_groups(PersonRecord("q", full_name="Yaya"))[1] == frozenset()


def test_a_weak_key_weighs_less_than_the_name_as_written() -> None:
    policy = CandidatePolicy()
    chosen = policy.choose_keys([{"n:HDR", "n:KDR"}], {"n:HDR": 900, "n:KDR": 50}, 30_000,
                                weak=frozenset({"n:KDR"}))
    weight = {key: idf for _, key, idf in chosen}
    assert weight["n:KDR"] < weight["n:HDR"]


def test_a_rare_weak_key_does_not_crowd_out_a_common_name_as_written() -> None:
    """Fazal Hayat: Hayat read Khayat has a key two persons hold. Were it to count as the
    query's rarest group, Fazal's common key (over the cap) would no longer be fetched
    and Fazlullah, who shares only that key, would be lost."""
    policy = CandidatePolicy()
    groups = [{"n:FDL", "s:FZL", "t:fazal"}, {"n:HD", "s:HT", "t:haiat", "n:KKD"},
              {"p:FDL|HD"}]
    sizes = {"n:FDL": 598, "s:FZL": 62, "t:fazal": 39, "n:HD": 384, "s:HT": 66, "t:haiat": 45,
             "n:KKD": 2, "p:FDL|HD": 3}
    chosen = {key for _, key, _ in policy.choose_keys(groups, sizes, 30_000,
                                                      weak=frozenset({"n:KKD"}))}
    assert {"n:FDL", "n:KKD", "p:FDL|HD"} <= chosen


def _registry() -> list[PersonRecord]:
    # 400 women of one family bear names no reading reaches, beside 400 of another
    # family; one more woman of the first family is خديجة.
    given = ["فاطمة", "مريم", "زينب", "عائشة", "سارة", "نور", "هدى", "رنا"]
    out = [
        PersonRecord(f"p{i}", name_original_script=f"{given[i % 8]} {family}", sex="f",
                     birth_year=1985)
        for i in range(400)
        for family in ("عمر الأحمد", "حسن العلي")
    ]
    out.append(PersonRecord("khadija", name_original_script="خديجة عمر الأحمد", sex="f",
                            birth_year=1985))
    return out


def test_hatice_is_found_among_four_hundred_namesakes_of_her_family() -> None:
    """Her father's and family's names are each held by 401 persons, over the candidate
    cap: only her given name read with the Turkish h as kh sets her apart. On the code
    before, her namesakes filled the candidates and she was not among them."""
    index = MemoryIndex(_registry())
    query = PersonRecord("q", full_name="Hatice Ömer El Ahmed", sex="f", birth_year=1985)
    best = index.search(query, top=2)
    assert best[0].record_id == "khadija"
    assert best[0].probability >= 0.5
    assert all(m.probability < 0.5 for m in best[1:])


def test_haidar_is_not_taken_for_khidr() -> None:
    """Haidar read Khaidar shares the key of خضر: the persons named Haidar still come
    first among the candidates (before the reading's weight was below the name's own,
    they tied), and Haidar Ismail is found."""
    people = [PersonRecord(f"k{i}", name_original_script="خضر محمود", sex="m")
              for i in range(150)]
    people += [PersonRecord(f"h{i}", name_original_script="حيدر علي", sex="m")
               for i in range(150)]
    people.append(PersonRecord("him", name_original_script="حيدر إسماعيل", sex="m"))
    index = MemoryIndex(people)
    query = PersonRecord("q", full_name="Haidar Ismail", sex="m")
    candidates = index.candidates(query)
    assert all(not c.startswith("k") for c in candidates[:151]), candidates[:151]
    assert index.search(query, top=1)[0].record_id == "him"
