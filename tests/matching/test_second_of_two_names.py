"""The second of two names (issue 14, names-dev: `Mohammad Naim`, `Haji Ahmad Shah`).

An enquiry that gives two names, Ahmad Hassan, may mean Ahmad son of Hassan, Ahmad of
the Hassan family, or one given name in two words (Mohammad Naim, Ahmad Shah, Gul Agha,
as Afghan and Pakistani names are). The engine read the second of two names as the
family name only, and counted it for less where the registered person bears it in the
father's place or as the second half of a double given name (0.8 of its weight). It now
counts in full right after the given name, as at the family name's place, unless the
enquiry says it is the family name: a family-name field, or the article (El Kassem,
Alali, الحسن).
Where the registered person has a family name of his own, a father's name that is the
enquiry's second name still counts against as two family names: an enquiry of a given
and a family name is the commonest of two names.
"""

from __future__ import annotations

import pytest

from corridor.matching import Matcher, PersonRecord
from corridor.matching.normalise import ends_with_article_name


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    m = Matcher.default()
    m.set_population(30_000)
    return m


def _weight(matcher: Matcher, query: PersonRecord, candidate: PersonRecord) -> float:
    return matcher.score(query, candidate).weight


@pytest.mark.parametrize(("query", "place"), [
    ("Mohammad Naim", PersonRecord("a", given_name="Mohammad Naim", father_name="Barich",
                                   family_name="Khudaidad", sex="m")),
    ("Ahmad Shah", PersonRecord("b", full_name="Ahmad Shah Noorzai Obaidullah",
                                given_name="Ahmad Shah", family_name="Obaidullah", sex="m")),
    ("Ahmad Hassan", PersonRecord("c", given_name="Ahmad", father_name="Hassan", sex="m")),
    ("احمد حسن", PersonRecord("d", given_name="احمد", father_name="حسن", sex="m")),
])
def test_the_second_of_two_names_counts_in_full_right_after_the_given_name(
    matcher: Matcher, query: str, place: PersonRecord
) -> None:
    """As the second of a double given name, or as the father's name of a person whose
    record gives no family name, the second of two names weighs what it weighs as the
    family name. On the code before (dfa273b) each row weighed less there: 1.9 bits
    for Naim, 2.6 for Shah, 1.0 for Hassan and حسن as the father's name."""
    q = PersonRecord("q", full_name=query, sex="m")
    given, second = query.split()
    family = PersonRecord("f", full_name=f"{given} Yusuf {second}", sex="m")
    assert _weight(matcher, q, place) == pytest.approx(_weight(matcher, q, family), abs=0.3)


def test_the_father_of_another_family_still_gives_two_family_names(matcher: Matcher) -> None:
    """Where the registered person has a family name of his own, the second of two names
    found as his father's still says "two family names" (family-dev's partial enquiries,
    given and family name: Nisreen Moustafa is Nisreen Abdullah Mustafa, not Nisreen
    Mustafa al-Khalil)."""
    q = PersonRecord("q", full_name="Nisreen Moustafa", sex="f")
    family = PersonRecord("a", full_name="Nisreen Abdullah Mustafa", sex="f")
    father = PersonRecord("b", full_name="Nisreen Mustafa al-Khalil", sex="f")
    assert _weight(matcher, q, father) < _weight(matcher, q, family) - 3.0


def test_mohammad_naim_finds_the_person_of_that_given_name_ahead_of_a_family_naim(
    matcher: Matcher,
) -> None:
    q = PersonRecord("q", full_name="Mohammad Naim", sex="m")
    naim = PersonRecord("a", given_name="Mohammad Naim", father_name="Barich",
                        family_name="Khudaidad", sex="m", birth_year=1975)
    other = PersonRecord("b", given_name="Mohamed", father_name="Hussein", family_name="Naïm",
                         sex="m", birth_year=2009)
    ranked = matcher.rank(q, [other, naim], top=2)
    assert ranked[0].record_id == "a", [(m.record_id, m.probability) for m in ranked]


@pytest.mark.parametrize("query", [
    PersonRecord("q", full_name="Khadija El Kassem", sex="f"),
    PersonRecord("q", full_name="Khadija Alkassem", sex="f"),
    PersonRecord("q", given_name="Khadija", family_name="Kassem", sex="f"),
])
def test_a_second_name_said_to_be_the_family_name_still_counts_less_elsewhere(
    matcher: Matcher, query: PersonRecord
) -> None:
    """The family-name field and the article say the family name: the father Qassem of
    another family is not that (a sibling trap of family-dev)."""
    father = PersonRecord("a", given_name="Khadija", father_name="Qassem",
                          family_name="al-Issa", sex="f")
    family = PersonRecord("b", given_name="Khadija", father_name="Akram",
                          family_name="al-Qassem", sex="f")
    assert _weight(matcher, query, father) < _weight(matcher, query, family) - 1.0


@pytest.mark.parametrize(("text", "marked"), [
    ("Khadija El Kassem", True), ("Reem Alali", True), ("Osama Al-Kuni", True),
    ("محمد الحسن", True), ("Ahmad Hassan", False), ("Mohammad Naim", False),
    ("Ali Elias", False), ("محمد حسن", False),
])
def test_the_article_marks_the_family_name(text: str, marked: bool) -> None:
    assert ends_with_article_name(text) is marked
