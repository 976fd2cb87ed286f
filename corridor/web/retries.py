"""Safe retries for every write: ``Retry``, the request's idempotency key, and
``Retry.run``, which does the write once per key and replays the first answer after.

The key comes from the ``Idempotency-Key`` header, or from a form's hidden
``idempotency_key`` field (every page form carries one, made when the form is rendered).
A request without a key is done as before. The body is hashed canonically (JSON with
sorted keys; a form's fields sorted, less its CSRF token and the key itself): the same key
with another body or another route is a 409 (docs/api.md, "Safe retries").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from starlette.datastructures import UploadFile

from corridor.errors import Conflict
from corridor.services import Services
from corridor.services.base import AdminAudit, AuditHook
from corridor.services.idempotency import (
    Attempt,
    NotKept,
    Ref,
    RefOf,
    Stored,
    canonical_hash,
    check_key,
)
from corridor.services.protection.accounts import Caller
from corridor.text import N_
from corridor.web.csrf import FIELD as CSRF_FIELD
from corridor.web.deps import services

__all__ = [
    "KEY_FIELD",
    "KEY_HEADER",
    "REPLAYED_HEADER",
    "Guard",
    "Retried",
    "Retry",
    "admin_keyed",
    "key_only",
    "shown_again",
]

KEY_HEADER = "idempotency-key"
KEY_FIELD = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
# How long a replay waits for the first write's answer (``keep``'s summary, stored just
# after that write's commit in a transaction of its own), polling every ``KEPT_POLL_S``.
KEPT_WAIT_S = 10.0
KEPT_POLL_S = 0.05
T = TypeVar("T")
# Fields never hashed into the key's stored row (a fast hash of a password is a guess
# away from it): their value is replaced by this before the body is hashed.
SECRET_FIELDS = frozenset({"password", "current_password", "new_password", "passphrase"})
WITHHELD = "<withheld>"
# Wraps a write's audit hook so that the key joins the write's transaction.
Guard = Callable[[AuditHook], AuditHook]


def _unchanged(hook: AuditHook) -> AuditHook:
    return hook


class Retry:
    """The key (or none) of one write request, and what it hashes to."""

    def __init__(
        self,
        svc: Services,
        response: Response,
        key: str | None,
        request: str,
        body_hash: str,
        status: int,
    ) -> None:
        self.svc = svc
        self.response = response
        self.key = key
        self.request = request
        self.body_hash = body_hash
        self.status = status
        self.replayed = False

    def run(
        self,
        who: Caller,
        write: Callable[[Guard], T],
        replay: Callable[[Stored], T],
        ref: RefOf | None = None,
        keep: Callable[[T], Ref] | None = None,
    ) -> T:
        """``write(guard)`` once for this key; ``guard`` must wrap the audit hook the
        write passes to its service. Sent again (or by a racer that lost), ``replay``
        answers from the stored ids; ``keep`` adds to them, after the commit, a summary
        of the answer that the ids cannot give back (an import's counts, a merge's
        answer). A replay that needs that summary (``Stored.kept``) while the first
        write is between its commit and keeping it waits for it; if it never comes (the
        server stopped in between), a 409 says the write was done, and nothing is done
        again."""
        if self.key is None:
            return write(_unchanged)
        store = self.svc.idempotency
        user = who.principal.user_id
        attempt = Attempt(user, self.key, self.request, self.body_hash, self.status)
        done = store.find(attempt)
        if done is not None:
            return self._replay(replay, done, attempt)
        try:
            answer = write(lambda hook: store.guard(attempt, hook, ref))
        except Exception:
            # Lost a race with the same key (the key's insert, or the state the winner
            # left, refused this write): answer what the winner did.
            done = store.find(attempt)
            if done is None:
                raise
            return self._replay(replay, done, attempt)
        if keep is not None:
            store.remember(attempt, keep(answer))
        return answer

    def _replay(self, replay: Callable[[Stored], T], done: Stored, attempt: Attempt) -> T:
        deadline = time.monotonic() + KEPT_WAIT_S
        while True:
            try:
                answer = replay(done)
                break
            except NotKept:
                # The first write committed; its answer is kept in a moment (a racer's
                # winner), or never (the server stopped between the two).
                if done.waited:
                    lost = N_(
                        "This request was carried out already, but its answer was lost "
                        "when the server stopped: it was not done again; read the record "
                        "to see the result"
                    )
                    raise Conflict(lost, field="Idempotency-Key") from None
                if time.monotonic() >= deadline:
                    done.waited = True  # a last try: with what the replay has without it
                    continue
                time.sleep(KEPT_POLL_S)
                done = self.svc.idempotency.find(attempt) or done
        self.replayed = True
        self.response.headers[REPLAYED_HEADER] = "true"
        return answer


def _nobody(_conn: Any, _person_ids: list[str]) -> None:
    """No audit event of its own: the write is audited elsewhere, or is not a person's."""


