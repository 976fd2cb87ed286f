"""Names written the Russian way find the registered person through the API: Cyrillic г
for h (Гасан, Ибрагим), a patronymic and a surname (Хасанова Фатима Ахмедовна), a
passport's g (Guseynov, and Ibragim in a name with Russian forms); and an index built
before they were read so is rebuilt on upgrade (migration 0032_keys).

Thousands of women and children from Russia and Central Asia were among those who left
Baghouz; their families write in Cyrillic, as their documents do.
"""

from __future__ import annotations

from tests.api.helpers import index_rebuilt_on_upgrade, match_results, register, site


def _population(client):
    camp = site(client, "Camp A")
    fatima = register(client, camp, given_name="فاطمة", father_name="أحمد",
                      family_name="حسن", sex="f")
    ibrahim = register(client, camp, given_name="Ibrahim", father_name="Hussein",
                       family_name="Mohammed", sex="m")
    passport = register(client, camp, given_name="Magomed", family_name="Guseynov", sex="m")
    for given, father, family, sex in [("فاطمة", "محمد", "حسين", "f"),
                                       ("Ibrahim", "Hassan", "Mahmoud", "m"),
                                       ("Mahmud", "Ali", "Huseynli", "m")]:
        register(client, camp, given_name=given, father_name=father, family_name=family,
                 sex=sex)
    return fatima, ibrahim, passport


def test_russian_forms_find_the_registered_person_first(client):
    fatima, ibrahim, passport = _population(client)
    for name, person in [("Хасанова Фатима Ахмедовна", fatima),
                         ("Фатима Ахмедовна Гасанова", fatima),
                         ("Магомедов Ибрагим Гусейнович", ibrahim),
                         ("Magomedov Ibragim Guseynovich", ibrahim),
                         ("Магомед Гусейнов", passport)]:
        best = match_results(client, name)[0]
        assert best["person"]["id"] == person["id"], name
        assert best["probability"] >= 0.5, name


def test_an_index_without_the_new_keys_is_rebuilt_on_upgrade(client, database):
    _population(client)
    # Registered from a Russian list in Cyrillic: Гасан Магомедов. The index as an older
    # version built it read г as g: no key of Hasan (n:HDN) or Muhammad (n:MHMD).
    hasan = register(client, site(client, "Camp B"), given_name="Гасан",
                     family_name="Магомедов", sex="m")
    # Its own key as read then (n:KDN, г as g) goes too: a search for Hasan fetches it
    # now as the weak key of its reading kh, and would find him without the rebuild.
    index_rebuilt_on_upgrade(client, database, hasan["id"], "n:HDN", "0031_keys",
                             "Hasan Mohammed", also=("n:MHMD", "n:KDN"))
