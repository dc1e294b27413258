"""Prometheus metrics of a run, pushed to a Pushgateway and/or written as a node-exporter textfile.

A run is a batch job: nothing lives long enough to be scraped, so ``PrometheusListener`` keeps
the metrics of each run in a registry of its own, fed from the run's events, and exports them
when the run finishes (``observability.prometheus`` in the spec: ``pushgateway``,
``textfile_dir``, ``job``, ``timeout_seconds``). ``render_metrics`` turns any registry into the
text exposition format, for a ``/metrics`` endpoint.

Metrics (every one carries ``pipeline``; counters count one run, the run that exported them):

=============================================  =========  =====================================
name                                           type       labels and meaning
=============================================  =========  =====================================
``tidegate_rows_total``                        counter    ``pipeline, step, outcome``: rows read
                                                          (step ``source``, outcome ``read``),
                                                          into and out of each step (``in``,
                                                          ``out``), split off by a step or the
                                                          source (``rejected``) and committed
                                                          (step ``destination``, ``written``;
                                                          0 when the run failed and rolled back)
``tidegate_batches_total``                     counter    ``pipeline``: batches read
``tidegate_bytes_read_total``                  counter    ``pipeline``: Arrow bytes read
``tidegate_step_seconds_total``                counter    ``pipeline, step``: time in each step;
                                                          ``source`` is the wait for batches the
                                                          read-ahead did not hide,
                                                          ``destination`` writes plus commits
``tidegate_batch_latency_seconds``             histogram  ``pipeline``: from a batch read to its
                                                          commit (10 ms ... 60 s buckets)
``tidegate_run_duration_seconds``              gauge      ``pipeline``: the run's wall time
``tidegate_last_run_success``                  gauge      ``pipeline``: 1 succeeded, 0 failed
``tidegate_last_run_timestamp_seconds``        gauge      ``pipeline``: when the last run ended
``tidegate_last_success_timestamp_seconds``    gauge      ``pipeline``: when the last successful
                                                          run ended (kept across failed runs)
``tidegate_quality_score``                     gauge      ``pipeline``: 0..100, when rules
                                                          measured it
``tidegate_run_regressions_total``             counter    ``pipeline, metric``: the run is far
                                                          from its baseline on ``metric``
                                                          (``seconds``, ``rows_read``, ...)
``tidegate_export_failures_total``             counter    ``pipeline, exporter``: failed pushes
                                                          (``pushgateway``) or writes
                                                          (``textfile``) in this process
=============================================  =========  =====================================

Label values are only pipeline and step names (from the spec's ``name:`` fields) and fixed
words, never a setting, so no secret can reach a label. A user step named ``source`` or
``destination`` shares its series with the source or destination.

Pushgateway semantics: a successful run is pushed with PUT to the group ``job=<job>,
pipeline=<name>``, replacing everything the group held. A failed run is pushed with POST, which
replaces only the metric names it carries, and carries neither
``tidegate_last_success_timestamp_seconds`` nor families it has no sample for: the group keeps
the last success time (and a quality score or regressions the failed run never measured) from
the run before. The textfile is rewritten whole each run; a failed run carries the last success
time over from the file it replaces (or from this process's previous run of the pipeline).

A backend that is down never fails or slows a run by more than ``timeout_seconds``: each export
runs on a daemon thread and ``RunFinished`` waits for the first attempts at most that long. A
failure is logged once per exporter per listener (``metrics_export_failed``, the URL without
credentials), counted in ``failures`` and in ``tidegate_export_failures_total`` of the next
push, and retried in the background after each of ``retry_delays``; a newer export of the same
pipeline supersedes a pending retry. Daemon threads never hold the process open at exit;
``close`` gives pending retries one last attempt, bounded by the timeout. One listener is meant
to live as long as the process, so "once" means once per process.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import Counter, defaultdict
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    basic_auth_handler,
    default_handler,
    generate_latest,
    push_to_gateway,
    pushadd_to_gateway,
    write_to_textfile,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    Event,
    QualityMeasured,
    RowsRejected,
    RunFinished,
    RunRegressed,
    RunStarted,
    StepFinished,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from datetime import datetime
    from pathlib import Path

    from tidegate.spec.observability import PrometheusSpec

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "RETRY_DELAYS",
    "PrometheusListener",
    "RunMetrics",
    "render_metrics",
]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The Content-Type of ``render_metrics`` output (text exposition format 0.0.4)."""

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds of ``tidegate_batch_latency_seconds``: a small batch commits in milliseconds, a
large one to a remote warehouse in tens of seconds."""

RETRY_DELAYS = (1.0, 5.0, 30.0)
"""Seconds before each background retry of a failed export."""

LAST_SUCCESS = "tidegate_last_success_timestamp_seconds"

_log = structlog.get_logger("tidegate.metrics")


def render_metrics(registry: Collector) -> bytes:
    """The text exposition (``CONTENT_TYPE``) of a registry or collector, for ``/metrics``."""
    return generate_latest(registry)


class RunMetrics(Collector):
    """The metrics of one run of one pipeline, fed event by event; a prometheus collector.

    Plain counts under a lock rather than prometheus_client metric objects, so the exposition
    has no ``_created`` series (meaningless for a job) and figures set at the end of the run
    (rows written, which a failed run rolls back) need no decrementing counter.
    """

    def __init__(self, pipeline: str, run_id: str = "") -> None:
        self.pipeline = pipeline
        self.run_id = run_id
        self.finished: RunFinished | None = None
        self.last_success: float | None = None
        self._lock = threading.Lock()
        self._rows: Counter[tuple[str, str]] = Counter()
        self._step_seconds: defaultdict[str, float] = defaultdict(float)
        self._batches = 0
        self._bytes = 0
        self._latency = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self._read_at: dict[int, datetime] = {}
        self._quality: float | None = None
        self._regressions: Counter[str] = Counter()

    def handle(self, event: Event) -> None:
        """Add one event's figures."""
        with self._lock:
            self._add(event)

    def _add(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run_id
            for name in ("source", *event.steps):
                self._rows.update({(name, "rejected"): 0})
            for name in event.steps:
                self._rows.update({(name, "in"): 0, (name, "out"): 0})
            self._rows.update({("source", "read"): 0, ("destination", "written"): 0})
            for name in ("source", *event.steps, "destination"):
                self._step_seconds[name] += 0.0
        elif isinstance(event, BatchRead):
            self._rows["source", "read"] += event.rows
            self._bytes += event.nbytes
            self._step_seconds["source"] += event.wait_seconds
            self._read_at[event.batch] = event.at
        elif isinstance(event, StepFinished):
            self._rows[event.step, "in"] += event.rows_in
            self._rows[event.step, "out"] += event.rows_out
            self._step_seconds[event.step] += event.seconds
        elif isinstance(event, RowsRejected):
            self._rows[event.step, "rejected"] += event.rows
        elif isinstance(event, BatchWritten):
            self._step_seconds["destination"] += event.seconds
        elif isinstance(event, BatchCommitted):
            self._step_seconds["destination"] += event.seconds
            self._committed(event.batch, event.at)
        elif isinstance(event, QualityMeasured) and event.score is not None:
            self._quality = event.score
        elif isinstance(event, RunRegressed):
            self._regressions[event.metric] += 1
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _committed(self, batch: int, at: datetime) -> None:
        """Observe every batch up to ``batch``: one commit may cover several batches."""
        for number in sorted(n for n in self._read_at if n <= batch):
            seconds = max((at - self._read_at.pop(number)).total_seconds(), 0.0)
            self._latency[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum += seconds

    def _finish(self, event: RunFinished) -> None:
        self.finished = event
        self.run_id = event.run_id
        self._rows["destination", "written"] += event.rows_written
        self._batches = event.batches
        if event.status == "succeeded":
            # the destination's finish commits what no BatchCommitted covered: it ends by now
            self._committed(max(self._read_at, default=0), event.at)
            self.last_success = event.at.timestamp()
        self._read_at.clear()

    def collect(self) -> Iterator[Metric]:
        """Every family of the run; one with no sample yet is still described."""
        with self._lock:
            yield from self._families()

    def _families(self) -> Iterator[Metric]:
        p = self.pipeline
        rows = CounterMetricFamily(
            "tidegate_rows", "Rows by step and outcome.", labels=["pipeline", "step", "outcome"]
        )
        for (step, outcome), count in sorted(self._rows.items()):
            rows.add_metric([p, step, outcome], count)
        yield rows
        yield _counter("tidegate_batches", "Batches read.", p, self._batches)
        yield _counter("tidegate_bytes_read", "Arrow bytes read from the source.", p, self._bytes)
        seconds = CounterMetricFamily(
            "tidegate_step_seconds", "Seconds spent in each step.", labels=["pipeline", "step"]
        )
        for step, value in sorted(self._step_seconds.items()):
            seconds.add_metric([p, step], value)
        yield seconds
        latency = HistogramMetricFamily(
            "tidegate_batch_latency_seconds",
            "Seconds from a batch read to its commit.",
            labels=["pipeline"],
        )
        cumulative = [sum(self._latency[: i + 1]) for i in range(len(self._latency))]
        bounds = [*map(floatToGoString, LATENCY_BUCKETS), "+Inf"]
        latency.add_metric([p], list(zip(bounds, cumulative, strict=True)), self._latency_sum)
        yield latency
        done = self.finished
        took, ok, ended = (
            (None, None, None)
            if done is None
            else (done.seconds, float(done.status == "succeeded"), done.at.timestamp())
        )
        yield _gauge("tidegate_run_duration_seconds", "Wall time of the last run.", p, took)
        yield _gauge("tidegate_last_run_success", "1 if the last run succeeded, else 0.", p, ok)
        yield _gauge("tidegate_last_run_timestamp_seconds", "When the last run ended.", p, ended)
        yield _gauge(LAST_SUCCESS, "When the last successful run ended.", p, self.last_success)
        yield _gauge("tidegate_quality_score", "Quality score 0..100 of the run.", p, self._quality)
        regressions = CounterMetricFamily(
            "tidegate_run_regressions",
            "Figures of the run far from the pipeline's baseline.",
            labels=["pipeline", "metric"],
        )
        for metric, count in sorted(self._regressions.items()):
            regressions.add_metric([p, metric], count)
        yield regressions


def _counter(name: str, doc: str, pipeline: str, value: float) -> Metric:
    family = CounterMetricFamily(name, doc, labels=["pipeline"])
    family.add_metric([pipeline], value)
    return family


def _gauge(name: str, doc: str, pipeline: str, value: float | None) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=["pipeline"])
    if value is not None:
        family.add_metric([pipeline], value)
    return family


class _Failures(Collector):
    """``tidegate_export_failures_total`` of one pipeline, read live at each export."""

    def __init__(self, listener: PrometheusListener, pipeline: str) -> None:
        self._listener = listener
        self._pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "tidegate_export_failures",
            "Failed metric exports in this process.",
            labels=["pipeline", "exporter"],
        )
        for exporter in self._listener.exporters:
            count = self._listener.failures[self._pipeline, exporter]
            family.add_metric([self._pipeline, exporter], count)
        yield family


