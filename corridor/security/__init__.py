"""Security building blocks: passwords, TOTP, roles, audit, field encryption, rate limits.

Each concept is one module; import from the module (``corridor.security.audit``). The
tables they use are in ``corridor.security.tables``. None of them knows HTTP: the web
layer calls them and renders their errors (``corridor.security.errors``).
"""

from __future__ import annotations

from corridor.security.errors import (
    AuthorisationFileInvalid,
    DecryptionFailed,
    InvalidCredentials,
    KeyUnavailable,
    Throttled,
)
from corridor.security.roles import Role, allowed, redact, visible_fields

__all__ = [
    "AuthorisationFileInvalid",
    "DecryptionFailed",
    "InvalidCredentials",
    "KeyUnavailable",
    "Role",
    "Throttled",
    "allowed",
    "redact",
    "visible_fields",
]
