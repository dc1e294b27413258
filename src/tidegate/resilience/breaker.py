"""Circuit breakers: stop calling a system that keeps failing, and probe it now and then.

One breaker per target (an API's host). A breaker is ``closed`` (calls go through) until, over
its sliding window of the last ``window`` outcomes, at least ``min_calls`` calls were made and
the share that failed reaches ``failure_rate``; it is then ``open`` and every call fails fast
with a ``DependencyError`` saying since when the target fails and when it is tried again. After
``cool_down`` seconds it turns ``half_open`` and lets a single probe call through: success
closes it with a fresh window, failure opens it again for another cool-down.

The breakers outlive the process through a ``BreakerStore`` (the state store), so the next
scheduled run of any pipeline calling the same target sees an open breaker and fails fast
instead of hammering it again. What survives a restart: the state, ``failing_since``, the next
probe time and the window itself (its outcomes as a string). A record is loaded on a target's
first use and saved whenever it changes, which in steady state (a full window of successes)
is never, so a healthy API costs no writes; only a probe under way is not persisted, and a
half-open breaker found in the store lets the new process send its own probe.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from tidegate.errors import DependencyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from tidegate.spec.resilience import BreakerSpec

__all__ = [
    "BreakerRecord",
    "BreakerState",
    "BreakerStore",
    "BreakerTransition",
    "Breakers",
    "now_utc",
]

BreakerState = Literal["closed", "open", "half_open"]

_OK = "1"
_FAILED = "0"


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC (the default clock of ``Breakers``)."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class BreakerRecord:
    """A breaker as it is stored: enough for another process to pick it up.

    ``outcomes`` is the sliding window, oldest first, one character per call: ``1`` succeeded,
    ``0`` failed. ``failing_since`` and ``next_probe_at`` are set while open or half-open.
    """

    target: str
    state: BreakerState
    outcomes: str
    failing_since: datetime | None = None
    next_probe_at: datetime | None = None
    updated_at: datetime

    @property
    def calls(self) -> int:
        """Calls in the window."""
        return len(self.outcomes)

    @property
    def failures(self) -> int:
        """Failed calls in the window."""
        return self.outcomes.count(_FAILED)


class BreakerStore(Protocol):
    """Where breakers are kept between runs (the state store, through an adapter in ``app``)."""

    def load(self, target: str) -> BreakerRecord | None:
        """The stored breaker of ``target``, or None when it has none."""

    def save(self, record: BreakerRecord) -> None:
        """Insert or replace the breaker of ``record.target``."""

    def all(self) -> list[BreakerRecord]:
        """Every stored breaker, by target."""

    def reset(self, target: str) -> bool:
        """Forget the breaker of ``target`` (it starts closed); False when there was none."""


@dataclass(frozen=True, kw_only=True)
class BreakerTransition:
    """The breaker of ``target`` moved from ``previous`` to ``state``.

    ``failure_rate`` is the share of failed calls in the window as it stood when the state
    changed; ``failing_since`` and ``next_probe_at`` are set while open or half-open.
    """

    target: str
    state: BreakerState
    previous: BreakerState
    failure_rate: float
    failing_since: datetime | None
    next_probe_at: datetime | None


@dataclass(kw_only=True)
class _Breaker:
    state: BreakerState
    outcomes: deque[str]
    failing_since: datetime | None = None
    next_probe_at: datetime | None = None
    probe_started: datetime | None = None
    saved: str = ""

    @property
    def failures(self) -> int:
        return self.outcomes.count(_FAILED)

    @property
    def rate(self) -> float:
        return self.failures / len(self.outcomes) if self.outcomes else 0.0

    def window(self) -> str:
        return "".join(self.outcomes)


class Breakers:
    """One circuit breaker per target, configured by ``spec``, kept in ``store``.

    Thread-safe: a source may call from several threads. ``on_change`` hears every transition,
    in order, while the breakers are locked, so it must not call back into them (publishing an
    event is fine). ``store=None`` keeps the breakers in memory only.
    """

    def __init__(
        self,
        spec: BreakerSpec,
        *,
        store: BreakerStore | None,
        on_change: Callable[[BreakerTransition], None] | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.spec = spec
        self._store = store
        self._on_change = on_change
        self._clock = clock
        self._cool_down = timedelta(seconds=spec.cool_down)
        # A min_calls above the window could never be reached; the full window is then enough.
        self._min_calls = min(spec.min_calls, spec.window)
        self._breakers: dict[str, _Breaker] = {}
        self._lock = threading.Lock()

    def state(self, target: str) -> BreakerState:
        """The state of ``target``'s breaker (``closed`` when breakers are disabled)."""
        if not self.spec.enabled:
            return "closed"
        with self._lock:
            return self._breaker(target).state

    def check(self, target: str) -> None:
        """Before a call to ``target``: return if it may go, raise ``DependencyError`` if not.

        An open breaker whose cool-down has passed turns half-open and lets this call through
        as its probe; until the probe's outcome is recorded, other calls fail fast. A probe
        whose outcome never comes (its caller died) is given up after another cool-down.
        """
        if not self.spec.enabled:
            return
        with self._lock:
            breaker = self._breaker(target)
            if breaker.state == "closed":
                return
            now = self._clock()
            if breaker.state == "open":
                probe_at = breaker.next_probe_at
                if probe_at is not None and now < probe_at:
                    raise self._failing(target, breaker, f"next probe at {_shown(probe_at)}")
                self._change(target, breaker, "half_open", now)
            elif (
                breaker.probe_started is not None and now < breaker.probe_started + self._cool_down
            ):
                raise self._failing(target, breaker, "a probe call is under way")
            breaker.probe_started = now

    def record(self, target: str, *, ok: bool) -> None:
        """After a call to ``target`` that went through: count its outcome.

        A closed breaker opens when the window's failure rate reaches the threshold; a
        half-open one closes on a successful probe and opens again on a failed one. An outcome
        arriving while open (a call let through just before it opened) is ignored.
        """
        if not self.spec.enabled:
            return
        with self._lock:
            breaker = self._breaker(target)
            if breaker.state == "open":
                return
            now = self._clock()
            breaker.outcomes.append(_OK if ok else _FAILED)
            if breaker.state == "half_open":
                self._change(target, breaker, "closed" if ok else "open", now)
            elif (
                len(breaker.outcomes) >= self._min_calls and breaker.rate >= self.spec.failure_rate
            ):
                self._change(target, breaker, "open", now)
            elif breaker.window() != breaker.saved:
                self._save(target, breaker, now)

    def _breaker(self, target: str) -> _Breaker:
        breaker = self._breakers.get(target)
        if breaker is None:
            record = self._store.load(target) if self._store is not None else None
            breaker = _Breaker(state="closed", outcomes=deque(maxlen=self.spec.window))
            if record is not None:
                breaker.state = record.state
                breaker.outcomes.extend(record.outcomes)
                breaker.failing_since = record.failing_since
                breaker.next_probe_at = record.next_probe_at
                breaker.saved = breaker.window()
            self._breakers[target] = breaker
        return breaker

    def _change(self, target: str, breaker: _Breaker, state: BreakerState, now: datetime) -> None:
        previous, rate = breaker.state, breaker.rate
        breaker.state = state
        breaker.probe_started = None
        if state == "closed":
            breaker.outcomes.clear()
            breaker.failing_since = breaker.next_probe_at = None
        elif state == "open":
            breaker.failing_since = breaker.failing_since or now
            breaker.next_probe_at = now + self._cool_down
        self._save(target, breaker, now)
        if self._on_change is not None:
            self._on_change(
                BreakerTransition(
                    target=target,
                    state=state,
                    previous=previous,
                    failure_rate=rate,
                    failing_since=breaker.failing_since,
                    next_probe_at=breaker.next_probe_at,
                )
            )

    def _save(self, target: str, breaker: _Breaker, now: datetime) -> None:
        breaker.saved = breaker.window()
        if self._store is not None:
            self._store.save(
                BreakerRecord(
                    target=target,
                    state=breaker.state,
                    outcomes=breaker.saved,
                    failing_since=breaker.failing_since,
                    next_probe_at=breaker.next_probe_at,
                    updated_at=now,
                )
            )

    def _failing(self, target: str, breaker: _Breaker, then: str) -> DependencyError:
        since = _shown(breaker.failing_since) if breaker.failing_since else "recently"
        return DependencyError(
            f"API {target} has been failing since {since} ({breaker.rate:.0%} of the last "
            f"{len(breaker.outcomes)} calls failed); {then}",
            hint=f"wait for the probe, or once {target} works again run "
            f"`tidegate breaker reset {target}` to close the breaker now",
        )


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
