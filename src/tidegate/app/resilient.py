"""The run's resilience, built from the spec: retries and circuit breakers for calls to other
systems, recovery of a failed load from its last checkpoint, and fault injection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from tidegate.core.protocols import FaultPoints, NoFaults
from tidegate.errors import TidegateError
from tidegate.events import BreakerChanged, FaultInjected, RetryAttempted
from tidegate.resilience.breaker import Breakers
from tidegate.resilience.calls import ResilientCalls
from tidegate.resilience.faults import (
    FaultInjector,
    check_allowed,
    describe,
    drop_destination_connection,
    parse_inject,
)
from tidegate.resilience.retry import LoadRecovery

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.core import Destination
    from tidegate.events import EventBus
    from tidegate.resilience.breaker import BreakerStore, BreakerTransition
    from tidegate.spec import PipelineSpec
    from tidegate.spec.resilience import FaultsSpec

__all__ = ["Policies", "faults_of", "policies", "warn_unfired"]

_log = structlog.get_logger(__name__)


class Policies:
    """What a run needs from the resilience and faults sections."""

    def __init__(self, calls: ResilientCalls, recovery: LoadRecovery, faults: FaultPoints) -> None:
        self.calls = calls
        self.recovery = recovery
        self.faults = faults


def faults_of(
    spec: PipelineSpec, *, inject: Sequence[str], profile: str | None, allow: bool
) -> FaultsSpec:
    """The spec's faults plus those of ``--inject``; refused in a production profile unless
    ``allow`` (``--allow-faults``)."""
    faults = spec.faults
    if inject:
        faults = faults.model_copy(update={"inject": (*faults.inject, *parse_inject(inject))})
    check_allowed(faults, profile=profile, allow=allow)
    return faults


def policies(
    spec: PipelineSpec,
    *,
    bus: EventBus,
    run_id: str,
    destination: Destination,
    faults: FaultsSpec,
) -> Policies:
    """The run's retry, breaker and fault policies, reporting on ``bus`` for run ``run_id``."""

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

    def on_change(change: BreakerTransition) -> None:
        bus.publish(
            BreakerChanged(
                run_id=run_id,
                pipeline=spec.name,
                target=change.target,
                state=change.state,
                previous=change.previous,
                failure_rate=change.failure_rate,
                failing_since=change.failing_since,
                next_probe_at=change.next_probe_at,
            )
        )

    def on_fault(point: str, batch: int, fault: str) -> None:
        bus.publish(
            FaultInjected(run_id=run_id, pipeline=spec.name, point=point, batch=batch, fault=fault)
        )

    resilience = spec.resilience
    breakers = Breakers(resilience.breaker, store=_breaker_store(spec), on_change=on_change)
    injected: FaultPoints = (
        FaultInjector(
            faults, emit=on_fault, drop_connection=drop_destination_connection(destination)
        )
        if faults.inject
        else NoFaults()
    )
    return Policies(
        ResilientCalls(resilience, breakers=breakers, on_retry=on_retry),
        LoadRecovery(resilience.retry.commit, source=resilience.retry.source),
        injected,
    )


def _breaker_store(spec: PipelineSpec) -> BreakerStore | None:
    """The state store's breakers, so the next run sees an open breaker; None without one."""
    if not spec.observability.state.enabled or not spec.resilience.breaker.enabled:
        return None
    from tidegate.app.breakers import StateBreakerStore  # noqa: PLC0415
    from tidegate.app.observing import state_url  # noqa: PLC0415
    from tidegate.state import StateStore  # noqa: PLC0415

    try:
        return StateBreakerStore(StateStore.open(state_url(spec)))
    except TidegateError as exc:  # breakers still work for this run, in memory
        _log.warning("breaker_store_unavailable", error=exc.message)
        return None


def warn_unfired(faults: FaultPoints) -> None:
    """Log each injected fault the run never reached, so a chaos test that did not test
    anything says so instead of passing quietly (``after_commit`` on a destination that
    commits once at the end, a batch number past the last batch)."""
    if not isinstance(faults, FaultInjector):
        return
    for fault in faults.never_fired():
        where = fault.at + (f" of batch {fault.batch}" if fault.batch is not None else "")
        _log.warning(
            "fault_never_fired",
            fault=describe(fault),
            at=where,
            hint="the run never reached this point: a destination that commits once at the "
            "end (duckdb below commit_min_rows, files) has no after_commit per batch, and a "
            "batch number past the last one is never reached; inject at a point the run "
            "passes (before_commit, mid_batch, step:<name>) or lower commit_min_rows",
        )
