"""Masking benchmark: five columns of the demo customers masked by ``MaskStep``, against a copy.

    python bench/mask.py --rows 1000000 [--repeat 5] [--batch-rows 65536] [--seed 42] [--keep]

Generates the demo ``customers.csv`` with N rows and reads it into Arrow batches of the runner's
default size (neither timed), then times, interleaved and best of ``--repeat``:

- **mask**: ``MaskStep.process`` on every batch, masking five columns the way a steward would:
  ``customer_id`` hashed (HMAC-SHA-256, the join key, all values distinct), ``email`` to its
  domain, ``phone`` keeping its last four digits, ``birth_date`` generalized to the year and
  ``last_name`` replaced by a consistent fake;
- **copy**: the same five columns of every batch copied value by value (``take`` with the
  identity permutation: each value read and written once), the floor any masking pays.

``ratio_vs_copy`` is mask time / copy time (how many copies a masking costs). The clock covers
the work on data already in memory. The last line is JSON with ``rows``, ``rows_per_s``,
``ratio_vs_copy``, ``mask_s``, ``copy_s``, ``mask_cpu_s`` and ``cores`` (CPU seconds of all
threads against wall seconds and cores tell whether the run had the machine to itself); the exit
code is 1 when masking runs below the 1M rows/s target.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

import _harness
from tidegate.app.demo_data import CUSTOMER_SCHEMA, generate
from tidegate.core.context import RunContext
from tidegate.events import EventBus
from tidegate.governance.mask import MaskSettings, MaskStep

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

TARGET_ROWS_PER_S = 1_000_000

MASKS = {
    "customer_id": {"strategy": "hash"},
    "email": {"strategy": "email_domain"},
    "phone": {"strategy": "partial", "keep": 4},
    "birth_date": {"strategy": "generalize", "to": "year"},
    "last_name": {"strategy": "fake", "fake": "last_name"},
}


def main() -> int:
    """Generate, load, time masking and copying alternately, print the report."""
    parser = argparse.ArgumentParser(description="Masking 5 columns with MaskStep vs a copy")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-rows", type=int, default=65_536)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the generated data folder")
    args = parser.parse_args()

    with _harness.work_folder(keep=args.keep) as folder:
        began = time.perf_counter()
        files = generate(folder, rows=args.rows, seed=args.seed)
        _harness.generated(files.customers, rows=args.rows, since=began)
        batches = _load(files.customers, batch_rows=args.batch_rows)

    step = MaskStep(
        MaskSettings.model_validate({"columns": MASKS, "key": "bench key, not a secret"}),
        name="mask_pii",
    )
    ctx = RunContext(run_id="bench", pipeline="bench_mask", bus=EventBus())
    _check(step, batches, ctx)

    mask_runs: list[tuple[float, float]] = []
    copy_runs: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        mask_runs.append(_timed(lambda: [step.process(b, ctx) for b in batches]))
        copy_runs.append(_timed(lambda: [_copy(b) for b in batches]))
    (mask_s, mask_cpu), (copy_s, _) = min(mask_runs), min(copy_runs)
    rows = sum(b.num_rows for b in batches)
    rate = rows / mask_s

    print(f"\nmasking {len(MASKS)} columns of {rows:,} rows in {len(batches)} batches")
    print(f"{'':8}{'seconds':>10}{'rows/s':>14}")
    for name, seconds in (("mask", mask_s), ("copy", copy_s)):
        print(f"{name:8}{seconds:>10.3f}{rows / seconds:>14,.0f}")
    print(f"mask / copy: {mask_s / copy_s:.1f}x the time of copying the same columns")
    print(
        f"mask used {mask_cpu:.3f} CPU seconds: {mask_cpu / mask_s:.2f} of the "
        f"{os.cpu_count()} cores on average (fewer when other processes compete)"
    )
    print(
        f"target {TARGET_ROWS_PER_S:,} rows/s: {'met' if rate >= TARGET_ROWS_PER_S else 'MISSED'}"
    )
    summary = {
        "rows": rows,
        "mask_s": round(mask_s, 3),
        "copy_s": round(copy_s, 4),
        "rows_per_s": round(rate),
        "mask_cpu_s": round(mask_cpu, 3),
        "cores": os.cpu_count(),
        "ratio_vs_copy": round(mask_s / copy_s, 1),
    }
    print(json.dumps(summary), flush=True)
    return 0 if rate >= TARGET_ROWS_PER_S else 1


def _load(csv: Path, *, batch_rows: int) -> list[pa.RecordBatch]:
    """The masked columns of ``csv``, in batches of ``batch_rows`` like the runner's."""
    options = pa_csv.ConvertOptions(
        column_types=CUSTOMER_SCHEMA, include_columns=list(MASKS), strings_can_be_null=True
    )
    table = pa_csv.read_csv(csv, convert_options=options).combine_chunks()
    return table.to_batches(max_chunksize=batch_rows)


def _check(step: MaskStep, batches: list[pa.RecordBatch], ctx: RunContext) -> None:
    """Stop unless masking changed every masked, non-null value and kept every null."""
    sample = batches[0]
    masked = step.process(sample, ctx)
    for column in MASKS:
        before, after = sample.column(column), masked.column(column)
        nulls_kept = pc.all(pc.equal(before.is_null(), after.is_null())).as_py()
        if not nulls_kept and column != "email":  # a dirty email has no domain: null on purpose
            _harness.fail(f"{column}: masking changed which values are null")
        same = pc.equal(pc.cast(before, pa.string()), pc.cast(after, pa.string()))
        if column != "birth_date" and pc.any(same).as_py():
            _harness.fail(f"{column}: masking left a value unchanged")


def _copy(batch: pa.RecordBatch) -> pa.RecordBatch:
    identity = pa.array(np.arange(batch.num_rows, dtype=np.int64))
    return pa.record_batch([pc.take(batch.column(c), identity) for c in MASKS], names=list(MASKS))


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of the process) of ``work()``."""
    began, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - began, time.process_time() - cpu


if __name__ == "__main__":
    sys.exit(main())
