"""The governance policy: PII type -> level, level -> required action per profile, exceptions.

A data steward writes the policy once for the organization; each pipeline then gets the same
answer to "may this column be loaded like this?". :func:`decide` combines a run's classification
(detected types, hand-pinned levels), the policy and how the pipeline's steps protect each column
into one :class:`Decision` per column. A column whose required action is missing is *blocked*
(the run stops before loading) unless the policy names it as an exception or says ``warn``.

Actions form a ladder: ``allow`` is met by anything; ``mask`` by any masking, an encryption, or
the column being removed; ``encrypt`` by an encryption, or by the column holding nothing of the
value any more (removed, or masked with ``null`` or ``redact``). A keyed hash is a pseudonym,
still linkable, so it does not stand in for encryption.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tidegate.governance.classify import DEFAULT_LEVELS, Level, PiiType
from tidegate.spec.documents import load_document

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from tidegate.governance.classify import ColumnClassification, Evidence

__all__ = [
    "POLICY_ENV",
    "SENSITIVE",
    "Action",
    "Decision",
    "Policy",
    "PolicyException",
    "decide",
    "load_policy",
    "satisfies",
]

POLICY_ENV = "TIDEGATE_POLICY"
"""Environment variable naming the policy file every pipeline on the machine must obey."""

SENSITIVE = frozenset({Level.CONFIDENTIAL, Level.RESTRICTED})
"""Levels whose values never appear in clear in side outputs (quarantine, samples, profiles)."""

Action = Literal["allow", "mask", "encrypt"]
Status = Literal["ok", "allowed", "warned", "blocked"]
Origin = Literal["detected", "pinned", "output"]

_FULLY_HIDDEN = frozenset({"encrypt", "removed", "mask:null", "mask:redact"})


def satisfies(required: Action, applied: str) -> bool:
    """Whether protection ``applied`` (``mask:<strategy>``, ``encrypt``, ``removed``, ``none``)
    meets action ``required``."""
    if required == "allow":
        return True
    if required == "mask":
        return applied.startswith("mask:") or applied in _FULLY_HIDDEN
    return applied in _FULLY_HIDDEN


class PolicyException(BaseModel):
    """A column the policy allows without its required action, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: str = Field(default="*", description="pipeline name pattern (*, ?)")
    column: str = Field(min_length=1, description="column name pattern (*, ?)")
    reason: str = Field(min_length=1, description="why a steward accepted it")

    def covers(self, pipeline: str, column: str) -> bool:
        """Whether this exception applies to ``column`` of ``pipeline``."""
        return fnmatch.fnmatchcase(pipeline, self.pipeline) and fnmatch.fnmatchcase(
            column, self.column
        )


