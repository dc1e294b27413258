"""Per-run and per-step performance figures, and the run's energy estimate, from its events.

``RunMeter`` is a listener: it only reads events, does O(1) work per event (adds numbers,
stores two timestamps per batch) and nothing per row, and after ``RunFinished`` its
``figures()`` holds a ``RunFigures`` the state store keeps as JSON and ``tidegate show`` prints.

What is measured, and how exactly:

- **Wall time** is ``RunFinished.seconds``, the runner's own clock around the whole run.
- **CPU time** is the process's user + system time (all threads, so DuckDB's and Arrow's worker
  threads count; child processes do not) read with psutil at ``RunStarted`` and ``RunFinished``.
  Anything else the process does meanwhile (a second run in another thread, a web server) is
  counted too.
- **Peak RSS** is the process's resident set at its highest during the run. psutil's RSS is
  sampled at every ``BatchRead``, ``StepFinished`` and ``BatchWritten`` (about 12 µs each), and
  the kernel's lifetime high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``, or the peak
  working set on Windows) is read at both ends: when it rose during the run, the run set it and
  it is the exact peak; when it did not (an earlier run in the same process peaked higher) the
  figure is the highest sample, which can miss a short spike inside a step.
- **Batch latency** runs from a batch's ``BatchRead`` to the last event about that batch: its
  ``BatchCommitted`` when the destination committed it, else its ``BatchWritten`` (commits
  deferred to the end of the run) or its last ``StepFinished`` (every row filtered out). The
  percentiles are numpy's (linear interpolation) over the run's batches; a run has few, as a
  batch holds tens of thousands of rows.
- **Where the time went**: waiting on the source (``BatchRead.wait_seconds``, the source time
  the read-ahead did not hide), transforming (``StepFinished.seconds``) and writing
  (``BatchWritten.seconds`` + ``BatchCommitted.seconds``); the rest of the wall time is
  "other" (pre-flight checks, opening and finishing the destination, listeners).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import psutil

from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    RowsRejected,
    RunFinished,
    RunStarted,
    StepFinished,
)
from tidegate.observability.energy import estimate_energy, grid_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tidegate.events import Event
    from tidegate.spec.observability import EnergySpec

__all__ = ["RunFigures", "RunMeter", "StepFigures", "where_time_went"]


if sys.platform == "win32":

    def _lifetime_peak_rss(process: psutil.Process) -> int:
        """The process's peak working set so far, in bytes."""
        return int(process.memory_info().peak_wset)

