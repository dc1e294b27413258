"""Column lineage of SQL, read with sqlglot: which input columns each output column comes from.

The ``sql`` and ``derive`` steps run DuckDB SQL. sqlglot parses it in the DuckDB dialect,
qualifies every column against the known schemas (the batch is the table ``input``; reference
tables have their own) and expands ``*`` (``EXCLUDE`` and ``REPLACE`` included); its lineage
walk then follows each output column through CTEs and subqueries down to the base tables.
How a column was made is read from its projection: a bare column is carried as is (or renamed
when its name changes), a cast of one is a cast, anything else is derived.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "INPUT",
    "Projection",
    "expression_inputs",
    "indirect_columns",
    "query_tables",
    "select_lineage",
]

DIALECT = "duckdb"
INPUT = "input"
"""The table name under which a step's SQL sees the batch."""


@dataclass(frozen=True)
class Projection:
    """One output column of a query: where it comes from and how it was made.

    ``sources`` holds ``(table, column)`` pairs, the table as the query names it (``input`` is
    the batch); ``how`` is ``carried`` (the same value, maybe under another name), ``cast`` or
    ``derived``.
    """

    name: str
    sources: tuple[tuple[str, str], ...]
    how: str


def _schema(tables: Mapping[str, Sequence[str]]) -> dict[str, object]:
    # sqlglot needs a type per column; lineage does not depend on it
    return {table: dict.fromkeys(columns, "UNKNOWN") for table, columns in tables.items()}


def _how(expression: object) -> str:
    from sqlglot import exp  # noqa: PLC0415 - sqlglot imported on first use

    if isinstance(expression, exp.Column):
        return "carried"
    if isinstance(expression, exp.Cast) and isinstance(expression.this, exp.Column):
        return "cast"
    return "derived"


def select_lineage(
    query: str, tables: Mapping[str, Sequence[str]]
) -> tuple[Projection, ...] | None:
    """The output columns of ``query`` with their sources, or None when they cannot be told.

    ``tables`` maps each table name to its columns (an unknown table may be left out: its
    columns still resolve where the query qualifies them). None when the query does not parse
    or selects ``*`` from a table whose columns are unknown.
    """
    from sqlglot import exp, parse_one  # noqa: PLC0415 - sqlglot imported on first use
    from sqlglot.errors import SqlglotError  # noqa: PLC0415
    from sqlglot.lineage import lineage  # noqa: PLC0415
    from sqlglot.optimizer.qualify import qualify  # noqa: PLC0415

    schema = _schema(tables)
    names = _case_map(tables)
    try:
        parsed = parse_one(query, dialect=DIALECT)
        qualified = qualify(
            parsed.copy(),
            schema=schema,
            dialect=DIALECT,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
    except SqlglotError:
        return None
    if not isinstance(qualified, exp.Query) or any(
        isinstance(select, exp.Star) or (isinstance(select, exp.Column) and select.is_star)
        for select in qualified.selects
    ):
        return None
    written = _written_names(parsed)
    found = []
    for position, (name, select) in enumerate(
        zip(qualified.named_selects, qualified.selects, strict=True)
    ):
        try:
            node = lineage(name, qualified, schema=schema, dialect=DIALECT, copy=True)
        except SqlglotError:
            return None
        sources: list[tuple[str, str]] = []
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.source, exp.Table):
                continue
            table = leaf.source.name
            column = leaf.name.rsplit(".", 1)[-1].strip('"')
            pair = (table, names.get(table, {}).get(column.lower(), column))
            if pair not in sources:
                sources.append(pair)
        shown = written[position] if written is not None else None
        if shown is None and isinstance(select.unalias(), exp.Column) and sources:
            # an unaliased column keeps the name it has in its table, case included
            shown = sources[0][1] if sources[0][1].lower() == name.lower() else name
        found.append(Projection(shown or name, tuple(sources), _how(select.unalias())))
    return tuple(found)


_CLAUSES = (("joins", "JOIN"), ("where", "FILTER"), ("having", "FILTER"), ("group", "GROUP_BY"))
_CLAUSES_SORT = (("order", "SORT"),)


