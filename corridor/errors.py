"""Errors that carry meaning. They know nothing of HTTP; web/errors.py renders them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a dotted field path) and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class CorridorError(Exception):
    """Base of every error a user can cause. ``code`` is stable; ``message`` is for people."""

    code = "error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class ValidationFailed(CorridorError):
    """The input breaks one or more rules; ``problems`` lists every one of them."""

    code = "invalid"

    def __init__(self, problems: list[Problem], message: str = "The input is not valid") -> None:
        super().__init__(message, problems)


class NotFound(CorridorError):
    """The thing asked for does not exist (or is out of the caller's scope)."""

    code = "not_found"

    def __init__(self, what: str, field: str | None = None) -> None:
        super().__init__(
            f"{what} not found", [Problem(field, f"{what} not found")] if field else []
        )


class Conflict(CorridorError):
    """The request clashes with the current state (already dispatched, already received...)."""

    code = "conflict"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, [Problem(field, message)] if field else [])


class Unauthenticated(CorridorError):
    """No valid session or token, or the second factor is still missing."""

    code = "unauthenticated"


class Forbidden(CorridorError):
    """The caller's roles do not allow this action (never used to hide a record: out of
    scope records are NotFound)."""

    code = "forbidden"


def require(problems: list[Problem]) -> None:
    """Raise ValidationFailed when ``problems`` is not empty."""
    if problems:
        raise ValidationFailed(problems)
