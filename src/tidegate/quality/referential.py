"""The key sets ``referential`` rules check against, loaded once per run into DuckDB tables.

A rule names a file (CSV, Parquet or JSON, read by DuckDB), a DuckDB database file, or any
database by SQLAlchemy URL, with a table or a query. The distinct keys are read once, before
the first batch, into a table of the checker's own DuckDB connection, so each batch's check is
a hash semi-join inside the single compiled query. Memory is the size of the key set, not of
the referenced table's rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tidegate.errors import ConfigError, DependencyError
from tidegate.quality.compiler import quote
from tidegate.spec.scratch import scratch

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.spec.quality import Rule

__all__ = ["References"]

_READERS = {
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".parquet": "read_parquet",
    ".pq": "read_parquet",
    ".json": "read_json",
    ".jsonl": "read_json",
    ".ndjson": "read_json",
}


class References:
    """Loads each referential rule's keys on first use and names the table holding them."""

    def __init__(self, con: Any, base_dir: Path) -> None:
        self.con = con
        self.base_dir = base_dir
        self._tables: dict[str, str] = {}

    def table_for(self, rule: Rule) -> str:
        """The table of ``rule``'s keys (column ``k``), loading it the first time."""
        name = self._tables.get(rule.rule_id)
        if name is None:
            name = f"ref_{len(self._tables)}"
            keys = self._load(rule)
            self.con.register("_keys", keys)
            try:
                self.con.execute(f"CREATE TEMP TABLE {quote(name)} AS SELECT DISTINCT k FROM _keys")
            finally:
                self.con.unregister("_keys")
            self._tables[rule.rule_id] = name
        return name

    def _load(self, rule: Rule) -> pa.Table:
        if rule.file:
            return self._from_file(rule)
        if rule.duckdb:
            return self._from_duckdb(rule)
        return self._from_url(rule)

    def _key(self, rule: Rule) -> str:
        return rule.key or rule.column or ""

    def _from_file(self, rule: Rule) -> pa.Table:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        assert rule.file is not None  # noqa: S101 - checked by the caller
        path = (self.base_dir / rule.file).expanduser()
        reader = _READERS.get(path.suffix.lower())
        if not path.is_file() or reader is None:
            raise ConfigError(
                f"rule {rule.rule_id!r}: reference file {rule.file!r} "
                + ("does not exist" if not path.is_file() else "is not CSV, Parquet or JSON"),
                location=str(path),
                hint="point file: at a .csv, .parquet or .json file, relative to the pipeline",
            )
        con = scratch()
        try:
            # CSV keys stay text: '1.50' must match the text '1.50', not the number 1.5; the
            # check casts them to the column's type
            options = {"all_varchar": True} if reader == "read_csv" else {}
            relation = getattr(con, reader)(str(path), **options)
            column = self._key(rule)
            if column not in relation.columns:
                raise ConfigError(
                    f"rule {rule.rule_id!r}: reference file has no column {column!r} "
                    f"(columns: {', '.join(relation.columns)})",
                    location=str(path),
                    hint="set key: to the file's column that holds the allowed values",
                )
            return relation.select(f"{quote(column)} AS k").to_arrow_table()
        except duckdb.Error as exc:
            raise ConfigError(
                f"rule {rule.rule_id!r}: cannot read reference file: {str(exc).strip()}",
                location=str(path),
            ) from exc

    def _from_duckdb(self, rule: Rule) -> pa.Table:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        assert rule.duckdb is not None  # noqa: S101 - checked by the caller
        path = (self.base_dir / rule.duckdb).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"rule {rule.rule_id!r}: reference database {rule.duckdb!r} does not exist",
                location=str(path),
                hint="point duckdb: at an existing DuckDB file, relative to the pipeline",
            )
        sql = rule.query or f"SELECT {quote(self._key(rule))} FROM {_dotted(rule.table or '')}"
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                table: pa.Table = con.sql(sql).to_arrow_table()
            finally:
                con.close()
        except duckdb.Error as exc:
            raise ConfigError(
                f"rule {rule.rule_id!r}: cannot read the reference keys: {str(exc).strip()}",
                location=str(path),
                hint="check table:/query: and key:",
            ) from exc
        return pa.table({"k": table.column(0)})

    def _from_url(self, rule: Rule) -> pa.Table:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy library imported on first use

        assert rule.url is not None  # noqa: S101 - checked by the caller
        try:
            engine = sa.create_engine(rule.url.get_secret_value())
        except Exception as exc:
            raise ConfigError(
                f"rule {rule.rule_id!r}: the reference url is not a usable SQLAlchemy URL "
                f"({type(exc).__name__})",
                hint="write it like postgresql+psycopg://user@host/db",
            ) from None
        if rule.query:
            statement: Any = sa.text(rule.query)
        else:
            schema, _, name = (rule.table or "").rpartition(".")
            table = sa.table(name, sa.column(self._key(rule)), schema=schema or None)
            statement = sa.select(table.c[self._key(rule)]).distinct()
        try:
            with engine.connect() as connection:
                values = [row[0] for row in connection.execute(statement)]
        except sa.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise DependencyError(
                f"rule {rule.rule_id!r}: cannot read the reference keys "
                f"({type(cause).__name__}: {str(cause).splitlines()[0]})",
                location=f"{engine.url.render_as_string(hide_password=True)}",
                hint="check table:/query:, key: and that the database is reachable",
            ) from None
        finally:
            engine.dispose()
        return pa.table({"k": pa.array(values)})


def _dotted(name: str) -> str:
    return ".".join(quote(part) for part in name.split("."))
