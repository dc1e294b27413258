"""The ``rename`` step: renames columns (``columns: {old: new}``), keeping their order and data."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from tidegate.errors import ConfigError
from tidegate.spec.settings import PluginSettings
from tidegate.transform._common import missing_column_error

if TYPE_CHECKING:
    import pyarrow as pa

    from tidegate.core.context import RunContext

__all__ = ["RenameSettings", "RenameStep"]


class RenameSettings(PluginSettings):
    """Settings of the ``rename`` step."""

    columns: dict[str, str] = Field(min_length=1, description="old column name -> new name")


class RenameStep:
    """Renames columns without touching the data (zero-copy)."""

    kind: ClassVar[str] = "rename"
    keeps_rows: ClassVar[bool] = True
    Settings: ClassVar[type[PluginSettings]] = RenameSettings

    def __init__(self, settings: RenameSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``batch`` with the columns renamed."""
        mapping = self.settings.columns
        names = batch.schema.names
        for old in mapping:
            if old not in names:
                raise missing_column_error(self.name, self.kind, old, names)
        renamed = [mapping.get(name, name) for name in names]
        clashes = sorted({name for name in renamed if renamed.count(name) > 1})
        if clashes:
            raise ConfigError(
                f"rename step {self.name!r}: renaming would give two columns named "
                f"{', '.join(repr(c) for c in clashes)}",
                hint="pick a new name that is not taken, or drop the other column first",
            )
        return batch.rename_columns(renamed)
