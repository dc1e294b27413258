"""The Jinja2 environment every dashboard page is drawn with, and the run page's context.

Kept apart from the ASGI app so a page can also be drawn without serving it: ``tidegate
report`` writes the run page to a file through the same templates and the same filters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2

from tidegate.web import charts

if TYPE_CHECKING:
    from datetime import datetime

    from tidegate.web.models import RunView

__all__ = ["environment", "run_context"]

_NONE = "\N{EN DASH}"


def environment() -> jinja2.Environment:
    """The package's templates, autoescaped, failing loudly on a value a page forgot."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tidegate.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ago"] = _ago
    env.filters["percent"] = lambda v: _NONE if v is None else f"{v:.0%}"
    env.filters["seconds"] = lambda v: _NONE if v is None else f"{v:,.2f} s"
    env.filters["count"] = lambda v: _NONE if v is None else f"{v:,}"
    env.filters["score"] = lambda v: _NONE if v is None else f"{v:.1f}"
    return env


def run_context(run: RunView) -> dict[str, Any]:
    """What ``run.html`` draws a run from, served or written to a file alike."""
    return {"run": run, "bars": charts.time_bars(run.time_split)}


def _ago(moment: datetime | None, now: datetime) -> str:
    """``3 min ago``: how long before ``now`` (a page's render time) ``moment`` was."""
    if moment is None:
        return "never"
    seconds = max((now - moment).total_seconds(), 0.0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"
