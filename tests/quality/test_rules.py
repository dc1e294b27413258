"""Every rule's semantics on the edge cases: nulls, empty strings, Unicode, NaN, time zones,
duplicates that straddle batches, empty input, and the errors of rules that cannot run.

The rules run through ``check_table``, the same step a pipeline runs. Most tests look at which
source rows (1-based, counted across batches) a rule rejects, read from the quarantined rows'
``_tidegate_row`` and ``_tidegate_rules`` columns, so an off-by-one or a wrong row shows.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import sys
import textwrap
import uuid
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidegate.core.protocols import REASON_COLUMN, ROW_COLUMN, RULES_COLUMN
from tidegate.errors import ConfigError, DependencyError, InternalError, SpecError
from tidegate.quality import check_table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.quality import QualityReport


def failing(report: QualityReport) -> dict[str, list[int]]:
    """Rule id -> the source rows (1-based) it rejected, for every rule of the report."""
    rows: dict[str, list[int]] = {rule_id: [] for rule_id in report.failures}
    if report.quarantined is not None:
        for row in report.quarantined.select([ROW_COLUMN, RULES_COLUMN]).to_pylist():
            for rule_id in row[RULES_COLUMN].split(","):
                rows[rule_id].append(row[ROW_COLUMN])
    assert {rule_id: len(found) for rule_id, found in rows.items()} == report.failures
    return rows


def rows_failing(values: pa.Array | list[Any], rule: Any, **options: Any) -> list[int]:
    """The rows of a one-column table (column ``v``) that the one rule ``rule`` rejects."""
    table = pa.table({"v": values})
    report = check_table(table, {"columns": {"v": [rule]}}, **options)
    ((_, rows),) = failing(report).items()
    return rows


def spec_problem(error: pytest.ExceptionInfo[SpecError]) -> tuple[str, str, str | None]:
    """The one problem of a refused rule set: its key path, message and hint."""
    (problem,) = error.value.problems
    return problem.path, problem.message, problem.hint


def in_zone(zone: str) -> dt.datetime:
    """Now on the wall clock of ``zone``, without the zone (a naive timestamp)."""
    return dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None)


# --- nulls pass every rule except not_null ------------------------------------------------

_PAST = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

NULL_CASES = [
    pytest.param(pa.array([None, 1], pa.int64()), "not_null", [1], id="not_null"),
    pytest.param(pa.array([None, 1, None], pa.int64()), "unique", [], id="unique"),
    pytest.param(pa.array([None, 5], pa.int64()), {"between": [0, 10]}, [], id="between"),
    pytest.param(pa.array([None, 5], pa.int64()), {"min": 0}, [], id="min"),
    pytest.param(pa.array([None, 5], pa.int64()), {"max": 10}, [], id="max"),
    pytest.param(pa.array([None, "a"]), {"regex": "^a$"}, [], id="regex"),
    pytest.param(pa.array([None, "a"]), {"regex": "^$"}, [2], id="regex-empty-pattern"),
    pytest.param(pa.array([None, "US"]), {"allowed_values": ["US"]}, [], id="allowed_values"),
    pytest.param(
        pa.array([None, "us"]),
        {"allowed_values": {"values": ["US"], "case_insensitive": True}},
        [],
        id="allowed_values-case-insensitive",
    ),
    pytest.param(pa.array([None, "ab"]), {"length": 2}, [], id="length"),
    pytest.param(pa.array([None, "12"]), {"type": "int64"}, [], id="type"),
    pytest.param(pa.array([None, "1.5"]), {"type": "decimal(5,2)"}, [], id="type-decimal"),
    pytest.param(pa.array([None, "2024-01-01"]), {"type": "date32"}, [], id="type-date"),
    pytest.param(
        pa.array([None, _PAST], pa.timestamp("us", tz="UTC")),
        "not_in_future",
        [],
        id="not_in_future",
    ),
    pytest.param(pa.array([None, None], pa.null()), "unique", [], id="unique-null-type"),
]


@pytest.mark.parametrize(("values", "rule", "expected"), NULL_CASES)
def test_a_null_value_fails_only_not_null(values: pa.Array, rule: Any, expected: list[int]) -> None:
    assert rows_failing(values, rule) == expected


def test_nulls_pass_the_table_rules_too(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    (tmp_path / "codes.csv").write_text("v\n1\n", encoding="utf-8")
    module = checks_module("""
        import pyarrow.compute as pc
        def positive(batch):
            return pc.greater(batch.column(0), 0)
    """)
    table = pa.table({"v": pa.array([None, 1, None], pa.int64()), "w": ["x", None, "x"]})
    report = check_table(
        table,
        {
            "columns": {"v": [{"referential": {"file": "codes.csv"}}]},
            "table": [
                {"unique": {"columns": ["v", "w"]}},
                {"expression": "v > 0 AND w <> ''"},
                {"custom": {"function": f"{module}:positive", "columns": ["v"], "pythonpath": "."}},
            ],
        },
        base_dir=tmp_path,
    )

    assert report.failures == {"v.referential": 0, "unique": 0, "expression": 0, "custom": 0}
    assert report.valid.num_rows == 3


# --- not_null -----------------------------------------------------------------------------


def test_not_null_fails_nan_in_float_columns() -> None:
    values = pa.array([1.5, math.nan, None, 0.0, -math.inf], pa.float64())

    assert rows_failing(values, "not_null") == [2, 3]
    assert rows_failing(pa.array([math.nan, 1.0], pa.float32()), "not_null") == [1]


def test_not_null_keeps_empty_strings_unless_blank_is_null() -> None:
    values = ["", " ", "\t\n", "\u00a0", "\u3000", " x ", "é", None]

    assert rows_failing(values, "not_null") == [8]
    assert rows_failing(values, {"not_null": {"blank_is_null": True}}) == [1, 2, 3, 4, 5, 8]


def test_not_null_reason_says_missing_or_blank() -> None:
    report = check_table(
        pa.table({"v": ["", "a"]}), {"columns": {"v": [{"not_null": {"blank_is_null": True}}]}}
    )

    assert report.quarantined is not None
    assert report.quarantined.column(REASON_COLUMN).to_pylist() == [
        "v.not_null: v is missing or blank"
    ]


# --- unique -------------------------------------------------------------------------------


def test_unique_first_occurrence_passes_and_null_keys_never_repeat() -> None:
    assert rows_failing(pa.array([1, 2, 1, 1, None, None, 3]), "unique") == [3, 4]


def test_unique_compares_empty_strings_case_and_unicode_exactly() -> None:
    nfc, nfd = "\u00e9", "e\u0301"  # the same é, composed and decomposed: different values
    values = ["", "", "a", "A", nfc, nfd, nfc, "日本", "日本", "👍"]

    assert rows_failing(values, "unique") == [2, 7, 9]


def test_unique_catches_a_key_repeated_batches_later() -> None:
    table = pa.Table.from_batches(
        [
            pa.record_batch({"id": pa.array([1, 2, 3], pa.int64())}),
            pa.record_batch({"id": pa.array([4, None, 5], pa.int64())}),
            pa.record_batch({"id": pa.array([None, 1, 6, 4, 6], pa.int64())}),
        ]
    )

    report = check_table(table, {"columns": {"id": ["unique"]}})

    assert failing(report) == {"id.unique": [8, 10, 11]}
    assert report.valid.column("id").to_pylist() == [1, 2, 3, 4, None, 5, None, 6]
    assert report.quarantined is not None
    assert report.quarantined.column("id").to_pylist() == [1, 4, 6]


def test_unique_over_a_composite_key_across_batches() -> None:
    table = pa.Table.from_batches(
        [
            pa.record_batch({"a": [1, 1, 2], "b": ["x", "y", None]}),
            pa.record_batch({"a": [2, 1, 1], "b": [None, "x", "X"]}),
            pa.record_batch({"a": [None, 1, 2], "b": ["x", "y", "x"]}),
        ]
    )

    report = check_table(
        table,
        {"columns": {"a": ["unique"]}, "table": [{"unique": {"columns": ["a", "b"]}}]},
    )

    # (2, null) twice is no repeat: a key with a null part is not checked
    assert failing(report)["unique"] == [5, 8]
    assert failing(report)["a.unique"] == [2, 4, 5, 6, 8, 9]


def test_unique_agrees_with_a_set_over_many_uneven_batches() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 400, size=3000)
    nulls = rng.random(3000) < 0.05
    whole = pa.table({"id": pa.array(keys, mask=nulls)})
    cuts = [0, *sorted(rng.choice(np.arange(1, 3000), size=25, replace=False).tolist()), 3000]
    table = pa.Table.from_batches(
        [
            batch
            for start, end in pairwise(cuts)
            for batch in whole.slice(start, end - start).to_batches()
        ]
    )
    seen: set[int] = set()
    repeats = []
    for row, (key, null) in enumerate(zip(keys.tolist(), nulls.tolist(), strict=True), start=1):
        if not null:
            if key in seen:
                repeats.append(row)
            seen.add(key)

    report = check_table(table, {"columns": {"id": ["unique"]}})

    assert table.to_batches()[0].num_rows < 3000
    assert failing(report) == {"id.unique": repeats}
    assert report.valid.num_rows == 3000 - len(repeats) == int(nulls.sum()) + len(seen)


def test_unique_on_an_empty_batch_between_full_ones_keeps_row_numbers() -> None:
    schema = pa.schema({"id": pa.int64()})
    table = pa.Table.from_batches(
        [
            pa.record_batch({"id": [7, 8]}, schema=schema),
            pa.RecordBatch.from_pylist([], schema=schema),
            pa.record_batch({"id": [8, 9, 7]}, schema=schema),
        ]
    )

    assert failing(check_table(table, {"columns": {"id": ["unique"]}})) == {"id.unique": [3, 5]}


# --- between, min, max --------------------------------------------------------------------


def test_between_bounds_are_inclusive() -> None:
    values = pa.array([-1, 0, 120, 121, None], pa.int64())

    assert rows_failing(values, {"between": [0, 120]}) == [1, 4]
    assert rows_failing(values, {"between": {"min": 0}}) == [1]
    assert rows_failing(values, {"between": {"max": 120}}) == [4]
    assert rows_failing(values, {"min": 0}) == [1]
    assert rows_failing(values, {"max": 0}) == [3, 4]


def test_between_min_and_max_fail_nan_in_float_columns() -> None:
    values = pa.array([0.5, math.nan, math.inf, -math.inf, None, 1.0], pa.float64())

    assert rows_failing(values, {"between": [0, 1]}) == [2, 3, 4]
    assert rows_failing(values, {"min": 0}) == [2, 4]
    assert rows_failing(values, {"max": 1}) == [2, 3]
    assert rows_failing(values, {"between": [0.25, 0.75]}) == [2, 3, 4, 6]


def test_between_compares_float32_values_with_bounds_in_their_precision() -> None:
    values = pa.array([0.1, 0.2, 0.3], pa.float32())

    assert rows_failing(values, {"max": 0.1}) == [2, 3]
    assert rows_failing(values, {"between": [0.1, 0.3]}) == []
    assert rows_failing(values, {"min": 0.3}) == [1, 2]
    assert rows_failing(values, {"allowed_values": [0.1, 0.3]}) == [2]


def test_between_compares_decimals_with_float_bounds() -> None:
    values = pa.array([Decimal("0.99"), Decimal("1.00"), Decimal("1.01")], pa.decimal128(5, 2))

    assert rows_failing(values, {"between": [1.0, 1.0]}) == [1, 3]


def test_between_on_dates_takes_dates_and_iso_strings() -> None:
    values = pa.array([dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2025, 1, 1)])

    assert rows_failing(values, {"between": [dt.date(2024, 1, 1), "2024-12-31"]}) == [1, 3]


def test_between_on_tz_aware_timestamps_reads_naive_bounds_as_utc() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    values = pa.array(
        [
            dt.datetime(2024, 1, 1, 8, 59, tzinfo=tokyo),  # 23:59 UTC the day before
            dt.datetime(2024, 1, 1, 9, 0, tzinfo=tokyo),  # midnight UTC
        ],
        pa.timestamp("us", tz="Asia/Tokyo"),
    )

    assert rows_failing(values, {"min": "2024-01-01 00:00:00"}) == [1]


def test_between_on_text_compares_text() -> None:
    values = ["a", "b", "n", "", None, "Z"]

    # '' and upper case sort before 'a'
    assert rows_failing(values, {"between": ["a", "m"]}) == [3, 4, 6]


def test_a_number_bound_on_a_text_column_is_refused_before_any_row() -> None:
    with pytest.raises(SpecError) as error:
        rows_failing(["1", "2"], {"between": [0, 5]})

    assert spec_problem(error) == (
        "quality.columns.v.0",
        "rule 'v.between': cannot compare column 'v' of type VARCHAR with 0",
        "write the bound in the column's type (dates as 'YYYY-MM-DD')",
    )


def test_a_bound_that_is_not_of_the_columns_type_is_refused() -> None:
    with pytest.raises(SpecError) as error:
        rows_failing(pa.array([1, 2], pa.int64()), {"min": "abc"})
    assert spec_problem(error)[1] == (
        "rule 'v.min': 'abc' is not a BIGINT value, the type of column 'v'"
    )

    with pytest.raises(SpecError) as error:
        rows_failing(pa.array([dt.date(2024, 1, 1)]), {"max": "2024-02-30"})
    assert spec_problem(error)[1] == (
        "rule 'v.max': '2024-02-30' is not a DATE value, the type of column 'v'"
    )

    with pytest.raises(SpecError) as error:
        rows_failing(pa.array([dt.date(2024, 1, 1)]), {"max": 2024})
    assert spec_problem(error)[1] == (
        "rule 'v.max': cannot compare column 'v' of type DATE with 2024"
    )


# --- regex --------------------------------------------------------------------------------


def test_regex_searches_unless_anchored() -> None:
    values = ["abc123", "12", "x1234y", "", None]

    assert rows_failing(values, {"regex": "[0-9]{3}"}) == [2, 4]
    assert rows_failing(values, {"regex": "^[0-9]{3}$"}) == [1, 2, 3, 4]
    assert rows_failing(values, {"regex": "^$"}) == [1, 2, 3]


def test_regex_matches_unicode_characters() -> None:
    values = ["José", "日本", "a1", "Zoë", "👍👍"]

    assert rows_failing(values, {"regex": r"^\p{L}+$"}) == [3, 5]
    assert rows_failing(values, {"regex": "^..$"}) == [1, 4]  # . is one code point
    # RE2's \w is ASCII only: a letter with an accent is not a word character
    assert rows_failing(values, {"regex": r"^\w+$"}) == [1, 2, 4, 5]


def test_regex_case_insensitive_folds_unicode_letters() -> None:
    values = ["ÉCOLE", "École", "ecole", "école"]

    assert rows_failing(values, {"regex": "^école$"}) == [1, 2, 3]
    assert rows_failing(values, {"regex": {"pattern": "^école$", "case_insensitive": True}}) == [3]


def test_regex_on_a_number_column_matches_its_text() -> None:
    values = pa.array([123, 45, -678], pa.int64())

    assert rows_failing(values, {"regex": "^[0-9]{3}$"}) == [2, 3]


@pytest.mark.parametrize("pattern", ["(unclosed", "(?=lookahead)", "a{2,1}"])
def test_an_invalid_regex_is_refused_when_the_rules_are_read(pattern: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid RE2 pattern") as error:
        check_table(pa.table({"v": ["a"]}), {"columns": {"v": [{"regex": pattern}]}})

    assert repr(pattern) in error.value.message
    assert not isinstance(error.value, SpecError)  # refused by the spec, before the data


# --- allowed_values -----------------------------------------------------------------------


def test_allowed_values_on_text_are_exact_unless_case_insensitive() -> None:
    values = ["US", "us", "", " US", None, "GB"]

    assert rows_failing(values, {"allowed_values": ["US", "GB"]}) == [2, 3, 4]
    assert rows_failing(
        values, {"allowed_values": {"values": ["US", "GB"], "case_insensitive": True}}
    ) == [3, 4]


def test_allowed_values_case_insensitive_lowers_unicode_like_the_data() -> None:
    values = ["İSTANBUL", "İstanbul", "istanbul", "ZÜRICH", "zürich", "Zurich"]
    rule = {"allowed_values": {"values": ["İstanbul", "Zürich"], "case_insensitive": True}}

    assert rows_failing(values, rule) == [6]


def test_allowed_values_on_numbers_and_booleans() -> None:
    assert rows_failing(pa.array([1, 2, 3, None], pa.int64()), {"allowed_values": [1, 3]}) == [2]
    assert rows_failing(pa.array([1, 2, 3], pa.int32()), {"allowed_values": ["1", "3"]}) == [2]
    assert rows_failing(pa.array([0.5, 1.0, math.nan]), {"allowed_values": [0.5, 1]}) == [3]
    assert rows_failing(pa.array([True, False, None]), {"allowed_values": [True]}) == [2]


def test_numbers_and_booleans_allowed_on_a_text_column_mean_their_text() -> None:
    # YAML reads `[1, 2]` and `[true]` as numbers and booleans; a text column holds text
    assert rows_failing(["1", "01", "2", "x", None], {"allowed_values": [1, 2]}) == [2, 4]
    assert rows_failing(["true", "True", "false"], {"allowed_values": [True]}) == [2, 3]


def test_allowed_values_on_dates() -> None:
    values = pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)])

    assert rows_failing(values, {"allowed_values": [dt.date(2024, 1, 1), "2024-01-03"]}) == [2]


def test_an_allowed_value_that_is_not_of_the_columns_type_is_refused() -> None:
    with pytest.raises(SpecError) as error:
        rows_failing(pa.array([1, 2], pa.int64()), {"allowed_values": ["1", "x"]})

    assert spec_problem(error) == (
        "quality.columns.v.0",
        "rule 'v.allowed_values': 'x' is not a BIGINT value, the type of column 'v'",
        "write the value in the column's type (dates as 'YYYY-MM-DD')",
    )


# --- length -------------------------------------------------------------------------------


def test_length_counts_characters_not_bytes() -> None:
    values = ["é", "👍", "日本語", "", None, "ab"]

    assert rows_failing(values, {"length": 1}) == [3, 4, 6]
    assert rows_failing(values, {"length": {"min": 1, "max": 2}}) == [3, 4]
    assert rows_failing(values, {"length": {"max": 2}}) == [3]
    assert rows_failing(values, {"length": {"min": 3}}) == [1, 2, 4, 6]


def test_length_counts_code_points_of_combined_characters() -> None:
    # like PostgreSQL's varchar(n) and Python's len(): code points, not what a reader sees
    decomposed_e, family = "e\u0301", "👨\u200d👩\u200d👧"

    assert rows_failing([decomposed_e, family], {"length": 2}) == [2]
    assert rows_failing([decomposed_e, family], {"length": 5}) == [1]


def test_length_of_a_number_is_the_length_of_its_text() -> None:
    assert rows_failing(pa.array([7, 12345, -1], pa.int64()), {"length": {"max": 2}}) == [2]


# --- type ---------------------------------------------------------------------------------


def test_type_int64_accepts_whole_numbers_written_as_text() -> None:
    values = ["12", " 7 ", "+5", "-0", "1.0", "1.5", "12abc", "", "0x1F", "9223372036854775808"]

    assert rows_failing(values, {"type": "int64"}) == [6, 7, 8, 9, 10]


def test_type_checks_the_range_of_small_integers() -> None:
    assert rows_failing(["127", "128", "-128", "-129"], {"type": "int8"}) == [2, 4]
    assert rows_failing(["0", "-1", "255", "256"], {"type": "uint8"}) == [2, 4]


def test_type_decimal_fails_values_it_would_round_or_overflow() -> None:
    values = ["123.45", "123.456", "1234.5", "-999.99", "0.1", "1e2", "1e3", "abc"]

    assert rows_failing(values, {"type": "decimal(5,2)"}) == [2, 3, 7, 8]


def test_type_date32_accepts_real_calendar_dates_only() -> None:
    values = [
        "2024-02-29",
        "2023-02-29",
        "2024-13-01",
        "2024-01-01 10:00",
        "2024-01-01 00:00:00",
        "01/02/2024",
        "",
    ]

    assert rows_failing(values, {"type": "date32"}) == [2, 3, 4, 6, 7]


def test_type_on_a_float_column_fails_fractions_and_nan() -> None:
    values = pa.array([1.0, 1.5, math.nan, None, 3e10], pa.float64())

    assert rows_failing(values, {"type": "int64"}) == [2, 3]
    assert rows_failing(values, {"type": "int32"}) == [2, 3, 5]


def test_type_that_does_not_exist_is_refused_when_the_rules_are_read() -> None:
    with pytest.raises(ConfigError) as error:
        rows_failing(["1"], {"type": "int65"})

    assert not isinstance(error.value, SpecError)  # refused by the spec, before the data
    assert "unknown type 'int65' (did you mean 'int64'?)" in error.value.message


def test_type_that_duckdb_cannot_check_is_refused_before_any_row() -> None:
    with pytest.raises(SpecError) as error:
        rows_failing(["1"], {"type": "float16"})

    assert spec_problem(error) == (
        "quality.columns.v.0",
        "rule 'v.type': type 'float16' cannot be checked: DuckDB has no type for Arrow's halffloat",
        "use a type like int64, float64, decimal(12,2), bool, date32 or timestamp",
    )


# --- not_in_future ------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_not_in_future_on_tz_aware_timestamps(unit: str) -> None:
    now = dt.datetime.now(dt.UTC)
    values = pa.array(
        [now - dt.timedelta(hours=1), now + dt.timedelta(hours=2), None],
        pa.timestamp(unit, tz="Asia/Tokyo"),
    )

    assert rows_failing(values, "not_in_future") == [2]
    assert rows_failing(values, {"not_in_future": "3h"}) == []
    # a timestamp with a zone is an instant: the rule's timezone does not change it
    assert rows_failing(values, {"not_in_future": {"timezone": "Pacific/Kiritimati"}}) == [2]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_not_in_future_on_naive_timestamps_reads_them_in_the_rules_timezone(unit: str) -> None:
    berlin = in_zone("Europe/Berlin")
    values = pa.array(
        [berlin - dt.timedelta(minutes=30), berlin + dt.timedelta(minutes=30)],
        pa.timestamp(unit),
    )

    assert rows_failing(values, {"not_in_future": {"timezone": "Europe/Berlin"}}) == [2]
    # read as UTC (the default), Berlin's wall clock is one or two hours ahead
    assert rows_failing(values, "not_in_future") == [1, 2]
    # read as Tokyo time, it is seven or eight hours behind
    assert rows_failing(values, {"not_in_future": {"timezone": "Asia/Tokyo"}}) == []


def test_not_in_future_on_dates_uses_the_date_in_the_rules_timezone() -> None:
    # Kiritimati (UTC+14) is always at least a day ahead of Pago Pago (UTC-11)
    kiritimati_today = dt.datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    values = pa.array([kiritimati_today, kiritimati_today + dt.timedelta(days=1), None])

    assert rows_failing(values, {"not_in_future": {"timezone": "Pacific/Kiritimati"}}) == [2]
    assert rows_failing(values, {"not_in_future": {"timezone": "Pacific/Pago_Pago"}}) == [1, 2]
    assert (
        rows_failing(
            values, {"not_in_future": {"timezone": "Pacific/Pago_Pago", "tolerance": "3d"}}
        )
        == []
    )


def test_not_in_future_on_a_text_column_is_refused() -> None:
    with pytest.raises(SpecError) as error:
        rows_failing(["2024-01-01"], "not_in_future")

    assert spec_problem(error) == (
        "quality.columns.v.0",
        "rule 'v.not_in_future': column 'v' is VARCHAR, not a date or timestamp",
        "cast the column first (source columns: or a cast step), or use another rule",
    )


# --- referential --------------------------------------------------------------------------


def test_referential_to_a_csv_file_with_an_empty_key_cell(tmp_path: Path) -> None:
    (tmp_path / "countries.csv").write_text(
        "code,name\nUS,United States\nGB,United Kingdom\n,Nowhere\n", encoding="utf-8"
    )
    values = ["US", "FR", None, "", "us", "GB"]

    # the empty cell is a null key: it must not make every unknown value pass
    rule = {"referential": {"file": "countries.csv", "key": "code"}}
    assert rows_failing(values, rule, base_dir=tmp_path) == [2, 4, 5]
    # `column:` names the file's column, as the rules reference writes it
    rule = {"referential": {"file": "countries.csv", "column": "code"}}
    assert rows_failing(values, rule, base_dir=tmp_path) == [2, 4, 5]


def test_referential_keys_that_are_not_of_the_columns_type_match_nothing(tmp_path: Path) -> None:
    (tmp_path / "ids.csv").write_text("v\n1\n2\nN/A\n", encoding="utf-8")
    values = pa.array([1, 2, 3, None], pa.int64())

    assert rows_failing(values, {"referential": {"file": "ids.csv"}}, base_dir=tmp_path) == [3]


def test_referential_csv_keys_are_matched_as_written(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("price\n1.50\n007\n", encoding="utf-8")
    values = ["1.50", "1.5", "007", "7"]
    rule = {"referential": {"file": "prices.csv", "key": "price"}}

    assert rows_failing(values, rule, base_dir=tmp_path) == [2, 4]
    numbers = pa.array([1.5, 7.0, 2.0], pa.float64())
    assert rows_failing(numbers, rule, base_dir=tmp_path) == [3]


def test_referential_to_a_parquet_file_keeps_unicode_keys(tmp_path: Path) -> None:
    pq.write_table(pa.table({"city": ["Zürich", "東京", "São Paulo"]}), tmp_path / "cities.parquet")
    values = ["東京", "Zurich", "São Paulo", "Sa\u0303o Paulo"]
    rule = {"referential": {"file": "cities.parquet", "key": "city"}}

    assert rows_failing(values, rule, base_dir=tmp_path) == [2, 4]


def test_referential_to_a_duckdb_table_and_query(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "ref.duckdb")) as con:
        con.execute("CREATE SCHEMA inventory")
        con.execute("CREATE TABLE inventory.products (sku INTEGER, active BOOLEAN)")
        con.execute("INSERT INTO inventory.products VALUES (10, TRUE), (11, FALSE), (NULL, TRUE)")
    values = pa.array([10, 11, 12, None], pa.int64())

    table_rule = {"duckdb": "ref.duckdb", "table": "inventory.products", "key": "sku"}
    query_rule = {
        "duckdb": "ref.duckdb",
        "query": "SELECT sku FROM inventory.products WHERE active",
    }
    assert rows_failing(values, {"referential": table_rule}, base_dir=tmp_path) == [3]
    assert rows_failing(values, {"referential": query_rule}, base_dir=tmp_path) == [2, 3]


def test_referential_to_a_sqlite_database_by_url(tmp_path: Path) -> None:
    path = tmp_path / "ref.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE codes (code TEXT, kind TEXT)")
        con.executemany(
            "INSERT INTO codes VALUES (?, ?)",
            [("A1", "x"), ("B2", "y"), (None, "x"), ("Ω9", "x")],
        )
    con.close()
    url = f"sqlite:///{path}"
    values = ["A1", "B2", "C3", "Ω9", ""]

    table_rule = {"url": url, "table": "codes", "key": "code"}
    query_rule = {"url": url, "query": "SELECT code FROM codes WHERE kind = 'x'"}
    assert rows_failing(values, {"referential": table_rule}) == [3, 5]
    assert rows_failing(values, {"referential": query_rule}) == [2, 3, 5]


def test_referential_to_postgresql_by_url(
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    import sqlalchemy as sa  # noqa: PLC0415 - only this test needs it

    with postgres_database("tidegate_quality_") as url:
        engine = sa.create_engine(url)
        with engine.begin() as con:
            con.execute(sa.text("CREATE SCHEMA ref"))
            con.execute(sa.text("CREATE TABLE ref.customers (id bigint)"))
            con.execute(sa.text("INSERT INTO ref.customers VALUES (1), (2), (NULL)"))
        engine.dispose()
        values = pa.array([1, 2, 3, None], pa.int64())

        rule = {"referential": {"url": url, "table": "ref.customers", "key": "id"}}
        assert rows_failing(values, rule) == [3]


def test_referential_errors_name_the_rule(tmp_path: Path) -> None:
    (tmp_path / "codes.csv").write_text("code\nA\n", encoding="utf-8")

    with pytest.raises(ConfigError) as missing:
        rows_failing(["A"], {"referential": {"file": "nope.csv"}}, base_dir=tmp_path)
    assert missing.value.message == "rule 'v.referential': reference file 'nope.csv' does not exist"

    with pytest.raises(ConfigError) as no_column:
        rows_failing(["A"], {"referential": {"file": "codes.csv"}}, base_dir=tmp_path)
    assert no_column.value.message == (
        "rule 'v.referential': reference file has no column 'v' (columns: code)"
    )

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(DependencyError) as no_table:
        rows_failing(["A"], {"referential": {"url": url, "table": "codes"}})
    assert no_table.value.message.startswith(
        "rule 'v.referential': cannot read the reference keys (OperationalError: no such table"
    )


# --- expression ---------------------------------------------------------------------------


def test_expression_over_two_columns_passes_a_null_result() -> None:
    table = pa.table(
        {
            "birth": pa.array(
                [dt.date(1990, 1, 1), dt.date(2000, 1, 1), None, dt.date(1980, 1, 1)]
            ),
            "signup": pa.array(
                [dt.date(2020, 1, 1), dt.date(1999, 1, 1), dt.date(2020, 1, 1), None]
            ),
        }
    )

    plain = check_table(table, {"table": [{"expression": "signup >= birth"}]})
    strict = check_table(table, {"table": [{"expression": "coalesce(signup >= birth, FALSE)"}]})

    assert failing(plain) == {"expression": [2]}
    assert failing(strict) == {"expression": [2, 3, 4]}


def test_expression_reason_quotes_its_sql() -> None:
    table = pa.table({"a": [1, 5], "b": [2, 3]})
    report = check_table(table, {"table": [{"expression": {"id": "a_below_b", "sql": "a < b"}}]})

    assert report.quarantined is not None
    assert report.quarantined.to_pylist() == [
        {
            "a": 5,
            "b": 3,
            ROW_COLUMN: 2,
            RULES_COLUMN: "a_below_b",
            REASON_COLUMN: "a_below_b: fails a < b",
        }
    ]


def test_an_expression_naming_an_unknown_column_is_refused_at_its_own_rule() -> None:
    table = pa.table({"amount": [1], "total": [2]})
    quality = {
        "columns": {"amount": ["not_null"]},
        "table": [
            {"row_count": {"min": 1}},
            {"expression": {"id": "sums", "sql": "amout <= total"}},
        ],
    }

    with pytest.raises(SpecError) as error:
        check_table(table, quality)

    path, message, _ = spec_problem(error)
    assert path == "quality.table.1"
    assert message.startswith("rule 'sums': quality rules could not be evaluated: Binder Error")
    assert 'column "amout" not found' in message


def test_an_expression_comparing_text_with_a_number_is_refused() -> None:
    with pytest.raises(SpecError) as error:
        check_table(pa.table({"name": ["x"]}), {"table": [{"expression": "name > 5"}]})

    path, message, _ = spec_problem(error)
    assert path == "quality.table.0"
    assert message.startswith("rule 'expression': quality rules could not be evaluated:")
    assert "Cannot compare values of type VARCHAR and type INTEGER_LITERAL" in message


# --- custom -------------------------------------------------------------------------------


@pytest.fixture
def checks_module(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Write Python source as a uniquely named module in ``tmp_path``; returns its name.

    Unique names, and the module and folder taken off ``sys.modules``/``sys.path`` afterwards,
    so no test sees another's functions.
    """
    names: list[str] = []

    def write(source: str) -> str:
        name = f"checks_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


