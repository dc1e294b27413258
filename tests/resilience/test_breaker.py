"""Circuit breakers as pure logic: a clock the tests move, no store."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from tidegate.errors import DependencyError, ErrorKind
from tidegate.resilience.breaker import Breakers, BreakerTransition
from tidegate.spec.resilience import BreakerSpec

API = "api.example.com"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    """A clock that stands still until told to move."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _breakers(
    clock: Clock,
    changes: list[BreakerTransition] | None = None,
    **spec: float,
) -> Breakers:
    settings = BreakerSpec.model_validate(
        {"window": 4, "min_calls": 2, "failure_rate": 0.5, "cool_down": 60.0, **spec}
    )
    return Breakers(
        settings,
        store=None,
        on_change=changes.append if changes is not None else None,
        clock=clock,
    )


def _open(breakers: Breakers, clock: Clock, target: str = API) -> None:
    """Four failures a second apart from T0: the second opens the breaker at T0 + 1 s, the
    others arrive while it is open (calls let through before) and are ignored."""
    for _ in range(4):
        breakers.record(target, ok=False)
        clock.advance(1)
    assert breakers.state(target) == "open"


def test_it_opens_on_the_failure_rate_over_the_sliding_window() -> None:
    clock = Clock()
    breakers = _breakers(clock, min_calls=4)
    # The first failure slides out of the window; three failures in seven calls would be 43 %,
    # under the threshold, but the last four calls (the window) are two in four: 50 % opens.
    for ok in (False, True, True, True, True, False):
        breakers.record(API, ok=ok)
        assert breakers.state(API) == "closed"
    breakers.record(API, ok=False)
    assert breakers.state(API) == "open"


def test_it_waits_for_min_calls_before_opening() -> None:
    clock = Clock()
    breakers = _breakers(clock, min_calls=3, window=10)
    breakers.record(API, ok=False)
    breakers.record(API, ok=False)
    assert breakers.state(API) == "closed"  # 100 % failed, but only two calls
    breakers.record(API, ok=True)
    assert breakers.state(API) == "open"  # two of three


def test_min_calls_above_the_window_is_capped_at_the_window() -> None:
    clock = Clock()
    breakers = _breakers(clock, min_calls=50, window=3)
    for _ in range(3):
        breakers.record(API, ok=False)
    assert breakers.state(API) == "open"


def test_an_open_breaker_fails_fast_naming_target_since_and_next_probe() -> None:
    clock = Clock()
    breakers = _breakers(clock, min_calls=4)
    for ok in (True, True, False, False):
        breakers.record(API, ok=ok)
        clock.advance(1)
    with pytest.raises(DependencyError) as caught:
        breakers.check(API)
    assert caught.value.kind is ErrorKind.DEPENDENCY
    assert caught.value.message == (
        "API api.example.com has been failing since 2026-03-01 12:00:03 UTC "
        "(50% of the last 4 calls failed); next probe at 2026-03-01 12:01:03 UTC"
    )
    assert caught.value.hint is not None
    assert "tidegate breaker reset api.example.com" in caught.value.hint


def test_after_the_cool_down_one_probe_goes_through_and_success_closes() -> None:
    clock = Clock()
    breakers = _breakers(clock)
    _open(breakers, clock)
    clock.advance(56)  # opened at T0 + 1 s, now at T0 + 60 s: not yet
    with pytest.raises(DependencyError):
        breakers.check(API)
    clock.advance(1)
    breakers.check(API)  # the probe
    assert breakers.state(API) == "half_open"
    with pytest.raises(DependencyError, match="a probe call is under way"):
        breakers.check(API)
    breakers.record(API, ok=True)
    assert breakers.state(API) == "closed"
    breakers.check(API)
    breakers.record(API, ok=False)  # a fresh window: one failure in one call is under min_calls
    assert breakers.state(API) == "closed"


def test_a_failed_probe_opens_it_again_for_another_cool_down() -> None:
    clock = Clock()
    breakers = _breakers(clock)
    _open(breakers, clock)  # opened at T0 + 1 s
    clock.advance(60)
    breakers.check(API)
    breakers.record(API, ok=False)
    assert breakers.state(API) == "open"
    with pytest.raises(DependencyError) as caught:
        breakers.check(API)
    assert "failing since 2026-03-01 12:00:01 UTC" in caught.value.message
    assert "next probe at 2026-03-01 12:02:04 UTC" in caught.value.message
    clock.advance(59)
    with pytest.raises(DependencyError):
        breakers.check(API)
    clock.advance(1)
    breakers.check(API)
    assert breakers.state(API) == "half_open"


def test_a_probe_whose_outcome_never_comes_is_given_up_after_a_cool_down() -> None:
    clock = Clock()
    breakers = _breakers(clock)
    _open(breakers, clock)
    clock.advance(60)
    breakers.check(API)  # the probe's caller dies without recording
    clock.advance(59)
    with pytest.raises(DependencyError):
        breakers.check(API)
    clock.advance(1)
    breakers.check(API)  # another probe
    breakers.record(API, ok=True)
    assert breakers.state(API) == "closed"


def test_only_one_of_many_threads_gets_the_probe() -> None:
    clock = Clock()
    breakers = _breakers(clock)
    _open(breakers, clock)
    clock.advance(60)
    passed: list[int] = []
    failed: list[int] = []
    start = threading.Barrier(16)

    def call(number: int) -> None:
        start.wait()
        try:
            breakers.check(API)
        except DependencyError:
            failed.append(number)
        else:
            passed.append(number)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(passed), len(failed)) == (1, 15)


def test_transitions_are_reported_in_order() -> None:
    clock = Clock()
    changes: list[BreakerTransition] = []
    breakers = _breakers(clock, changes)
    _open(breakers, clock)
    clock.advance(60)
    breakers.check(API)
    breakers.record(API, ok=False)
    clock.advance(60)
    breakers.check(API)
    breakers.record(API, ok=True)
    since = T0 + timedelta(seconds=1)
    assert changes == [
        BreakerTransition(
            target=API,
            state="open",
            previous="closed",
            failure_rate=1.0,
            failing_since=since,
            next_probe_at=since + timedelta(seconds=60),
        ),
        BreakerTransition(
            target=API,
            state="half_open",
            previous="open",
            failure_rate=1.0,
            failing_since=since,
            next_probe_at=since + timedelta(seconds=60),
        ),
        BreakerTransition(
            target=API,
            state="open",
            previous="half_open",
            failure_rate=1.0,
            failing_since=since,
            next_probe_at=T0 + timedelta(seconds=124),
        ),
        BreakerTransition(
            target=API,
            state="half_open",
            previous="open",
            failure_rate=1.0,
            failing_since=since,
            next_probe_at=T0 + timedelta(seconds=124),
        ),
        BreakerTransition(
            target=API,
            state="closed",
            previous="half_open",
            failure_rate=0.75,
            failing_since=None,
            next_probe_at=None,
        ),
    ]


def test_targets_have_breakers_of_their_own() -> None:
    clock = Clock()
    breakers = _breakers(clock)
    _open(breakers, clock)
    breakers.check("other.example.com")
    assert breakers.state("other.example.com") == "closed"


def test_disabled_breakers_never_open() -> None:
    clock = Clock()
    breakers = Breakers(BreakerSpec(enabled=False, window=2, min_calls=1), store=None, clock=clock)
    for _ in range(10):
        breakers.check(API)
        breakers.record(API, ok=False)
    assert breakers.state(API) == "closed"
