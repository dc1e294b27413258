"""The sql step: DuckDB queries over the batch seen as table `input`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError, DataError
from tidegate.transform.sql import SqlSettings, SqlStep

if TYPE_CHECKING:
    from pathlib import Path

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


def test_tables_are_joined_by_name_from_csv_parquet_and_jsonl_files(
    ctx: RunContext, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq  # noqa: PLC0415 - only this test writes parquet

    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "cities.csv").write_text("name,canton\nBern,BE\nGenf,GE\n")
    pq.write_table(pa.table({"canton": ["BE", "GE"], "lang": ["de", "fr"]}), tmp_path / "l.parquet")
    (tmp_path / "c.jsonl").write_text('{"lang": "de", "greeting": "Grüezi"}\n')
    settings = SqlSettings(
        query="SELECT i.id, c.canton, l.lang, g.greeting FROM input AS i "
        "JOIN cities AS c ON c.name = i.city JOIN langs AS l USING (canton) "
        "LEFT JOIN greetings AS g USING (lang) ORDER BY i.id",
        tables={"cities": "ref/cities.csv", "langs": "l.parquet", "greetings": "c.jsonl"},
    )
    sql = SqlStep(settings, name="shape")

    first = sql.process(BATCH, ctx)
    again = sql.process(BATCH, ctx)  # tables are read once and stay registered

    assert first.to_pydict() == {
        "id": [1, 2, 3],
        "canton": ["BE", "GE", "BE"],
        "lang": ["de", "fr", "de"],
        "greeting": ["Grüezi", None, "Grüezi"],
    }
    assert again.to_pydict() == first.to_pydict()


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"input": "x.csv"}, "'input' is the batch itself"),
        ({"1st": "x.csv"}, "must be letters, digits and _"),
        ({"bad name": "x.csv"}, "must be letters, digits and _"),
        ({"ref": "x.xlsx"}, "is not a file the step can read"),
    ],
)
def test_table_names_and_file_endings_are_checked_at_load(
    tables: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SqlSettings(query="SELECT * FROM input", tables=tables)


def test_a_missing_table_file_is_a_config_error_naming_the_step_and_table(
    ctx: RunContext,
) -> None:
    sql = SqlStep(
        SqlSettings(query="SELECT * FROM input", tables={"countries": "data/countries.csv"}),
        name="enrich",
    )

    with pytest.raises(ConfigError, match=r"'enrich', table 'countries': file not found") as info:
        sql.process(BATCH, ctx)
    assert info.value.location == "steps.enrich.tables.countries"
