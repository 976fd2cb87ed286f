"""PROTECTION.md 12 and 14: login throttling and lockout; anti-enumeration with an alert."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from corridor.security.alerts import open_alerts
from corridor.security.passwords import check_password
from corridor.security.ratelimit import (
    LOGIN_THROTTLE,
    Limit,
    LoginGuard,
    LookupGuard,
    RateLimiter,
)
from corridor.security.tables import users
from tests.security.conftest import add_user

PER_MINUTE = Limit("test.hits", 3, timedelta(minutes=1))


def test_the_window_slides_with_the_clock(secdb, clock):
    limiter = RateLimiter(clock)
    with secdb.transaction() as conn:
        for seconds in (30, 20, 0):  # events at t=0, t=30, t=50
            assert limiter.hit(conn, PER_MINUTE, "k").allowed
            clock.advance(seconds=seconds)
        refused = limiter.hit(conn, PER_MINUTE, "k")
        assert not refused.allowed and refused.count == 3
        assert refused.retry_after == timedelta(seconds=60 - 50)
        clock.advance(seconds=11)  # t=61: the event at t=0 has left the window
        assert limiter.hit(conn, PER_MINUTE, "k").allowed
        assert not limiter.hit(conn, PER_MINUTE, "k").allowed  # t=61: 30, 50, 61 in window
        assert limiter.hit(conn, PER_MINUTE, "other-key").allowed


def test_counts_are_shared_through_the_table(secdb, clock):
    # Two limiters stand for two processes: they see one count.
    first, second = RateLimiter(clock), RateLimiter(clock)
    with secdb.transaction() as conn:
        for _ in range(3):
            first.hit(conn, PER_MINUTE, "k")
    with secdb.transaction() as conn:
        assert not second.hit(conn, PER_MINUTE, "k").allowed
        second.reset(conn, PER_MINUTE, "k")
        assert first.hit(conn, PER_MINUTE, "k").allowed
        clock.advance(hours=2)
        assert second.prune(conn, timedelta(hours=1)) == 1


def login(db, guard: LoginGuard, username: str, password: str) -> str:
    """A login attempt as the web layer will run it; returns the outcome."""
    with db.transaction() as conn:
        decision = guard.check(conn, username)
        if not decision.allowed:
            return "throttled"
        row = conn.execute(
            select(users.c.id, users.c.password_hash).where(users.c.username == username)
        ).first()
        if check_password(row.password_hash if row else None, password):
            guard.succeeded(conn, username, row.id)
            return "ok"
        guard.failed(conn, username, row.id if row else None)
        return "invalid"


def test_the_tenth_bad_password_is_throttled(secdb, clock):
    guard = LoginGuard(clock)
    with secdb.transaction() as conn:
        add_user(conn, "u1", "amal")
    outcomes = [login(secdb, guard, "amal", f"wrong {i}") for i in range(10)]
    assert outcomes == ["invalid"] * 9 + ["throttled"]
    # Even the right password is refused while throttled.
    assert login(secdb, guard, "amal", "a long test password") == "throttled"
    clock.advance(minutes=16)
    assert login(secdb, guard, "amal", "a long test password") == "ok"
    with secdb.read() as conn:
        assert conn.execute(select(users.c.failed_logins)).scalar_one() == 0


def test_unknown_user_names_are_throttled_the_same_way(secdb, clock):
    guard = LoginGuard(clock)
    outcomes = [login(secdb, guard, "nobody", f"wrong {i}") for i in range(10)]
    assert outcomes == ["invalid"] * 9 + ["throttled"]
    assert LOGIN_THROTTLE.max_events == 9


def test_user_names_are_compared_case_blind(secdb, clock):
    guard = LoginGuard(clock)
    with secdb.transaction() as conn:
        for name in ["Amal", "AMAL ", "amal"] * 3:
            guard.failed(conn, name, None)
        assert not guard.check(conn, "aMaL").allowed


def test_lockout_after_repeated_throttled_rounds(secdb, clock):
    guard = LoginGuard(
        clock,
        throttle=Limit("t", 3, timedelta(minutes=15)),
        lockout=Limit("l", 5, timedelta(hours=24)),
    )
    with secdb.transaction() as conn:
        add_user(conn, "u1", "amal")
    outcomes = []
    for _ in range(3):
        outcomes += [login(secdb, guard, "amal", "wrong") for _ in range(3)]
        clock.advance(minutes=16)
    assert outcomes.count("invalid") == 5 and outcomes[-1] == "throttled"
    with secdb.read() as conn:
        row = conn.execute(select(users.c.failed_logins, users.c.locked_until)).one()
    assert row.failed_logins == 5
    assert row.locked_until is not None and row.locked_until > clock()
    assert login(secdb, guard, "amal", "a long test password") == "throttled"
    clock.advance(hours=25)
    assert login(secdb, guard, "amal", "a long test password") == "ok"


def test_more_than_n_distinct_lookups_an_hour_is_refused_and_alerted(secdb, clock):
    guard = LookupGuard(clock, Limit("person.lookup", 5, timedelta(hours=1)))
    with secdb.transaction() as conn:
        for i in range(5):
            assert guard.check(conn, "u1", f"p{i}").allowed
            clock.advance(minutes=1)
        assert guard.check(conn, "u1", "p0").allowed  # looking again at the same person
        refused = guard.check(conn, "u1", "p5")  # the N+1st distinct person
        assert not refused.allowed and refused.count == 5
        assert not guard.check(conn, "u1", "p6").allowed
        assert guard.check(conn, "u2", "p5").allowed  # another user has their own count
        alerts = open_alerts(conn, LookupGuard.ALERT_KIND)
    assert len(alerts) == 1  # one alert per window, not one per refusal
    assert alerts[0].user_id == "u1" and "p5" not in alerts[0].detail
    clock.advance(hours=1)
    with secdb.transaction() as conn:
        assert guard.check(conn, "u1", "p7").allowed


def test_persons_shown_at_once_count_all_or_none(secdb, clock):
    """A household or a search's results: every person not seen yet counts; past the
    limit none of them is recorded, so a smaller read still fits afterwards."""
    guard = LookupGuard(clock, Limit("person.lookup", 5, timedelta(hours=1)))
    with secdb.transaction() as conn:
        assert guard.check_all(conn, "u1", ["p0", "p1", "p1"]).allowed  # p1 once
        assert guard.check_all(conn, "u1", ["p0", "p1"]).count == 2  # both seen: free
        refused = guard.check_all(conn, "u1", ["p0", "p2", "p3", "p4", "p5"])
        assert not refused.allowed and refused.count == 2
        assert guard.check_all(conn, "u1", ["p2", "p3", "p4"]).allowed  # nothing was recorded
        assert not guard.check_all(conn, "u1", ["p5"]).allowed
        assert guard.check_all(conn, "u1", []).allowed
        assert len(open_alerts(conn, LookupGuard.ALERT_KIND)) == 1


def test_concurrent_lookups_cannot_overshoot_the_limit(secdb, clock):
    guard = LookupGuard(clock, Limit("person.lookup", 5, timedelta(hours=1)))
    results: list[bool] = []
    lock = threading.Lock()

    def look(i: int) -> None:
        with secdb.transaction() as conn:
            allowed = guard.check(conn, "u1", f"p{i}").allowed
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=look, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 5
