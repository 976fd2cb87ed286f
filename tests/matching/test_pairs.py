"""Table-driven name pairs that must match, and must not."""

import pytest

from corridor.matching import Matcher, PersonRecord
from corridor.matching.compare import SAME, SCRIPT, SIMILAR, SPELLING
from corridor.matching.keys import skeleton
from corridor.matching.normalise import parse_name

SAME_NAME = {SAME, SPELLING, SCRIPT}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.default()


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed", "Muhammad"),
        ("Mohammed", "محمد"),
        ("Muhammad", "محمد"),
        ("Mohamed", "مُحَمَّد"),
        ("Mahmoud", "محمود"),
        ("Mahmoud", "Mahmood"),
        ("عبد الرحمن", "Abdul Rahman"),
        ("عبد الرحمن", "Abdelrahman"),
        ("Abdul Rahman", "Abdelrahman"),
        ("Abd al-Rahman", "Abdurrahman"),
        ("أسامة", "Usama"),
        ("Oussama", "Usama"),
        ("Hussein", "حسين"),
        ("Husayn", "Hussein"),
        ("Youssef", "يوسف"),
        ("عبیدالله", "Ubaidullah"),
        ("Obaid Ullah", "Ubaidullah"),
        ("ضیا الرحمان", "Zia-ur-Rahman"),
        ("Jamal", "جمال"),
        ("Gamal", "جمال"),
        ("Baghouz", "Baghuz"),
        ("Baghouz", "Bagouz"),
    ],
)
def test_same_name(matcher: Matcher, a: str, b: str) -> None:
    ua, ub = parse_name(a)[0], parse_name(b)[0]
    assert matcher.units.level(ua, ub) in SAME_NAME | {SIMILAR}
    if "Bagouz" not in (a, b):
        assert matcher.units.level(ua, ub) in SAME_NAME


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Mohammed", "Mahmoud"),
        ("محمد", "Mahmoud"),
        ("محمود", "Mohammed"),
        ("Ahmed", "Hamed"),
        ("أحمد", "حامد"),
        ("Hassan", "Hussein"),
        ("حسن", "Hussein"),
        ("Ali", "Allah"),
        ("Omar", "Amer"),
    ],
)
def test_not_same_name(matcher: Matcher, a: str, b: str) -> None:
    ua, ub = parse_name(a)[0], parse_name(b)[0]
    assert matcher.units.level(ua, ub) not in SAME_NAME


def person(rid: str, name: str, **kw: object) -> PersonRecord:
    if any("\u0600" <= ch <= "\u06ff" for ch in name):
        return PersonRecord(rid, name_original_script=name, **kw)  # type: ignore[arg-type]
    return PersonRecord(rid, full_name=name, **kw)  # type: ignore[arg-type]


MATCH = [
    ("Khalid Mansour Anwari", "خالد منصور انوري", {"birth_year": 1980}),
    ("Abdul Rahman Zahed", "عبدالرحمان زاهد", {"birth_year": 1963}),
    ("Abdelrahman Hassan Jabbouri", "عبد الرحمن حسن الجبوري", {}),
    ("AWES, Shaykh Hassan Dahir", "Hassan Dahir Awes", {"birth_year": 1935}),
    ("Mullah Naeem Barech Khudaidad", "Mohammad Naim Barich Khudaidad", {"birth_year": 1975}),
    ("Ezatullah Haqqani", "عزت الله حقاني", {"birth_year": 1957}),
    ("Salim Ahmad Salim Hamdan", "سالم احمد سالم حمدان", {"birth_year": 1965}),
]


@pytest.mark.parametrize(("a", "b", "kw"), MATCH)
def test_records_match(matcher: Matcher, a: str, b: str, kw: dict[str, object]) -> None:
    m = matcher.score(person("q", a, **kw), person("c", b, **kw))
    assert m.probability >= 0.5, m.explanation


NO_MATCH = [
    # Same given name only, common: says nothing.
    ("Mohammed Ali", "Mohammed Hassan Ali Jabbar", {}),
    # Position matters: different people.
    ("Ahmed Mohammed Ali", "Ali Mohammed Ahmed", {}),
    ("Ahmed Mohammed Ali Jabbouri", "Ali Mohammed Ahmed Jabbouri", {"birth_year": 1980}),
    # Mohammed and Mahmoud share a skeleton but are different names.
    ("Mohammed Hassan Ali Jabbouri", "Mahmoud Hassan Ali Jabbouri", {"birth_year": 1980}),
    # Brothers share father, grandfather and family names.
    ("Ahmed Hassan Kadhim Tikriti", "Omar Hassan Kadhim Tikriti", {"nationality": "IRQ"}),
    ("احمد حسن كاظم التكريتي", "Omar Hassan Kadhim Al-Tikriti", {}),
    # Father and son: the son's chain is the father's shifted by one.
    ("Sabawi Ibrahim Hassan Tikriti", "Ayman Sabawi Ibrahim Hassan Tikriti", {}),
]


