"""Helpers to run the real ``tidegate`` CLI in a subprocess and inspect a DuckDB warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb
import pytest

if TYPE_CHECKING:
    from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """Run ``tidegate ARGS`` in ``tmp_path`` with a clean environment plus ``env`` extras."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TIDEGATE")}
        environ.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "tidegate", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=environ,
            timeout=120,
            check=False,
        )

    return run


def table_rows(path: Path, table: str) -> list[tuple[object, ...]]:
    """All rows of ``table`` in the DuckDB file at ``path``, ordered by every column."""
    with duckdb.connect(str(path), read_only=True) as con:
        quoted = '"' + table.replace('"', '""') + '"'
        return con.execute(f"SELECT * FROM {quoted} ORDER BY ALL").fetchall()


def table_names(path: Path) -> list[str]:
    """Every user table name in the DuckDB file at ``path`` (not the checkpoints), sorted."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name <> '_tidegate_checkpoints'"
        ).fetchall()
        return sorted(row[0] for row in rows)
