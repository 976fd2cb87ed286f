"""The article fused to a name the Moroccan and Algerian way (issue 14).

Moroccan and Algerian given names often carry the article, and their French spellings
fuse it to the name: Lhoussine, Lahoucine (الحسين), Lahcen (الحسن), Lbachir (البشير),
Lmahdi, Lhaj, Lahbib. Families in Morocco, Algeria, France, Belgium and the Netherlands
write them so. The engine knew Larbi, Lakhdar and Lamine from its name data and no other:
Lhoussine was another name than الحسين and Hussein.

An l before a consonant, or lah before one, is always the article; la before a consonant
and l before a are read so only where the name data never saw the name as written (Lamis,
Latifa, Layla, Lubna are names of their own).
"""

from __future__ import annotations

import pytest

from corridor.matching import PersonRecord
from corridor.matching.compare import UnitComparator
from tests.matching.levels import SAME_NAME, found_first, level

ARTICLE_FUSED = [
    ("Lhoussine", "الحسين"), ("Lhoussaine", "Hussein"), ("Lhoucine", "حسين"),
    ("Lahoucine", "الحسين"), ("Lahcen", "الحسن"), ("Lahcen", "Hassan"), ("Lhadi", "الهادي"),
    ("Lmahdi", "المهدي"), ("Lahbib", "الحبيب"), ("Lhaj", "الحاج"), ("Lbachir", "البشير"),
]
# Known to the name data before, and still read so.
ALREADY_READ = [("Larbi", "العربي"), ("Lakhdar", "الأخضر"), ("Lamine", "الأمين")]
# Names that begin with l and are no article: never read without it.
NEAR_MISSES = [
    ("Latifa", "عاطفة"), ("Latifa", "Atifa"), ("Layla", "Ayla"), ("Lana", "Ana"),
    ("Lama", "أمة"), ("Laith", "عايض"), ("Lubna", "Ubna"), ("Lujain", "Ujain"),
    ("Lina", "Ina"), ("Lamia", "Mia"), ("Luay", "Uay"), ("Lahcen", "Hussein"),
]


@pytest.mark.parametrize(("a", "b"), ARTICLE_FUSED, ids=[f"{a}-{b}" for a, b in ARTICLE_FUSED])
def test_a_name_with_the_article_fused_is_the_name(
    comparator: UnitComparator, a: str, b: str
) -> None:
    """On the code before (d4e2c2f) every row fails ("different")."""
    assert level(comparator, a, b) in SAME_NAME
    assert level(comparator, b, a) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), ALREADY_READ, ids=[f"{a}-{b}" for a, b in ALREADY_READ])
def test_names_the_data_knew_stay_read(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) in SAME_NAME


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES, ids=[f"{a}-{b}" for a, b in NEAR_MISSES])
def test_names_beginning_with_l_keep_it(comparator: UnitComparator, a: str, b: str) -> None:
    assert level(comparator, a, b) not in SAME_NAME
    assert level(comparator, b, a) not in SAME_NAME


REGISTRY = [
    PersonRecord("hussein", full_name="الحسين أحمد البشير", sex="m", birth_year=1990),
    PersonRecord("hassan", full_name="الحسن أحمد البشير", sex="m", birth_year=1993),
    PersonRecord("mahdi", full_name="Mahdi Habib Alaoui", sex="m", birth_year=1987),
    PersonRecord("hadi", full_name="Hadi Habib Alaoui", sex="m", birth_year=1984),
    PersonRecord("other", full_name="Ahmed Bachir Hussein", sex="m", birth_year=1990),
]


@pytest.mark.parametrize(("name", "expected"), [
    ("Lhoussine Ahmed Lbachir", "hussein"),
    ("Lahcen Ahmed Lbachir", "hassan"),
    ("Lmahdi Lahbib Alaoui", "mahdi"),
])
def test_an_enquiry_with_the_article_fused_finds_the_person_first(
    name: str, expected: str
) -> None:
    """On the code before none of the three found the person first at p >= 0.5."""
    found_first(REGISTRY, PersonRecord("q", full_name=name, sex="m"), expected)
