"""Tidegate: observable, resilient and governed batch ETL pipelines from one ``pipeline.yaml``.

The public API is small: ``run`` a pipeline file, ``load_pipeline`` to validate one, and the
error classes. Nothing runs at import, and heavy libraries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    ErrorKind,
    InternalError,
    SecurityError,
    SpecError,
    TidegateError,
    TransientError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from tidegate.core import RunResult
    from tidegate.spec import PipelineSpec

__all__ = [
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

__version__ = "0.1.0"


def load_pipeline(path: str | Path, *, overrides: Sequence[str] = ()) -> PipelineSpec:
    """Load and validate ``path``; raises ``SpecError`` listing every problem found."""
    from tidegate.app.bootstrap import load  # noqa: PLC0415 - keeps `import tidegate` light

    return load(path, overrides=overrides)


def run(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    resume: bool = False,
    fresh: bool = False,
    raise_on_error: bool = True,
) -> RunResult:
    """Run the pipeline in ``path`` once and return its ``RunResult``.

    ``overrides`` are ``"a.b=value"`` strings, as with ``--set``. When the destination holds an
    interrupted run, ``resume`` continues it and ``fresh`` starts over; with neither the run is
    refused. A failed run raises its ``TidegateError`` unless ``raise_on_error`` is false, in
    which case the result carries it.
    """
    from tidegate.app.bootstrap import run_pipeline  # noqa: PLC0415 - keeps `import tidegate` light

    if resume and fresh:
        raise ConfigError("resume and fresh exclude each other", hint="choose one of them")
    result = run_pipeline(
        path,
        overrides=overrides,
        on_unfinished="resume" if resume else "fresh" if fresh else "refuse",
    )
    if result.error is not None and raise_on_error:
        raise result.error
    return result
