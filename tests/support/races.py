"""Officers changing one record at the same instant: the same requests sent by N threads
released together behind a barrier, each through its own client (in-process apps with
their own Database, or separate server processes). Shared by the in-process tests (both
databases) and the two-server-process test on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tests.api.helpers import register
from tests.api.test_manifests import household, manifest
from tests.api.test_tracing import enquire

Post = Callable[[str, dict[str, Any]], Any]  # (path, json) -> response with status_code
T = TypeVar("T")


def together(*calls: Callable[[], T]) -> list[T]:
    """Run the calls at the same instant on threads (released behind a barrier); their
    results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], T]) -> None:
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def race(posts: Sequence[Post], path: str, body: dict[str, Any] | None = None) -> list[int]:
    """Send ``path`` once through each of ``posts`` at the same instant; the statuses."""
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def one(post: Post) -> None:
        try:
            barrier.wait(timeout=30)
            status = post(path, body or {}).status_code
            with lock:
                statuses.append(status)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(p,)) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    return sorted(statuses)


def one_change(statuses: list[int]) -> bool:
    """Exactly one request made the change; every other was told 409; no 5xx."""
    return statuses.count(200) == 1 and statuses.count(409) == len(statuses) - 1


def a_dispatched_manifest_race(
    setup: Any, posts: Sequence[Post], exit_point: str, camp: str
) -> dict[str, Any]:
    """A manifest of a household of three, dispatched by every officer at once, then
    received by every officer at once. Returns the statuses and the manifest's persons."""
    ids = household(setup, exit_point)
    m = manifest(setup, exit_point, camp)
    r = setup.post(f"/api/manifests/{m}/persons", json={"person_ids": ids})
    assert r.status_code == 200, r.text
    dispatched = race(posts, f"/api/manifests/{m}/dispatch")
    received = race(posts, f"/api/manifests/{m}/receive")
    return {"dispatch": dispatched, "receive": received, "person_ids": ids, "manifest": m}


GIVEN = ["Omar", "Yusuf", "Bilal", "Tariq", "Samir", "Nabil", "Walid", "Karim", "Adel", "Fadi"]
FAMILY = ["Haddad", "Khatib", "Masri", "Nasser", "Saleh"]
_seen: list[int] = []


def a_disclosure_race(setup: Any, posts: Sequence[Post], camp: str) -> dict[str, Any]:
    """A verified case (a person of a name not used before, enquired about and
    confirmed), its disclosure decided by every officer at once."""
    n = len(_seen)
    _seen.append(n)
    given, family = GIVEN[n % len(GIVEN)], FAMILY[(n // len(GIVEN)) % len(FAMILY)]
    person = register(
        setup,
        camp,
        given_name=given,
        father_name="Ahmad",
        family_name=family,
        sex="m",
        estimated_age=30 + n % 7,
    )
    sought = {"given_name": given, "father_name": "Ahmad", "family_name": family, "sex": "m",
              "age": 30 + n % 7, "enquirer_is": "sibling"}  # fmt: skip
    enquiry = enquire(setup, sought)
    [match] = [m for m in enquiry["cases"][0]["matches"] if m["person"]["id"] == person["id"]]
    r = setup.post(f"/api/tracing/matches/{match['id']}/confirm", json={"reason": "photo"})
    assert r.status_code == 200, r.text
    case = r.json()
    body = {"decision": "agreed", "reason": "agreed in person"}
    statuses = race(posts, f"/api/tracing/cases/{case['id']}/disclosure", body)
    return {"disclosure": statuses, "case_id": case["id"], "person_id": person["id"]}


__all__ = ["a_disclosure_race", "a_dispatched_manifest_race", "one_change", "race", "register"]