@pytest.mark.parametrize(("a", "b", "kw"), NO_MATCH)
def test_records_do_not_match(
    matcher: Matcher, a: str, b: str, kw: dict[str, object]
) -> None:
    assert matcher.score(person("q", a, **kw), person("c", b, **kw)).probability < 0.5
    assert matcher.score(person("q", b, **kw), person("c", a, **kw)).probability < 0.5


def test_brothers_same_birth_year_still_not_one_person(matcher: Matcher) -> None:
    a = PersonRecord("a", given_name="Ahmed", father_name="Hassan", grandfather_name="Kadhim",
                     family_name="Tikriti", birth_year=1990, sex="m", nationality="IRQ")
    b = PersonRecord("b", given_name="Mustafa", father_name="Hassan", grandfather_name="Kadhim",
                     family_name="Tikriti", birth_year=1990, sex="m", nationality="IRQ")
    m = matcher.score(a, b)
    assert m.probability < 0.5
    assert any("brothers" in e.text for e in m.explanation)


def test_other_fields_count(matcher: Matcher) -> None:
    base = {"full_name": "Khalid Mansour Anwari"}
    q = PersonRecord("q", **base, birth_year=1980, sex="m")  # type: ignore[arg-type]
    same = PersonRecord("c", **base, birth_year=1981, sex="m")  # type: ignore[arg-type]
    other_sex = PersonRecord("c", **base, birth_year=1981, sex="f")  # type: ignore[arg-type]
    far = PersonRecord("c", **base, birth_year=1950, sex="m")  # type: ignore[arg-type]
    w_same = matcher.score(q, same).weight
    assert matcher.score(q, other_sex).weight < w_same
    assert matcher.score(q, far).weight < w_same


def test_place_of_origin_variants(matcher: Matcher) -> None:
    q = PersonRecord("q", full_name="Khalid Anwari", place_of_origin="Baghouz")
    c1 = PersonRecord("c", full_name="Khalid Anwari", place_of_origin="Baghuz village")
    c2 = PersonRecord("c", full_name="Khalid Anwari", place_of_origin="Raqqa")
    assert matcher.score(q, c1).weight > matcher.score(q, c2).weight


def test_exact_identifiers(matcher: Matcher) -> None:
    q = PersonRecord("q", full_name="Ali Hassan", document_numbers=("N-1234567",))
    c = PersonRecord("c", full_name="Ali Hasan", document_numbers=("n1234567",))
    m = matcher.score(q, c)
    assert m.probability > 0.9
    assert any(e.field == "document number" for e in m.explanation)


def test_explanations_are_words(matcher: Matcher) -> None:
    m = matcher.score(person("q", "Mohammed Anwari", birth_year=1980),
                      person("c", "محمد انوري", birth_year=1980))
    levels = {e.field: e.level for e in m.explanation}
    assert levels["given name"] == "same name in another script"
    assert levels["birth year"] == "same"
    assert all(e.text.endswith(".") for e in m.explanation)


def test_rarity_weighting(matcher: Matcher) -> None:
    common = matcher.score(person("q", "Mohammed"), person("c", "Mohammed")).weight
    rare = matcher.score(person("q", "Anwari"), person("c", "Anwari")).weight
    assert rare > common + 3


def test_caller_frequencies() -> None:
    key = skeleton(parse_name("Anwari")[0])
    m = Matcher.default(frequencies={key: 5000}, population=10_000)
    w = m.score(person("q", "Anwari"), person("c", "Anwari")).weight
    assert w < 2


def test_single_name_may_be_a_family_name(matcher: Matcher) -> None:
    q = person("q", "Abdelrazaq")
    as_family = matcher.score(q, person("c", "Fitiwi Abdelrazak")).weight
    as_given = matcher.score(q, person("c", "Abderrazak Aisha Fathi")).weight
    assert abs(as_family - as_given) < 1.5


def test_kunya_is_as_common_as_the_name_in_it(matcher: Matcher) -> None:
    common = matcher.score(person("q", "Abu Mohammed"), person("c", "Abu Mohammed")).weight
    rare = matcher.score(person("q", "Abu Zubaydah"), person("c", "Abu Zubaydah")).weight
    assert rare > common + 3
