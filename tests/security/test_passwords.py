"""PROTECTION.md 12: argon2id at or above ASVS minimums; unknown user = wrong password."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, Type

from corridor.security import passwords
from corridor.security.errors import InvalidCredentials
from corridor.security.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    verify_password,
)


@pytest.fixture(autouse=True)
def _production_hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests are of the production parameters, which the suite otherwise lowers
    (tests/conftest.py)."""
    monkeypatch.setattr(passwords, "_HASHER", passwords.PRODUCTION_HASHER)
    passwords._dummy_hash.cache_clear()
    yield
    passwords._dummy_hash.cache_clear()


def _params(encoded: str) -> dict[str, int]:
    # $argon2id$v=19$m=65536,t=3,p=4$salt$hash
    fields = encoded.split("$")[3]
    return {k: int(v) for k, v in (p.split("=") for p in fields.split(","))}


def test_protection_12_hash_prefix_is_argon2id_with_asvs_parameters_or_stronger():
    encoded = hash_password("correct horse battery staple")
    assert encoded.startswith("$argon2id$v=19$")
    p = _params(encoded)
    assert p["m"] >= 19 * 1024 and p["t"] >= 2 and p["p"] >= 1
    assert (p["m"], p["t"], p["p"]) == (
        passwords.MEMORY_KIB,
        passwords.TIME_COST,
        passwords.PARALLELISM,
    )


def test_salts_differ_and_verify_checks_the_password():
    a, b = hash_password("pw one two three"), hash_password("pw one two three")
    assert a != b
    assert verify_password(a, "pw one two three")
    assert not verify_password(a, "pw one two three ")
    assert not verify_password("not a hash", "pw one two three")


def test_weaker_or_older_hashes_need_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID)
    assert needs_rehash(weak.hash("x"))
    argon2i = PasswordHasher(type=Type.I)
    assert needs_rehash(argon2i.hash("x"))
    assert not needs_rehash(hash_password("x"))
    assert needs_rehash("garbage")


def test_unknown_user_and_wrong_password_give_the_same_answer():
    stored = hash_password("the right password")
    assert check_password(None, "anything") is False
    assert check_password(stored, "the wrong password") is False
    assert check_password(stored, "the right password") is True
    # One error for both cases: nothing in it says which.
    assert str(InvalidCredentials()) == str(InvalidCredentials())
    assert InvalidCredentials().code == "invalid_credentials"


def test_unknown_user_costs_as_much_as_a_wrong_password(monkeypatch):
    """Both paths run exactly one argon2id verification with the same parameters (checked
    by what runs, not by timing: timings belong in benchmarks)."""
    stored = hash_password("the right password")
    calls: list[str] = []
    real = passwords.verify_password

    def spy(stored_hash: str, password: str) -> bool:
        calls.append(_params(stored_hash))
        return real(stored_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    assert check_password(None, "guess") is False
    assert check_password(stored, "guess") is False
    assert calls == [_params(stored), _params(stored)]
