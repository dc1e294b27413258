"""The OpenLineage listener: turns a run's events into OpenLineage run events and sends them.

``RunStarted`` sends START with the datasets, their schemas and the column lineage;
``BatchCommitted`` sends RUNNING at most once per ``running_every_seconds`` (so a million-row
run pays for a handful of events, not one per batch); ``QualityMeasured`` is kept for the end;
``RunFinished`` sends COMPLETE, or FAIL with the error (secret-free, as the event carries it).
A run that never finishes because the process is interrupted (Ctrl-C, or a signal the CLI
turns into an interrupt) is sent as ABORT when the interpreter exits, or when ``abort`` is
called. A transport that fails is logged and the others still get the event: lineage observes
the run and never stops it.
"""

from __future__ import annotations

import atexit
import time
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.events import (
    BatchCommitted,
    Event,
    QualityMeasured,
    RunFinished,
    RunStarted,
)
from tidegate.lineage.columns import column_lineage
from tidegate.lineage.facets import RunFacts, run_event, schema_fields
from tidegate.lineage.transports import build_transports

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pyarrow as pa
    from openlineage.client.transport import Transport

    from tidegate.spec import PipelineSpec
    from tidegate.spec.lineage import LineageSpec

__all__ = ["OpenLineageListener"]

_log = structlog.get_logger("tidegate.lineage")


class OpenLineageListener:
    """Sends the OpenLineage events of the runs of one pipeline.

    ``source_schema`` and ``output_schema`` tell the schemas the spec cannot (a CSV's header,
    the columns the steps make), asked once per run at START; when they fail or return None
    the lineage rests on what the spec declares. ``transports`` replaces those of the spec
    (tests, embedding applications).
    """

    def __init__(
        self,
        spec: PipelineSpec,
        settings: LineageSpec,
        *,
        source_schema: Callable[[], pa.Schema | None] | None = None,
        output_schema: Callable[[], pa.Schema | None] | None = None,
        transports: Mapping[str, Transport] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.transports = (
            dict(transports)
            if transports is not None
            else build_transports(settings, spec.base_dir)
        )
        self._source_schema = source_schema
        self._output_schema = output_schema
        self._clock = clock
        self._runs: dict[str, RunFacts] = {}
        self._last_running: dict[str, float] = {}
        self.sent: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def handle(self, event: Event) -> None:
        """React to one event of the run; events of other kinds are ignored."""
        if isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, BatchCommitted):
            self._committed(event)
        elif isinstance(event, QualityMeasured):
            facts = self._runs.get(event.run_id)
            if facts is not None:
                facts.quality = event
        elif isinstance(event, RunFinished):
            self._finished(event)

    def abort(self, reason: str = "the run was interrupted before it finished") -> None:
        """Send ABORT for every run that started and did not finish (Ctrl-C, a signal)."""
        for run_id in list(self._runs):
            facts = self._runs.pop(run_id)
            self._last_running.pop(run_id, None)
            self._send(run_event(facts, "ABORT", error=reason))
        atexit.unregister(self.abort)

    def close(self) -> None:
        """Abort what is unfinished and close every transport (HTTP sessions)."""
        self.abort()
        for transport in self.transports.values():
            transport.close()

    def _started(self, event: RunStarted) -> None:
        source = self._probe(self._source_schema, "source")
        output = self._probe(self._output_schema, "output")
        lineage = column_lineage(
            self.spec, source_columns=None if source is None else list(source.names)
        )
        facts = RunFacts(
            run_id=event.run_id,
            lineage=lineage,
            namespace=self.settings.namespace,
            description=self.spec.description,
            owner=self.spec.owner,
            input_schema=schema_fields(source),
            output_schema=schema_fields(output),
        )
        if not self._runs:  # held only while a run is open: the exit hook sends its ABORT
            atexit.register(self.abort)
        self._runs[event.run_id] = facts
        self._last_running[event.run_id] = self._clock()
        self._send(run_event(facts, "START", at=event.at))

    def _committed(self, event: BatchCommitted) -> None:
        facts = self._runs.get(event.run_id)
        every = self.settings.running_every_seconds
        if facts is None or every <= 0:
            return
        now = self._clock()
        if now - self._last_running.get(event.run_id, now) < every:
            return
        self._last_running[event.run_id] = now
        self._send(run_event(facts, "RUNNING", at=event.at))

    def _finished(self, event: RunFinished) -> None:
        facts = self._runs.pop(event.run_id, None)
        self._last_running.pop(event.run_id, None)
        if not self._runs:
            atexit.unregister(self.abort)
        if facts is None:
            return
        facts.rows_read = event.rows_read
        facts.rows_written = event.rows_written
        if event.status == "succeeded":
            self._send(run_event(facts, "COMPLETE", at=event.at))
        else:
            error = event.error or "the run failed"
            if event.error_kind:
                error = f"{event.error_kind}: {error}"
            self._send(run_event(facts, "FAIL", at=event.at, error=error))

    def _probe(self, probe: Callable[[], pa.Schema | None] | None, what: str) -> Any:
        if probe is None:
            return None
        try:
            return probe()
        except Exception as exc:  # a schema is a nicety: lineage goes on from the spec
            _log.warning("lineage_schema_unknown", schema=what, error=str(exc))
            return None

    def _send(self, event: Any) -> None:
        kind = event.eventType.value
        for name, transport in self.transports.items():
            try:
                transport.emit(event)
            except Exception as exc:  # one receiver down must not silence the others
                self.failed[name] = self.failed.get(name, 0) + 1
                _log.warning(
                    "lineage_event_not_sent",
                    transport=name,
                    event_type=kind,
                    error=type(exc).__name__,
                )
            else:
                self.sent[kind] = self.sent.get(kind, 0) + 1
