"""The composition root: turns a pipeline spec into plugin objects, listeners and a runner.

This is the only place that knows every package. It loads the spec through the registry,
instantiates the source, steps and destination from their validated settings, subscribes the
listeners and hands everything to the ``Runner``.
"""

from __future__ import annotations

import difflib
import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog
from pydantic import BaseModel, SecretStr

from tidegate.app.logs import configure_logging
from tidegate.app.plugins import default_registry
from tidegate.core import (
    Check,
    HealthChecked,
    OnUnfinished,
    Quarantines,
    Registry,
    RunContext,
    Runner,
    RunResult,
    SchemaPeeked,
    StepResult,
    new_run_id,
)
from tidegate.errors import SpecError, TidegateError, values_hidden
from tidegate.events import EventBus, Listener
from tidegate.observability.logging import LoggingListener, SecretRedactor
from tidegate.spec import PipelineSpec, load_pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from tidegate.core import Destination, Source, Step
    from tidegate.governance.gate import Governance
    from tidegate.governance.keys import Keyring
    from tidegate.quality import QualityStep

__all__ = [
    "QUALITY_STEP",
    "Pipeline",
    "build",
    "check_governance",
    "check_health",
    "check_rules",
    "load",
    "run_pipeline",
    "secret_values",
]


QUALITY_STEP = "quality"
"""The name of the step that checks the spec's quality rules."""


def load(
    path: str | Path, *, overrides: Sequence[str] = (), registry: Registry | None = None
) -> PipelineSpec:
    """Load and validate a pipeline file; raises ``SpecError`` listing every problem."""
    return load_pipeline(Path(path), registry=registry or default_registry(), overrides=overrides)


