"""Reading a SQL destination's loaded rows back (the ``RowsRead`` protocol).

``RelationalDestination`` inherits ``RelationalRowsRead``. The rows are read with the run's
connection after ``open``, from the live target (never the staging table), and typed from the
reflected column types like the quarantine (``_to_arrow``): a binary column (BYTEA, BLOB,
VARBINARY) comes back as Arrow binary. The SELECT is a Core statement over quoted identifiers
(``rows_select``, pure, so it can be checked against a dialect without a server); the dialect
renders the limit (LIMIT, TOP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tidegate.destinations._quarantine import empty_target
from tidegate.destinations._relational_quarantine import _to_arrow
from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa
    from sqlalchemy.types import TypeEngine

__all__ = ["RelationalRowsRead"]


class RelationalRowsRead:
    """The ``RowsRead`` protocol that ``RelationalDestination`` inherits."""

    if TYPE_CHECKING:  # provided by RelationalDestination and RelationalQuarantine
        table: str

        @property
        def safe_url(self) -> str: ...
        def _core_table(self, table: str, names: Sequence[str]) -> Any: ...
        def _reflect_types(self, table: str) -> dict[str, TypeEngine[Any]] | None: ...
        def _run(self, statement: Any, *, action: str, params: Any = None) -> Any: ...
        def _target_label(self) -> str: ...

    def rows_select(self, columns: Sequence[str], *, limit: int | None = None) -> Any:
        """SELECT ``columns`` of the live target, at most ``limit`` rows, as a Core statement."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        t = self._core_table(self.table, columns)
        query = sa.select(*(t.c[n] for n in columns))
        return query if limit is None else query.limit(limit)

    def read_rows(
        self, *, columns: Sequence[str] | None = None, limit: int | None = None
    ) -> pa.Table:
        """Up to ``limit`` rows of the live target (``columns`` only, when given); an empty
        table when the target does not exist."""
        found = self._reflect_types(self.table)
        if found is None:
            return empty_target(columns or [])
        wanted = list(found) if columns is None else list(columns)
        missing = [c for c in wanted if c not in found]
        if missing:
            raise ConfigError(
                f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                f"not in table {self._target_label()} (columns: {', '.join(found)})",
                location=f"{self.safe_url} table {self._target_label()}",
                hint="name columns the table has",
            )
        result = self._run(
            self.rows_select(wanted, limit=limit),
            action=f"reading the rows of table {self._target_label()}",
        )
        return _to_arrow([(c, found[c]) for c in wanted], result.fetchall())
