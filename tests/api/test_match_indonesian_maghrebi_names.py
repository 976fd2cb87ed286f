"""Names written the Indonesian and Malay way (Sholeh, Shofiyah, Yusup), with the
Moroccan and Algerian article fused to them (Lhoussine, Lahcen, Lbachir) and with the
link of a compound glued to its first half (Ziaur Rahman) find the registered person
through the API; an index built before they were read so is rebuilt on
upgrade (migration 0034_keys).

Indonesian, Malaysian, Moroccan and Pakistani women and children were among those held
in north-east Syria after Baghouz; their families write their names this way.
"""

from __future__ import annotations

from tests.api.helpers import index_rebuilt_on_upgrade, match_results, register, site


def _population(client):
    camp = site(client, "Camp A")
    saleh = register(client, camp, given_name="صالح", father_name="رشيد",
                     family_name="الحافظ", sex="m")
    safiya = register(client, camp, given_name="Safiya", father_name="Yusuf",
                      family_name="Uthman", sex="f")
    hussein = register(client, camp, given_name="الحسين", father_name="أحمد",
                       family_name="البشير", sex="m")
    zia = register(client, camp, given_name="ضياء الرحمن", father_name="عبد الكريم",
                   family_name="مدني", sex="m")
    for given, father, family, sex in [("صابر", "رشيد", "الحافظ", "m"),
                                       ("Asiya", "Yusuf", "Uthman", "f"),
                                       ("الحسن", "محمد", "البشير", "m"),
                                       ("Hisham", "Rashid", "Hafez", "m"),
                                       ("عبد الرحمن", "عبد الكريم", "مدني", "m")]:
        register(client, camp, given_name=given, father_name=father, family_name=family,
                 sex=sex)
    return saleh, safiya, hussein, zia


def test_indonesian_and_maghrebi_spellings_find_the_registered_person_first(client):
    """On the code before (d4e2c2f) each of the five put the person first, at p 0.003
    to 0.015: far below what an enquiry proposes."""
    saleh, safiya, hussein, zia = _population(client)
    for name, person in [("Sholeh Rosyid Al-Hafizh", saleh),
                         ("Shofiyah Yusup Utsman", safiya),
                         ("Lhoussine Ahmed Lbachir", hussein),
                         ("Lahoucine Ahmad Al-Bachir", hussein),
                         ("Ziaur Rahman Abdul Karim Madani", zia)]:
        best = match_results(client, name)[0]
        assert best["person"]["id"] == person["id"], name
        assert best["probability"] >= 0.5, name


def test_an_index_without_the_new_keys_is_rebuilt_on_upgrade(client, database):
    _population(client)
    # Registered in Latin letters, the Indonesian and the Moroccan way. The index as an
    # older version built it held no key of Saleh (n:DL, n:DLH) nor of Hussein (n:HDN).
    person = register(client, site(client, "Camp B"), given_name="Sholeh",
                      family_name="Lhoussine", sex="m")
    index_rebuilt_on_upgrade(client, database, person["id"], "n:HDN", "0033_keys",
                             "صالح الحسين", also=("n:DL", "n:DLH"))
