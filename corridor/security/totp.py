"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps) with replay protection.

``verify`` accepts the code of the current step or of one step either side (clock drift),
and returns the step it matched. The caller stores that step (``users.totp_last_step``)
and passes it back next time: a code for that step or an earlier one is refused, so a
code that was seen once (shoulder-surfed, phished, logged) cannot be used again.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

__all__ = [
    "DIGITS",
    "STEP_SECONDS",
    "WINDOW",
    "code_at",
    "new_secret",
    "provisioning_uri",
    "step_at",
    "verify",
]

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now


def new_secret() -> str:
    """A fresh random base32 secret (160 bits).

    >>> len(new_secret())
    32
    """
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str, issuer: str = "Corridor") -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code.

    >>> provisioning_uri("JBSWY3DPEHPK3PXPJBSWY3DP", "amal", issuer="Corridor")
    'otpauth://totp/Corridor:amal?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Corridor'
    """
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def step_at(moment: datetime) -> int:
    """The TOTP time step that contains ``moment``."""
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The code for one time step (tests and enrolment checks use it)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(step * STEP_SECONDS)


def verify(secret: str, code: str, now: datetime, last_used_step: int | None) -> int | None:
    """The step ``code`` belongs to, or ``None`` when it is wrong, stale or a replay.

    Every candidate step is compared in constant time, whatever matches.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = step_at(now)
    accepted: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        matches = hmac.compare_digest(code_at(secret, step), code)
        fresh = last_used_step is None or step > last_used_step
        if matches and fresh and accepted is None:
            accepted = step
    return accepted
