"""Password hashing with argon2id.

Parameters: memory 64 MiB, 3 passes, 4 lanes (argon2-cffi's RFC 9106 "low memory"
profile). That is above the OWASP ASVS 5.0 / OWASP Password Storage minimum for argon2id
(19 MiB, 2 passes, 1 lane). ``needs_rehash`` reports hashes made with weaker settings so
that a successful login can upgrade them.

Unknown users cost the same as known ones: ``check_password(None, password)`` verifies
the password against a fixed dummy hash made with the same parameters, so the time taken
and the answer (``False``) cannot tell an unknown user from a wrong password.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "MEMORY_KIB",
    "PARALLELISM",
    "TIME_COST",
    "check_password",
    "hash_password",
    "needs_rehash",
    "prepare",
    "verify_password",
]

MEMORY_KIB = 65536  # 64 MiB; ASVS minimum is 19 MiB
TIME_COST = 3  # ASVS minimum is 2
PARALLELISM = 4  # ASVS minimum is 1

PRODUCTION_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)


# The hasher every hash and check uses. Only the test suite replaces it, with a cheaper
# one for the thousands of users its tests make (tests/conftest.py); the tests of these
# parameters put this one back.
_HASHER = PRODUCTION_HASHER


def hash_password(password: str) -> str:
    """An encoded argon2id hash with a fresh random salt.

    >>> hash_password("correct horse").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    True
    """
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; a malformed hash is a mismatch."""
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other (older, weaker) parameters or another type."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True


@functools.cache
def _dummy_hash() -> str:
    # Built on first use, not at import; same parameters as real hashes so it costs the same.
    return _HASHER.hash("corridor: no such user")


def prepare() -> None:
    """Build the dummy hash now (at app start) so the first unknown user costs no extra."""
    _dummy_hash()


def check_password(stored_hash: str | None, password: str) -> bool:
    """The login check: ``stored_hash`` is ``None`` when no such user exists.

    Both branches run one full argon2id verification, so an unknown user and a wrong
    password take the same time and give the same answer.
    """
    if stored_hash is None:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(stored_hash, password)
