"""The public surface is deliberate, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import tidegate


def test_public_api_is_pinned() -> None:
    assert sorted(tidegate.__all__) == [
        "ConfigError",
        "DataError",
        "DependencyError",
        "ErrorKind",
        "InternalError",
        "SecurityError",
        "SpecError",
        "TidegateError",
        "TransientError",
        "__version__",
        "load_pipeline",
        "run",
    ]


def _import_cost_us(module: str) -> int:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    for line in out.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise AssertionError(f"{module} not found in importtime output")


def test_import_tidegate_stays_under_budget() -> None:
    # Best of three, because this machine is shared and noisy.
    cost = min(_import_cost_us("tidegate") for _ in range(3))
    assert cost < 150_000, f"import tidegate took {cost} us"


def test_cli_module_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, tidegate.app.cli; "
        "print(sorted(m for m in ('pyarrow', 'duckdb', 'sqlalchemy', 'httpx', 'pydantic') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
