"""The measuring harness both load benchmarks share: child processes, best-of-K, the report.

``load_csv.py`` and ``load_postgres.py`` pit Tidegate against a native loader the same way, and
this module holds that common way, so the two measure and report identically and each script
keeps only what is its own (its contenders, its pipeline, its checks):

- every contender runs in a child process of its own, reaped with ``os.wait4``, whose
  ``ru_maxrss`` is that child's peak resident memory (the parent stays small on purpose: Linux
  starts a child's figure from the RSS of the process that spawned it);
- a Python child (the script re-invoked with ``--child KIND``) times its own work after its
  imports and prints one ``MARKER`` line of JSON, which the parent reads back as a ``Measure``;
- of K runs the fastest is kept, with the largest RSS seen;
- the parent prints a table and ends with one JSON line for machines.

bench/ is not a package: the scripts run as ``python bench/load_csv.py``, so ``sys.path[0]`` is
this folder and ``import _harness`` finds this file, in the parent and in every child it starts.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import resource
    import subprocess
    from collections.abc import Iterator, Sequence

MARKER = "BENCH_RESULT "


@dataclass(frozen=True)
class Measure:
    """One child's run: the wall time it measured, the peak RSS the kernel reported, its rows."""

    seconds: float
    peak_rss_mb: float
    rows: int


# -- the parent side -----------------------------------------------------------------------------


@contextmanager
def work_folder(*, keep: bool) -> Iterator[Path]:
    """A fresh temp folder for the data, databases and YAML; removed afterwards unless ``keep``."""
    if keep:
        yield Path(tempfile.mkdtemp(prefix="tidegate-bench-"))
    else:
        with tempfile.TemporaryDirectory(prefix="tidegate-bench-") as tmp:
            yield Path(tmp)


def run_child(script: str, kind: str, args: list[str], *, cwd: Path) -> Measure:
    """Run ``script --child KIND ARGS``, reap it with ``wait4`` for its own peak RSS, read its line.

    The child works in ``cwd`` (the bench folder), so nothing it may write lands in the caller's.
    """
    import subprocess  # noqa: PLC0415 - the children import this module too: keep them light

    command = [sys.executable, script, "--child", kind, *args]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd)
        output = b"" if proc.stdout is None else proc.stdout.read()
        if proc.stdout is not None:
            proc.stdout.close()
        usage = _reap(proc)
        if proc.returncode != 0:
            stderr.seek(0)
            log = stderr.read().decode(errors="replace")[-4000:]
            fail(f"{kind} child exited with {proc.returncode}:\n{log}")
    lines = [line for line in output.decode().splitlines() if line.startswith(MARKER)]
    if not lines:
        fail(f"{kind} child printed no result line:\n{output.decode()[-2000:]}")
    result = json.loads(lines[-1].removeprefix(MARKER))
    return Measure(result["seconds"], usage.ru_maxrss / 1024, result["rows"])  # KiB on Linux


def run_command(command: list[str]) -> Measure:
    """Run any command as a child, timed from outside, peak RSS from ``wait4``; rows unknown."""
    import subprocess  # noqa: PLC0415 - the children import this module too: keep them light

    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        usage = _reap(proc)
        seconds = time.perf_counter() - began
        if proc.returncode != 0:
            stderr.seek(0)
            fail(f"{command[0]} exited with {proc.returncode}: {stderr.read().decode()[-2000:]}")
    return Measure(seconds, usage.ru_maxrss / 1024, -1)


def _reap(proc: subprocess.Popen[bytes]) -> resource.struct_rusage:
    """Wait for ``proc`` with ``wait4``; its resource usage. Sets ``proc.returncode``."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
    return usage


def best(runs: Sequence[Measure]) -> Measure:
    """Fastest run; RSS is the worst seen."""
    fastest = min(runs, key=lambda m: m.seconds)
    return Measure(fastest.seconds, max(m.peak_rss_mb for m in runs), fastest.rows)


def generated(csv: Path, *, rows: int, since: float) -> float:
    """Say on stderr that the data child wrote ``csv`` (started at ``since``); its size in MB."""
    size_mb = csv.stat().st_size / 2**20
    took = time.perf_counter() - since
    print(f"generated {rows:,} rows ({size_mb:,.1f} MB) in {took:.1f}s", file=sys.stderr)
    return size_mb


def print_report(
    heading: str,
    *,
    rows: int,
    native: Measure,
    tidegate: Measure,
    idle: Measure,
    native_label: str,
    native_key: str,
    as_fast_as: str,
) -> None:
    """The table for people, then one JSON line for machines.

    ``native_label`` names the native row of the table, ``native_key`` its JSON keys
    (``<key>_rows_per_s``, ``<key>_peak_rss_mb``, ``<key>_seconds``) and the ratio line.
    """
    native_rate, tide_rate = rows / native.seconds, rows / tidegate.seconds
    ratio = tide_rate / native_rate
    print(f"\n{heading}")
    print(f"{'':10}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for name, m in ((native_label, native), ("tidegate", tidegate)):
        print(f"{name:10}{m.seconds:>10.2f}{rows / m.seconds:>14,.0f}{m.peak_rss_mb:>14.1f}")
    print(f"{'idle':10}{'':>10}{'':>14}{idle.peak_rss_mb:>14.1f}  (interpreter + imports only)")
    print(f"throughput ratio tidegate/{native_key}: {ratio:.2f}  (1.00 = as fast as {as_fast_as})")
    summary = {
        "rows": rows,
        "tidegate_rows_per_s": round(tide_rate),
        f"{native_key}_rows_per_s": round(native_rate),
        "ratio": round(ratio, 3),
        "tidegate_peak_rss_mb": round(tidegate.peak_rss_mb, 1),
        f"{native_key}_peak_rss_mb": round(native.peak_rss_mb, 1),
        "tidegate_seconds": round(tidegate.seconds, 3),
        f"{native_key}_seconds": round(native.seconds, 3),
        "idle_peak_rss_mb": round(idle.peak_rss_mb, 1),
    }
    print(json.dumps(summary), flush=True)


def fail(message: str) -> NoReturn:
    """Stop the benchmark with a message on stderr and exit code 1."""
    print("bench failed: " + message, file=sys.stderr)
    raise SystemExit(1)


# -- the child side ------------------------------------------------------------------------------


def generate_child(csv: Path, *, rows: int, seed: int) -> int:
    """The ``generate`` child: write the demo ``customers.csv`` with ``rows`` rows, not timed."""
    from tidegate.app.demo_data import generate  # noqa: PLC0415

    generate(csv.parent, rows=rows, seed=seed)
    return report(0.0, rows)


def report(seconds: float, rows: int) -> int:
    """Print a child's result line for ``run_child`` to read; the child's exit code (0)."""
    print(MARKER + json.dumps({"seconds": seconds, "rows": rows}), flush=True)
    return 0
