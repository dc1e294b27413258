"""The sql step: DuckDB queries over the batch seen as table `input`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError, DataError
from tidegate.transform.sql import SqlSettings, SqlStep

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

BATCH = pa.record_batch(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "city": ["Bern", "Genf", "Bern"],
        "amt": [1.5, 2.0, 4.0],
    }
)


def step(query: str) -> SqlStep:
    return SqlStep(SqlSettings(query=query), name="shape")


def test_query_filters_and_computes_over_input(ctx: RunContext) -> None:
    out = step("SELECT id, upper(city) AS city FROM input WHERE amt > 1.6 ORDER BY id").process(
        BATCH, ctx
    )

    assert isinstance(out, pa.RecordBatch)
    assert out.to_pydict() == {"id": [2, 3], "city": ["GENF", "BERN"]}


def test_aggregation_and_types_come_back_as_arrow(ctx: RunContext) -> None:
    out = step(
        "SELECT city, sum(amt) AS total, count(*) AS n FROM input GROUP BY city ORDER BY city"
    ).process(BATCH, ctx)

    assert out.schema == pa.schema(
        [("city", pa.string()), ("total", pa.float64()), ("n", pa.int64())]
    )
    assert out.to_pydict() == {"city": ["Bern", "Genf"], "total": [5.5, 2.0], "n": [2, 1]}


def test_no_rows_keeps_the_schema(ctx: RunContext) -> None:
    out = step("SELECT id, city FROM input WHERE id > 100").process(BATCH, ctx)

    assert out.num_rows == 0
    assert out.schema == pa.schema([("id", pa.int64()), ("city", pa.string())])


def test_the_connection_is_reused_across_batches(ctx: RunContext) -> None:
    counting = step("SELECT count(*) AS n FROM input")

    first = counting.process(BATCH, ctx)
    second = counting.process(BATCH.slice(0, 1), ctx)

    assert (first.to_pydict(), second.to_pydict()) == ({"n": [3]}, {"n": [1]})


def test_a_bad_query_is_a_config_error_naming_the_step(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match=r"sql step 'shape': query failed: .*nope") as info:
        step("SELECT nope FROM input").process(BATCH, ctx)

    assert info.value.hint is not None
    assert "table `input`" in info.value.hint


def test_a_conversion_failure_is_a_data_error(ctx: RunContext) -> None:
    with pytest.raises(DataError, match="could not convert"):
        step("SELECT CAST(city AS INTEGER) AS c FROM input").process(BATCH, ctx)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("CREATE TABLE t AS SELECT * FROM input", "must be one SELECT, not CREATE"),
        ("SELECT 1; SELECT 2", "must be one SELECT, not SELECT \\+ SELECT"),
        ("SELEC * FROM input", "does not parse: .*SELEC"),
    ],
)
def test_a_query_that_is_not_one_select_fails_at_construction(query: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        step(query)


def test_pivot_is_accepted(ctx: RunContext) -> None:
    out = step("PIVOT input ON city USING sum(amt)").process(BATCH.select(["city", "amt"]), ctx)

    assert out.to_pydict() == {"Bern": [5.5], "Genf": [2.0]}
