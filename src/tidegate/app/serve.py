"""``tidegate serve``: ``/metrics`` for Prometheus to scrape, read from the run history.

Runs are batch jobs, gone before a scrape could reach them; the state store outlives them. On
every scrape a collector reads each pipeline's latest run from the store, so the figures are
always the history's, with nothing to keep in sync. Labels are pipeline names and fixed words
only, so no setting (and no secret) can reach a label.

    tidegate_pipeline_last_run_duration_seconds{pipeline}
    tidegate_pipeline_last_run_rows{pipeline,outcome}        outcome: read | written | rejected
    tidegate_pipeline_last_run_success{pipeline}             1 when the latest run succeeded
    tidegate_pipeline_last_run_timestamp_seconds{pipeline}   when the latest run started
    tidegate_last_success_timestamp_seconds{pipeline}        when a run last succeeded
    tidegate_pipeline_quality_score{pipeline}                latest run's score, 0..100
    tidegate_pipeline_runs{pipeline,status}                  runs recorded, by status
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from tidegate.state import StateStore

__all__ = ["HistoryCollector", "metrics_app", "serve"]


class HistoryCollector:
    """A Prometheus collector reading the state store at each scrape."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The metrics of every pipeline's latest run."""
        duration = GaugeMetricFamily(
            "tidegate_pipeline_last_run_duration_seconds",
            "Wall time of the pipeline's latest run.",
            labels=["pipeline"],
        )
        rows = GaugeMetricFamily(
            "tidegate_pipeline_last_run_rows",
            "Rows of the pipeline's latest run, by outcome.",
            labels=["pipeline", "outcome"],
        )
        success = GaugeMetricFamily(
            "tidegate_pipeline_last_run_success",
            "1 when the pipeline's latest run succeeded, else 0.",
            labels=["pipeline"],
        )
        started = GaugeMetricFamily(
            "tidegate_pipeline_last_run_timestamp_seconds",
            "Start of the pipeline's latest run, Unix time.",
            labels=["pipeline"],
        )
        succeeded = GaugeMetricFamily(
            "tidegate_last_success_timestamp_seconds",
            "End of the pipeline's latest successful run, Unix time.",
            labels=["pipeline"],
        )
        score = GaugeMetricFamily(
            "tidegate_pipeline_quality_score",
            "Quality score (0..100) of the pipeline's latest run.",
            labels=["pipeline"],
        )
        runs = GaugeMetricFamily(
            "tidegate_pipeline_runs",
            "Runs recorded in the history, by status.",
            labels=["pipeline", "status"],
        )
        for pipeline in self.store.pipelines():
            name = pipeline.pipeline
            if pipeline.last_seconds is not None:
                duration.add_metric([name], pipeline.last_seconds)
            for outcome, value in (
                ("read", pipeline.last_rows_read),
                ("written", pipeline.last_rows_written),
                ("rejected", pipeline.last_rows_rejected),
            ):
                if value is not None:
                    rows.add_metric([name, outcome], value)
            success.add_metric([name], 1.0 if pipeline.last_status == "succeeded" else 0.0)
            started.add_metric([name], pipeline.last_started_at.timestamp())
            if pipeline.last_success_at is not None:
                succeeded.add_metric([name], pipeline.last_success_at.timestamp())
            if pipeline.last_quality_score is not None:
                score.add_metric([name], pipeline.last_quality_score)
            for status, count in sorted(pipeline.runs.items()):
                runs.add_metric([name, status], count)
        yield from (duration, rows, success, started, succeeded, score, runs)


def metrics_app(store: StateStore) -> WSGIApplication:
    """A WSGI app serving ``/metrics`` from ``store`` (404 elsewhere)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HistoryCollector(store))
    metrics = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"tidegate serves /metrics\n"]
        body: Iterable[bytes] = metrics(environ, start_response)
        return body

    return app


class _QuietHandler(WSGIRequestHandler):
    """Scrapes every few seconds are not news: no access log on stderr."""

    def log_message(self, format: str, *args: object) -> None:
        return


def serve(store: StateStore, *, host: str, port: int) -> None:
    """Serve ``/metrics`` until interrupted."""
    with make_server(host, port, metrics_app(store), handler_class=_QuietHandler) as server:
        server.serve_forever()
