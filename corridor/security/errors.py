"""Security errors. Like corridor.errors they know nothing of HTTP."""

from __future__ import annotations

from datetime import timedelta

from corridor.errors import CorridorError, Forbidden, Unauthenticated
from corridor.text import N_


class InvalidCredentials(CorridorError):
    """Unknown user, wrong password or wrong code: one message for all of them."""

    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__(N_("The user name, password or code is not correct"))


class Throttled(CorridorError):
    """Too many attempts; try again after ``retry_after``."""

    code = "throttled"

    def __init__(self, retry_after: timedelta, message: str | None = None) -> None:
        super().__init__(message or N_("Too many attempts; try again later"))
        self.retry_after = retry_after


class KeyUnavailable(CorridorError):
    """A field cannot be decrypted: its site key was destroyed or is unknown."""

    code = "key_unavailable"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or N_("The key for this data is not available"))


class AuthorisationFileInvalid(CorridorError):
    """The authorisation matrix data file breaks its rules (every problem is listed)."""

    code = "authorisation_file_invalid"


class DecryptionFailed(CorridorError):
    """A ciphertext was altered, moved to another site or field, or is not a token."""

    code = "decryption_failed"

    def __init__(self, message: str = "The encrypted value cannot be read") -> None:
        super().__init__(message)


class PasswordChangeRequired(Forbidden):
    """The caller signed in with a one-time password an administrator set: nothing but
    the change of password until they choose their own (``AccountService.resolve``)."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "Your password was reset by an administrator: choose a new password "
                "before anything else"
            )
        )


class OneTimePasswordExpired(Unauthenticated):
    """An administrator's one-time password used after its time ran out
    (``Settings.one_time_password_hours``): it signs in no more."""

    code = "one_time_password_expired"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "This one-time password has expired: ask an administrator to reset your "
                "password again"
            )
        )
