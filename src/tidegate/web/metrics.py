"""``/metrics`` of the dashboard: Prometheus text read from the run history at each scrape.

Runs are batch jobs, gone before a scrape could reach them; the history outlives them, so
each scrape reads every pipeline's latest run through ``HistoryReader`` (this package may not
import the state store). Labels are pipeline names and
fixed words only, so no setting (and no secret) can reach a label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tidegate.web.models import HistoryReader

__all__ = ["HistoryCollector", "render"]


class HistoryCollector:
    """A Prometheus collector reading the history at each scrape."""

    def __init__(self, reader: HistoryReader) -> None:
        self.reader = reader

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
        for pipeline in self.reader.overview().pipelines:
            name = pipeline.pipeline
            if pipeline.last_seconds is not None:
                duration.add_metric([name], pipeline.last_seconds)
            for outcome, value in (
                ("read", pipeline.rows_read),
                ("written", pipeline.rows_written),
                ("rejected", pipeline.rows_rejected),
            ):
                if value is not None:
                    rows.add_metric([name, outcome], value)
            success.add_metric([name], 1.0 if pipeline.last_status == "succeeded" else 0.0)
            started.add_metric([name], pipeline.last_started_at.timestamp())
            if pipeline.last_success_at is not None:
                succeeded.add_metric([name], pipeline.last_success_at.timestamp())
            if pipeline.quality_score is not None:
                score.add_metric([name], pipeline.quality_score)
            for status, count in sorted(pipeline.runs.items()):
                runs.add_metric([name, status], count)
        yield from (duration, rows, success, started, succeeded, score, runs)


def render(reader: HistoryReader) -> bytes:
    """The Prometheus text exposition of the history, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HistoryCollector(reader))
    return generate_latest(registry)
