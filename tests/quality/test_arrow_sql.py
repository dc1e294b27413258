"""Expressions evaluated by pyarrow.compute answer exactly as DuckDB's SQL does, nulls included."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from tidegate.quality.arrow_sql import arrow_predicate

BATCH = pa.record_batch(
    {
        "a": pa.array([1, 5, None, -3, 10], pa.int64()),
        "b": pa.array([2, 5, 7, None, 1], pa.int32()),
        "born": pa.array(
            [dt.date(1990, 1, 1), None, dt.date(2000, 5, 1), None, dt.date(1970, 1, 1)]
        ),
        "seen": pa.array(
            [dt.date(2020, 1, 1), dt.date(2021, 1, 1), dt.date(1999, 1, 1), None, None]
        ),
        "name": pa.array(["ann", "Bob", None, "", "zoë"]),
        "ok": pa.array([True, False, None, True, False]),
        "x": pa.array([1.0, float("nan"), None, 2.0, 3.0]),
    }
)

SAME_AS_SQL = [
    "seen >= born",
    "a < b",
    "a = 5 OR b = 5",
    "a > 0 AND b > 0",
    "NOT (a > 2)",
    "a IS NULL OR a + b > 3",
    "a * 2 - b <> 0",
    "name > 'B'",
    "name = ''",
    "ok = TRUE",
    "NOT ok",
    "born IS NOT NULL AND seen IS NULL",
    "(a >= -3) AND (name <> 'ann' OR b IS NULL)",
]


def _sql(expression: str) -> list[bool | None]:
    con = duckdb.connect()
    con.register("t", BATCH)
    column = con.sql(f"SELECT ({expression}) AS v FROM t").to_arrow_table().column("v")
    return [None if v is None else bool(v) for v in column.to_pylist()]


@pytest.mark.parametrize("expression", SAME_AS_SQL)
def test_arrow_gives_what_sql_gives(expression: str) -> None:
    predicate = arrow_predicate(expression, BATCH.schema)
    assert predicate is not None, expression
    assert predicate(BATCH).to_pylist() == _sql(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "x > 1.5",  # a float column: NaN orders differently in SQL
        "a > 2.5",  # a decimal constant
        "length(name) > 2",  # a function
        "CAST(a AS VARCHAR) = '1'",
        "a > NULL",
        "a BETWEEN 1 AND 3",
        "nope > 1",  # unknown column: DuckDB says so, with its suggestions
        "a >",  # does not parse
    ],
)
def test_what_arrow_cannot_do_exactly_is_left_to_sql(expression: str) -> None:
    assert arrow_predicate(expression, BATCH.schema) is None


def test_a_text_constant_against_a_date_is_refused_by_arrow_at_planning() -> None:
    predicate = arrow_predicate("born > '1980-01-01'", BATCH.schema)
    assert predicate is not None
    with pytest.raises((pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError)):
        predicate(BATCH.slice(0, 0))