def key_only(guard: Guard) -> AuditHook:
    """A hook that only writes the key's row, for a write audited otherwise (an API
    token's issue)."""
    return guard(_nobody)


def admin_keyed(guard: Guard, hook: AdminAudit) -> AdminAudit:
    """An administrator's audit hook (``admin_hook``), preceded inside the write's
    transaction by the key's row, as ``guard`` does for a person's write."""
    keyed = guard(_nobody)

    def append(conn: Any, what: str, site_id: str | None = None) -> None:
        keyed(conn, [])
        hook(conn, what, site_id)

    return append


def shown_again(_: Stored) -> None:
    """The replay of a page's write: nothing to do; the page it leads to shows what the
    first one did."""


def _without_secrets(value: Any) -> Any:
    """A JSON body with every secret field's value replaced (``SECRET_FIELDS``)."""
    if isinstance(value, dict):
        return {
            k: WITHHELD if k in SECRET_FIELDS else _without_secrets(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


async def _payload(request: Request) -> tuple[Any, str | None]:
    """The body as a canonical JSON value, and the key a form carried."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        fields: list[list[str]] = []
        key = None
        for name, value in form.multi_items():
            if name == KEY_FIELD and isinstance(value, str):
                key = value
            elif name == CSRF_FIELD:
                continue
            elif name in SECRET_FIELDS:
                fields.append([name, WITHHELD])
            elif isinstance(value, UploadFile):
                content = await value.read()
                await value.seek(0)
                fields.append([name, canonical_hash(content.hex())])
            else:
                fields.append([name, value])
        return sorted(fields), key
    raw = await request.body()
    if not raw:
        return None, None
    try:
        return _without_secrets(json.loads(raw)), None
    except ValueError:
        return raw.hex(), None


async def retry_of(
    request: Request,
    response: Response,
    svc: Annotated[Services, Depends(services)],
    # The header Idempotency-Key, by FastAPI's own reading of the name (idempotency-key;
    # header names are case-insensitive). No alias: FastAPI hides pydantic's warning about
    # an alias inside warnings.catch_warnings(), which is not thread-safe, and with eight
    # requests at once the warning escaped from a request thread
    # (tests/api/test_concurrent_writes.py, once).
    idempotency_key: Annotated[
        str | None,
        Header(
            description="Idempotency-Key: any unique string (a UUIDv7): sent again, the write "
            "is not repeated and the first answer comes back; with another body, 409.",
        ),
    ] = None,
) -> Retry:
    body, form_key = await _payload(request)
    # The query is part of the request (an import's options travel in it).
    payload = {"query": sorted(request.query_params.multi_items()), "body": body}
    sent = idempotency_key or form_key or None
    key = check_key(sent.strip()) if sent is not None and sent.strip() else None
    route = request.scope.get("route")
    status = int(getattr(route, "status_code", None) or 200)
    return Retry(
        svc,
        response,
        key,
        f"{request.method} {request.url.path}",
        canonical_hash(payload),
        status,
    )


Retried = Annotated[Retry, Depends(retry_of)]
