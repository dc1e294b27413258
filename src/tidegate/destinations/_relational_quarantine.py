"""The quarantine of the SQLAlchemy-family destinations: ``<table>__quarantine`` next to the target.

``RelationalDestination`` inherits ``RelationalQuarantine``, which implements the
``Quarantines`` protocol on the run's own connection, so quarantined rows live and die with the
transaction of the batch they were split from: a ``rollback`` discards them with the batch, a
deferred commit (``commit_every``) carries them with the batches it covers, and after a crash a
resumed run neither loses nor repeats one (DESIGN §3).

- ``write_quarantine`` creates the table on first use from the rows' Arrow types, through the
  same type mapping and quoting as the target (``create_table_sql``), and adds the columns it
  lacks as nullable. A column whose type does not fit the existing one is refused with a
  ``DataError`` (rules in ``_quarantine``); one stored as text takes any value as its text.
  Rows go through the dialect's bulk path (``_bulk_insert``: COPY on PostgreSQL).
- The quarantine is append-only across runs and modes: ``replace`` swaps the target only.
- ``read_quarantine`` and ``read_target`` read with the run's connection, so inside a run they
  see its uncommitted writes, as the database shows them to the transaction. Values come back
  with the Arrow type of the column (``sqlalchemy_to_arrow``); text an engine stores in place
  of a type (SQLite's dates, timestamps and decimals) is parsed back when it can be, else kept
  as stored.

The SELECT and DELETE statements are built by pure methods (``quarantine_select``,
``quarantine_delete``, ``target_distinct``) so they can be checked against a dialect without a
server, like the rest of the SQL text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from tidegate.destinations._quarantine import (
    QID,
    QUARANTINED_AT,
    RUN_ID,
    arrange,
    conflict,
    empty_target,
    nulls_as_text,
    prepare,
    quarantine_table,
)
from tidegate.destinations._relational_types import (
    _type_text,
    arrow_family,
    arrow_to_sqlalchemy,
    fits,
    sqlalchemy_to_arrow,
    type_family,
)
from tidegate.errors import ConfigError, TidegateError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection, Dialect
    from sqlalchemy.types import TypeEngine

    from tidegate.destinations._relational import RelationalSettings

__all__ = ["RelationalQuarantine"]

log = structlog.get_logger(__name__)

_IDS = frozenset({QID, RUN_ID})
_DELETE_CHUNK = 500
"""qids per DELETE: well under the bound-parameter limits (SQLite 999, SQL Server 2100)."""


class RelationalQuarantine:
    """The ``Quarantines`` protocol that ``RelationalDestination`` inherits.

    The quarantine table is ``<table>__quarantine`` in the target's schema; its columns are the
    rejected rows' own columns (as the target would type them), then ``QUARANTINE_COLUMNS``.
    """

    _quarantine_types: dict[str, TypeEngine[Any]] | None = None
    """The quarantine's columns once this transaction has written to it; reset on rollback."""

    if TYPE_CHECKING:  # provided by RelationalDestination
        settings: RelationalSettings
        dialect: Dialect
        schema: str | None
        table: str
        lenient_time: ClassVar[bool]

        @property
        def conn(self) -> Connection: ...
        @property
        def safe_url(self) -> str: ...
        def create_table_sql(self, table: str, schema: pa.Schema, *, key: list[str]) -> str: ...
        def add_column_sql(self, table: str, name: str, arrow_type: pa.DataType) -> str: ...
        def _execute(self, sql: str, *, action: str, params: Any = None) -> Any: ...
        def _run(self, statement: Any, *, action: str, params: Any = None) -> Any: ...
        def _classify(self, exc: Any, action: str) -> TidegateError: ...
        def _bulk_insert(self, table: str, batch: pa.RecordBatch, batch_number: int) -> None: ...

    # -- names ------------------------------------------------------------------------------

    def quarantine_table(self) -> str:
        """The quarantine's table name, unqualified: ``<table>__quarantine``."""
        return quarantine_table(self.table)

    def quarantine_name(self) -> str:
        """``schema.table__quarantine`` (or without schema), for messages."""
        table = self.quarantine_table()
        return f"{self.schema}.{table}" if self.schema else table

    # -- SQL (pure: no connection) ----------------------------------------------------------

    def _core_table(self, table: str, names: Sequence[str]) -> Any:
        """A Core table of ``names`` with every identifier quoted, whatever it looks like.

        Columns are untyped (values come back as the driver gives them) except the ids we
        compare with, typed as Unicode so SQL Server gets ``N'...'`` text, not ``'...'``.
        """
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.sql.elements import quoted_name  # noqa: PLC0415

        return sa.table(
            quoted_name(table, quote=True),
            *(
                sa.column(quoted_name(n, quote=True), sa.Unicode() if n in _IDS else None)
                for n in names
            ),
            schema=quoted_name(self.schema, quote=True) if self.schema else None,
        )

    def quarantine_select(self, columns: Sequence[str], *, run_id: str | None = None) -> Any:
        """SELECT ``columns`` of the quarantine (of one run), oldest first, as a Core statement."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        names = list(dict.fromkeys([*columns, QUARANTINED_AT, QID, RUN_ID]))
        t = self._core_table(self.quarantine_table(), names)
        query = sa.select(*(t.c[n] for n in columns)).order_by(t.c[QUARANTINED_AT], t.c[QID])
        if run_id is not None:
            query = query.where(t.c[RUN_ID] == run_id)
        return query

    def quarantine_delete(self, qids: Sequence[str]) -> Any:
        """DELETE the quarantine's rows whose ``_tidegate_qid`` is in ``qids``."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        t = self._core_table(self.quarantine_table(), [QID])
        return sa.delete(t).where(t.c[QID].in_(list(qids)))

    def target_distinct(self, columns: Sequence[str]) -> Any:
        """SELECT DISTINCT ``columns`` of the live target (never the staging table)."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        t = self._core_table(self.table, columns)
        return sa.select(*(t.c[n] for n in columns)).distinct()

    # -- the protocol -----------------------------------------------------------------------

    def write_quarantine(self, rows: pa.RecordBatch) -> None:
        """Append rejected rows in the open transaction; create the table or add columns first."""
        name = self.quarantine_name()
        rows = prepare(rows, location=self._quarantine_location())
        if rows.num_rows == 0:
            return
        table = self.quarantine_table()
        columns = self._quarantine_types
        if columns is None:
            columns = self._reflect_types(table)
        if columns is None:
            rows = nulls_as_text(rows)
            self._execute(
                self.create_table_sql(table, rows.schema, key=[]),
                action=f"creating quarantine {name}",
            )
            columns = {f.name: arrow_to_sqlalchemy(f.type, self.dialect.name) for f in rows.schema}
            log.info("quarantine_created", quarantine=name, columns=len(columns))
        else:
            columns = dict(columns)
            rows, new = self._fit(rows, columns)
            for field in new:
                self._execute(
                    self.add_column_sql(table, field.name, field.type),
                    action=f"adding column {field.name!r} to quarantine {name}",
                )
                columns[field.name] = arrow_to_sqlalchemy(field.type, self.dialect.name)
                log.info("quarantine_column_added", quarantine=name, column=field.name)
        self._quarantine_types = columns
        batch = rows.column("_tidegate_batch")[0].as_py() or 0
        try:
            self._bulk_insert(table, rows, batch)
        except TidegateError as exc:
            raise type(exc)(
                f"writing to quarantine {name}: {exc.message}", location=exc.location, hint=exc.hint
            ) from exc

    def read_quarantine(self, *, run_id: str | None = None) -> pa.Table:
        """Quarantined rows (of one run, or all), oldest first; empty when there is none."""
        columns = self._reflect_types(self.quarantine_table())
        if columns is None:
            return pa.table({})
        result = self._run(
            self.quarantine_select(list(columns), run_id=run_id),
            action=f"reading quarantine {self.quarantine_name()}",
        )
        return arrange(_to_arrow(list(columns.items()), result.fetchall()))

    def delete_quarantine(self, qids: Sequence[str]) -> int:
        """Remove rows by ``_tidegate_qid`` in the open transaction; how many were removed."""
        wanted = sorted(set(qids))
        if not wanted or self._reflect_types(self.quarantine_table()) is None:
            return 0
        removed = 0
        for start in range(0, len(wanted), _DELETE_CHUNK):
            result = self._run(
                self.quarantine_delete(wanted[start : start + _DELETE_CHUNK]),
                action=f"deleting from quarantine {self.quarantine_name()}",
            )
            removed += max(result.rowcount, 0)
        log.info("quarantine_deleted", quarantine=self.quarantine_name(), rows=removed)
        return removed

    def read_target(self, columns: Sequence[str]) -> pa.Table:
        """The distinct values of ``columns`` in the live target; empty when it does not exist."""
        found = self._reflect_types(self.table)
        if found is None:
            return empty_target(columns)
        missing = [c for c in columns if c not in found]
        if missing:
            raise ConfigError(
                f"column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                f"not in table {self._target_label()} (columns: {', '.join(found)})",
                location=f"{self.safe_url} table {self._target_label()}",
                hint="check the column names the rule refers to",
            )
        if not columns:
            return pa.table({})
        result = self._run(
            self.target_distinct(columns),
            action=f"reading the distinct values of table {self._target_label()}",
        )
        return _to_arrow([(c, found[c]) for c in columns], result.fetchall())

    # -- helpers ----------------------------------------------------------------------------

    def _target_label(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def _quarantine_location(self) -> str:
        return f"{self.safe_url} table {self.quarantine_name()}"

    def _reflect_types(self, table: str) -> dict[str, TypeEngine[Any]] | None:
        """The table's columns as name -> SQLAlchemy type, or None when it does not exist."""
        from sqlalchemy import inspect  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, NoSuchTableError  # noqa: PLC0415

        try:
            inspector = inspect(self.conn)
            if not inspector.has_table(table, schema=self.schema):
                return None
            found = inspector.get_columns(table, schema=self.schema)
        except NoSuchTableError:
            return None
        except DBAPIError as exc:
            raise self._classify(exc, f"reading the columns of {table}") from None
        return {str(col["name"]): col["type"] for col in found}

    def _fit(
        self, rows: pa.RecordBatch, columns: dict[str, TypeEngine[Any]]
    ) -> tuple[pa.RecordBatch, list[pa.Field]]:
        """Check the rows against the quarantine's columns; the rows to insert and new fields.

        Columns the quarantine stores as text take any value as its text; all-null columns it
        already has are left out (the database fills them with NULL, as every missing column).
        """
        arrays: list[pa.Array] = []
        names: list[str] = []
        new: list[pa.Field] = []
        for field, original in zip(rows.schema, rows.columns, strict=True):
            column = original
            sa_type = columns.get(field.name)
            if sa_type is None:
                if pa.types.is_null(field.type):
                    column = pa.nulls(len(column), pa.string())
                new.append(pa.field(field.name, column.type))
            elif pa.types.is_null(field.type):
                continue
            else:
                source, target = arrow_family(field.type), type_family(sa_type)
                if target == "text" and source not in {"text", "binary", "other"}:
                    column = pc.cast(column, pa.string())
                elif not fits(source, target, lenient_time=self.lenient_time) or (
                    target == "text" and source != "text"
                ):
                    raise conflict(
                        field.name,
                        field.type,
                        _type_text(sa_type, self.dialect),
                        quarantine=self.quarantine_name(),
                        location=self._quarantine_location(),
                    )
            arrays.append(column)
            names.append(field.name)
        return pa.RecordBatch.from_arrays(arrays, names=names), new


