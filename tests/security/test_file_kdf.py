"""The passphrase of an export file and of a backup file is stretched at the production
cost (scrypt, n = 2^15, r = 8, p = 1: 32 MiB), whatever cheaper cost the rest of the
suite seals its files at (tests/conftest.py ``_cheap_file_kdf``); and a file opens at
the cost it names, so that the files sealed at either cost open."""

from __future__ import annotations

import io
import json

import pytest

from corridor.security import backup_file, export_file

PRODUCTION = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}
PASSPHRASE = "a long export passphrase"


def test_the_production_cost_is_scrypt_at_32_mib() -> None:
    assert export_file.PRODUCTION_KDF == PRODUCTION
    assert backup_file.PRODUCTION_KDF == PRODUCTION


def test_an_export_file_is_sealed_at_the_production_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cheap = export_file.seal(b"the suite's", PASSPHRASE, {"by": "tests"})
    monkeypatch.setattr(export_file, "KDF", export_file.PRODUCTION_KDF)
    sealed = export_file.seal(b"content", PASSPHRASE, {"by": "tests"})
    kdf = json.loads(sealed)["kdf"]
    assert {k: v for k, v in kdf.items() if k != "salt"} == PRODUCTION
    assert export_file.open_file(sealed, PASSPHRASE) == ({"by": "tests"}, b"content")
    assert export_file.open_file(cheap, PASSPHRASE) == ({"by": "tests"}, b"the suite's")


def test_a_backup_file_is_sealed_at_the_production_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup_file, "KDF", backup_file.PRODUCTION_KDF)
    out = io.BytesIO()
    backup_file.seal(io.BytesIO(b"a backup"), out, PASSPHRASE, {"by": "tests"})
    back = io.BytesIO()
    header = backup_file.open_sealed(io.BytesIO(out.getvalue()), back, PASSPHRASE)
    assert {k: v for k, v in header["kdf"].items() if k != "salt"} == PRODUCTION
    assert back.getvalue() == b"a backup"
