"""Retry policies: exponential backoff with full jitter, bounded by attempts and a deadline.

Only retryable errors are retried (DESIGN §4: transient, and dependency while the breaker is
closed). The wait before attempt ``n + 1`` is drawn uniformly from ``[0, min(max_delay,
initial_delay * 2**(n - 1))]`` ("full jitter"), so clients that failed together do not come
back together; a server's ``Retry-After`` is honoured instead when it asks for longer. No retry
starts past the policy's deadline, so no loop can run unbounded.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from tidegate.errors import TidegateError

if TYPE_CHECKING:
    from tidegate.spec.resilience import RetryPolicySpec

__all__ = ["LoadRecovery", "backoff", "retry_after", "retryable"]


def retryable(error: BaseException) -> bool:
    """Whether ``error`` is worth another attempt: a transient or dependency failure (an open
    circuit breaker refuses dependency calls before they get here)."""
    return isinstance(error, TidegateError) and error.retryable


def retry_after(error: BaseException) -> float | None:
    """The seconds a server asked to wait (``Retry-After``), when the error carries them."""
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def backoff(policy: RetryPolicySpec, attempt: int, rng: random.Random) -> float:
    """The full-jitter wait after failed attempt ``attempt`` (from 1)."""
    ceiling = min(policy.max_delay, policy.initial_delay * 2 ** (attempt - 1))
    return rng.uniform(0, ceiling)


class LoadRecovery:
    """The runner's recovery policy: continue a failed load after its last checkpoint while
    the error is retryable, attempts remain and the deadline allows the wait.

    A failure while reading the source follows the ``source`` policy, any other (a write, a
    commit) the ``commit`` policy.
    """

    def __init__(
        self,
        commit: RetryPolicySpec,
        *,
        source: RetryPolicySpec | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.commit = commit
        self.source = source or commit
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    def delay(
        self, error: TidegateError, attempt: int, elapsed: float, *, operation: str = "load"
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        policy = self.source if operation == "source" else self.commit
        if not retryable(error) or attempt >= policy.attempts:
            return None
        wait = max(backoff(policy, attempt, self.rng), retry_after(error) or 0.0)
        if elapsed + wait > policy.deadline:
            return None
        return wait
