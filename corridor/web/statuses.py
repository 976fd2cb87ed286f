"""The HTTP status of each error that carries meaning: one table, read by the error
handlers (``errors.py``) and by the pages that show a refusal on their form instead of
the error page (``forms.status_of``), so that both answer it alike."""

from __future__ import annotations

from corridor.errors import (
    Conflict,
    CorridorError,
    Forbidden,
    NotFound,
    ReadOnlyCopy,
    StorageFull,
    TracingAtCentral,
    Unauthenticated,
    ValidationFailed,
)
from corridor.security.errors import InvalidCredentials, KeyUnavailable, Throttled

__all__ = ["STATUS", "status_of"]

STATUS: dict[type[CorridorError], int] = {
    ValidationFailed: 422,
    NotFound: 404,
    Conflict: 409,
    Unauthenticated: 401,
    InvalidCredentials: 401,
    Forbidden: 403,
    Throttled: 429,
    # No master key configured: sensitive fields cannot be sealed (an operator's fix).
    KeyUnavailable: 503,
    # The disk is full (507 Insufficient Storage); the server keeps answering reads.
    StorageFull: 507,
    # ``corridor serve --read-only``: nothing here may change.
    ReadOnlyCopy: 503,
    # A tracing write at a site node: tracing is done at the central (issue 16).
    TracingAtCentral: 409,
}


def status_of(exc: CorridorError) -> int:
    """The status ``exc`` is answered with (400 for an error the table does not name)."""
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
