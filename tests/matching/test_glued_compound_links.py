"""The link of a compound name glued to its first half (issue 14): Ziaur Rahman, Inamul
Haq, Nurul Islam, Akhtaruz Zaman, as Bengali, Pakistani, Indonesian and Malaysian names
write Zia-ur-Rahman (ضياء الرحمن), Inam-ul-Haq, Nur-ul-Islam, Akhtar-uz-Zaman; and the
article glued to a name before another (Nurul Huda: نور الهدى).

The parser read a link written apart (Zia ur Rahman) or hyphened (Zia-ur-Rahman) and not
one glued to the first half: Ziaur was a name of its own, and Ziaur Rahman two names,
neither of them ضياء الرحمن. Only a word the name data never saw as written is read so:
Mansur, Rasul and Batul end the same way and are names.
"""

from __future__ import annotations

import pytest

from corridor.matching import PersonRecord
from corridor.matching.compare import UnitComparator
from corridor.matching.normalise import parse_name
from tests.matching.levels import SAME_NAME, found_first, level

JOINED = [
    ("Ziaur Rahman", "ضياء الرحمن"), ("Ziaur Rahman", "Zia-ur-Rahman"),
    ("Matiur Rahman", "Mati Ur-rehman"), ("Habibur Rahman", "حبيب الرحمن"),
    ("Mahbubur Rahman", "Mahbub ur Rahman"), ("Inamul Haq", "إنعام الحق"),
    ("Ziaul Haq", "Zia ul Haq"), ("Nurul Islam", "نور الإسلام"), ("Saiful Islam", "Saif-ul-Islam"),
    ("Akhtaruz Zaman", "أختر الزمان"), ("Shamsul Haq", "شمس الحق"),
]
# The article glued to a name that another follows: two names, as the Arabic is.
SPLIT = [
    ("Nurul Huda", ["nur", "huda"]), ("Saiful Anwar", ["saif", "anwar"]),
    ("Aminul Hakim", ["amin", "hakim"]),
]
# Names that end so, words the link may not stand before, and a Korean name.
KEPT = ["Mansur Rahman", "Rasul Haq", "Batul Ali", "Younous Saleh", "Ghafur Rahim",
        "Mahmud Rahman", "Yunus Salim", "Masud Dahir", "Kim Il Sung", "Nurul", "Abdul Rahman",
        "Anwarul bin Ahmad"]


@pytest.mark.parametrize(("a", "b"), JOINED, ids=[f"{a}-{b}" for a, b in JOINED])
def test_a_glued_link_joins_the_compound(comparator: UnitComparator, a: str, b: str) -> None:
    """On the code before (d4e2c2f) every row fails: the glued name parses to two units."""
    assert level(comparator, a, b) in SAME_NAME


@pytest.mark.parametrize(("name", "parts"), SPLIT, ids=[n for n, _ in SPLIT])
def test_the_glued_article_is_taken_off_a_name_before_another(name: str, parts: list[str]) -> None:
    """Fails on the code before (Nurul, Saiful kept whole)."""
    assert [u.parts for u in parse_name(name)] == [(p,) for p in parts]


@pytest.mark.parametrize("name", KEPT)
def test_names_that_end_so_are_kept(name: str) -> None:
    units = parse_name(name)
    words = [w for w in name.lower().split() if w != "bin"]
    if name == "Abdul Rahman":
        assert [u.parts for u in units] == [("abd", "rahman")]
    else:
        assert [u.text for u in units] == words


REGISTRY = [
    PersonRecord("zia", full_name="ضياء الرحمن عبد الكريم مدني", sex="m", birth_year=1981),
    PersonRecord("karim", full_name="عبد الكريم عبد الرحيم مدني", sex="m", birth_year=1979),
    PersonRecord("nur", full_name="Nur Huda Binti Ahmad Syafii", sex="f", birth_year=1995),
    PersonRecord("nur2", full_name="Nur Aini Binti Ahmad Syafii", sex="f", birth_year=1997),
]


@pytest.mark.parametrize(("name", "sex", "expected"), [
    ("Ziaur Rahman Abdul Karim Madani", "m", "zia"),
    ("Nurul Huda binti Ahmad Syafii", "f", "nur"),
])
def test_an_enquiry_with_the_link_glued_finds_the_person_first(
    name: str, sex: str, expected: str
) -> None:
    found_first(REGISTRY, PersonRecord("q", full_name=name, sex=sex), expected)
