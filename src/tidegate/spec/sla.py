"""The ``sla:`` section: how fresh the pipeline's output must be.

A pipeline that silently stops running fails nobody's run, so nothing alerts. ``sla.max_age``
says how old the last successful run may get before ``tidegate health`` reports the pipeline as
stale; it uses the duration syntax of the quality ``freshness`` rule (``26h``, ``90m``, ``2d``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tidegate.spec.quality import parse_duration

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["SlaSpec"]


class SlaSpec(BaseModel):
    """Service levels the pipeline promises, checked by ``tidegate health``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_age: str | float | None = Field(
        default=None,
        description="Longest time since the last successful run before the pipeline counts as "
        "stale: a duration like 26h, 90m or 2d, or a number of seconds.",
    )

    max_duration: str | float | None = Field(
        default=None,
        description="Longest a run may take before it counts as an SLA miss (alerts): a "
        "duration like 45m, or a number of seconds.",
    )

    @field_validator("max_age", "max_duration")
    @classmethod
    def _positive_duration(cls, value: str | float | None) -> str | float | None:
        if value is not None and parse_duration(value).total_seconds() <= 0:
            raise ValueError(f"{value!r} is not a positive duration: write one like 26h or 90m")
        return value

    @property
    def max_age_delta(self) -> dt.timedelta | None:
        """``max_age`` as a timedelta, or None when unset."""
        return None if self.max_age is None else parse_duration(self.max_age)

    @property
    def max_duration_delta(self) -> dt.timedelta | None:
        """``max_duration`` as a timedelta, or None when unset."""
        return None if self.max_duration is None else parse_duration(self.max_duration)

    @property
    def max_age_text(self) -> str:
        """``max_age`` as written (``26h``), a bare number as seconds (``3600s``)."""
        if isinstance(self.max_age, str):
            return self.max_age
        return f"{self.max_age:g}s" if self.max_age is not None else ""
