"""The test clients' requests, in one hop to one kept event loop.

Starlette's ``TestClient`` runs the app in an event loop of another thread (a "portal")
and, outside a ``with`` block, starts that loop (and its thread) for every request; it
then crosses between the threads some eight times a request (events, a stream for the
body, the app's task, each chunk of the answer), each crossing a wake-up of the other
thread. The suite sends a few hundred thousand requests.

``install`` changes two things for the whole suite, nothing of what the app sees but the
loop it runs in:

- every client of the main thread sends through one loop kept for the session, as a
  server does (uvicorn's loop, whose worker threads for the synchronous handlers are
  reused from one request to the next). A client in a ``with`` block keeps its own loop
  and runs the app's lifespan; a client used from another thread (the race and replay
  tests send from several at once) starts a loop per request, as before.
- an HTTP request crosses once: the whole exchange (the ASGI scope, the request's body,
  the answer's start and body) runs as one call in the loop, and the answer comes back
  whole. No test here reads an answer as a stream while the app still writes it.
  WebSocket requests go the way Starlette's client takes them.

``CORRIDOR_TEST_PORTALS=per-request`` leaves Starlette's ways in place
(``benchmarks/bench_test_portals.py`` times the two).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.from_thread
from starlette import testclient

httpx = testclient.httpx
_kept: dict[str, tuple[contextlib.AbstractContextManager[Any], Any]] = {}
_handle_request = testclient._TestClientTransport.handle_request
DEFAULT_PORTS = {"http": 80, "https": 443}


@contextlib.contextmanager
def _portal_factory(self: testclient.TestClient) -> Iterator[anyio.from_thread.BlockingPortal]:
    if self.portal is not None:
        yield self.portal
    elif threading.current_thread() is threading.main_thread():
        key = repr(sorted(self.async_backend.items()))
        if key not in _kept:
            started = anyio.from_thread.start_blocking_portal(**self.async_backend)
            _kept[key] = (started, started.__enter__())
        yield _kept[key][1]
    else:
        with anyio.from_thread.start_blocking_portal(**self.async_backend) as portal:
            yield portal


async def _exchange(transport: Any, request: Any) -> tuple[int, list[Any], bytes]:
    """Run the app on ``request`` in this loop: its status, headers and body."""
    url = request.url
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": unquote(url.path),
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "query_string": url.query,
        "root_path": transport.root_path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.multi_items()],
        "client": transport.client,
        "server": [url.host, url.port or DEFAULT_PORTS.get(url.scheme, 80)],
        "extensions": {"http.response.debug": {}},
        "state": transport.app_state.copy(),
    }
    body = request.read()
    given = False
    answered = anyio.Event()
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await answered.wait()  # as a client that stays until the answer is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert not started, "the answer started twice"
            started.update(message)
        elif message["type"] == "http.response.body":
            assert started, "a body before the answer started"
            if request.method != "HEAD":
                chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                answered.set()

    try:
        await transport.app(scope, receive, send)
    except Exception:
        if transport.raise_server_exceptions:
            raise
    finally:
        answered.set()
    if not started:
        if transport.raise_server_exceptions:
            raise AssertionError("TestClient did not receive any response.")
        return 500, [], b""
    return int(started["status"]), list(started.get("headers", [])), b"".join(chunks)


def _one_hop(self: Any, request: Any) -> Any:
    if request.url.scheme not in DEFAULT_PORTS:  # a WebSocket: Starlette's way
        return _handle_request(self, request)
    with self.portal_factory() as portal:
        status, headers, body = portal.call(_exchange, self, request)
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request)


def install() -> None:
    """Every ``TestClient`` sends in one hop, through the kept loop from the main thread."""
    testclient.TestClient._portal_factory = _portal_factory  # type: ignore[method-assign,assignment]
    testclient._TestClientTransport.handle_request = _one_hop  # type: ignore[method-assign]


def close() -> None:
    """Stop the kept loops (their threads would keep the process from ending)."""
    while _kept:
        _, (started, _portal) = _kept.popitem()
        started.__exit__(None, None, None)
