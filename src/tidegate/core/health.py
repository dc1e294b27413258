"""Health checks: what a plugin reports about the systems it depends on, before any data moves.

A source or destination that talks to something that can be down (a database, an API, a file
system) implements ``HealthChecked``: it connects with a timeout, runs the cheapest real
operation (``SELECT 1``, a request, a stat), checks that it could write where it must, and
reports each step with its latency. ``tidegate health`` prints them; a run checks them first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tidegate.errors import DependencyError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tidegate.core.context import RunContext

__all__ = ["Check", "HealthChecked", "timed"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One health check: what was checked on what, whether it passed, how long it took."""

    component: str
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    error: TidegateError | None = field(default=None, repr=False, compare=False)
    """Why a failed check failed, with its kind, so a run stops with the right exit code."""


@runtime_checkable
class HealthChecked(Protocol):
    """A plugin that can check the systems it depends on."""

    def health(self, ctx: RunContext) -> Iterator[Check]:
        """Yield checks in order; stop after the first failing one that others depend on."""


def timed(component: str, name: str, probe: Callable[[], str]) -> Check:
    """Run ``probe`` and turn its outcome into a ``Check``; its exception text is the detail.

    ``probe`` returns a short, secret-free detail. Any exception fails the check: a
    ``TidegateError`` (whose message is already free of secrets) is kept with its kind, any
    other exception becomes a ``DependencyError``.
    """
    began = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # every failure is a failed check, reported as such
        error = (
            exc
            if isinstance(exc, TidegateError)
            else DependencyError(f"{type(exc).__name__}: {exc}", location=component)
        )
        return Check(
            component=component,
            name=name,
            ok=False,
            seconds=time.perf_counter() - began,
            detail=error.message,
            error=error,
        )
    return Check(
        component=component, name=name, ok=True, seconds=time.perf_counter() - began, detail=detail
    )
