"""OpenTelemetry traces and metrics of runs, exported over OTLP and to Azure Monitor.

``OpenTelemetryListener`` turns the run's events into spans and metrics after the fact: every
event says when it happened and how long its work took, so spans get exact start and end times
without the runner knowing OpenTelemetry. The trace has the shape people read a pipeline in::

    tidegate.run                      one per run
      tidegate.read                   the source: one batch span per batch, as long as the
        tidegate.batch                runner waited for it (the read-ahead hides the rest)
      tidegate.step   (per step)      from its first batch's start to its last batch's end
        tidegate.batch                one per batch through that step
      tidegate.write                  the destination
        tidegate.batch                one per write and one per commit (tidegate.operation)

A streaming runner interleaves steps (batch 1 through every step, then batch 2), so a step span
overlaps its siblings; it still answers "which step costs what" at a glance, which run -> batch
-> step would scatter over hundreds of batch spans.

The listener owns its ``TracerProvider`` and ``MeterProvider`` and never installs them as the
global ones: tests and applications embedding Tidegate keep their own telemetry untouched. The
run span is made current on the runner thread from ``RunStarted`` to ``RunFinished`` (the
read-ahead thread copies that context), so ``trace_ids`` can put its trace id in log lines.

Failures: a backend that is down must not fail or slow a run by more than its timeout. Exports
run on the SDK's background threads; at the end of a run the listener waits for them at most
the exporter's timeout. A failed export is logged once per exporter and endpoint per process
(``telemetry_export_failed``, the endpoint without credentials), counted in ``export_failures``,
and its spans are kept (bounded) and sent again with the next export; cumulative OTLP metrics
carry their totals in the next export anyway. The exporters' own per-attempt log records are
silenced, since the listener reports the failure itself. A span's status holds the error *kind*,
never the error message: messages may quote a value of the data, and spans leave the machine.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode

from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    Event,
    PreflightChecked,
    QualityMeasured,
    RowsRejected,
    RunFinished,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping, Sequence
    from datetime import datetime

    from tidegate.spec.observability import AzureMonitorSpec, OpenTelemetrySpec, OtlpSpec

__all__ = ["OpenTelemetryListener", "trace_ids"]

_log = structlog.get_logger("tidegate.observability")

RETRY_SPANS = 2048
"""Spans of failed exports kept for the next attempt; older ones are dropped (and counted)."""

_QUIET_LOGGERS = (
    "opentelemetry.exporter.otlp",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal",
    "azure.monitor.opentelemetry.exporter",
    "azure.core.pipeline.policies",
)
"""Loggers of the SDK and exporters that log every failed attempt; the listener logs once."""

Counter = collections.Counter[str]

_RECENT_RUNS = 256
_recent: collections.OrderedDict[str, SpanContext] = collections.OrderedDict()
"""Run id -> run span context of recent runs, for log lines logged outside the run span."""
_recent_lock = threading.Lock()

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def trace_ids(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: add ``trace_id`` and ``span_id`` (hex) of the run being logged.

    The current span when one is recording (lines logged during a run, on its threads);
    otherwise the run span of the line's ``run_id`` among recent runs, so ``run_finished``
    carries it too whatever the listeners' order. Lines outside any run are left alone.
    """
    span = trace.get_current_span()
    span_context = span.get_span_context()
    if not (span.is_recording() and span_context.is_valid):
        with _recent_lock:
            span_context = _recent.get(str(event_dict.get("run_id")), span_context)
    if span_context.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(span_context.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(span_context.span_id))
    return event_dict


def _remember(run_id: str, span_context: SpanContext) -> None:
    with _recent_lock:
        _recent[run_id] = span_context
        while len(_recent) > _RECENT_RUNS:
            _recent.popitem(last=False)


def _ns(at: datetime, minus_seconds: float = 0.0) -> int:
    """Nanoseconds since the epoch of ``at`` less ``minus_seconds``, as spans want them."""
    return int((at.timestamp() - minus_seconds) * 1e9)


def _display(url: str) -> str:
    """``url`` without user, password, query or fragment: safe to log."""
    parts = urlsplit(url if "//" in url else f"//{url}")
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _azure_endpoint(connection_string: str) -> str:
    """The ingestion endpoint named by an Application Insights connection string, for logs."""
    fields = dict(
        part.split("=", 1) for part in connection_string.split(";") if "=" in part.strip()
    )
    lowered = {key.strip().lower(): value.strip() for key, value in fields.items()}
    return _display(lowered.get("ingestionendpoint", "https://dc.services.visualstudio.com"))