@dataclass(kw_only=True)
class Pipeline:
    """A pipeline ready to run: its spec, its plugin objects and the listeners to attach."""

    spec: PipelineSpec
    source: Source
    steps: list[Step]
    destination: Destination
    listeners: list[Listener] = field(default_factory=list)
    profile: str | None = None
    inject: tuple[str, ...] = ()
    allow_faults: bool = False

    def quality_step(self, *, whole_run: bool = True) -> QualityStep | None:
        """A new step checking the spec's quality rules (state is per run), or None.

        ``whole_run`` False leaves out what only makes sense over a whole run (row_count and
        freshness rules, reject and failure thresholds), for a replay of quarantined rows.
        """
        if self.spec.quality is None:
            return None
        from tidegate.quality import QualityStep  # noqa: PLC0415 - DuckDB only when rules exist

        return QualityStep(
            self.spec.quality.for_profile(self.profile),
            name=QUALITY_STEP,
            base_dir=self.spec.base_dir,
            row_numbers=all(
                getattr(step, "keeps_rows", False) for step in self.steps[: self.rules_at()]
            ),
            locate=self.spec.problem,
            whole_run=whole_run,
        )

    def governance(self, *, always: bool = False) -> Governance | None:
        """A new governance for one run, or None when the pipeline is not governed.

        A pipeline is governed when it has a ``governance:`` section or ``TIDEGATE_POLICY``
        names a policy every pipeline of the machine must obey; ``always`` gives one under the
        default policy otherwise (``tidegate classify`` reports what it would decide).
        """
        from tidegate.governance.policy import POLICY_ENV, load_policy  # noqa: PLC0415

        spec = self.spec.governance
        if spec is None and not os.environ.get(POLICY_ENV) and not always:
            return None
        from tidegate.governance.gate import Governance  # noqa: PLC0415 - only when governed

        if getattr(self.spec.source.settings, "on_malformed", None) == "quarantine":
            raise SpecError(
                [
                    self.spec.problem(
                        ("source", "on_malformed"),
                        "a governed pipeline cannot keep malformed source lines: they would be "
                        "stored whole and in clear, whatever columns they hold",
                        "set on_malformed: fail (the default) and fix the file",
                    )
                ]
            )
        policy_path = None
        if spec is not None and spec.policy is not None:
            policy_path = self.spec.base_dir / spec.policy
        protections: dict[str, str] = {}
        for step in self.steps:
            protections.update(getattr(step, "protections", {}))
        return Governance(
            policy=load_policy(policy_path),
            profile=self.profile,
            pins=spec.classification if spec is not None else {},
            protections=protections,
            keyring=self.keyring(),
            sample_rows=spec.sample_rows if spec is not None else 10_000,
            quarantines=isinstance(self.destination, Quarantines) and self.spec.quality is not None,
        )

    def keyring(self) -> Keyring | None:
        """The governance keyring, or None when the pipeline configures no keys."""
        spec = self.spec.governance
        if spec is None or spec.keys is None:
            return None
        from tidegate.governance.keys import Keyring  # noqa: PLC0415 - only with keys

        return Keyring.load(spec.keys, default_key_id=spec.key_id, base_dir=self.spec.base_dir)

    def rules_at(self) -> int:
        """Where the quality rules run among the spec's steps: before the first step that masks
        or encrypts, so values are checked in clear (a regex on a masked email means nothing)
        and rejected rows can be replayed through the protection; else after the last step."""
        return next(
            (i for i, step in enumerate(self.steps) if getattr(step, "protections", None)),
            len(self.steps),
        )

    def all_steps(
        self, *, whole_run: bool = True, governance: Governance | None = None
    ) -> list[Step]:
        """The spec's steps with a fresh quality step at ``rules_at`` when the spec has rules.

        With ``governance``, its entry step comes first, its inspection of derived columns just
        before the rules and its exit step last, so the policy is checked on exactly what would
        be loaded.
        """
        at = self.rules_at()
        quality = self.quality_step(whole_run=whole_run)
        checks: list[Step] = [] if quality is None else [quality]
        if governance is None:
            return [*self.steps[:at], *checks, *self.steps[at:]]
        return [
            governance.entry,
            *self.steps[:at],
            governance.inspect,
            *checks,
            *self.steps[at:],
            governance.exit,
        ]

    def context(self) -> RunContext:
        """A context for work outside a run (checks, peeks), on a bus nobody listens to."""
        return RunContext(
            run_id=new_run_id(),
            pipeline=self.spec.name,
            bus=EventBus(),
            base_dir=self.spec.base_dir,
        )

    def lineage(self) -> list[Listener]:
        """The OpenLineage listener of the spec's ``lineage:`` section, or none.

        Its schema probes run on its worker thread, beside the run, so they use plugin objects
        of their own, never the run's.
        """
        spec, profile, settings = self.spec, self.profile, self.spec.lineage
        if settings is None:
            return []
        from tidegate.lineage.listener import OpenLineageListener  # noqa: PLC0415

        def source_schema() -> pa.Schema | None:
            fresh = build(spec, profile=profile)
            if not isinstance(fresh.source, SchemaPeeked):
                return None
            return fresh.source.peek_schema(fresh.context())

        # not prepared here: its worker loads openlineage-python and sqlglot and probes the
        # schemas when the run starts, beside it, instead of delaying the run by as much
        return [OpenLineageListener(spec, settings, source_schema=source_schema)]

    def audit(self) -> list[Listener]:
        """The audit listener of the spec's ``audit:`` section (on unless switched off).

        It is told the encrypt steps' key ids, and reports the chain head to the listeners
        that show it (the run summary).
        """
        if not self.spec.audit.enabled:
            return []
        from tidegate.app.auditing import audit_listener  # noqa: PLC0415 - audited runs only

        return [
            audit_listener(
                self.spec, steps=self.steps, profile=self.profile, reporters=self.listeners
            )
        ]

    def schema_at(self, step: str | None = None) -> pa.Schema | None:
        """The schema of the batches reaching ``step`` (None: the destination), without data.

        The source tells its schema (header, file metadata, a ``LIMIT 0`` query) and every step
        before ``step`` runs on an empty batch of it. None when that cannot be known cheaply: the
        source cannot tell, or a python step (user code) comes first. Raises the source's error
        when it cannot be reached.
        """
        context = self.context()
        source = self.source
        schema = source.peek_schema(context) if isinstance(source, SchemaPeeked) else None
        if schema is None:
            return None
        batch = pa.RecordBatch.from_pylist([], schema=schema)
        names = [candidate.name for candidate in self.steps]
        if step in names:
            stop = names.index(step)
        elif step == QUALITY_STEP and self.spec.quality is not None:
            stop = self.rules_at()
        else:
            stop = len(self.steps)
        for candidate in self.steps[:stop]:
            if getattr(candidate, "kind", None) == "python":
                return None
            output = candidate.process(batch, context)
            batch = output.batch if isinstance(output, StepResult) else output
        return batch.schema

    def run(
        self, *, run_id: str | None = None, on_unfinished: OnUnfinished = "refuse"
    ) -> RunResult:
        """Run once with a fresh context and event bus; the result carries any error."""
        from tidegate.app.observing import observers  # noqa: PLC0415 - exporters on demand
        from tidegate.app.resilient import faults_of, policies, warn_unfired  # noqa: PLC0415

        faults = faults_of(
            self.spec, inject=self.inject, profile=self.profile, allow=self.allow_faults
        )
        bus = EventBus()
        for listener in [
            *observers(self.spec, bus=bus, profile=self.profile),
            *self.lineage(),
            *self.listeners,
            *self.audit(),  # last: every other listener has seen an event it fails on
        ]:
            bus.subscribe(listener)
        run_id = run_id or new_run_id()
        resilience = policies(
            self.spec, bus=bus, run_id=run_id, destination=self.destination, faults=faults
        )
        context = RunContext(
            run_id=run_id,
            pipeline=self.spec.name,
            bus=bus,
            base_dir=self.spec.base_dir,
            calls=resilience.calls,
            faults=resilience.faults,
        )
        governance = self.governance()
        runner = Runner(
            source=self.source,
            steps=self.all_steps(governance=governance),
            destination=self.destination,
            context=context,
            on_unfinished=on_unfinished,
            min_batch_rows=self.spec.batch_rows,
            recovery=resilience.recovery,
            fresh_steps=lambda: self.all_steps(governance=self.governance()),
        )
        with (
            structlog.contextvars.bound_contextvars(
                run_id=context.run_id, pipeline=context.pipeline
            ),
            values_hidden() if governance is not None else nullcontext(),
        ):
            result = runner.run()
            warn_unfired(resilience.faults)
            return result