def indirect_columns(
    query: str, tables: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, str, str], ...]:
    """The columns that decide which rows a query returns, not what they hold: those in JOIN
    conditions, WHERE and HAVING (FILTER), GROUP BY and ORDER BY (SORT), as ``(table, column,
    subtype)`` with the base table each comes from (through CTEs and subqueries)."""
    from sqlglot import exp, parse_one  # noqa: PLC0415
    from sqlglot.errors import SqlglotError  # noqa: PLC0415
    from sqlglot.optimizer.qualify import qualify  # noqa: PLC0415
    from sqlglot.optimizer.scope import traverse_scope  # noqa: PLC0415

    names = _case_map(tables)
    try:
        qualified = qualify(
            parse_one(query, dialect=DIALECT),
            schema=_schema(tables),
            dialect=DIALECT,
            validate_qualify_columns=False,
            quote_identifiers=False,
        )
        scopes = traverse_scope(qualified)
    except SqlglotError:
        return ()
    found: list[tuple[str, str, str]] = []
    for scope in scopes:
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        for clause, subtype in (*_CLAUSES, *_CLAUSES_SORT):
            parts = select.args.get(clause)
            for part in parts if isinstance(parts, list) else [parts] if parts else []:
                for column in part.find_all(exp.Column):
                    for table, name in _base_columns(scope, column.table, column.name):
                        item = (table, names.get(table, {}).get(name.lower(), name), subtype)
                        if item not in found:
                            found.append(item)
    return tuple(found)


def _base_columns(scope: Any, alias: str, column: str, depth: int = 0) -> list[tuple[str, str]]:
    """The base table columns a column of ``scope`` reads, following CTEs and subqueries."""
    from sqlglot import exp  # noqa: PLC0415
    from sqlglot.optimizer.scope import Scope  # noqa: PLC0415

    source = scope.sources.get(alias)
    if isinstance(source, exp.Table):
        return [(source.name, column)]
    if not isinstance(source, Scope) or depth > 20 or not isinstance(source.expression, exp.Select):
        return []
    for select in source.expression.selects:
        if select.alias_or_name.lower() == column.lower():
            return [
                found
                for inner in select.find_all(exp.Column)
                for found in _base_columns(source, inner.table, inner.name, depth + 1)
            ]
    return []


def _written_names(parsed: object) -> list[str | None] | None:
    """The output names as the query writes them (sqlglot lower-cases unquoted names, DuckDB
    keeps their case), or None when a ``*`` makes positions differ."""
    from sqlglot import exp  # noqa: PLC0415

    if not isinstance(parsed, exp.Query):
        return None
    names: list[str | None] = []
    for select in parsed.selects:
        if isinstance(select, exp.Star) or (isinstance(select, exp.Column) and select.is_star):
            return None
        names.append(select.alias if isinstance(select, exp.Alias) else None)
    return names


def _case_map(tables: Mapping[str, Sequence[str]]) -> dict[str, dict[str, str]]:
    """Per table, lower-cased column name -> the name as it is (DuckDB ignores case)."""
    return {table: {c.lower(): c for c in columns} for table, columns in tables.items()}


def expression_inputs(expression: str, columns: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """How a ``derive`` expression makes its value (carried, cast, derived) and the columns
    of the batch it reads; ``derived`` from nothing when it does not parse."""
    from sqlglot import exp, parse_one  # noqa: PLC0415
    from sqlglot.errors import SqlglotError  # noqa: PLC0415

    try:
        parsed = parse_one(expression, dialect=DIALECT)
    except SqlglotError:
        return "derived", ()
    known = {c.lower(): c for c in columns}
    used: list[str] = []
    for column in parsed.find_all(exp.Column):
        name = known.get(column.name.lower(), column.name)
        if name not in used:
            used.append(name)
    return _how(parsed), tuple(used)


def query_tables(query: str) -> tuple[tuple[str | None, str | None, str], ...]:
    """The base tables a query reads, as ``(database, schema, table)``; CTE names left out."""
    from sqlglot import exp, parse_one  # noqa: PLC0415
    from sqlglot.errors import SqlglotError  # noqa: PLC0415

    try:
        parsed = parse_one(query)
    except SqlglotError:
        return ()
    ctes = {cte.alias_or_name.lower() for cte in parsed.find_all(exp.CTE)}
    found: list[tuple[str | None, str | None, str]] = []
    for table in parsed.find_all(exp.Table):
        if not table.name or table.name.lower() in ctes:
            continue
        key = (table.catalog or None, table.db or None, table.name)
        if key not in found:
            found.append(key)
    return tuple(found)