def _to_arrow(columns: list[tuple[str, TypeEngine[Any]]], rows: Sequence[Any]) -> pa.Table:
    """Fetched rows as an Arrow table typed from the reflected column types."""
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = [
        _column(list(vals), sqlalchemy_to_arrow(sa_type))
        for (_, sa_type), vals in zip(columns, values, strict=True)
    ]
    return pa.table(arrays, names=[name for name, _ in columns])


def _column(values: list[Any], arrow_type: pa.DataType | None) -> pa.Array:
    """The driver's values as ``arrow_type``; what the engine stored when they do not convert."""
    if arrow_type is not None:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass  # stored in another form (SQLite: text, 0/1, floats): converted below
    try:
        raw = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed storage classes in one column
        raw = pa.array([None if v is None else str(v) for v in values], pa.string())
    if arrow_type is None or raw.type == arrow_type:
        return raw
    try:
        return _stored_as(raw, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return raw


def _stored_as(raw: pa.Array, arrow_type: pa.DataType) -> pa.Array:
    """Parse values an engine stores as text or numbers back into ``arrow_type``."""
    if pa.types.is_string(raw.type) and pa.types.is_time(arrow_type):
        day = pc.binary_join_element_wise("1970-01-01 ", raw, "")
        return pc.cast(pc.cast(day, pa.timestamp("us")), arrow_type)
    if pa.types.is_string(raw.type) and pa.types.is_timestamp(arrow_type):
        try:
            return pc.cast(raw, arrow_type)
        except pa.ArrowInvalid:  # the text has a zone offset and the column none, or the reverse
            other = pa.timestamp("us", None if arrow_type.tz else "UTC")
            return pc.cast(raw, other)
    return pc.cast(raw, arrow_type)
