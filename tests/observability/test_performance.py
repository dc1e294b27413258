"""RunMeter's figures agree with the events of real runs: through the runner, and end to end."""

from __future__ import annotations

import json
import resource
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tidegate.app.bootstrap import run_pipeline
from tidegate.core import RunContext, Runner, StepResult
from tidegate.core.protocols import REASON_COLUMN
from tidegate.errors import ConfigError
from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BatchWritten,
    EventBus,
    RowsRejected,
    RunFinished,
    StepFinished,
)
from tidegate.observability.energy import estimate_energy
from tidegate.observability.performance import RunFigures, RunMeter, StepFigures, where_time_went
from tidegate.spec.observability import EnergySpec
from tidegate.testing import FlakySource, MemoryDestination, MemorySource, RecordingListener

if TYPE_CHECKING:
    from tidegate.core import Destination, Source, Step


class Pause:
    """Takes a known time per batch, so batch latencies have a floor."""

    name = "pause"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        time.sleep(0.01)
        return batch


class RejectOdd:
    """Splits odd ids off with a reason."""

    name = "reject_odd"

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> StepResult:
        odd = pc.equal(pc.bit_wise_and(batch.column(0), 1), 1)
        rejected = batch.filter(odd)
        reasons = pa.array(["odd id"] * rejected.num_rows, pa.string())
        return StepResult(
            batch=batch.filter(pc.invert(odd)),
            rejected=rejected.append_column(REASON_COLUMN, reasons),
        )


def _batches(count: int, rows: int = 100) -> list[pa.RecordBatch]:
    return [
        pa.record_batch({"id": pa.array(range(i * rows, (i + 1) * rows), pa.int64())})
        for i in range(count)
    ]


def _run(
    source: Source, steps: list[Step], meter: RunMeter, destination: Destination | None = None
) -> RecordingListener:
    recorder = RecordingListener()
    bus = EventBus()
    bus.subscribe(meter)
    bus.subscribe(recorder)
    context = RunContext(run_id="run-1", pipeline="p", bus=bus, base_dir=Path.cwd())
    Runner(
        source=source, steps=steps, destination=destination or MemoryDestination(), context=context
    ).run()
    assert not bus.failures, "the meter must not fail"
    return recorder


def _figures(meter: RunMeter) -> RunFigures:
    figures = meter.figures()
    assert figures is not None
    return figures


def test_committed_batches_end_their_latency_at_the_commit() -> None:
    meter = RunMeter()

    recorder = _run(MemorySource(_batches(6)), [Pause()], meter)

    figures = _figures(meter)
    reads = {e.batch: e.at for e in recorder.of(BatchRead)}
    commits = {e.batch: e.at for e in recorder.of(BatchCommitted)}
    assert len(commits) == 6
    latencies = np.array([(commits[b] - reads[b]).total_seconds() for b in reads])
    assert figures.batch_p50 == pytest.approx(np.percentile(latencies, 50), abs=1e-6)
    assert figures.batch_p95 == pytest.approx(np.percentile(latencies, 95), abs=1e-6)
    assert figures.batch_max == pytest.approx(latencies.max(), abs=1e-6)
    assert 0.01 <= figures.batch_p50 <= figures.batch_p95 <= figures.batch_max
    commit_seconds = sum(e.seconds for e in recorder.of(BatchCommitted))
    write_seconds = sum(e.seconds for e in recorder.of(BatchWritten))
    assert figures.write_seconds == pytest.approx(commit_seconds + write_seconds)
    assert figures.transform_seconds >= 0.06
    (pause,) = figures.steps
    assert (pause.step, pause.batches, pause.rows_in, pause.rows_out, pause.rejected) == (
        "pause",
        6,
        600,
        600,
        0,
    )
    assert pause.seconds == pytest.approx(figures.transform_seconds)


