"""`tidegate health` over the whole pipeline (state store, breakers, freshness, disk) and
`--watch`, run as the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli


def _project(tmp_path: Path, cli: Cli, sla: str = "26h") -> None:
    assert cli("init", "shop").returncode == 0
    with (tmp_path / "shop" / "pipeline.yaml").open("a", encoding="utf-8") as pipeline:
        pipeline.write(f"\nsla:\n  max_age: {sla}\n")
    assert cli("run", "shop/pipeline.yaml").returncode == 0


def _watch(tmp_path: Path, *args: str, rounds: int, stop: signal.Signals) -> tuple[int, list[str]]:
    """Start `tidegate health --watch`, wait for ``rounds`` lines, stop it with ``stop``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tidegate", "health", "shop/pipeline.yaml", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(lines) < rounds and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
        process.send_signal(stop)
        rest, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert errors == "", errors
    return process.returncode, lines + rest.splitlines()


def test_health_json_includes_store_breakers_freshness_and_disk(tmp_path: Path, cli: Cli) -> None:
    _project(tmp_path, cli)

    done = cli("health", "shop/pipeline.yaml", "--json")

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True
    checks = {(c["component"], c["check"]): c for c in report["checks"]}
    assert {("state store", "writable"), ("breakers", "closed"), ("freshness", "sla")} <= set(
        checks
    )
    assert ("temp space", "disk") in checks
    assert checks["freshness", "sla"]["detail"].startswith("last success ")
    assert checks["freshness", "sla"]["detail"].endswith(" ago (max 26h)")
    assert "GiB free" in checks["temp space", "disk"]["detail"]


def test_watch_prints_a_line_per_round_until_stopped(tmp_path: Path, cli: Cli) -> None:
    _project(tmp_path, cli)

    code, lines = _watch(tmp_path, "--watch", "0.2", rounds=4, stop=signal.SIGINT)

    assert code == 0
    assert len(lines) >= 4
    assert all(" healthy " in line and "FAILED" not in line for line in lines), lines
    stamps = [line.split(" ")[0] for line in lines]
    assert all(stamp.endswith("Z") and "T" in stamp for stamp in stamps)


def test_watch_json_reports_a_stale_pipeline_and_exits_1_on_terminate(
    tmp_path: Path, cli: Cli
) -> None:
    _project(tmp_path, cli, sla="1s")
    time.sleep(1.1)

    code, lines = _watch(tmp_path, "--watch", "0.2", "--json", rounds=3, stop=signal.SIGTERM)

    assert code == 1
    rounds = [json.loads(line) for line in lines]
    assert len(rounds) >= 3
    assert [r["round"] for r in rounds] == list(range(1, len(rounds) + 1))
    assert all(r["healthy"] is False for r in rounds)
    failed = rounds[-1]["failed"]
    assert [(f["component"], f["check"]) for f in failed] == [("freshness", "sla")]
    assert failed[0]["detail"].endswith(" ago (max 1s)")
    assert all(r["changed"] == [] for r in rounds)


def test_a_bad_sla_max_age_is_a_located_spec_error(tmp_path: Path, cli: Cli) -> None:
    assert cli("init", "shop").returncode == 0
    pipeline = tmp_path / "shop" / "pipeline.yaml"
    lines = pipeline.read_text(encoding="utf-8").count("\n")
    with pipeline.open("a", encoding="utf-8") as file:
        file.write("sla:\n  max_age: 26 hours\n")

    done = cli("health", "shop/pipeline.yaml")

    assert done.returncode == 2
    assert f"pipeline.yaml:{lines + 2}: sla.max_age: '26 hours' is not a duration" in done.stderr
