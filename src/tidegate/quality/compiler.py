"""Rules -> one DuckDB query over a batch: a pass/fail column per row rule, in a single scan.

Every rule that can be said in SQL becomes a predicate that is TRUE for a good row, wrapped in
``coalesce(..., TRUE)`` so that a null value passes (only ``not_null`` fails nulls); ``unique``
rules become a 64-bit key hash column that the checker compares with the hashes of earlier
batches. Literal values from the spec travel as bound parameters, cast to the column's type by
DuckDB, and column names are always quoted: nothing from the spec is pasted into SQL text.

A query is compiled once per batch schema (a source yields one schema per run, so in practice
once per run); compiling it against an empty batch of that schema checks, before any row is
read, that every column exists and every expression binds.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from tidegate.spec.quality import RULE_TYPES, parse_duration
from tidegate.spec.scratch import scratch
from tidegate.spec.types import parse_type

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.quality.referential import References
    from tidegate.spec.quality import Rule

__all__ = ["INPUT", "CompiledQuery", "RuleSchemaError", "compile_rules", "quote"]

INPUT = "input"
"""The name under which the compiled query sees the batch."""

ROW_RULES = frozenset(RULE_TYPES) - {"unique", "freshness", "row_count", "custom"}
"""Rules evaluated as a SQL predicate per row."""

_TEMPORAL = ("DATE", "TIMESTAMP")
_AWARE = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
"""Types of instants: DuckDB calls Arrow's timestamp[ns, tz=...] TIMESTAMPTZ_NS."""

_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
)
_DECIMAL = re.compile(r"DECIMAL\((?P<width>\d+),\s*(?P<scale>\d+)\)")

_BLANK = r"[\s\p{Z}]*"
"""A value that is only white space: empty, spaces, tabs, line breaks, Unicode spaces."""