CUSTOM = """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def valid_iban(batch):
        assert batch.schema.names == ["iban"], batch.schema.names
        return pc.starts_with(batch.column("iban"), "DE")

    def with_nulls(batch):
        return pa.array([None if v is None else v > 1 for v in batch.column(0).to_pylist()])

    def whole_batch(batch):
        return pc.equal(batch.column("a"), batch.column("b"))

    def too_short(batch):
        return pa.array([True])

    def numbers(batch):
        return pa.array(np.ones(batch.num_rows, dtype=np.int64))

    def words(batch):
        return ["yes"] * batch.num_rows

    def scalar(batch):
        return True

    def broken(batch):
        raise KeyError("no such thing")
"""


def custom(function: str, **options: Any) -> dict[str, Any]:
    return {"table": [{"custom": {"function": function, "pythonpath": ".", **options}}]}


def test_custom_gets_its_columns_and_rejects_false_rows(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    module = checks_module(CUSTOM)
    table = pa.table({"id": [1, 2, 3, 4], "iban": ["DE89", "FR76", None, "de12"]})

    report = check_table(
        table, custom(f"{module}:valid_iban", columns=["iban"], id="iban"), base_dir=tmp_path
    )

    assert failing(report) == {"iban": [2, 4]}
    assert report.quarantined is not None
    assert (
        report.quarantined.column(REASON_COLUMN).to_pylist()
        == [f"iban: fails {module}:valid_iban"] * 2
    )


def test_custom_null_verdicts_pass_and_without_columns_it_gets_the_batch(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    module = checks_module(CUSTOM)
    table = pa.Table.from_batches(
        [
            pa.record_batch({"a": [0, 2, None], "b": [0, 3, 1]}),
            pa.record_batch({"a": [5, 1], "b": [5, 1]}),
        ]
    )

    nulls = check_table(table, custom(f"{module}:with_nulls", columns=["a"]), base_dir=tmp_path)
    whole = check_table(table, custom(f"{module}:whole_batch"), base_dir=tmp_path)

    assert failing(nulls) == {"custom": [1, 5]}
    assert failing(whole) == {"custom": [2]}


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("too_short", "{f} returned 1 values for 3 rows"),
        ("numbers", "{f} returned Int64Array of int64, not a boolean array"),
        ("words", "{f} returned list of string, not a boolean array"),
        ("scalar", "{f} returned bool, not a boolean array"),
        ("broken", "{f} raised KeyError: 'no such thing'"),
    ],
)
def test_custom_function_that_misbehaves_is_an_internal_error(
    tmp_path: Path, checks_module: Callable[[str], str], function: str, message: str
) -> None:
    module = checks_module(CUSTOM)
    name = f"{module}:{function}"

    with pytest.raises(InternalError) as error:
        check_table(pa.table({"a": [1, 2, 3]}), custom(name), base_dir=tmp_path)

    assert error.value.message == "quality rule 'custom': " + message.format(f=name)