class Policy(BaseModel):
    """A governance policy file, validated; see the shipped ``default_policy.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = Field(default=1, description="policy format version")
    levels: dict[PiiType, Level] = Field(
        default_factory=dict, description="PII type -> level (types left out keep the default)"
    )
    actions: dict[str, dict[Level, Action]] = Field(
        description="profile -> level -> required action; 'default' applies to every profile"
    )
    unprotected: Literal["fail", "warn"] = Field(
        default="fail", description="what a missing required action does: fail or warn"
    )
    exceptions: tuple[PolicyException, ...] = Field(
        default=(), description="columns allowed without their action, with a reason"
    )
    source: str = Field(default="built-in", exclude=True, description="where it was read from")

    @field_validator("levels")
    @classmethod
    def _no_level_for_none(cls, value: dict[PiiType, Level]) -> dict[PiiType, Level]:
        if PiiType.NONE in value:
            raise ValueError("'none' is not a PII type; columns without PII are public")
        return value

    @model_validator(mode="after")
    def _default_covers_every_level(self) -> Policy:
        default = self.actions.get("default")
        missing = [str(level) for level in Level if default is None or level not in default]
        if missing:
            raise ValueError(
                f"actions.default must give an action for every level; missing: "
                f"{', '.join(missing)}"
            )
        return self

    def level_of(self, pii_type: PiiType) -> Level:
        """The level the policy gives ``pii_type``."""
        return self.levels.get(pii_type, DEFAULT_LEVELS[pii_type])

    def required(self, level: Level, profile: str | None) -> Action:
        """The action ``level`` requires under ``profile`` (its own entry, else ``default``)."""
        own = self.actions.get(profile or "default", {})
        return own.get(level, self.actions["default"][level])

    def exception_for(self, pipeline: str, column: str) -> PolicyException | None:
        """The first exception covering ``column`` of ``pipeline``, if any."""
        return next((e for e in self.exceptions if e.covers(pipeline, column)), None)


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``; without one, the file ``TIDEGATE_POLICY`` names, else the default.

    Errors list every problem at file:line.
    """
    if path is None and os.environ.get(POLICY_ENV):
        path = Path(os.environ[POLICY_ENV]).expanduser()
    if path is None:
        shipped = files("tidegate.governance").joinpath("default_policy.yaml")
        with as_file(shipped) as default:
            policy = load_document(default, Policy, what="policy file")
        return policy.model_copy(update={"source": "built-in"})
    policy = load_document(path, Policy, what="policy file")
    return policy.model_copy(update={"source": str(path)})


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What governance decided for one column of a run."""

    column: str
    pii_type: PiiType
    confidence: float
    level: Level
    origin: Origin
    required: Action
    applied: str
    status: Status
    reason: str | None = None
    evidence: Evidence | None = None

    @property
    def sensitive(self) -> bool:
        """Whether the column's values must stay out of side outputs in clear."""
        return self.level in SENSITIVE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping for the classification event and summaries."""
        return {
            "column": self.column,
            "pii_type": str(self.pii_type),
            "confidence": round(self.confidence, 3),
            "level": str(self.level),
            "origin": self.origin,
            "required": self.required,
            "applied": self.applied,
            "status": self.status,
            "reason": self.reason,
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
        }

    def problem(self) -> str:
        """One line naming column, type, level and the missing action."""
        found = "pinned" if self.origin == "pinned" else f"detected as {self.pii_type}"
        return (
            f"column {self.column!r} ({found}, level {self.level}) needs {self.required} "
            f"but is {'not protected' if self.applied == 'none' else self.applied}"
        )


def decide(
    verdicts: Iterable[ColumnClassification],
    *,
    policy: Policy,
    pipeline: str,
    profile: str | None,
    pins: Mapping[str, str],
    protections: Mapping[str, str],
    output_columns: Iterable[str],
    output_verdicts: Iterable[ColumnClassification] = (),
) -> list[Decision]:
    """One decision per source column, then per column found only in the output.

    ``protections`` maps a column to how a step protects it (``mask:<strategy>``,
    ``encrypt``); a source column missing from ``output_columns`` counts as ``removed``.
    ``output_verdicts`` classify what the steps produce, for columns that are not in the
    source (derived) or were renamed: they must obey the policy too.
    """
    output = set(output_columns)
    decisions: list[Decision] = []
    seen: set[str] = set()
    for verdict, origin in [
        *((v, "source") for v in verdicts),
        *((v, "output") for v in output_verdicts),
    ]:
        if verdict.column in seen:
            continue
        seen.add(verdict.column)
        pinned = pins.get(verdict.column)
        level = Level(pinned) if pinned else policy.level_of(verdict.pii_type)
        applied = protections.get(verdict.column) or (
            "none" if verdict.column in output else "removed"
        )
        decisions.append(
            _decision(
                verdict,
                policy=policy,
                pipeline=pipeline,
                profile=profile,
                level=level,
                origin="pinned" if pinned else ("output" if origin == "output" else "detected"),
                applied=applied,
            )
        )
    return decisions


def _decision(
    verdict: ColumnClassification,
    *,
    policy: Policy,
    pipeline: str,
    profile: str | None,
    level: Level,
    origin: Origin,
    applied: str,
) -> Decision:
    required = policy.required(level, profile)
    status: Status = "ok"
    reason = None
    if not satisfies(required, applied):
        exception = policy.exception_for(pipeline, verdict.column)
        if exception is not None:
            status, reason = "allowed", exception.reason
        else:
            status = "warned" if policy.unprotected == "warn" else "blocked"
    return Decision(
        column=verdict.column,
        pii_type=verdict.pii_type,
        confidence=verdict.confidence,
        level=level,
        origin=origin,
        required=required,
        applied=applied,
        status=status,
        reason=reason,
        evidence=verdict.evidence,
    )