else:
    import resource

    # ru_maxrss is in kilobytes on Linux and in bytes on macOS
    _MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024

    def _lifetime_peak_rss(process: psutil.Process) -> int:
        """The process's peak resident set so far, in bytes."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFigures:
    """One step over a run: time spent, batches processed, rows in and out, rows it rejected.

    Rows the source could not parse appear under the step name ``source`` (with no batches).
    """

    step: str
    seconds: float
    batches: int
    rows_in: int
    rows_out: int
    rejected: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFigures:
    """A finished run's performance and energy figures (seconds, bytes, rows, kWh, gCO2e).

    ``batch_p50``, ``batch_p95`` and ``batch_max`` are batch latencies in seconds;
    ``rows_per_s`` and ``bytes_per_s`` are source rows and Arrow bytes read per wall second.
    """

    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    rows_read: int
    bytes_read: int
    rows_written: int
    batches: int
    rows_per_s: float
    bytes_per_s: float
    batch_p50: float
    batch_p95: float
    batch_max: float
    source_wait_seconds: float
    transform_seconds: float
    write_seconds: float
    steps: tuple[StepFigures, ...]
    energy_kwh: float
    co2e_g: float
    carbon_intensity: float
    energy_model: str

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON types (``steps`` a list of objects)."""
        data = asdict(self)
        data["steps"] = [asdict(step) for step in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild figures from ``to_dict`` output, e.g. read back from the state store.

        Keys this version does not know are ignored, so figures stored by a newer Tidegate
        still load.
        """
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["steps"] = tuple(
            StepFigures(**{f.name: step[f.name] for f in fields(StepFigures)})
            for step in data.get("steps", ())
        )
        return cls(**values)


class _StepTally:
    """Running totals of one step; mutable so each event adds in place."""

    __slots__ = ("batches", "rejected", "rows_in", "rows_out", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.batches = 0
        self.rows_in = 0
        self.rows_out = 0
        self.rejected = 0


class RunMeter:
    """Accumulates a run's performance figures from its events; see the module docstring.

    One meter serves consecutive runs: ``RunStarted`` starts over, and ``figures()`` returns
    the last finished run's figures (None before the first one finishes). The energy spec is
    checked here, so an unknown country fails when the pipeline is set up.
    """

    fail_closed = False

    def __init__(self, energy: EnergySpec | None = None) -> None:
        grid_for(energy)
        self._energy = energy
        self._process = psutil.Process()
        self._figures: RunFigures | None = None
        self._running = False
        self._reset()

    def figures(self) -> RunFigures | None:
        """The figures of the last run that finished after its ``RunStarted`` was seen."""
        return self._figures

    def handle(self, event: Event) -> None:
        """Add one event to the running totals."""
        if isinstance(event, RunStarted):
            self._start(event)
        elif not self._running:
            return
        elif isinstance(event, BatchRead):
            self._rows_read += event.rows
            self._bytes_read += event.nbytes
            self._batches += 1
            self._source_wait += event.wait_seconds
            self._batch_start[event.batch] = event.at.timestamp()
            self._sample_rss()
        elif isinstance(event, StepFinished):
            tally = self._tally(event.step)
            tally.seconds += event.seconds
            tally.batches += 1
            tally.rows_in += event.rows_in
            tally.rows_out += event.rows_out
            self._transform += event.seconds
            self._batch_end[event.batch] = event.at.timestamp()
            self._sample_rss()
        elif isinstance(event, RowsRejected):
            self._tally(event.step).rejected += event.rows
            self._batch_end[event.batch] = event.at.timestamp()
        elif isinstance(event, BatchWritten):
            self._rows_written += event.rows
            self._write += event.seconds
            self._batch_end[event.batch] = event.at.timestamp()
            self._sample_rss()
        elif isinstance(event, BatchCommitted):
            self._write += event.seconds
            self._batch_end[event.batch] = event.at.timestamp()
        elif isinstance(event, RunFinished):
            self._finish(event)

    def _reset(self) -> None:
        self._cpu_start = 0.0
        self._lifetime_peak_start = 0
        self._peak_sampled = 0
        self._rows_read = 0
        self._bytes_read = 0
        self._rows_written = 0
        self._batches = 0
        self._source_wait = 0.0
        self._transform = 0.0
        self._write = 0.0
        self._steps: dict[str, _StepTally] = {}
        self._batch_start: dict[int, float] = {}
        self._batch_end: dict[int, float] = {}

    def _start(self, event: RunStarted) -> None:
        self._reset()
        self._running = True
        times = self._process.cpu_times()
        self._cpu_start = float(times.user + times.system)
        self._lifetime_peak_start = _lifetime_peak_rss(self._process)
        self._sample_rss()
        for step in event.steps:
            self._tally(step)

    def _tally(self, step: str) -> _StepTally:
        tally = self._steps.get(step)
        if tally is None:
            tally = self._steps[step] = _StepTally()
        return tally

    def _sample_rss(self) -> None:
        rss = int(self._process.memory_info().rss)
        self._peak_sampled = max(self._peak_sampled, rss)

    def _finish(self, event: RunFinished) -> None:
        self._running = False
        times = self._process.cpu_times()
        cpu = max(float(times.user + times.system) - self._cpu_start, 0.0)
        self._sample_rss()
        peak = self._peak_sampled
        lifetime_peak = _lifetime_peak_rss(self._process)
        if lifetime_peak > self._lifetime_peak_start:
            peak = max(peak, lifetime_peak)
        wall = event.seconds
        p50, p95, longest = self._latencies()
        energy = estimate_energy(
            cpu_seconds=cpu, wall_seconds=wall, rss_bytes=peak, spec=self._energy
        )
        self._figures = RunFigures(
            wall_seconds=wall,
            cpu_seconds=cpu,
            peak_rss_bytes=peak,
            rows_read=self._rows_read,
            bytes_read=self._bytes_read,
            rows_written=self._rows_written,
            batches=self._batches,
            rows_per_s=self._rows_read / wall if wall > 0 else 0.0,
            bytes_per_s=self._bytes_read / wall if wall > 0 else 0.0,
            batch_p50=p50,
            batch_p95=p95,
            batch_max=longest,
            source_wait_seconds=self._source_wait,
            transform_seconds=self._transform,
            write_seconds=self._write,
            steps=tuple(
                StepFigures(
                    step=name,
                    seconds=tally.seconds,
                    batches=tally.batches,
                    rows_in=tally.rows_in,
                    rows_out=tally.rows_out,
                    rejected=tally.rejected,
                )
                for name, tally in self._steps.items()
            ),
            energy_kwh=energy.kwh,
            co2e_g=energy.co2e_g,
            carbon_intensity=energy.carbon_intensity,
            energy_model=energy.model,
        )

    def _latencies(self) -> tuple[float, float, float]:
        """p50, p95 and max batch latency in seconds; zeros when no batch got past reading.

        A batch with no event after its ``BatchRead`` (the one a failed run stopped in) has no
        end, so it is left out rather than counted as instantaneous.
        """
        done = [batch for batch in self._batch_start if batch in self._batch_end]
        if not done:
            return 0.0, 0.0, 0.0
        starts = np.fromiter((self._batch_start[b] for b in done), np.float64, len(done))
        ends = np.fromiter((self._batch_end[b] for b in done), np.float64, len(done))
        latencies = np.maximum(ends - starts, 0.0)
        p50, p95 = np.percentile(latencies, [50, 95])
        return float(p50), float(p95), float(latencies.max())


def where_time_went(figures: RunFigures) -> list[tuple[str, float, float]]:
    """The run's wall time split as (label, seconds, share of wall time) rows, for display.

    Rows: source wait, one per step that processed a batch (``step <name>``), write, and
    other (wall time not in any of those, never negative).
    """
    wall = figures.wall_seconds

    def row(label: str, seconds: float) -> tuple[str, float, float]:
        return label, seconds, seconds / wall if wall > 0 else 0.0

    rows = [row("source wait", figures.source_wait_seconds)]
    rows += [row(f"step {step.step}", step.seconds) for step in figures.steps if step.batches]
    rows.append(row("write", figures.write_seconds))
    accounted = figures.source_wait_seconds + figures.transform_seconds + figures.write_seconds
    rows.append(row("other", max(wall - accounted, 0.0)))
    return rows
