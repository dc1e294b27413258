"""Files written by ``tidegate init``: a pipeline that runs as is, defaults and sample data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["scaffold"]

PIPELINE = """\
# A Tidegate pipeline. Relative paths resolve against this file's folder.
# Validate with `tidegate validate pipeline.yaml`, run with `tidegate run pipeline.yaml`,
# and see every key with `tidegate schema`.
name: {name}
description: Load the example CSV into the embedded DuckDB warehouse.

source:
  type: csv
  path: data/example.csv
  columns:
    id: int64
    signup_date: date32

steps:
  - type: sql
    name: clean
    query: |
      SELECT id, trim(name) AS name, lower(trim(email)) AS email, signup_date
      FROM input
      WHERE id IS NOT NULL

destination:
  type: duckdb
  path: .tidegate/warehouse.duckdb
  table: {name}
  mode: replace
"""

DEFAULTS = """\
# Project-wide defaults, merged under every pipeline.yaml in this folder (the pipeline wins).
logging:
  level: info
  format: auto
"""

SAMPLE = """\
id,name,email,signup_date
1,Ada Lovelace, Ada@Example.org ,2024-01-15
2,Alan Turing,alan@example.org,2024-02-01
3,Grace Hopper,GRACE@example.org,2024-03-20
"""

GITIGNORE = ".tidegate/\n"


def scaffold(folder: Path, *, name: str, force: bool = False) -> list[Path]:
    """Write a runnable pipeline folder; refuses to overwrite files unless ``force``."""
    files = {
        folder / "pipeline.yaml": PIPELINE.format(name=name),
        folder / "tidegate.yaml": DEFAULTS,
        folder / "data" / "example.csv": SAMPLE,
        folder / ".gitignore": GITIGNORE,
    }
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise ConfigError(
            f"{existing[0]} already exists",
            hint="choose an empty folder, or pass --force to overwrite",
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
