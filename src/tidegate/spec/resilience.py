"""The ``resilience:`` and ``faults:`` sections: retries, circuit breakers, fault injection.

Transient failures (a dropped connection, an API's 503, a rate limit) must not fail a pipeline;
permanent ones must fail fast. ``resilience.retry`` says how often and how long each kind of
operation is tried again; ``resilience.breaker`` when calls to a failing system stop for a while.
``faults`` makes failures happen on purpose, to prove the rest works.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BreakerSpec",
    "FaultKind",
    "FaultSpec",
    "FaultsSpec",
    "ResilienceSpec",
    "RetryPolicySpec",
    "RetrySpec",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)

FaultKind = Literal["transient", "data", "config", "dependency", "security", "internal"]


class RetryPolicySpec(BaseModel):
    """How one kind of operation is retried: exponential backoff with full jitter, bounded."""

    model_config = _FROZEN

    attempts: int = Field(default=5, ge=1, le=100, description="Tries in all, the first included.")
    initial_delay: float = Field(
        default=0.5, ge=0, description="Seconds before the first retry (before jitter)."
    )
    max_delay: float = Field(default=30.0, ge=0, description="Longest wait between tries.")
    deadline: float = Field(
        default=300.0,
        gt=0,
        description="Seconds after the first try past which no retry starts, whatever is left.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetryPolicySpec:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must be at least initial_delay")
        return self


class RetrySpec(BaseModel):
    """Retry policies per operation."""

    model_config = _FROZEN

    rest: RetryPolicySpec = Field(
        default_factory=RetryPolicySpec,
        description="HTTP calls of REST sources (honours Retry-After).",
    )
    source: RetryPolicySpec = Field(
        default_factory=lambda: RetryPolicySpec(attempts=3),
        description="Reading the source: a read that fails retryably (a dropped query, a "
        "reset file share) continues after the last committed checkpoint.",
    )
    commit: RetryPolicySpec = Field(
        default_factory=lambda: RetryPolicySpec(attempts=3, initial_delay=1.0),
        description="Destination writes and commits: the load continues after its last "
        "committed checkpoint, so a retried commit re-runs its whole transaction.",
    )


class BreakerSpec(BaseModel):
    """A circuit breaker per external system (an API's host)."""

    model_config = _FROZEN

    enabled: bool = Field(default=True, description="Use circuit breakers.")
    window: int = Field(default=20, ge=1, description="Last calls the failure rate is taken over.")
    min_calls: int = Field(
        default=5, ge=1, description="Fewest calls in the window before the breaker may open."
    )
    failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="Share of failed calls in the window that opens it."
    )
    cool_down: float = Field(
        default=60.0, gt=0, description="Seconds an open breaker waits before a half-open probe."
    )


class ResilienceSpec(BaseModel):
    """Retries and circuit breakers."""

    model_config = _FROZEN

    retry: RetrySpec = Field(default_factory=RetrySpec, description="Retry policies.")
    breaker: BreakerSpec = Field(default_factory=BreakerSpec, description="Circuit breakers.")


class FaultSpec(BaseModel):
    """One fault to inject."""

    model_config = _FROZEN

    at: str = Field(
        description="Where: mid_batch, before_commit, after_commit or step:<name>.",
        pattern=r"^(mid_batch|before_commit|after_commit|step:[A-Za-z0-9_:-]+)$",
    )
    batch: int | None = Field(default=None, ge=1, description="Only at this batch (default any).")
    probability: float = Field(default=1.0, ge=0, le=1, description="Chance at each visit.")
    action: Literal["raise", "delay", "drop_connection", "kill"] = Field(
        default="raise",
        description="raise an error of `kind`, delay by `seconds`, drop the destination's "
        "connection, or kill the process (SIGKILL) on the spot.",
    )
    kind: FaultKind = Field(default="transient", description="Kind of the raised error.")
    seconds: float = Field(default=0.0, ge=0, description="Delay of the `delay` action.")
    times: int | None = Field(
        default=None, ge=1, description="Happen at most this many times per run."
    )


class FaultsSpec(BaseModel):
    """Faults injected on purpose, deterministic with ``seed``; off unless listed."""

    model_config = _FROZEN

    seed: int = Field(default=0, description="Seed of the probability draws.")
    inject: tuple[FaultSpec, ...] = Field(default=(), description="The faults.")
    production_profiles: tuple[str, ...] = Field(
        default=("prod", "production"),
        description="Profiles where faults are refused unless --allow-faults is given.",
    )