class RuleSchemaError(Exception):
    """A rule that cannot run against the batch's schema (unknown column, bad types)."""

    def __init__(self, rule: Rule, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.hint = hint


@dataclass
class CompiledQuery:
    """The SQL for one schema, its parameters, and which output column belongs to which rule."""

    sql: str
    params: list[Any]
    predicates: list[Rule] = field(default_factory=list)
    hashes: list[Rule] = field(default_factory=list)

    @property
    def sql_needed(self) -> bool:
        """Whether the query computes anything (all rules may run as Arrow kernels)."""
        return bool(self.predicates or self.hashes)


def quote(name: str) -> str:
    """``name`` as a double-quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def compile_rules(
    rules: Sequence[Rule],
    column_types: dict[str, str],
    *,
    now: dt.datetime,
    references: References,
) -> tuple[CompiledQuery, list[RuleSchemaError]]:
    """The query evaluating ``rules`` over a batch whose DuckDB column types are given.

    Returns the problems of rules that cannot run instead of raising at the first one, so a
    user sees every bad rule at once. ``now`` is the run's reference time (aware, UTC).
    """
    builder = _Builder(column_types, now, references)
    problems: list[RuleSchemaError] = []
    selects: list[str] = []
    query = CompiledQuery(sql="", params=builder.params)
    for rule in rules:
        try:
            missing = [c for c in rule.key_columns if builder.type_of(c) is None]
            if missing:
                raise _unknown_column(rule, missing[0], column_types)
            if rule.type in ROW_RULES:
                predicate = builder.predicate(rule)
                selects.append(
                    f"coalesce({predicate}, TRUE) AS {quote(f'p{len(query.predicates)}')}"
                )
                query.predicates.append(rule)
            elif rule.type == "unique":
                keys = [quote(builder.name_of(c)) for c in rule.key_columns]
                nulls = " OR ".join(f"{k} IS NULL" for k in keys)
                selects.append(
                    f"CASE WHEN {nulls} THEN NULL ELSE hash({', '.join(keys)}) END "
                    f"AS {quote(f'h{len(query.hashes)}')}"
                )
                query.hashes.append(rule)
            elif rule.type == "freshness":
                builder.check_temporal(rule)
        except RuleSchemaError as problem:
            problems.append(problem)
    query.sql = f"SELECT {', '.join(selects) or 'NULL AS nothing'} FROM {INPUT}"
    return query, problems


def _unknown_column(rule: Rule, column: str, column_types: dict[str, str]) -> RuleSchemaError:
    import difflib  # noqa: PLC0415 - only on the error path

    names = list(column_types)
    near = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
    return RuleSchemaError(
        rule,
        f"rule {rule.rule_id!r}: column {column!r} is not in the data "
        f"(columns: {', '.join(names) or 'none'})",
        (f"did you mean {near[0]!r}? " if near else "")
        + "rules see the columns after every step, as they will be loaded",
    )


class _Builder:
    """Builds one predicate per rule, collecting bound parameters in order."""

    def __init__(self, column_types: dict[str, str], now: dt.datetime, references: References):
        self.types = column_types
        self.lower = {name.lower(): name for name in column_types}  # DuckDB ignores case
        self.now = now
        self.references = references
        self.params: list[Any] = []

    def name_of(self, column: str) -> str:
        return column if column in self.types else self.lower[column.lower()]

    def type_of(self, column: str) -> str | None:
        return self.types.get(column) or self.types.get(self.lower.get(column.lower(), ""))

    def param(self, value: Any, cast: str | None = None) -> str:
        self.params.append(value)
        placeholder = f"${len(self.params)}"
        return f"CAST({placeholder} AS {cast})" if cast else placeholder

    def value(self, rule: Rule, value: Any, kind: str) -> str:
        """A value written in the rule, as a parameter cast to the column's type ``kind``.

        The cast is tried here, once: DuckDB would otherwise only fail on it when the first
        non-empty batch arrives, with a message that names neither the rule nor the value.
        """
        text = _text(value)
        row = scratch().execute(f"SELECT TRY_CAST($1 AS {kind}) IS NULL", [text]).fetchone()
        if row is None or row[0]:
            raise RuleSchemaError(
                rule,
                f"rule {rule.rule_id!r}: {value!r} is not a {kind} value, the type of "
                f"column {rule.column!r}",
                "write the value in the column's type (dates as 'YYYY-MM-DD')",
            )
        return self.param(text, kind)

    def predicate(self, rule: Rule) -> str:
        if rule.type == "expression":
            assert rule.sql is not None  # noqa: S101 - guaranteed by the spec's validation
            return f"({rule.sql})"
        assert rule.column is not None  # noqa: S101 - row rules other than expression have one
        column = quote(self.name_of(rule.column))
        kind = self.types[self.name_of(rule.column)]
        method = getattr(self, f"_{rule.type}")
        text: str = method(rule, column, kind)
        return text

    def _not_null(self, rule: Rule, column: str, kind: str) -> str:
        parts = [f"{column} IS NOT NULL"]
        if kind in {"FLOAT", "DOUBLE"}:
            parts.append(f"NOT isnan({column})")
        if rule.blank_is_null and kind == "VARCHAR":
            # \s alone is ASCII in RE2; \p{Z} adds the Unicode spaces (no-break, ideographic)
            parts.append(f"NOT regexp_full_match({column}, {self.param(_BLANK)})")
        return "(" + " AND ".join(parts) + ")"

    def _between(self, rule: Rule, column: str, kind: str) -> str:
        parts = []
        if rule.min is not None:
            parts.append(f"{column} >= {self._literal(rule, rule.min, kind)}")
        if rule.max is not None:
            parts.append(f"{column} <= {self._literal(rule, rule.max, kind)}")
        if kind in {"FLOAT", "DOUBLE"}:
            parts.append(f"NOT isnan({column})")
        return "(" + " AND ".join(parts) + ")"

    _min = _between
    _max = _between

    def _literal(self, rule: Rule, value: Any, kind: str) -> str:
        if isinstance(value, str) or _is_time(value):
            return self.value(rule, value, kind)
        if kind in {"VARCHAR", "BOOLEAN"} or kind.startswith(_TEMPORAL):
            raise RuleSchemaError(
                rule,
                f"rule {rule.rule_id!r}: cannot compare column {rule.column!r} of type {kind} "
                f"with {value!r}",
                "write the bound in the column's type (dates as 'YYYY-MM-DD')",
            )
        if kind == "FLOAT":
            # 0.1 as a float32 is 0.100000001 > the DOUBLE 0.1: compare in the column's precision
            return self.param(value, "FLOAT")
        return self.param(value, "DOUBLE" if isinstance(value, float) else None)

    def _regex(self, rule: Rule, column: str, kind: str) -> str:
        value = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
        options = ", 'i'" if rule.case_insensitive else ""
        return f"regexp_matches({value}, {self.param(rule.pattern)}{options})"

    def _allowed_values(self, rule: Rule, column: str, kind: str) -> str:
        assert rule.values is not None  # noqa: S101 - guaranteed by the spec's validation
        if rule.case_insensitive:
            # lowered by DuckDB on both sides: Python's lower() differs for some letters (İ)
            items = ", ".join(f"lower({self.param(_text(v))})" for v in rule.values)
            return f"lower(CAST({column} AS VARCHAR)) IN ({items})"
        if kind == "VARCHAR":
            # a text column holds text: YAML's 1 or true stands for '1' or 'true' here
            items = ", ".join(self.param(_text(v)) for v in rule.values)
        else:
            items = ", ".join(
                self.param(v) if isinstance(v, bool) else self.value(rule, v, kind)
                for v in rule.values
            )
        return f"{column} IN ({items})"

    def _length(self, rule: Rule, column: str, kind: str) -> str:
        value = column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"
        parts = []
        if rule.min is not None:
            parts.append(f"length({value}) >= {self.param(rule.min)}")
        if rule.max is not None:
            parts.append(f"length({value}) <= {self.param(rule.max)}")
        return "(" + " AND ".join(parts) + ")"

    def _type(self, rule: Rule, column: str, kind: str) -> str:
        assert rule.data_type is not None  # noqa: S101 - guaranteed by the spec's validation
        try:
            target = duckdb_type(parse_type(rule.data_type))
        except (ValueError, KeyError) as exc:
            raise RuleSchemaError(
                rule,
                f"rule {rule.rule_id!r}: type {rule.data_type!r} cannot be checked: {exc}",
                "use a type like int64, float64, decimal(12,2), bool, date32 or timestamp",
            ) from exc
        cast = f"TRY_CAST({column} AS {target})"
        exact = _exact(column, kind, target)
        fits = f"coalesce({cast} = {exact}, FALSE)" if exact else f"{cast} IS NOT NULL"
        return f"({column} IS NULL OR {fits})"

    def _not_in_future(self, rule: Rule, column: str, kind: str) -> str:
        self.check_temporal(rule)
        limit = self.now + parse_duration(rule.tolerance or 0)
        if kind == "DATE":
            local = limit.astimezone(ZoneInfo(rule.timezone)).date()
            return f"{column} <= {self.param(local.isoformat(), 'DATE')}"
        if kind.startswith(_AWARE):
            return f"{column} <= {self.param(limit.isoformat(), 'TIMESTAMPTZ')}"
        local_naive = limit.astimezone(ZoneInfo(rule.timezone)).replace(tzinfo=None)
        return f"{column} <= {self.param(local_naive.isoformat(), 'TIMESTAMP')}"

    def _referential(self, rule: Rule, column: str, kind: str) -> str:
        table = self.references.table_for(rule)
        # a NULL among the keys (an empty cell, a key not of the column's type) would make
        # `x IN (...)` NULL for every value not found, and NULL passes: keep only real keys
        key = f"TRY_CAST(k AS {kind})"
        return f"{column} IN (SELECT {key} FROM {quote(table)} WHERE {key} IS NOT NULL)"

    def check_temporal(self, rule: Rule) -> None:
        assert rule.column is not None  # noqa: S101 - temporal rules are column rules
        kind = self.types[self.name_of(rule.column)]
        if not kind.startswith(_TEMPORAL):
            raise RuleSchemaError(
                rule,
                f"rule {rule.rule_id!r}: column {rule.column!r} is {kind}, not a date or timestamp",
                "cast the column first (source columns: or a cast step), or use another rule",
            )


def _exact(column: str, kind: str, target: str) -> str | None:
    """``column`` read losslessly, to compare with its cast to ``target`` (None: no need).

    DuckDB's casts round ('1.5' becomes the BIGINT 2, '123.456' the DECIMAL(5,2) 123.46) and
    cut ('2024-01-01 10:00' becomes a DATE): such a value converts only by losing part of it,
    so the type rule must fail it. Equal to its exact reading means nothing was lost.
    """
    if kind == target:
        return None
    if target in _INTEGERS:
        return f"TRY_CAST({column} AS DOUBLE)"
    decimal = _DECIMAL.fullmatch(target)
    if decimal:
        whole_digits = int(decimal["width"]) - int(decimal["scale"])
        return f"TRY_CAST({column} AS DECIMAL(38, {38 - whole_digits}))"
    if target == "DATE":
        return f"TRY_CAST({column} AS TIMESTAMP)"
    return None


def _is_time(value: Any) -> bool:
    return isinstance(value, dt.date | dt.datetime)


def _text(value: Any) -> str:
    """A rule's value as text, the way DuckDB writes it (dates ISO, booleans lower case)."""
    if isinstance(value, bool):
        return str(value).lower()
    return value.isoformat() if _is_time(value) else str(value)


def duckdb_type(arrow_type: pa.DataType) -> str:
    """DuckDB's name for an Arrow type, as DuckDB itself maps it."""
    import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

    empty = pa.table({"x": pa.array([], type=arrow_type)})
    con = scratch()
    try:
        con.register("t", empty)
        row = con.execute("SELECT column_type FROM (DESCRIBE SELECT * FROM t)").fetchone()
    except duckdb.Error as exc:
        raise ValueError(f"DuckDB has no type for Arrow's {arrow_type}") from exc
    if row is None:  # pragma: no cover - DESCRIBE of one column has one row
        raise KeyError(str(arrow_type))
    return str(row[0])
