"""Identifiers: globally unique ids and short registration numbers.

Every person gets a UUIDv7 (time-ordered, so sites can create ids offline and later
sync without collisions) and a short registration number with a check character for a
wristband or card.

>>> check_char("ABCD2345")
'D'
>>> normalise_registration_number("abcd-2345-d")
'ABCD2345D'
>>> normalise_registration_number(" corridor:abcd2345d\\t")  # as a scanner types it
'ABCD2345D'
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid

from corridor.text import N_

# Crockford's base 32: no I, L, O, U, so a number read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
CHECK_ALPHABET = ALPHABET + "*~$=U"
# Letters people write for the ones Crockford leaves out.
_READ_AS = {"O": "0", "I": "1", "L": "1"}
BODY_LENGTH = 8
# What a wristband's QR code holds before the number, so that a scan says whose code it
# is; search and check-in accept a number with or without it (docs/web.md, "Printing").
SCAN_PREFIX = "CORRIDOR:"


_uuid_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """Return a new UUIDv7 string: 48-bit millisecond time, a 12-bit counter, random bits.

    Ids made by one process are strictly increasing (the counter orders ids of the same
    millisecond), so sorting by id gives creation order.
    """
    global _last_ms, _counter
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def check_char(body: str) -> str:
    """Crockford's check symbol: the body's value modulo 37.

    37 is prime and larger than the alphabet, so every single wrong character and every
    swap of two neighbours changes it. Values 32-36 use the symbols ``*~$=U``.
    """
    value = 0
    for ch in body:
        value = value * 32 + _VALUE[ch]
    return CHECK_ALPHABET[value % 37]


def new_registration_number(rng: secrets.SystemRandom | None = None) -> str:
    """A random 8-character body plus its check symbol, e.g. ``K7M4Q2XA9``.

    Bodies whose check would be one of the symbols ``*~$=U`` are drawn again, so that
    every number on a wristband is letters and digits only.
    """
    while True:
        if rng is not None:
            body = "".join(rng.choice(ALPHABET) for _ in range(BODY_LENGTH))
        else:  # one read of the system's randomness: 5 bits a character
            bits = int.from_bytes(os.urandom(5), "big")
            body = "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(BODY_LENGTH))
        check = check_char(body)
        if check in ALPHABET:
            return body + check


def format_registration_number(number: str) -> str:
    """Group for reading aloud: ``K7M4-Q2XA-9``."""
    return f"{number[:4]}-{number[4:8]}-{number[8:]}"


def scan_payload(number: str) -> str:
    """What a QR code holds for a registration number (as stored or as shown): the
    prefix, then the bare number, in QR's alphanumeric mode (upper case, digits, colon).

    >>> scan_payload("K7M4-Q2XA-9")
    'CORRIDOR:K7M4Q2XA9'
    """
    return SCAN_PREFIX + number.replace("-", "")


def scanned(text: str) -> bool:
    """Whether ``text`` carries the QR code's prefix (any case, any space around it):
    then it is a registration number, even with a wrong character."""
    return "".join(text.split()).upper().startswith(SCAN_PREFIX)


def registration_number_in(text: str) -> str | None:
    """The registration number ``text`` holds, in a field that also takes names (search):
    a scan with the QR code's prefix (InvalidRegistrationNumber if it fails its check), or
    nine characters, dashes and spaces aside, that pass the check; else None.

    >>> registration_number_in("corridor:abcd2345d"), registration_number_in("Hassan")
    ('ABCD2345D', None)
    """
    if scanned(text):
        return normalise_registration_number(text)
    try:
        return normalise_registration_number(text)
    except InvalidRegistrationNumber:
        return None


class InvalidRegistrationNumber(ValueError):
    """A registration number that is malformed or fails its check character."""


def normalise_registration_number(text: str) -> str:
    """Upper-case, drop dashes and white space (a scanner's tab or line end included)
    and the QR code's prefix, read O as 0 and I/L as 1, verify the check.

    Raises InvalidRegistrationNumber with the reason.
    """
    cleaned = "".join(text.split()).upper().removeprefix(SCAN_PREFIX).replace("-", "")
    cleaned = "".join(_READ_AS.get(ch, ch) for ch in cleaned)
    if len(cleaned) != BODY_LENGTH + 1:
        raise InvalidRegistrationNumber(
            N_("must have {n} characters (got {got})", n=BODY_LENGTH + 1, got=len(cleaned))
        )
    bad = sorted({ch for ch in cleaned[:-1] if ch not in _VALUE})
    if cleaned[-1] not in CHECK_ALPHABET:
        bad = sorted({*bad, cleaned[-1]})
    if bad:
        raise InvalidRegistrationNumber(
            N_("contains characters not used in numbers: {chars}", chars="".join(bad))
        )
    if check_char(cleaned[:-1]) != cleaned[-1]:
        raise InvalidRegistrationNumber(N_("check character does not match: a character is wrong"))

    return cleaned
