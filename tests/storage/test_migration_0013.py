"""Migration 0013 moves an enquirer's name, contact and location and the enquiry's note
into ``tracing_enquiries.sealed`` as plain JSON, which reads as it is until ``corridor
keys seal`` seals it under the tracing key; ``site_keys`` loses its foreign key to sites
so that the tracing key can live there. Downgrading puts plain values back."""

from __future__ import annotations

from sqlalchemy import inspect, text

from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.storage.migrate import current_revision, head_revision, upgrade
from tests.storage.steps import downgrade_to

# The tracing key's name, as `corridor keys destroy --site tracing` takes it.
TRACING_KEY = "tracing"
NOW = "2019-03-10 08:00:00+00:00"



ENQUIRIES_AT_0012 = (
    "INSERT INTO tracing_enquiries (id, enquirer_name, enquirer_contact, "
    "enquirer_relationship, enquirer_location, enquirer_country, note, created_at, "
    "anonymised_at) VALUES "
    "('e1', 'Amira Haddad', '+49 151 2345', 'mother', 'Berlin', 'DEU', 'after 6pm', "
    ":now, NULL), "
    "('e2', '', '', 'sibling', '', 'TUR', NULL, :now, :now)"
)
CASE_AT_0012 = (
    "INSERT INTO tracing_cases (id, enquiry_id, state, enquirer_is, given_name, "
    "alternate_names, birth_year_tolerance, relatives_names, created_at, updated_at) "
    "VALUES ('c1', 'e1', 'open', 'mother', 'Yusuf', '[]', 0, '[]', :now, :now)"
)


def test_0013_moves_enquirers_then_keys_seal_seals_them_and_it_downgrades(database):
    downgrade_to(database, "0012", ENQUIRIES_AT_0012, CASE_AT_0012, now=NOW)
    columns = {c["name"] for c in inspect(database.engine).get_columns("tracing_enquiries")}
    assert {"enquirer_name", "note"} <= columns and "sealed" not in columns
    upgrade(database)
    assert current_revision(database) == head_revision()
    columns = {c["name"] for c in inspect(database.engine).get_columns("tracing_enquiries")}
    assert "sealed" in columns
    assert not {"enquirer_name", "enquirer_contact", "enquirer_location", "note"} & columns
    assert inspect(database.engine).get_foreign_keys("site_keys") == []
    with database.read() as conn:
        rows = dict(conn.execute(text("SELECT id, sealed FROM tracing_enquiries")).all())
    assert rows["e2"] is None  # anonymised: nothing to keep
    assert "Amira Haddad" in rows["e1"] and not rows["e1"].startswith("enc:")

    svc = Services(database, master=MasterKey.generate())
    shown = svc.tracing.views.enquiry("e1")
    assert shown["enquirer"] == {
        "name": "Amira Haddad",
        "contact": "+49 151 2345",
        "relationship": "mother",
        "location": "Berlin",
        "country": "DEU",
        "unavailable": False,
    }
    assert shown["note"] == "after 6pm" and shown["cases"][0]["sought"]["given_name"] == "Yusuf"
    assert svc.tracing.views.enquiry("e2")["enquirer"]["name"] == ""
    assert svc.keys.count_plaintext() == 1
    assert svc.keys.seal_plaintext("cli:test") == 1
    assert svc.keys.count_plaintext() == 0
    with database.read() as conn:
        sealed = conn.execute(text("SELECT sealed FROM tracing_enquiries WHERE id = 'e1'")).scalar()
        scopes = set(conn.execute(text("SELECT site_id FROM site_keys")).scalars())
    assert sealed.startswith("enc:v1:") and "Amira" not in sealed and scopes == {TRACING_KEY}
    assert svc.tracing.views.enquiry("e1")["enquirer"]["name"] == "Amira Haddad"
    listed = svc.tracing.views.enquiries()["items"]  # (e2 has no case: not listed)
    assert [i["enquirer_name"] for i in listed] == ["Amira Haddad"]

    # Downgrading: a sealed value cannot be opened without the key and comes back empty;
    # a value still plain comes back as it was.
    with database.transaction() as conn:
        conn.execute(text("UPDATE tracing_enquiries SET sealed = NULL WHERE id = 'e2'"))
        conn.execute(
            text(
                "INSERT INTO tracing_enquiries (id, sealed, enquirer_relationship, created_at, "
                "legal_hold) VALUES ('e3', :plain, 'father', :now, false)"
            ),
            {
                "now": NOW,
                "plain": '{"name":"Omar","contact":"+90 5","location":"Gaziantep","note":null}',
            },
        )
    downgrade_to(database, "0012", now=NOW)
    with database.read() as conn:
        back = {
            r.id: (r.enquirer_name, r.enquirer_contact, r.enquirer_location, r.note)
            for r in conn.execute(text("SELECT * FROM tracing_enquiries"))
        }
        keys = conn.execute(text("SELECT count(*) FROM site_keys")).scalar()
    assert back == {
        "e1": ("", "", "", None),
        "e2": ("", "", "", None),
        "e3": ("Omar", "+90 5", "Gaziantep", None),
    }
    assert keys == 0  # the tracing key's rows go: the foreign key is back
    assert inspect(database.engine).get_foreign_keys("site_keys")[0]["referred_table"] == "sites"
    upgrade(database)
    assert current_revision(database) == head_revision()
    with database.read() as conn:
        again = conn.execute(text("SELECT sealed FROM tracing_enquiries WHERE id = 'e3'")).scalar()
    assert '"Omar"' in again
