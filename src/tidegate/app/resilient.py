"""The run's resilience, built from the spec: retries and circuit breakers for calls to other
systems, recovery of a failed load from its last checkpoint, and fault injection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.events import RetryAttempted
from tidegate.resilience.calls import ResilientCalls
from tidegate.resilience.retry import LoadRecovery

if TYPE_CHECKING:
    from tidegate.events import EventBus
    from tidegate.spec import PipelineSpec

__all__ = ["Policies", "policies"]


class Policies:
    """What a run needs from the resilience section."""

    def __init__(self, calls: ResilientCalls, recovery: LoadRecovery) -> None:
        self.calls = calls
        self.recovery = recovery


def policies(spec: PipelineSpec, *, bus: EventBus, run_id: str) -> Policies:
    """The retry policies of ``spec``, reporting each retry on ``bus`` for run ``run_id``."""

    def on_retry(operation: str, target: str, attempt: int, delay: float, kind: str) -> None:
        bus.publish(
            RetryAttempted(
                run_id=run_id,
                pipeline=spec.name,
                operation=operation,
                target=target,
                attempt=attempt,
                delay=delay,
                error_kind=kind,
            )
        )

    retry = spec.resilience.retry
    return Policies(ResilientCalls(spec.resilience, on_retry=on_retry), LoadRecovery(retry.commit))