def check_health(pipeline: Pipeline) -> list[Check]:
    """Every health check of the pipeline's source and destination, in order."""
    context = pipeline.context()
    checks: list[Check] = []
    for plugin in (pipeline.source, pipeline.destination):
        if isinstance(plugin, HealthChecked):
            checks.extend(plugin.health(context))
    return checks


def build(
    spec: PipelineSpec, *, registry: Registry | None = None, profile: str | None = None
) -> Pipeline:
    """Instantiate the spec's plugins; construction errors surface before any data moves.

    ``profile`` names the environment profile whose thresholds apply (``--profile prod``).
    """
    registry = registry or default_registry()
    source = registry.load("sources", spec.source.type)(spec.source.settings)
    steps = [
        registry.load("steps", step.type)(_with_keys(step.settings, spec), name=step.name)
        for step in spec.steps
    ]
    destination = registry.load("destinations", spec.destination.type)(spec.destination.settings)
    return Pipeline(spec=spec, source=source, steps=steps, destination=destination, profile=profile)


def _with_keys(settings: Any, spec: PipelineSpec) -> Any:
    """A step's settings with the governance keyring filled in where the step asks for keys
    (an ``encrypt`` step) and names none of its own: one keyring serves the whole pipeline."""
    governance = spec.governance
    if governance is None or governance.keys is None:
        return settings
    if "keys" not in type(settings).model_fields or getattr(settings, "keys", None) is not None:
        return settings
    update: dict[str, Any] = {"keys": governance.keys}
    if "key_id" in type(settings).model_fields and getattr(settings, "key_id", None) is None:
        update["key_id"] = governance.key_id
    return settings.model_copy(update=update)