def test_rejected_rows_are_counted_on_the_step_that_rejected_them() -> None:
    meter = RunMeter()

    recorder = _run(MemorySource(_batches(4, rows=10)), [RejectOdd(), Pause()], meter)

    figures = _figures(meter)
    by_step = {step.step: step for step in figures.steps}
    assert list(by_step) == ["reject_odd", "pause"]
    odd = by_step["reject_odd"]
    assert (odd.batches, odd.rows_in, odd.rows_out, odd.rejected) == (4, 40, 20, 20)
    assert odd.seconds == pytest.approx(sum(e.seconds for e in recorder.of(StepFinished)[::2]))
    assert (by_step["pause"].rows_in, by_step["pause"].rejected) == (20, 0)
    assert (figures.rows_read, figures.rows_written, figures.batches) == (40, 20, 4)


def test_one_meter_serves_consecutive_runs_and_a_failed_one() -> None:
    meter = RunMeter()
    assert meter.figures() is None

    _run(MemorySource(_batches(5)), [], meter)
    first = _figures(meter)
    recorder = _run(FlakySource(_batches(5), fail_after=2), [], meter)

    second = _figures(meter)
    assert recorder.of(RunFinished)[0].status == "failed"
    assert (first.rows_read, first.batches) == (500, 5)
    assert (second.rows_read, second.batches, second.rows_written) == (200, 2, 200)
    assert second.wall_seconds == recorder.of(RunFinished)[0].seconds


def test_an_unknown_country_fails_when_the_meter_is_set_up() -> None:
    with pytest.raises(ConfigError, match="no grid carbon intensity for country 'ZZ'"):
        RunMeter(EnergySpec(country="ZZ"))


CSV_PIPELINE = """\
name: orders
source:
  type: csv
  path: orders.csv
  block_size: 4096
batch_rows: 500
steps:
  - type: sql
    name: clean
    query: |
      SELECT id, upper(country) AS country, amount * 100 AS cents
      FROM input WHERE country <> 'nl'
destination:
  type: duckdb
  path: warehouse.duckdb
  table: orders
quality:
  columns:
    country:
      - allowed_values: [GB, DE]
"""


def test_a_real_csv_to_duckdb_run_gives_consistent_figures(tmp_path: Path) -> None:
    countries = ["gb", "de", "nl", "us"]
    lines = [f"{i},{countries[i % 4]},{i % 97}.5" for i in range(6000)]
    (tmp_path / "orders.csv").write_text("id,country,amount\n" + "\n".join(lines) + "\n")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(CSV_PIPELINE, encoding="utf-8")
    meter = RunMeter(EnergySpec(country="fr"))
    recorder = RecordingListener()

    result = run_pipeline(pipeline, listeners=[meter, recorder], log_level="error")

    assert result.ok, result.error
    figures = _figures(meter)
    finished = recorder.of(RunFinished)[0]
    reads = recorder.of(BatchRead)
    # rows, bytes and batches agree with the events and the result
    assert figures.rows_read == finished.rows_read == sum(e.rows for e in reads) == 6000
    assert figures.bytes_read == sum(e.nbytes for e in reads) > 0
    assert figures.rows_written == finished.rows_written == 3000  # nl filtered, us rejected
    assert figures.batches == finished.batches == len(reads) > 1
    assert figures.wall_seconds == finished.seconds
    assert figures.rows_per_s == pytest.approx(6000 / finished.seconds)
    assert figures.bytes_per_s == pytest.approx(figures.bytes_read / finished.seconds)
    # DuckDB defers its commits here, so latencies end at each batch's write
    assert not recorder.of(BatchCommitted)
    assert 0 < figures.batch_p50 <= figures.batch_p95 <= figures.batch_max <= figures.wall_seconds
    # the split never exceeds the wall time and matches its events
    assert figures.source_wait_seconds == pytest.approx(sum(e.wait_seconds for e in reads))
    assert figures.write_seconds == pytest.approx(sum(e.seconds for e in recorder.of(BatchWritten)))
    assert (
        figures.source_wait_seconds + figures.transform_seconds + figures.write_seconds
        <= figures.wall_seconds
    )
    # every step's aggregate matches its StepFinished and RowsRejected events
    finished_steps = recorder.of(StepFinished)
    rejected = Counter[str]()
    for event in recorder.of(RowsRejected):
        rejected[event.step] += event.rows
    assert [s.step for s in figures.steps] == list(dict.fromkeys(e.step for e in finished_steps))
    for step in figures.steps:
        mine = [e for e in finished_steps if e.step == step.step]
        assert step.batches == len(mine) == figures.batches
        assert step.rows_in == sum(e.rows_in for e in mine)
        assert step.rows_out == sum(e.rows_out for e in mine)
        assert step.seconds == pytest.approx(sum(e.seconds for e in mine))
        assert step.rejected == rejected[step.step]
    assert sum(step.rejected for step in figures.steps) == finished.rows_rejected == 1500
    assert figures.transform_seconds == pytest.approx(sum(s.seconds for s in figures.steps))
    # the process did work and held memory, within the kernel's lifetime high-water mark
    assert figures.cpu_seconds > 0
    peak_so_far = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert 10 * 2**20 < figures.peak_rss_bytes <= peak_so_far
    # energy from the measured figures, on the French grid
    energy = estimate_energy(
        cpu_seconds=figures.cpu_seconds,
        wall_seconds=figures.wall_seconds,
        rss_bytes=figures.peak_rss_bytes,
        spec=EnergySpec(country="FR"),
    )
    assert (figures.energy_kwh, figures.co2e_g) == (energy.kwh, energy.co2e_g)
    assert figures.carbon_intensity == 44.18
    assert figures.energy_model == energy.model
    assert "grid FR 44 g/kWh" in figures.energy_model
    # where the time went adds up to the wall time
    split = where_time_went(figures)
    assert [label for label, _, _ in split] == [
        "source wait",
        *(f"step {s.step}" for s in figures.steps),
        "write",
        "other",
    ]
    assert sum(seconds for _, seconds, _ in split) == pytest.approx(figures.wall_seconds)
    assert sum(share for _, _, share in split) == pytest.approx(1.0)
    # the figures survive the state store's JSON round trip
    stored = json.loads(json.dumps(figures.to_dict()))
    assert RunFigures.from_dict(stored) == figures
    assert RunFigures.from_dict({**stored, "added_by_a_newer_version": 1}) == figures