class _Sink:
    """One backend (OTLP or Azure Monitor): its timeout, where it is, and how its exports went."""

    def __init__(self, name: str, endpoint: str, timeout: float, failures: Counter) -> None:
        self.name = name
        self.endpoint = endpoint
        self.timeout = timeout
        self._failures = failures
        self._failing = False

    def failed(self, signal: str) -> None:
        self._failures[self.name] += 1
        self._failing = True
        with _warned_lock:
            first = (self.name, self.endpoint) not in _warned
            _warned.add((self.name, self.endpoint))
        if first:
            _log.warning(
                "telemetry_export_failed",
                exporter=self.name,
                signal=signal,
                endpoint=self.endpoint,
                timeout_s=self.timeout,
                hint="the run is not affected; telemetry is retried in the background and "
                "this is logged once per process",
            )

    def succeeded(self, signal: str) -> None:
        if self._failing:
            self._failing = False
            _log.info(
                "telemetry_export_recovered",
                exporter=self.name,
                signal=signal,
                endpoint=self.endpoint,
            )


class _GuardedSpanExporter(SpanExporter):
    """Counts failed exports and sends their spans again (bounded) with the next export."""

    def __init__(self, inner: SpanExporter, sink: _Sink) -> None:
        self._inner = inner
        self._sink = sink
        self._pending: collections.deque[ReadableSpan] = collections.deque(maxlen=RETRY_SPANS)
        self.dropped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        batch = [*self._pending, *spans]
        try:
            result = self._inner.export(batch)
        except Exception:  # an exporter bug must not escape into the SDK's worker thread
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self._pending.clear()
            self._sink.succeeded("traces")
        else:
            self.dropped += max(0, len(batch) - RETRY_SPANS)
            self._pending.clear()
            self._pending.extend(batch[-RETRY_SPANS:])
            self._sink.failed("traces")
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _GuardedMetricExporter(MetricExporter):
    """Counts failed metric exports; OTLP's cumulative sums resend their totals next time."""

    def __init__(self, inner: MetricExporter, sink: _Sink) -> None:
        # the periodic reader asks the exporter for these, as the SDK's own readers do
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self._sink = sink

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        except Exception:  # an exporter bug must not escape into the SDK's reader thread
            result = MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self._sink.succeeded("metrics")
        else:
            self._sink.failed("metrics")
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _otlp_exporters(spec: OtlpSpec) -> tuple[SpanExporter, MetricExporter]:
    """OTLP span and metric exporters for ``spec``; gRPC only when that extra is installed."""
    headers = {name: value.get_secret_value() for name, value in spec.headers.items()}
    if spec.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # noqa: PLC0415
            OTLPMetricExporter as GrpcMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as GrpcSpanExporter,
        )

        # gRPC metadata keys must be lower case; http:// means a plaintext channel
        metadata = {name.lower(): value for name, value in headers.items()}
        insecure = urlsplit(spec.endpoint).scheme != "https"
        return (
            GrpcSpanExporter(
                endpoint=spec.endpoint,
                insecure=insecure,
                headers=metadata,
                timeout=spec.timeout_seconds,
            ),
            GrpcMetricExporter(
                endpoint=spec.endpoint,
                insecure=insecure,
                headers=metadata,
                timeout=spec.timeout_seconds,
            ),
        )
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415
        OTLPMetricExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    base = spec.endpoint.rstrip("/")
    return (
        OTLPSpanExporter(
            endpoint=f"{base}/v1/traces", headers=headers, timeout=spec.timeout_seconds
        ),
        OTLPMetricExporter(
            endpoint=f"{base}/v1/metrics", headers=headers, timeout=spec.timeout_seconds
        ),
    )


def _azure_exporters(spec: AzureMonitorSpec) -> tuple[SpanExporter, MetricExporter]:
    """Azure Monitor exporters; offline storage off: the listener retries in memory, and a
    batch job should not leave telemetry behind in a shared temporary folder."""
    from azure.monitor.opentelemetry.exporter import (  # noqa: PLC0415 - an extra
        AzureMonitorMetricExporter,
        AzureMonitorTraceExporter,
    )

    timeout = spec.timeout_seconds
    options: dict[str, Any] = {
        "connection_string": spec.connection_string.get_secret_value(),
        "disable_offline_storage": True,
        "timeout": timeout,
        "read_timeout": timeout,
        "retry_total": 0,
    }
    return AzureMonitorTraceExporter(**options), AzureMonitorMetricExporter(**options)