def check_rules(pipeline: Pipeline) -> str:
    """Check the quality rules against the columns the data will have, without reading rows.

    The source tells its schema (header, file metadata, a ``LIMIT 0`` query) and every step
    runs on an empty batch of it, so the rules meet exactly the columns and types they will
    see. Raises ``SpecError`` locating each bad rule; returns what was checked, for people.
    """
    quality = pipeline.quality_step()
    if quality is None:
        return "no quality rules"
    count = len(quality.spec.rules)
    try:
        schema = pipeline.schema_at(quality.name)
    except TidegateError as exc:
        # the spec is valid; whether the data is there yet is the run's concern (and `health`'s)
        return f"{count} quality rules (columns not checked: {exc.message})"
    if schema is None:
        return f"{count} quality rules (columns checked when the first batch arrives)"
    quality.check_schema(schema)
    return f"{count} quality rules checked against {len(schema)} columns"


def check_governance(pipeline: Pipeline) -> str:
    """Load the policy and the keyring and check that pinned columns exist; what was checked.

    A pin naming no column of the source nor of what the steps produce is a typo that would
    leave the intended column to detection: it is reported at its line, with the near miss.
    """
    governance = pipeline.governance()
    if governance is None:
        return "not governed"
    pins = pipeline.spec.governance.classification if pipeline.spec.governance else {}
    try:
        source = pipeline.schema_at(pipeline.steps[0].name) if pipeline.steps else None
        output = pipeline.schema_at()
    except TidegateError:
        source = output = None  # whether the data is there yet is the run's concern
    if pins and source is not None and output is not None:
        known = set(source.names) | set(output.names)
        problems = [
            pipeline.spec.problem(
                ("governance", "classification", column),
                f"pinned column {column!r} is neither in the source nor in the steps' output",
                _near(column, known),
            )
            for column in pins
            if column not in known
        ]
        if problems:
            raise SpecError(problems)
    keys = "" if governance.keyring is None else f", keys {', '.join(governance.keyring.key_ids())}"
    return f"governed by the {governance.policy.source} policy, {len(pins)} pinned{keys}"


def _near(word: str, names: set[str]) -> str:
    near = difflib.get_close_matches(word, sorted(names), n=1, cutoff=0.6)
    return f"did you mean {near[0]!r}?" if near else f"columns: {', '.join(sorted(names))}"


def secret_values(spec: PipelineSpec) -> Iterator[str]:
    """Every secret value held by the spec's plugin settings, for log redaction."""
    for plugin in (spec.source, *spec.steps, spec.destination):
        yield from _secrets_in(plugin.settings)
    yield from _secrets_in(spec.quality)
    yield from _secrets_in(spec.governance)
    yield from _secrets_in(spec.observability)
    yield from _secrets_in(spec.audit)


def _secrets_in(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets_in(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets_in(item)


def run_pipeline(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    listeners: Sequence[Listener] = (),
    log_level: str | None = None,
    log_format: str | None = None,
    run_id: str | None = None,
    on_unfinished: OnUnfinished = "refuse",
    profile: str | None = None,
    inject: Sequence[str] = (),
    allow_faults: bool = False,
) -> RunResult:
    """Load, build and run a pipeline with logging configured from the spec or the arguments.

    Raises ``ConfigError`` (including ``SpecError``) when the pipeline cannot be set up; a run
    that starts and fails returns a result whose ``error`` says why. ``on_unfinished`` says
    what to do when the destination holds an interrupted run: refuse, resume it, or start fresh.
    """
    spec = load(path, overrides=overrides)
    redactor = SecretRedactor(secret_values(spec))
    extra = []
    if spec.observability.opentelemetry is not None:
        from tidegate.observability.tracing import trace_ids  # noqa: PLC0415 - only with tracing

        extra.append(trace_ids)
    configure_logging(
        log_level or spec.logging.level, log_format or spec.logging.format, redactor, extra
    )
    pipeline = build(spec, profile=profile)
    pipeline.inject, pipeline.allow_faults = tuple(inject), allow_faults
    pipeline.listeners = [LoggingListener(), *listeners]
    return pipeline.run(run_id=run_id, on_unfinished=on_unfinished)
