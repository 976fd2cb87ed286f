"""Names written the Turkish way find the person registered in Arabic through the API:
Turkish (and Bosnian, Albanian) writes an initial خ as h (Hatice, Halit, Hızır for
خديجة, خالد, خضر), so the name as written shares no blocking key with the person's. The
search fetches the reading's key as a weak key; nothing stored changes.

Turkey holds more Syrians than any other country; a relative there writes the names
as Turkish sounds them.
"""

from __future__ import annotations

from tests.api.helpers import match_results, register, site


def test_turkish_h_for_kh_finds_the_person_registered_in_arabic(client):
    """On the code before, each of these enquiries was offered nobody at all."""
    camp = site(client, "Camp A")
    khadija = register(client, camp, given_name="خديجة", family_name="الأحمد", sex="f")
    khalid = register(client, camp, given_name="خالد", family_name="الحسن", sex="m")
    khidr = register(client, camp, given_name="خضر", family_name="العلي", sex="m")
    # Namesakes a reading of h as kh must not bring first: Hadia, Haidar, Hala.
    for given, family, sex in [("هادية", "الأحمد", "f"), ("حيدر", "العلي", "m"),
                               ("هالة", "الحسن", "f"), ("غسان", "العلي", "m")]:
        register(client, camp, given_name=given, family_name=family, sex=sex)
    for name, person in [("Hatice", khadija), ("Halit", khalid), ("Hızır", khidr)]:
        found = match_results(client, name)
        assert found, name
        assert found[0]["person"]["id"] == person["id"], name
