"""``ResilientCalls``: the run's ``CallPolicy``: circuit breaker, then retries with tenacity.

Each call to another system goes through its target's breaker (an open breaker fails fast,
without a call and without a retry) and is retried by the policy of its operation
(``resilience.retry.rest`` for HTTP calls, ``source`` for other reads). Outcomes feed the
breaker: only failures of the system itself count (transient and dependency errors), not a
refused request (config) or bad data. Every retry is published as ``RetryAttempted``.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from tidegate.errors import TidegateError
from tidegate.resilience.retry import backoff, retry_after, retryable

if TYPE_CHECKING:
    from collections.abc import Callable

    from tidegate.resilience.breaker import Breakers
    from tidegate.spec.resilience import ResilienceSpec, RetryPolicySpec

__all__ = ["ResilientCalls"]

T = TypeVar("T")


class _BreakerOpen(Exception):  # noqa: N818 - carries a TidegateError, never leaves this module
    """An open breaker refused the call: not retried, re-raised as the breaker's error."""

    def __init__(self, error: TidegateError) -> None:
        super().__init__(error.message)
        self.error = error


class ResilientCalls:
    """Calls under the spec's retry policies and the targets' circuit breakers."""

    def __init__(
        self,
        spec: ResilienceSpec,
        *,
        breakers: Breakers | None = None,
        on_retry: Callable[[str, str, int, float, str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.breakers = breakers
        self.on_retry = on_retry
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    def policy(self, operation: str) -> RetryPolicySpec:
        """The retry policy of ``operation`` (``rest``, or any other read: ``source``)."""
        retry = self.spec.retry
        return retry.rest if operation == "rest" else retry.source

    def call(self, operation: str, fn: Callable[[], T], *, target: str) -> T:
        """``fn()`` through ``target``'s breaker, retried as ``operation``'s policy says."""
        policy = self.policy(operation)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            jitter = backoff(policy, state.attempt_number, self.rng)
            return max(jitter, retry_after(error) or 0.0) if error else jitter

        def report(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if self.on_retry is not None and isinstance(error, TidegateError):
                delay = state.next_action.sleep if state.next_action else 0.0
                self.on_retry(operation, target, state.attempt_number, delay, str(error.kind))

        retrying = Retrying(
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.deadline),
            wait=wait,
            retry=retry_if_exception(retryable),
            before_sleep=report,
            reraise=True,
        )
        try:
            result: T = retrying(self._once, fn, target)
            return result
        except _BreakerOpen as refused:
            raise refused.error from None

    def _once(self, fn: Callable[[], T], target: str) -> T:
        breakers = self.breakers
        if breakers is not None:
            try:
                breakers.check(target)
            except TidegateError as exc:
                raise _BreakerOpen(exc) from exc
        try:
            result = fn()
        except TidegateError as exc:
            # A refused request (bad parameters, bad data) still means the system answered.
            if breakers is not None:
                breakers.record(target, ok=not retryable(exc))
            raise
        if breakers is not None:
            breakers.record(target, ok=True)
        return result
