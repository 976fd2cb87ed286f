"""A read-only copy (``corridor serve --read-only``, ``Settings.read_only``): every
request that would change the registry answers 503 "read-only copy"; reading, signing in
and searching (a POST, so that no name is in a URL) still work."""

from __future__ import annotations

from fastapi import Request

from corridor.errors import ReadOnlyCopy

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that change nothing of the registry: signing in and out, the page language,
# searches.
READS_BY_POST = frozenset(
    {
        "/api/auth/login",
        "/api/auth/second-factor",
        "/api/auth/logout",
        "/login",
        "/login/code",
        "/logout",
        "/language",
        "/search",
        "/register/similar",
        "/api/persons/match",
        "/api/persons/search",
    }
)


def is_write(method: str, path: str) -> bool:
    """Whether a request to ``path`` with ``method`` would change the registry."""
    return method.upper() not in SAFE_METHODS and path not in READS_BY_POST


async def refuse_writes(request: Request) -> None:
    """A dependency of every route: in a read-only copy, a change is refused."""
    if request.app.state.settings.read_only and is_write(request.method, request.url.path):
        raise ReadOnlyCopy()