def _figures_of(wall: float, *, source: float, steps: dict[str, float], write: float) -> RunFigures:
    return RunFigures(
        wall_seconds=wall,
        cpu_seconds=1.0,
        peak_rss_bytes=1,
        rows_read=1,
        bytes_read=1,
        rows_written=1,
        batches=1,
        rows_per_s=1.0,
        bytes_per_s=1.0,
        batch_p50=0.0,
        batch_p95=0.0,
        batch_max=0.0,
        source_wait_seconds=source,
        transform_seconds=sum(steps.values()),
        write_seconds=write,
        steps=(
            *(
                StepFigures(step=n, seconds=s, batches=1, rows_in=1, rows_out=1, rejected=0)
                for n, s in steps.items()
            ),
            StepFigures(step="source", seconds=0.0, batches=0, rows_in=0, rows_out=0, rejected=3),
        ),
        energy_kwh=0.0,
        co2e_g=0.0,
        carbon_intensity=473.05,
        energy_model="m",
    )


def test_where_time_went_lists_steps_that_ran_and_never_a_negative_rest() -> None:
    figures = _figures_of(10.0, source=2.0, steps={"clean": 2.5, "rules": 0.5}, write=1.0)

    assert where_time_went(figures) == [
        ("source wait", 2.0, 0.2),
        ("step clean", 2.5, 0.25),
        ("step rules", 0.5, 0.05),
        ("write", 1.0, 0.1),
        ("other", 4.0, 0.4),
    ]
    clock_skew = _figures_of(1.0, source=0.5, steps={"clean": 0.5}, write=0.5)
    assert where_time_went(clock_skew)[-1] == ("other", 0.0, 0.0)
    assert where_time_went(_figures_of(0.0, source=0.0, steps={}, write=0.0)) == [
        ("source wait", 0.0, 0.0),
        ("write", 0.0, 0.0),
        ("other", 0.0, 0.0),
    ]