def test_custom_function_that_cannot_be_found_is_refused_before_any_row(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    module = checks_module(CUSTOM)
    empty = pa.table({"a": pa.array([], pa.int64())})

    with pytest.raises(SpecError) as no_attribute:
        check_table(empty, custom(f"{module}:nope"), base_dir=tmp_path)
    with pytest.raises(SpecError) as no_folder:
        check_table(empty, custom(f"{module}:broken", pythonpath="lib"), base_dir=tmp_path)
    with pytest.raises(SpecError) as no_module:
        check_table(empty, custom("not_a_module_anywhere:check"), base_dir=tmp_path)

    assert spec_problem(no_attribute) == (
        "quality.table.0",
        f"quality rule 'custom': module {module!r} has no attribute 'nope'",
        "check the function's name",
    )
    assert spec_problem(no_folder) == (
        "quality.table.0",
        "quality rule 'custom': pythonpath folder does not exist",
        "point pythonpath at the folder that holds your module",
    )
    assert spec_problem(no_module)[1] == (
        "quality rule 'custom': cannot import module 'not_a_module_anywhere': "
        "No module named 'not_a_module_anywhere'"
    )


# --- columns the data does not have --------------------------------------------------------


def test_an_unknown_column_names_the_rule_and_the_nearest_column() -> None:
    table = pa.table({"amount": [1], "customer_id": [2]})

    with pytest.raises(SpecError) as error:
        check_table(table, {"columns": {"amout": ["not_null", {"min": 0}]}})

    problems = [(p.path, p.message, p.hint) for p in error.value.problems]
    assert problems == [
        (
            f"quality.columns.amout.{index}",
            f"rule 'amout.{rule}': column 'amout' is not in the data "
            "(columns: amount, customer_id)",
            "did you mean 'amount'? rules see the columns after every step, as they will be loaded",
        )
        for index, rule in enumerate(["not_null", "min"])
    ]


def test_unknown_columns_of_table_rules_are_found_too(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    module = checks_module(CUSTOM)
    table = pa.table({"first_name": ["a"], "last_name": ["b"]})
    quality = {
        "table": [
            {"unique": {"columns": ["first_name", "surname"]}},
            {"custom": {"function": f"{module}:whole_batch", "columns": ["zzz"]}},
        ]
    }

    with pytest.raises(SpecError) as error:
        check_table(table, quality, base_dir=tmp_path)

    assert [(p.path, p.message, p.hint) for p in error.value.problems] == [
        (
            "quality.table.0",
            "rule 'unique': column 'surname' is not in the data (columns: first_name, last_name)",
            "did you mean 'last_name'? rules see the columns after every step, as they will be "
            "loaded",
        ),
        (
            "quality.table.1",
            "rule 'custom': column 'zzz' is not in the data (columns: first_name, last_name)",
            "rules see the columns after every step, as they will be loaded",
        ),
    ]


def test_rules_name_columns_ignoring_case_like_duckdb(
    tmp_path: Path, checks_module: Callable[[str], str]
) -> None:
    module = checks_module(CUSTOM)
    old = dt.datetime(2000, 1, 1)
    table = pa.table({"email": ["a@b.c", "nope"], "seen": [old, old], "iban": ["DE1", "X"]})
    quality = {
        "columns": {
            "Email": [{"regex": "@"}],
            "SEEN": [{"freshness": {"max_age": "1d", "on_fail": "warn"}}],
        },
        "table": [
            {"custom": {"function": f"{module}:valid_iban", "columns": ["IBAN"], "pythonpath": "."}}
        ],
    }

    report = check_table(table, quality, base_dir=tmp_path)

    assert report.failures == {"Email.regex": 1, "SEEN.freshness": 1, "custom": 1}
    assert report.quarantined is not None
    assert report.quarantined.select([ROW_COLUMN, RULES_COLUMN]).to_pylist() == [
        {ROW_COLUMN: 2, RULES_COLUMN: "Email.regex,custom"}
    ]
    assert report.measured.columns["email"] == {"completeness": 1.0, "validity": 0.5}


# --- empty input --------------------------------------------------------------------------


def test_empty_input_fails_no_row_rule(tmp_path: Path, checks_module: Callable[[str], str]) -> None:
    module = checks_module(CUSTOM)
    (tmp_path / "codes.csv").write_text("code\nA\n", encoding="utf-8")
    table = pa.table(
        {
            "code": pa.array([], pa.string()),
            "n": pa.array([], pa.float64()),
            "at": pa.array([], pa.timestamp("us", tz="UTC")),
        }
    )
    quality = {
        "columns": {
            "code": [
                "not_null",
                "unique",
                {"regex": "^[A-Z]$"},
                {"allowed_values": ["A"]},
                {"length": 1},
                {"type": "int64"},
                {"referential": {"file": "codes.csv"}},
            ],
            "n": [{"between": [0, 1]}],
            "at": ["not_in_future"],
        },
        "table": [
            {"expression": "n > 0"},
            {"custom": {"function": f"{module}:numbers", "columns": ["n"], "pythonpath": "."}},
        ],
    }

    report = check_table(table, quality, base_dir=tmp_path)

    assert report.rows == 0
    assert report.rejected == 0
    assert set(report.failures.values()) == {0}
    assert len(report.failures) == 11
    assert report.score is None
    assert set(report.dimensions.values()) == {None}
    assert report.valid.num_rows == 0
    assert report.valid.schema == table.schema
    assert report.quarantined is None