class _Pushed(Collector):
    """What a push carries: families with samples, without the last success when it failed.

    A POST replaces the names it carries, so leaving a family out keeps the group's value.
    """

    def __init__(self, registry: Collector, *, succeeded: bool) -> None:
        self._registry = registry
        self._succeeded = succeeded

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if family.samples and (self._succeeded or family.name != LAST_SUCCESS):
                yield family


class PrometheusListener:
    """Exports each run's metrics at its end to a Pushgateway and/or a textfile; never fails it.

    ``base_dir`` resolves a relative ``textfile_dir`` (the pipeline's folder). ``failures``
    counts failed attempts by (pipeline, exporter). Keep one listener for the process and call
    ``close`` before exiting to give pending retries a last chance.
    """

    fail_closed = False

    def __init__(
        self,
        spec: PrometheusSpec,
        *,
        base_dir: Path,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.spec = spec
        self.failures: Counter[tuple[str, str]] = Counter()
        self._delays = tuple(retry_delays)
        self._gateway: str | None = None
        self._handler: Callable[..., Callable[[], None]] = default_handler
        if spec.pushgateway:
            self._gateway, self._handler = _without_credentials(spec.pushgateway)
        self._textfiles = (base_dir / spec.textfile_dir).resolve() if spec.textfile_dir else None
        self.exporters = tuple(
            name
            for name, target in (("pushgateway", self._gateway), ("textfile", self._textfiles))
            if target is not None
        )
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._runs: dict[str, RunMetrics] = {}
        self._last: dict[str, RunMetrics] = {}
        self._latest: dict[tuple[str, str], object] = {}
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def handle(self, event: Event) -> None:
        """Feed the run's metrics; export them when it finishes (or a late regression arrives)."""
        last = self._last.get(event.pipeline)
        if isinstance(event, RunRegressed) and last is not None and last.run_id == event.run_id:
            last.handle(event)
            self._export(last)
            return
        run = self._runs.get(event.run_id)
        if run is None:
            run = self._runs[event.run_id] = RunMetrics(event.pipeline, event.run_id)
        run.handle(event)
        if isinstance(event, RunFinished):
            del self._runs[event.run_id]
            if run.last_success is None and last is not None:
                run.last_success = last.last_success
            self._last[event.pipeline] = run
            self._export(run)

    def registry(self, run: RunMetrics) -> CollectorRegistry:
        """A registry of the run's metrics and the pipeline's export failures."""
        registry = CollectorRegistry(auto_describe=True)
        registry.register(run)
        registry.register(_Failures(self, run.pipeline))
        return registry

    def close(self, timeout: float | None = None) -> None:
        """Retry pending exports once more now, waiting at most ``timeout`` (spec's default)."""
        self._closing.set()
        deadline = time.monotonic() + (self.spec.timeout_seconds if timeout is None else timeout)
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _export(self, run: RunMetrics) -> None:
        """Start every export on its own daemon thread; wait for first attempts until timeout."""
        registry = self.registry(run)
        sends: list[tuple[str, str, Callable[[], None]]] = []
        if self._gateway is not None:
            sends.append(("pushgateway", self._gateway, lambda: self._push(run, registry)))
        if self._textfiles is not None:
            path = self._textfiles / f"{self.spec.job}_{run.pipeline}.prom"
            sends.append(("textfile", path.as_uri(), lambda: _write(run, registry, path)))
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        attempted: list[threading.Event] = []
        for exporter, target, send in sends:
            token = object()
            self._latest[run.pipeline, exporter] = token
            first = threading.Event()
            thread = threading.Thread(
                target=self._deliver,
                kwargs={
                    "pipeline": run.pipeline,
                    "exporter": exporter,
                    "target": target,
                    "send": send,
                    "token": token,
                    "first": first,
                },
                name=f"tidegate-prometheus-{exporter}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            attempted.append(first)
        deadline = time.monotonic() + self.spec.timeout_seconds
        for first in attempted:
            first.wait(max(deadline - time.monotonic(), 0.0))

    def _push(self, run: RunMetrics, registry: CollectorRegistry) -> None:
        assert self._gateway is not None  # noqa: S101 - only scheduled with a gateway
        succeeded = run.finished is not None and run.finished.status == "succeeded"
        push = push_to_gateway if succeeded else pushadd_to_gateway
        push(
            self._gateway,
            job=self.spec.job,
            registry=_Pushed(registry, succeeded=succeeded),
            grouping_key={"pipeline": run.pipeline},
            timeout=self.spec.timeout_seconds,
            handler=self._handler,
        )

    def _deliver(
        self,
        *,
        pipeline: str,
        exporter: str,
        target: str,
        send: Callable[[], None],
        token: object,
        first: threading.Event,
    ) -> None:
        """Attempt, then retry after each delay until it works, is superseded or retries run out."""
        delays = iter(self._delays)
        failed = False
        while True:
            try:
                send()
            except Exception as exc:  # any exporter failure is logged, counted and retried
                failed = True
                self._failed(pipeline, exporter, target, exc)
            else:
                if failed:
                    _log.info("metrics_export_recovered", exporter=exporter, url=target)
                return
            finally:
                first.set()
            delay = next(delays, None)
            if delay is None or self._closing.is_set():
                return
            self._closing.wait(delay)
            if self._latest.get((pipeline, exporter)) is not token:
                return

    def _failed(self, pipeline: str, exporter: str, target: str, exc: Exception) -> None:
        with self._lock:
            self.failures[pipeline, exporter] += 1
            first = exporter not in self._warned
            self._warned.add(exporter)
        if first:
            _log.warning(
                "metrics_export_failed",
                exporter=exporter,
                url=target,
                error=f"{type(exc).__name__}: {exc}",
                retries=len(self._delays),
            )


def _write(run: RunMetrics, registry: CollectorRegistry, path: Path) -> None:
    """Write the textfile atomically, carrying the last success over a failed run."""
    if run.last_success is None and path.exists():
        run.last_success = _last_success_in(path.read_text(encoding="utf-8"))
    write_to_textfile(str(path), registry)


def _last_success_in(text: str) -> float | None:
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError:
        return None
    values = [s.value for f in families if f.name == LAST_SUCCESS for s in f.samples]
    return values[0] if values else None


def _without_credentials(url: str) -> tuple[str, Callable[..., Callable[[], None]]]:
    """The URL without ``user:password@`` and the handler that sends them as basic auth.

    Only the credential-free URL is ever logged or put in an error message.
    """
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.username is None:
        return url, default_handler
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    clean = urlunsplit(parts._replace(netloc=netloc))
    username, password = unquote(parts.username), unquote(parts.password or "")

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Callable[[], None]:
        return basic_auth_handler(url, method, timeout, headers, data, username, password)

    return clean, handler
