"""Retry policies: full jitter, Retry-After, retryable kinds only, and nothing unbounded."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest

from tidegate.errors import ConfigError, DataError, DependencyError, TransientError
from tidegate.resilience.breaker import Breakers
from tidegate.resilience.calls import ResilientCalls
from tidegate.resilience.retry import LoadRecovery, backoff
from tidegate.spec.resilience import BreakerSpec, ResilienceSpec, RetryPolicySpec, RetrySpec


def _calls(policy: RetryPolicySpec, **kwargs: object) -> ResilientCalls:
    spec = ResilienceSpec(retry=RetrySpec(rest=policy))
    return ResilientCalls(spec, **kwargs)  # type: ignore[arg-type]


def test_full_jitter_stays_under_the_growing_ceiling() -> None:
    policy = RetryPolicySpec(initial_delay=0.5, max_delay=4.0)
    rng = random.Random(1)  # noqa: S311 - reproducible jitter, not secrets
    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)):
        waits = [backoff(policy, attempt, rng) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.8  # spread over the whole range, not a fixed step


def test_no_retry_loop_outlives_its_deadline() -> None:
    policy = RetryPolicySpec(attempts=100, initial_delay=0.05, max_delay=0.05, deadline=0.5)
    tries = 0

    def always_down() -> None:
        nonlocal tries
        tries += 1
        raise TransientError("still down")

    began = time.monotonic()
    with pytest.raises(TransientError):
        _calls(policy).call("rest", always_down, target="api")
    elapsed = time.monotonic() - began
    assert elapsed < 0.5 + 0.1  # no wait starts past the deadline
    assert 2 < tries < 100


def test_retry_after_is_honoured_and_reported() -> None:
    reports: list[tuple[str, str, int, float, str]] = []
    answers = iter([TransientError("429"), None])

    def rate_limited() -> str:
        error = next(answers)
        if error is not None:
            error.retry_after = 0.3  # type: ignore[attr-defined]
            raise error
        return "ok"

    calls = _calls(
        RetryPolicySpec(initial_delay=0.01, max_delay=0.01),
        on_retry=lambda *report: reports.append(report),  # type: ignore[arg-type]
    )
    began = time.monotonic()
    assert calls.call("rest", rate_limited, target="api") == "ok"
    assert time.monotonic() - began >= 0.3
    assert reports == [("rest", "api", 1, pytest.approx(0.3), "transient")]


@pytest.mark.parametrize("error", [ConfigError("401"), DataError("bad json")])
def test_errors_that_are_not_retryable_are_tried_once(error: Exception) -> None:
    tries = 0

    def refused() -> None:
        nonlocal tries
        tries += 1
        raise error

    with pytest.raises(type(error)):
        _calls(RetryPolicySpec(initial_delay=0.01, max_delay=0.01)).call(
            "rest", refused, target="api"
        )
    assert tries == 1


def test_an_open_breaker_fails_fast_without_calling() -> None:
    breakers = Breakers(
        BreakerSpec(window=2, min_calls=2, failure_rate=0.5, cool_down=60),
        store=None,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )
    calls = _calls(RetryPolicySpec(attempts=2, initial_delay=0.0, max_delay=0.0), breakers=breakers)
    tries = 0

    def down() -> None:
        nonlocal tries
        tries += 1
        raise DependencyError("refused")

    with pytest.raises(DependencyError):
        calls.call("rest", down, target="api")
    assert tries == 2
    with pytest.raises(DependencyError, match="has been failing since"):
        calls.call("rest", down, target="api")
    assert tries == 2  # the open breaker refused: no call, no retry


def test_load_recovery_gives_up_on_kind_attempts_and_deadline() -> None:
    recovery = LoadRecovery(
        RetryPolicySpec(attempts=3, initial_delay=1.0, max_delay=1.0, deadline=10),
        rng=random.Random(0),  # noqa: S311 - reproducible jitter, not secrets
    )
    assert recovery.delay(ConfigError("no"), 1, 0.0) is None
    wait = recovery.delay(TransientError("lock"), 1, 0.0)
    assert wait is not None
    assert 0 <= wait <= 1.0
    assert recovery.delay(TransientError("lock"), 3, 0.0) is None  # attempts used up
    assert (
        recovery.delay(TransientError("lock"), 1, 9.99) is None
        or (recovery.delay(TransientError("lock"), 1, 9.99) or 0) <= 0.01
    )
    assert recovery.delay(TransientError("lock"), 1, 10.5) is None  # past the deadline
