"""The ``select`` step: keeps the listed columns, in the listed order (zero-copy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, field_validator

from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import missing_column_error

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.core.context import RunContext

__all__ = ["SelectSettings", "SelectStep"]


class SelectSettings(PluginSettings):
    """Settings of the ``select`` step."""

    columns: list[str] = Field(min_length=1, description="columns to keep, in output order")

    @field_validator("columns")
    @classmethod
    def _unique(cls, columns: list[str]) -> list[str]:
        twice = sorted({c for c in columns if columns.count(c) > 1})
        if twice:
            raise ValueError(f"columns listed more than once: {', '.join(twice)}")
        return columns


class SelectStep:
    """Projects each batch onto a fixed list of columns."""

    kind: ClassVar[str] = "select"
    keeps_rows: ClassVar[bool] = True
    Settings: ClassVar[type[PluginSettings]] = SelectSettings

    def __init__(self, settings: SelectSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``batch`` with only the selected columns, in the selected order."""
        names = batch.schema.names
        for column in self.settings.columns:
            if column not in names:
                raise missing_column_error(self.name, self.kind, column, names)
        return batch.select(self.settings.columns)