@dataclass
class _Run:
    """The open spans of one run, and when each batch was read (for batch latency)."""

    span: Span
    token: object
    attributes: dict[str, str]
    children: dict[str, Span] = field(default_factory=dict)
    ends: dict[str, int] = field(default_factory=dict)
    read_at: dict[int, datetime] = field(default_factory=dict)


class OpenTelemetryListener:
    """Spans and metrics of every run, exported as the ``opentelemetry:`` section says.

    ``export_failures`` counts failed exports per exporter (``otlp``, ``azure_monitor``). Call
    ``shutdown()`` once at exit: it sends what is left, waiting at most the exporters' timeout.
    """

    fail_closed = False

    def __init__(self, spec: OpenTelemetrySpec) -> None:
        self.spec = spec
        self.export_failures: Counter = collections.Counter()
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._sinks: list[tuple[_Sink, SpanExporter, MetricExporter]] = []
        if spec.otlp is not None:
            sink = _Sink(
                "otlp",
                _display(spec.otlp.endpoint),
                spec.otlp.timeout_seconds,
                self.export_failures,
            )
            self._sinks.append((sink, *_otlp_exporters(spec.otlp)))
        if spec.azure_monitor is not None:
            azure = spec.azure_monitor
            sink = _Sink(
                "azure_monitor",
                _azure_endpoint(azure.connection_string.get_secret_value()),
                azure.timeout_seconds,
                self.export_failures,
            )
            self._sinks.append((sink, *_azure_exporters(azure)))
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        self._timeout = max((sink.timeout for sink, _, _ in self._sinks), default=0.0)
        resource = Resource.create(
            {
                "service.name": spec.service_name,
                "service.version": _version(),
                "tidegate.version": _version(),
            }
        )
        self._flushes: list[Callable[[], object]] = []
        self._span_exporters: list[_GuardedSpanExporter] = []
        self._tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        if spec.traces:
            for sink, span_exporter, _ in self._sinks:
                guarded = _GuardedSpanExporter(span_exporter, sink)
                processor = BatchSpanProcessor(guarded)
                self._tracer_provider.add_span_processor(processor)
                self._span_exporters.append(guarded)
                self._flushes.append(processor.force_flush)
        readers = []
        if spec.metrics:
            for sink, _, metric_exporter in self._sinks:
                reader = PeriodicExportingMetricReader(
                    _GuardedMetricExporter(metric_exporter, sink),
                    export_timeout_millis=sink.timeout * 1000,
                )
                readers.append(reader)
                self._flushes.append(reader.force_flush)
        self._meter_provider = MeterProvider(
            metric_readers=readers, resource=resource, shutdown_on_exit=False
        )
        self._tracer = self._tracer_provider.get_tracer("tidegate", _version())
        meter = self._meter_provider.get_meter("tidegate", _version())
        self._runs_total = meter.create_counter("tidegate.runs", "{run}", "Runs finished.")
        self._rows = meter.create_counter(
            "tidegate.rows", "{row}", "Rows read, written and rejected (tidegate.kind)."
        )
        self._bytes = meter.create_counter("tidegate.bytes.read", "By", "Arrow bytes read.")
        self._batches = meter.create_counter("tidegate.batches", "{batch}", "Batches read.")
        self._run_duration = meter.create_histogram("tidegate.run.duration", "s", "Run duration.")
        self._batch_latency = meter.create_histogram(
            "tidegate.batch.latency", "s", "From a batch's read to its commit."
        )
        self._step_duration = meter.create_histogram(
            "tidegate.step.duration", "s", "Time a step took on one batch."
        )
        self._source_wait = meter.create_histogram(
            "tidegate.source.wait", "s", "Time the runner waited for the source per batch."
        )
        self._quality = meter.create_gauge(
            "tidegate.quality.score", "1", "Quality score of the run's data, 0..100."
        )

    @property
    def dropped_spans(self) -> int:
        """Spans dropped because failed exports kept more than ``RETRY_SPANS`` waiting."""
        return sum(exporter.dropped for exporter in self._span_exporters)

    def handle(self, event: Event) -> None:
        """Turn one event into spans and measurements."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _started(self, event: RunStarted) -> None:
        attributes = {"tidegate.pipeline": event.pipeline, "tidegate.run_id": event.run_id}
        span = self._tracer.start_span(
            "tidegate.run",
            kind=SpanKind.INTERNAL,
            start_time=_ns(event.at),
            attributes={
                **attributes,
                "tidegate.source": event.source,
                "tidegate.destination": event.destination,
                "tidegate.steps": list(event.steps),
            },
            context=otel_context.Context(),
        )
        _remember(event.run_id, span.get_span_context())
        token = otel_context.attach(trace.set_span_in_context(span))
        with self._lock:
            self._runs[event.run_id] = _Run(span=span, token=token, attributes=attributes)

    def _child(self, run: _Run, key: str, name: str, start: int, **extra: str) -> Span:
        """The step-level span ``key`` of ``run``, started at its first batch."""
        span = run.children.get(key)
        if span is None:
            span = self._tracer.start_span(
                name,
                context=trace.set_span_in_context(run.span),
                start_time=start,
                attributes={**run.attributes, **extra},
            )
            run.children[key] = span
        return span

    def _batch_span(
        self,
        run: _Run,
        event: Event,
        seconds: float,
        *,
        parent: tuple[str, str],
        attributes: dict[str, Any],
        **extra: str,
    ) -> None:
        """A ``tidegate.batch`` span of ``seconds`` ending at ``event.at``, under the
        step-level span ``parent`` (key, name)."""
        start, end = _ns(event.at, seconds), _ns(event.at)
        key, name = parent
        parent_span = self._child(run, key, name, start, **extra)
        span = self._tracer.start_span(
            "tidegate.batch",
            context=trace.set_span_in_context(parent_span),
            start_time=start,
            attributes={**run.attributes, **extra, **attributes},
        )
        span.end(end_time=end)
        run.ends[key] = max(run.ends.get(key, end), end)

    def _read(self, event: BatchRead) -> None:
        pipeline = {"tidegate.pipeline": event.pipeline}
        self._rows.add(event.rows, {**pipeline, "tidegate.kind": "read"})
        self._bytes.add(event.nbytes, pipeline)
        self._batches.add(1, pipeline)
        self._source_wait.record(event.wait_seconds, pipeline)
        run = self._runs.get(event.run_id)
        if run is None:
            return
        run.read_at[event.batch] = event.at
        self._batch_span(
            run,
            event,
            event.wait_seconds,
            parent=("read", "tidegate.read"),
            attributes={
                "tidegate.batch": event.batch,
                "tidegate.operation": "read",
                "tidegate.rows": event.rows,
                "tidegate.bytes": event.nbytes,
            },
        )

    def _step(self, event: StepFinished) -> None:
        self._step_duration.record(
            event.seconds, {"tidegate.pipeline": event.pipeline, "tidegate.step": event.step}
        )
        run = self._runs.get(event.run_id)
        if run is None:
            return
        self._batch_span(
            run,
            event,
            event.seconds,
            parent=(f"step:{event.step}", "tidegate.step"),
            attributes={
                "tidegate.batch": event.batch,
                "tidegate.operation": "process",
                "tidegate.rows_in": event.rows_in,
                "tidegate.rows_out": event.rows_out,
            },
            **{"tidegate.step": event.step},
        )

    def _rejected(self, event: RowsRejected) -> None:
        self._rows.add(
            event.rows,
            {
                "tidegate.pipeline": event.pipeline,
                "tidegate.kind": "rejected",
                "tidegate.step": event.step,
            },
        )
        run = self._runs.get(event.run_id)
        key = "read" if event.step == "source" else f"step:{event.step}"
        parent = run.children.get(key) if run else None
        target = parent or (run.span if run else None)
        if target is not None:
            # reason names (rule ids, "malformed"), never the rejected values
            target.add_event(
                "rows_rejected",
                {
                    "tidegate.batch": event.batch,
                    "tidegate.rows": event.rows,
                    "tidegate.reasons": sorted(event.reasons),
                },
                timestamp=_ns(event.at),
            )

    def _written(self, event: BatchWritten) -> None:
        self._rows.add(
            event.rows, {"tidegate.pipeline": event.pipeline, "tidegate.kind": "written"}
        )
        run = self._runs.get(event.run_id)
        if run is not None:
            self._batch_span(
                run,
                event,
                event.seconds,
                parent=("write", "tidegate.write"),
                attributes={
                    "tidegate.batch": event.batch,
                    "tidegate.operation": "write",
                    "tidegate.rows": event.rows,
                },
            )

    def _committed(self, event: BatchCommitted) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        read_at = run.read_at.pop(event.batch, None)
        if read_at is not None:
            self._batch_latency.record(
                (event.at - read_at).total_seconds(), {"tidegate.pipeline": event.pipeline}
            )
        self._batch_span(
            run,
            event,
            event.seconds,
            parent=("write", "tidegate.write"),
            attributes={
                "tidegate.batch": event.batch,
                "tidegate.operation": "commit",
                "tidegate.rows": event.rows,
            },
        )

    def _preflight(self, event: PreflightChecked) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        span = self._tracer.start_span(
            "tidegate.preflight",
            context=trace.set_span_in_context(run.span),
            start_time=_ns(event.at, event.seconds),
            attributes={
                **run.attributes,
                "tidegate.component": event.component,
                "tidegate.check": event.check,
                "tidegate.ok": event.ok,
            },
        )
        if not event.ok:
            span.set_status(Status(StatusCode.ERROR, "pre-flight check failed"))
        span.end(end_time=_ns(event.at))

    def _measured(self, event: QualityMeasured) -> None:
        if event.score is None or not event.final:
            return
        self._quality.set(event.score, {"tidegate.pipeline": event.pipeline})
        run = self._runs.get(event.run_id)
        if run is not None:
            run.span.set_attribute("tidegate.quality.score", event.score)

    def _finished(self, event: RunFinished) -> None:
        attributes = {"tidegate.pipeline": event.pipeline, "tidegate.status": event.status}
        if event.error_kind:
            attributes["error.type"] = event.error_kind
        self._runs_total.add(1, attributes)
        self._run_duration.record(event.seconds, attributes)
        with self._lock:
            run = self._runs.pop(event.run_id, None)
        if run is not None:
            self._end_run(run, event)
        self._flush()

    def _end_run(self, run: _Run, event: RunFinished) -> None:
        end = _ns(event.at)
        for key, child in run.children.items():
            child.end(end_time=run.ends.get(key, end))
        span = run.span
        span.set_attributes(
            {
                "tidegate.status": event.status,
                "tidegate.rows_read": event.rows_read,
                "tidegate.rows_written": event.rows_written,
                "tidegate.rows_rejected": event.rows_rejected,
                "tidegate.batches": event.batches,
            }
        )
        if event.status != "succeeded":
            kind = event.error_kind or "internal"
            span.set_attribute("error.type", kind)
            # the kind, not event.error: a message may quote a value of the data
            span.set_status(Status(StatusCode.ERROR, f"run failed: {kind} error"))
        span.end(end_time=end)
        try:
            otel_context.detach(run.token)  # type: ignore[arg-type]
        except ValueError:
            _log.debug("trace_context_not_detached", run_id=event.run_id)

    def _flush(self) -> None:
        """Export what the run produced, waiting at most the exporters' timeout."""
        _bounded(self._flushes, self._timeout)

    def shutdown(self) -> None:
        """End open runs, send what is left and stop the exporters, within their timeout."""
        with self._lock:
            runs, self._runs = list(self._runs.values()), {}
        for run in runs:
            for child in run.children.values():
                child.end()
            run.span.end()
        _bounded(
            [
                self._tracer_provider.shutdown,
                lambda: self._meter_provider.shutdown(timeout_millis=self._timeout * 1000),
            ],
            self._timeout,
        )


def _bounded(calls: Sequence[Callable[[], object]], timeout: float) -> bool:
    """Run ``calls`` in parallel on daemon threads; True when all ended within ``timeout``.

    A hanging backend keeps its thread until its own timeout, never the run or the exit.
    """
    threads = [threading.Thread(target=call, daemon=True, name="tidegate-otel") for call in calls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def _version() -> str:
    try:
        return version("tidegate")
    except PackageNotFoundError:
        return "unknown"


_HANDLERS: dict[type[Event], Callable[[OpenTelemetryListener, Any], None]] = {
    RunStarted: OpenTelemetryListener._started,
    BatchRead: OpenTelemetryListener._read,
    StepFinished: OpenTelemetryListener._step,
    RowsRejected: OpenTelemetryListener._rejected,
    BatchWritten: OpenTelemetryListener._written,
    BatchCommitted: OpenTelemetryListener._committed,
    PreflightChecked: OpenTelemetryListener._preflight,
    QualityMeasured: OpenTelemetryListener._measured,
    RunFinished: OpenTelemetryListener._finished,
}
