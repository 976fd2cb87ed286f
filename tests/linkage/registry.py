"""A small registry with known duplicates (the same person registered twice, in another
script or spelling) and brothers who must stay apart."""

from __future__ import annotations

from corridor.matching import PersonRecord


def P(rid: str, name: str, sex: str, year: int | None, nat: str | None = "SYR") -> PersonRecord:
    arabic = any("\u0600" <= ch <= "\u06ff" for ch in name)
    return PersonRecord(
        rid,
        full_name=None if arabic else name,
        name_original_script=name if arabic else None,
        sex=sex,
        birth_year=year,
        nationality=nat,
    )


REGISTRY = [
    P("a1", "Abdul Rahman Hamid al-Jabouri", "m", 1984),
    P("a2", "عبد الرحمن حميد الجبوري", "m", 1984),
    P("b1", "Fatima Ali Haddad", "f", 1990),
    P("b2", "Fatimah Aly Hadad", "f", 1991),
    P("c1", "Mahmoud Khalil Ibrahim Darwish", "m", 1975, "IRQ"),
    P("c2", "محمود خليل ابراهيم درويش", "m", 1975, None),
    P("c3", "Mahmud Khalil Ibraheem Darweesh", "m", 1976, "IRQ"),
    # c1's brothers: same father, grandfather and family name, another given name.
    P("d1", "Omar Khalil Ibrahim Darwish", "m", 1978, "IRQ"),
    P("d2", "Mohammed Khalil Ibrahim Darwish", "m", 1981, "IRQ"),
    P("e1", "Hassan Youssef Nasser", "m", 1969),
    P("e2", "Layla Samir Othman", "f", 1995),
    P("e3", "Zainab Karim Mansour", "f", 2001),
    P("e4", "Yusuf Tariq Salim", "m", 1988),
    P("e5", "Khadija Amin Barakat", "f", 1979),
    P("e6", "Ahmed Saleh Qasim", "m", 1965),
    P("e7", "Noor Jamal Haddad", "f", 1993),
    P("e8", "Hamed Saleh Qasim", "m", 1962),
    P("e9", "Mohammed Ali Hussein", "m", 1990),
    P("e11", "Rania Fawzi Khoury", "f", 1986),
]

EXPECTED = [["a1", "a2"], ["b1", "b2"], ["c1", "c2", "c3"]]
