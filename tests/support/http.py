"""httpx's one-request functions (``get``, ``post`` ...) for the tests that talk to real
server processes, without an SSL context built for every request.

``httpx.get(url)`` builds a ``Client`` for the one request, and with it an SSL context
that loads the system's certificates: some 35 ms of CPU on an idle two-core machine, for
a request to ``http://127.0.0.1`` that never uses it. A test polling a starting server
every 0.2 s spent more CPU on that than the server it waited for
(docs/performance.md, "Session 30"). These functions send through one client kept for
the process, with no connection kept alive: every request opens its own connection and
closes it, as ``httpx.get`` does, so a server killed and started again is met afresh.
The client is safe to share between threads (the tests that send from several)."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

_CLIENT = httpx.Client(limits=httpx.Limits(max_connections=None, max_keepalive_connections=0))


def get(url: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.get(url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.post(url, **kwargs)


def put(url: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.put(url, **kwargs)


def patch(url: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.patch(url, **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return _CLIENT.delete(url, **kwargs)
