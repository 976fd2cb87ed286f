"""Compounds in الدين written with one d, as Algerian, Tunisian and Moroccan French
spellings write them (Azzedine, Ezzedine, Salahedine, Seifedine for عز الدين, صلاح الدين,
سيف الدين), and Ben glued to a family name (Benaissa for بن عيسى), find the person
registered in Arabic through the API; an index built before they were read so is rebuilt
on upgrade (migration 0041_keys).

Tunisians and Moroccans were among the foreigners who left Baghouz; their relatives
write the names the Maghrebi French way.
"""

from __future__ import annotations

from tests.api.helpers import index_rebuilt_on_upgrade, match_results, register, site


def test_maghrebi_compounds_in_edine_find_the_person_registered_in_arabic(client):
    """On the code before, Azzedine was read as a glued article and "zedine", Salahedine
    as one name, and Benaissa as a name of nobody (Ben glued to عيسى): none found the
    person first as likely."""
    camp = site(client, "Camp A")
    izz = register(client, camp, given_name="عز الدين", family_name="الجبالي", sex="m")
    salah = register(client, camp, given_name="صلاح الدين", family_name="المرزوقي", sex="m")
    aissa = register(client, camp, given_name="عبد القادر", family_name="بن عيسى", sex="m")
    for given, family in [("زيدان", "الجبالي"), ("صلاح", "المرزوقي"), ("نور الدين", "الجبالي"),
                          ("عبد القادر", "بن صالح"), ("عبد القادر", "بن يوسف")]:
        register(client, camp, given_name=given, family_name=family, sex="m")
    for name, person in [("Azzedine Jebali", izz), ("Ezzedine El Jebali", izz),
                         ("Salahedine Marzouki", salah), ("Abdelkader Benaissa", aissa)]:
        best = match_results(client, name)[0]
        assert best["person"]["id"] == person["id"], name
        assert best["probability"] >= 0.5, name


def test_an_index_without_the_compound_keys_is_rebuilt_on_upgrade(client, database):
    camp = site(client, "Camp A")
    for given, family in [("Hiba", "Hamdan"), ("Huda", "Hijazi"), ("Zaid", "Haddad")]:
        register(client, camp, given_name=given, family_name=family)
    # Registered in Latin letters the Algerian way; the index as an older version built
    # it held only "zedine"'s keys for him.
    person = register(client, site(client, "Camp B"), given_name="Azzedine", sex="m")
    index_rebuilt_on_upgrade(client, database, person["id"], "n:ADDN", "0040_person_note_roles",
                             "عز الدين", also=("n:AD", "s:AZDN", "t:azdin"))
