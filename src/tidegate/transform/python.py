"""The ``python`` step: calls a user function ``RecordBatch -> RecordBatch`` on every batch.

``function`` names it as ``package.module:func`` (or ``package.module.func``); ``pythonpath``
adds a folder (relative to the pipeline file) to ``sys.path`` so a project's own modules can be
imported. The function is imported once; a missing module, attribute or non-callable is a config
error. It may return a RecordBatch, a Table (combined into one batch) or a ``StepResult``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from pydantic import Field

from tidegate.core.imports import import_function
from tidegate.core.protocols import StepResult
from tidegate.errors import InternalError, TidegateError
from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import table_to_batch

if TYPE_CHECKING:
    from collections.abc import Callable

    from tidegate.core.context import RunContext

__all__ = ["PythonSettings", "PythonStep"]


class PythonSettings(PluginSettings):
    """Settings of the ``python`` step."""

    function: str = Field(min_length=1, description="the function to call, as package.module:func")
    pythonpath: str | None = Field(
        default=None, description="folder added to sys.path, relative to the pipeline file"
    )


class PythonStep:
    """Hands each batch to a user function and passes on what it returns."""

    kind: ClassVar[str] = "python"
    Settings: ClassVar[type[PluginSettings]] = PythonSettings

    def __init__(self, settings: PythonSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        self._function: Callable[[pa.RecordBatch], Any] | None = None
        if settings.pythonpath is None or Path(settings.pythonpath).expanduser().is_absolute():
            self._function = self._import(None)  # fail at startup, not on the first batch

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch | StepResult:
        """What the function returns for ``batch``, checked to be a batch."""
        if self._function is None:
            self._function = self._import(ctx)
        try:
            result = self._function(batch)
        except TidegateError:
            raise
        except Exception as exc:
            raise InternalError(
                f"python step {self.name!r}: {self.settings.function} raised "
                f"{type(exc).__name__}: {exc}",
                hint="fix the function; the traceback above shows where it failed",
            ) from exc
        if isinstance(result, pa.RecordBatch | StepResult):
            return result
        if isinstance(result, pa.Table):
            return table_to_batch(result)
        raise InternalError(
            f"python step {self.name!r}: {self.settings.function} returned "
            f"{type(result).__name__}, not a pyarrow RecordBatch",
            hint="return a pyarrow.RecordBatch (or Table); convert a DataFrame with "
            "pyarrow.RecordBatch.from_pandas",
        )

    def _import(self, ctx: RunContext | None) -> Callable[[pa.RecordBatch], Any]:
        folder = None
        if self.settings.pythonpath is not None:
            folder = (
                ctx.resolve(self.settings.pythonpath)
                if ctx
                else Path(self.settings.pythonpath).expanduser()
            )
        return import_function(
            self.settings.function, folder=folder, owner=f"python step {self.name!r}"
        )
