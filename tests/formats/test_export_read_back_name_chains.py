"""Corridor's own export, in every format it can read back, of persons registered with
every shape of name chain (a father's and a grandfather's name, no family name, a
family name of two words, an original-script chain of each length): read back into the
same registry, each person is "unchanged" and nothing is written. Before, PFIF (which
has no field for a father's or grandfather's name: they are in ``full_name`` only) read
the full name back as an alternate name, counted "updated"."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.schemas import PersonIn
from corridor.security.roles import Role
from tests.api.helpers import work_at
from tests.conftest import make_client
from tests.formats.helpers import make_site
from tests.formats.helpers import run as run_service
from tests.formats.test_every_format_every_entry import BOTH, SAMPLES, _counts, _export

CHAINS: list[dict[str, str]] = [
    {"given_name": "Hassan", "father_name": "Hamid", "grandfather_name": "Sarir",
     "family_name": "Darwish"},
    {"given_name": "Amina", "father_name": "Khalil", "family_name": "Mousa"},
    {"given_name": "Omar", "father_name": "Said", "grandfather_name": "Ali"},
    {"given_name": "Layla", "father_name": "Omar", "family_name": "Al Haddad"},
    {"given_name": "Zahra", "family_name": "Nouri"},
    {"given_name": "Khaled", "father_name": "Nasser", "family_name": "Hamdan",
     "kunya": "Abu Nasser", "alternate_names": ["Khalid Hamdan"]},
    {"given_name": "Yusuf", "father_name": "Idris", "grandfather_name": "Taha",
     "family_name": "Abu Bakr", "given_name_original": "يوسف",
     "father_name_original": "إدريس", "grandfather_name_original": "طه",
     "family_name_original": "أبو بكر"},
    {"given_name": "Mariam", "father_name": "Fadi", "family_name": "Saleh",
     "given_name_original": "مريم", "father_name_original": "فادي",
     "family_name_original": "صالح"},
]


def _register(services: Any, site: str) -> list[str]:
    ids = []
    for chain in CHAINS:
        data = PersonIn.model_validate(
            {
                "site_id": site,
                "consent": {"tracing": True, "share_with": []},
                "purpose": "registration and assistance",
                "legal_basis": "vital_interest",
                "sex": "m",
                **chain,
            }
        )
        person = services.registration.register_person(data, audit=lambda c, i: None)
        ids.append(person["id"])
    return ids


@pytest.mark.parametrize("fmt", BOTH)
def test_every_name_chain_read_back_is_unchanged(fmt, database, services, clock):
    camp = make_site(services)
    _register(services, camp)
    admin = make_client(database, clock)
    officer = make_client(database, clock, roles=(Role.PROTECTION_OFFICER,))
    manager = make_client(database, clock, roles=(Role.SITE_MANAGER,))
    work_at(officer, camp, admin=admin)
    work_at(manager, camp, admin=admin)
    content = _export(database, clock, officer, manager, fmt)
    [sample] = [s for s in SAMPLES.values() if s.fmt == fmt]
    # The import's site key is made before the import looks at a row (none was needed
    # to register these persons, who hold nothing sealed): key material, no record.
    services.registration.vault.prepare(camp)
    before = _counts(database)
    report = run_service(services, fmt, content, sample.name, site_id=camp)
    assert not [p for p in report.problems if p.fatal], report.problems
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(CHAINS)), report
    assert _counts(database) == before
