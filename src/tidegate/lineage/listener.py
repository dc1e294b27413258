"""The OpenLineage listener: turns a run's events into OpenLineage run events and sends them.

The run's thread only queues events (``handle`` is O(1)); one worker thread per listener
computes the lineage, builds the events and sends them in order, so importing sqlglot and
openlineage-python, probing schemas and waiting on an HTTP receiver never slow the data path.
``flush`` waits for the queue; ``close`` (and the interpreter's exit) flushes it.

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
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.events import (
    BatchCommitted,
    Event,
    QualityMeasured,
    RunFinished,
    RunStarted,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pyarrow as pa
    from openlineage.client.transport import Transport

    from tidegate.lineage.columns import PipelineLineage
    from tidegate.lineage.facets import RunFacts
    from tidegate.spec import PipelineSpec
    from tidegate.spec.lineage import LineageSpec

__all__ = ["OpenLineageListener"]

_log = structlog.get_logger("tidegate.lineage")

_EXIT_SECONDS = 30.0
"""How long closing (or the interpreter's exit) waits for queued events to be sent."""


@dataclass(frozen=True)
class _Abort:
    """Queued by ``abort``: send ABORT for every run still open."""

    reason: str


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
        self._transports = None if transports is None else dict(transports)
        self._source_schema = source_schema
        self._output_schema = output_schema
        self._clock = clock
        self._runs: dict[str, RunFacts] = {}  # the worker's alone
        self._prepared: tuple[PipelineLineage, Any, Any] | None = None
        self._open: set[str] = set()  # runs started and not finished, seen by handle
        self._hooked = False  # the exit hook is registered
        self._lock = threading.Lock()
        self._last_running: dict[str, float] = {}
        self._queue: queue.Queue[Event | _Abort] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.sent: dict[str, int] = {}
        self.failed: dict[str, int] = {}

    def handle(self, event: Event) -> None:
        """Queue what lineage needs from ``event`` for the worker; O(1) on the run's thread."""
        if isinstance(event, RunStarted):
            with self._lock:
                self._open.add(event.run_id)
                if not self._hooked:  # until its last event is sent, exiting waits for it
                    atexit.register(self._at_exit)
                    self._hooked = True
            self._last_running[event.run_id] = self._clock()
            self._submit(event)
        elif isinstance(event, BatchCommitted):
            if self._running_due(event.run_id):
                self._submit(event)
        elif isinstance(event, QualityMeasured):
            self._submit(event)
        elif isinstance(event, RunFinished):
            with self._lock:
                self._open.discard(event.run_id)
            self._last_running.pop(event.run_id, None)
            self._submit(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is sent (or failed); False when ``timeout`` ran out."""
        done = self._queue.all_tasks_done
        deadline = None if timeout is None else time.monotonic() + timeout
        with done:
            while self._queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                done.wait(remaining)
        return True

    def abort(self, reason: str = "the run was interrupted before it finished") -> None:
        """Send ABORT for every run that started and did not finish (Ctrl-C, a signal)."""
        with self._lock:
            self._open.clear()
        self._submit(_Abort(reason))
        self.flush(timeout=_EXIT_SECONDS)

    def close(self) -> None:
        """Abort what is unfinished, let the worker finish and close every transport."""
        self.abort()
        worker = self._worker
        if worker is not None:
            worker.join(timeout=_EXIT_SECONDS)
        for transport in (self._transports or {}).values():
            transport.close()

    def _at_exit(self) -> None:
        self.abort()

    def _running_due(self, run_id: str) -> bool:
        """Whether a RUNNING event is due: at most one per ``running_every_seconds``."""
        every = self.settings.running_every_seconds
        last = self._last_running.get(run_id)
        if every <= 0 or last is None:
            return False
        now = self._clock()
        if now - last < every:
            return False
        self._last_running[run_id] = now
        return True

    def _submit(self, item: Event | _Abort) -> None:
        with self._lock:  # the worker stops when idle: start one when none is running
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name="tidegate-lineage", daemon=True
                )
                self._worker.start()
            self._queue.put(item)

    def _work(self) -> None:
        """Build and send events in order, off the run's thread; stop when no run is open
        and nothing is queued (a listener per run leaves no thread behind)."""
        while True:
            item = self._queue.get()
            try:
                self._process(item)
            except Exception:  # a lineage bug must not kill the worker or the run
                _log.exception("lineage_listener_failed", item=type(item).__name__)
            finally:
                self._queue.task_done()
            with self._lock:
                if not self._open and not self._runs and self._queue.empty():
                    self._worker = None
                    return

    def _process(self, item: Event | _Abort) -> None:
        # openlineage-python and sqlglot load here, on the worker, never on the run's thread
        from tidegate.lineage.facets import run_event  # noqa: PLC0415

        if isinstance(item, RunStarted):
            self._started(item)
        elif isinstance(item, BatchCommitted):
            facts = self._runs.get(item.run_id)
            if facts is not None:
                self._send(run_event(facts, "RUNNING", at=item.at))
        elif isinstance(item, QualityMeasured):
            facts = self._runs.get(item.run_id)
            if facts is not None:
                facts.quality = item
        elif isinstance(item, RunFinished):
            self._finished(item)
        elif isinstance(item, _Abort):
            for run_id in list(self._runs):
                self._send(run_event(self._runs.pop(run_id), "ABORT", error=item.reason))
        if isinstance(item, RunFinished | _Abort):
            self._unhook()

    def _unhook(self) -> None:
        """Every started run's last event is sent: exiting need not wait for this listener."""
        with self._lock:
            if self._hooked and not self._open:
                atexit.unregister(self._at_exit)
                self._hooked = False

    def prepare(self) -> tuple[PipelineLineage, Any, Any]:
        """Do now what START needs: load openlineage-python and sqlglot, probe the schemas,
        compute the column lineage and open the transports.

        Left to itself, the worker calls it when a run starts, so this fixed cost (a few
        hundred milliseconds of imports and probes the first time in a process) is paid beside
        the run rather than before it; a caller may call it ahead of the run instead. The
        result serves the next run; returns it as ``(lineage, source fields, output fields)``.
        """
        from tidegate.lineage.columns import column_lineage  # noqa: PLC0415
        from tidegate.lineage.facets import schema_fields  # noqa: PLC0415
        from tidegate.lineage.transports import build_transports  # noqa: PLC0415

        if self._transports is None:
            self._transports = build_transports(self.settings, self.spec.base_dir)
        source = self._probe(self._source_schema, "source")
        output = self._probe(self._output_schema, "output")
        lineage = column_lineage(
            self.spec, source_columns=None if source is None else list(source.names)
        )
        self._prepared = (lineage, schema_fields(source), schema_fields(output))
        return self._prepared

    def _started(self, event: RunStarted) -> None:
        from tidegate.lineage.facets import RunFacts, run_event  # noqa: PLC0415

        lineage, source, output = self._prepared or self.prepare()
        self._prepared = None  # a later run probes afresh
        facts = RunFacts(
            run_id=event.run_id,
            lineage=lineage,
            namespace=self.settings.namespace,
            description=self.spec.description,
            owner=self.spec.owner,
            input_schema=source,
            output_schema=output,
        )
        self._runs[event.run_id] = facts
        self._send(run_event(facts, "START", at=event.at))

    def _finished(self, event: RunFinished) -> None:
        from tidegate.lineage.facets import run_event  # noqa: PLC0415

        facts = self._runs.pop(event.run_id, None)
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
        if self._transports is None:
            from tidegate.lineage.transports import build_transports  # noqa: PLC0415

            self._transports = build_transports(self.settings, self.spec.base_dir)
        kind = event.eventType.value
        for name, transport in self._transports.items():
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
