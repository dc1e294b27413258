"""The frozen models a loaded ``pipeline.yaml`` becomes.

``PipelineSpec`` is the top level. Plugin sections (``source``, ``steps``, ``destination``) hold
the plugin kind plus its own validated ``Settings`` instance; the loader validates those
against the registry, everything else is validated by pydantic from the field declarations
below. A new top-level section is one new field here with a default: the loader, its error
locations and the JSON schema pick it up without further change.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - pydantic resolves annotations at runtime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SerializeAsAny, field_validator

from tidegate.errors import Problem
from tidegate.spec.audit import AuditSpec
from tidegate.spec.governance import GovernanceSpec  # noqa: TC001 - needed at runtime by pydantic
from tidegate.spec.lineage import LineageSpec  # noqa: TC001 - needed at runtime by pydantic
from tidegate.spec.observability import ObservabilitySpec
from tidegate.spec.quality import QualitySpec  # noqa: TC001 - needed at runtime by pydantic
from tidegate.spec.resilience import FaultsSpec, ResilienceSpec
from tidegate.spec.settings import PluginSettings  # noqa: TC001 - needed at runtime by pydantic
from tidegate.spec.sla import SlaSpec  # noqa: TC001 - needed at runtime by pydantic

__all__ = [
    "LOADER_FIELDS",
    "NAME_PATTERN",
    "PLUGIN_SECTIONS",
    "LoggingSpec",
    "PipelineSpec",
    "PluginSpec",
    "StepSpec",
]

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
"""Pipeline and step names: letters, digits, ``_`` and ``-`` (they name tables, files, metrics)."""

PLUGIN_SECTIONS = {"source": "sources", "steps": "steps", "destination": "destinations"}
"""Top-level sections holding plugins, and the registry group each looks kinds up in."""

LOADER_FIELDS = frozenset({"file", "base_dir"})
"""Fields the loader fills in; a pipeline file may not set them."""

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class PluginSpec(BaseModel):
    """One plugin in the pipeline: its kind and its validated settings."""

    model_config = _FROZEN

    type: str = Field(description="Plugin kind, as registered (e.g. csv, sql, duckdb).")
    settings: SerializeAsAny[PluginSettings] = Field(
        description="The plugin's own validated settings."
    )


class StepSpec(PluginSpec):
    """A step: a plugin with a name unique within the pipeline."""

    name: str = Field(
        pattern=NAME_PATTERN,
        description="Step name; defaults to the type, or type_<n> when the type repeats.",
    )


class LoggingSpec(BaseModel):
    """How the run logs: level and output format."""

    model_config = _FROZEN

    level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level written: debug, info, warning or error."
    )
    format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="Log format: console for people, json for machines, auto picks by terminal.",
    )

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lowercase(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class PipelineSpec(BaseModel):
    """A whole validated pipeline file."""

    model_config = _FROZEN

    name: str = Field(pattern=NAME_PATTERN, description="Pipeline name: letters, digits, _ and -.")
    description: str | None = Field(default=None, description="What the pipeline is for.")
    owner: str | None = Field(
        default=None, description="Who answers for the pipeline (a team or a person)."
    )
    criticality: int = Field(
        default=3, ge=1, le=3, description="Business criticality tier: 1 (highest) to 3."
    )
    consumers: tuple[str, ...] = Field(
        default=(),
        description="What depends on the output (reports, teams, systems): named in alerts.",
    )
    source: PluginSpec = Field(description="Where the data comes from.")
    steps: tuple[StepSpec, ...] = Field(
        default=(), description="Steps applied to every batch, in order."
    )
    destination: PluginSpec = Field(description="Where the data is written.")
    logging: LoggingSpec = Field(
        default_factory=LoggingSpec, description="Log level and format of a run."
    )
    batch_rows: int = Field(
        default=65_536,
        ge=0,
        description="Consecutive source batches are combined until they hold this many rows "
        "before the steps run, so per-batch costs (SQL steps, rules, inserts, checkpoints) are "
        "paid once per batch; 0 keeps the source's batches as they come.",
    )
    quality: QualitySpec | None = Field(
        default=None, description="Data-quality rules checked on every batch before loading."
    )
    governance: GovernanceSpec | None = Field(
        default=None,
        description="PII classification, policy and keys: columns are classified on every run "
        "and loading stops when one lacks the action the policy requires.",
    )
    observability: ObservabilitySpec = Field(
        default_factory=ObservabilitySpec,
        description="Run history, regression baseline, Prometheus, OpenTelemetry, energy.",
    )
    resilience: ResilienceSpec = Field(
        default_factory=ResilienceSpec,
        description="Retries of REST calls, source reads and commits; circuit breakers.",
    )
    faults: FaultsSpec = Field(
        default_factory=FaultsSpec,
        description="Fault injection for testing resilience; off unless faults are listed.",
    )
    lineage: LineageSpec | None = Field(
        default=None,
        description="OpenLineage events of every run (START, RUNNING, COMPLETE, FAIL, ABORT) "
        "with column lineage: file, HTTP (Marquez API) or console transports.",
    )
    audit: AuditSpec = Field(
        default_factory=AuditSpec,
        description="The hash-chained audit trail of every run (on by default), its chain key "
        "and the signed heads anchored outside the state store.",
    )
    sla: SlaSpec | None = Field(
        default=None,
        description="Service levels checked by tidegate health: max_age of the last success.",
    )
    file: Path = Field(description="The pipeline file, absolute (set by the loader).")
    base_dir: Path = Field(
        description="The pipeline file's folder; relative paths in settings resolve against it."
    )

    _where: Any = PrivateAttr(default=None)

    def problem(
        self, path: tuple[str | int, ...], message: str, hint: str | None = None
    ) -> Problem:
        """A problem found after loading, located at the file and line ``path`` came from."""
        if self._where is None:
            return Problem(
                file=str(self.file),
                line=None,
                path=".".join(map(str, path)),
                message=message,
                hint=hint,
            )
        located: Problem = self._where.problem(path, message, hint)
        return located
