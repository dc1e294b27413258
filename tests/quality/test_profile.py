"""Column profiles over tables and batch streams, and the quality rules suggested from them."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pytest
import yaml

from tidegate.errors import DataError
from tidegate.quality import check_table
from tidegate.quality.profile import SKETCH, TRACKED, profile_table, shapes_of
from tidegate.quality.suggest import rules_yaml, shape_regex, suggest_rules
from tidegate.spec.quality import QualitySpec

if TYPE_CHECKING:
    from collections.abc import Iterator

UTC = dt.UTC


def _batches(table: pa.Table, size: int) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=size)


def _rules(table: pa.Table) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = suggest_rules(profile_table(table))["quality"]["columns"]
    return columns


# -- statistics ------------------------------------------------------------------------------


def test_numbers_nulls_and_moments_match_numpy() -> None:
    values = [3, None, 7, 7, 10, None, -2]
    profile = profile_table(pa.table({"n": pa.array(values, pa.int32())}))

    column = profile.column("n")
    present = np.array([v for v in values if v is not None], dtype=float)
    assert profile.rows == 7
    assert column.nulls == 2
    assert column.null_pct == pytest.approx(100 * 2 / 7)
    assert (column.min, column.max) == (-2, 10)
    assert column.mean == pytest.approx(present.mean())
    assert column.stddev == pytest.approx(present.std(ddof=1))
    assert (column.distinct, column.distinct_exact, column.unique) == (4, True, False)
    assert column.top_values[0].value == 7
    assert column.top_values[0].count == 2
    assert column.values == (-2, 3, 7, 10)


def test_many_batches_give_the_same_profile_as_one() -> None:
    rng = np.random.default_rng(7)
    amounts = rng.normal(1000.0, 250.0, 10_000)
    table = pa.table(
        {
            "amount": amounts,
            "code": pa.array(rng.choice(["A1", "B22", "C333"], 10_000)),
            "id": pa.array(np.arange(10_000)),
        }
    )
    whole = profile_table(table)
    streamed = profile_table(_batches(table, 777))

    assert streamed.rows == whole.rows == 10_000
    for name in ("amount", "code", "id"):
        one, many = whole.column(name), streamed.column(name)
        assert (many.min, many.max, many.nulls) == (one.min, one.max, one.nulls)
    assert streamed.column("code").top_values == whole.column("code").top_values
    amount = streamed.column("amount")
    assert amount.mean == pytest.approx(float(amounts.mean()), rel=1e-12)
    assert amount.stddev == pytest.approx(float(amounts.std(ddof=1)), rel=1e-9)
    assert streamed.column("code").values == ("A1", "B22", "C333")
    assert streamed.column("code").min_length == 2
    assert streamed.column("code").max_length == 4
    assert streamed.column("id").unique is True


def test_a_repeat_in_another_batch_is_caught() -> None:
    ids = list(range(5_000))
    ids[4_321] = 12  # 12 also sits in the first batch
    profile = profile_table(_batches(pa.table({"id": ids}), 1_000))

    assert profile.column("id").unique is False
    assert profile.column("id").top_values[0].value == 12
    assert profile.column("id").top_values[0].count == 2


def test_uniqueness_of_binary_values_is_checked_exactly_at_the_end() -> None:
    # binary values are not counted one by one, so only the hash table sees the repeat
    blobs = [i.to_bytes(4, "big") for i in range(3_000)]
    repeated = [*blobs[:-1], blobs[0]]
    distinct = profile_table(_batches(pa.table({"b": pa.array(blobs, pa.binary())}), 500))
    twice = profile_table(_batches(pa.table({"b": pa.array(repeated, pa.binary())}), 500))

    assert distinct.column("b").unique is True
    assert twice.column("b").unique is False
    assert twice.column("b").distinct == 2_999
    assert twice.column("b").distinct_exact is True
    assert (twice.column("b").min_length, twice.column("b").max_length) == (4, 4)


def test_distinct_counts_are_exact_below_the_sketch_and_close_above() -> None:
    rng = np.random.default_rng(3)
    middling = rng.integers(0, 3_000, 60_000)  # more than TRACKED, fewer than SKETCH
    many = rng.integers(0, 10**9, 60_000)
    profile = profile_table(
        _batches(pa.table({"middling": middling, "many": many, "float": many * 0.5}), 8_192)
    )

    assert TRACKED < len(np.unique(middling)) < SKETCH
    assert profile.column("middling").distinct == len(np.unique(middling))
    assert profile.column("middling").distinct_exact is True
    assert profile.column("middling").top_exact is False
    for name in ("many", "float"):
        column = profile.column(name)
        assert column.distinct_exact is False
        assert column.distinct == pytest.approx(len(np.unique(many)), rel=0.06)


def test_all_null_columns() -> None:
    table = pa.table(
        {
            "text": pa.array([None, None, None], pa.string()),
            "nothing": pa.array([None, None, None], pa.null()),
            "x": [1, 2, 3],
        }
    )
    profile = profile_table(table)

    for name in ("text", "nothing"):
        column = profile.column(name)
        assert (column.nulls, column.null_pct) == (3, 100.0)
        assert (column.min, column.max, column.mean) == (None, None, None)
        assert column.top_values == ()
        assert not column.unique
    assert profile.column("text").distinct == 0
    assert profile.column("nothing").distinct is None
    rules = _rules(table)
    assert "text" not in rules
    assert "nothing" not in rules


def test_empty_inputs() -> None:
    schema = pa.schema([("id", pa.int64()), ("name", pa.string())])

    assert profile_table(iter([])).columns == ()
    assert profile_table(iter([])).rows == 0
    for empty in (
        schema.empty_table(),
        pa.RecordBatchReader.from_batches(schema, []),
        iter([pa.RecordBatch.from_pylist([], schema=schema)]),
    ):
        profile = profile_table(empty)
        assert profile.rows == 0
        assert [c.name for c in profile.columns] == ["id", "name"]
        assert all(c.nulls == 0 and c.null_pct == 0.0 for c in profile.columns)
        assert suggest_rules(profile) == {"quality": {"columns": {}}}


def test_unicode_strings_count_characters_and_keep_non_ascii_in_shapes() -> None:
    names = ["Zoë", "北京", "Ångström", "naïve café", "Zoë"]
    column = profile_table(pa.table({"name": names})).column("name")

    assert (column.min_length, column.max_length) == (2, 10)
    assert (column.min, column.max) == (min(names), max(names))
    assert column.top_values[0].value == "Zoë"
    assert column.top_values[0].count == 2
    assert column.shapes[0].shape == "Aaë"
    assert column.shapes[0].share == pytest.approx(0.4)
    assert "Åaaaaaöa" in {s.shape for s in column.shapes}
    assert shapes_of(pa.array(["Ångström 12", None])).to_pylist() == ["Åaaaaaöa 99", None]


def test_nan_is_counted_apart_from_nulls_and_left_out_of_the_statistics() -> None:
    values = [1.0, math.nan, None, 3.0, math.nan, math.inf]
    column = profile_table(pa.table({"x": values})).column("x")

    assert (column.nulls, column.nan) == (1, 2)
    assert (column.min, column.max) == (1.0, math.inf)
    assert column.mean == pytest.approx(2.0)  # finite values only
    assert column.distinct == 3
    assert all(not math.isnan(v.value) for v in column.top_values)
    assert json.loads(json.dumps(column.to_dict()))["max"] == "inf"


def test_timestamps_with_a_zone_come_back_as_aware_datetimes() -> None:
    instants = [dt.datetime(2024, 3, 1, 12, 30, tzinfo=UTC), dt.datetime(2023, 1, 1, tzinfo=UTC)]
    table = pa.table(
        {
            "paris": pa.array(instants, pa.timestamp("ns", tz="Europe/Paris")),
            "utc": pa.array(instants, pa.timestamp("us", tz="UTC")),
            "naive": pa.array([i.replace(tzinfo=None) for i in instants], pa.timestamp("ns")),
            "day": pa.array([i.date() for i in instants], pa.date32()),
        }
    )
    profile = profile_table(table)

    for name in ("paris", "utc"):
        column = profile.column(name)
        assert (column.min, column.max) == (instants[1], instants[0])
        assert column.min.utcoffset() == dt.timedelta(0)
    assert profile.column("naive").max == dt.datetime(2024, 3, 1, 12, 30)
    assert profile.column("day").min == dt.date(2023, 1, 1)
    assert profile.column("paris").to_dict()["max"] == "2024-03-01T12:30:00+00:00"
    assert str(profile.column("paris").type) == "timestamp[ns, tz=Europe/Paris]"


def test_dictionary_columns_and_decimals() -> None:
    table = pa.table(
        {
            "country": pa.array(["US", "GB", "US", None]).dictionary_encode(),
            "price": pa.array(
                [Decimal("9.99"), Decimal("19.50"), None, Decimal("0.01")], pa.decimal128(8, 2)
            ),
        }
    )
    profile = profile_table(table)

    assert profile.column("country").values == ("GB", "US")
    assert pa.types.is_dictionary(profile.column("country").type)
    price = profile.column("price")
    assert (price.min, price.max) == (Decimal("0.01"), Decimal("19.50"))
    assert price.mean == pytest.approx((9.99 + 19.50 + 0.01) / 3)
    assert json.loads(json.dumps(price.to_dict()))["max"] == 19.5


def test_limit_stops_reading_and_closes_the_stream() -> None:
    closed = []

    def stream() -> Iterator[pa.RecordBatch]:
        try:
            for start in range(0, 10_000, 1_000):
                yield pa.record_batch({"n": pa.array(range(start, start + 1_000))})
        finally:
            closed.append(True)

    profile = profile_table(stream(), limit=2_500)

    assert (profile.rows, profile.limited) == (2_500, True)
    assert profile.column("n").max == 2_499
    assert closed == [True]
    assert "from the first 2,500 rows" in rules_yaml(profile)


def test_a_batch_with_other_columns_is_a_data_error() -> None:
    batches = [pa.record_batch({"a": [1]}), pa.record_batch({"b": [2]})]

    with pytest.raises(DataError, match="same columns"):
        profile_table(iter(batches))


def test_a_batch_with_a_narrower_type_is_cast_to_the_first() -> None:
    batches = [pa.record_batch({"a": pa.array([1], pa.int64())}), pa.record_batch({"a": [2]})]
    batches[1] = pa.record_batch({"a": pa.array([2], pa.int32())})

    assert profile_table(iter(batches)).column("a").max == 2


# -- suggested rules ------------------------------------------------------------------------


def _customers(rows: int = 400) -> pa.Table:
    rng = np.random.default_rng(11)
    today = dt.datetime.now(UTC).date()
    return pa.table(
        {
            "id": pa.array(np.arange(1, rows + 1)),
            "zip": pa.array([f"{z:05d}" for z in rng.integers(1_000, 1_100, rows)]),
            "email": pa.array([f"user{i}@example.org" for i in range(rows)]),
            "country": pa.array(rng.choice(["DE", "GB", "US"], rows)),
            "sku": pa.array([f"AB-{i % 1000:03d}.x" for i in range(rows)]),
            "age": pa.array(rng.integers(18, 97, rows)),
            "amount": pa.array(rng.uniform(0.26, 499.98, rows)),
            "nickname": pa.array([None if i % 4 == 0 else f"n{i}" for i in range(rows)]),
            "signup": pa.array(
                [today - dt.timedelta(days=int(d)) for d in rng.integers(1, 900, rows)]
            ),
            "expires": pa.array([dt.date(2999, 1, 1), dt.date(3000, 6, 30)] * (rows // 2)),
        }
    )


def test_suggested_rules_per_column() -> None:
    table = _customers()
    rules = _rules(table)
    signup_min = min(table.column("signup").to_pylist()).isoformat()

    assert rules["id"] == ["not_null", "unique"]  # a unique integer looks like a key: no range
    assert rules["zip"] == ["not_null", {"length": {"min": 5, "max": 5}}, {"regex": r"^\d{5}$"}]
    assert {"regex": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"} in rules["email"]
    assert "unique" in rules["email"]
    assert rules["country"][:2] == ["not_null", {"allowed_values": ["DE", "GB", "US"]}]
    assert {"regex": r"^[A-Z]{2}-\d{3}\.[a-z]$"} in rules["sku"]
    assert {"between": [18, 96]} in rules["age"]
    assert rules["amount"] == ["not_null", {"between": [0, 500]}]
    assert "not_null" not in rules["nickname"]
    assert rules["signup"] == ["not_null", {"min": signup_min}, "not_in_future"]
    assert rules["expires"] == ["not_null", {"between": ["2999-01-01", "3000-06-30"]}]


def test_allowed_values_need_many_more_rows_than_values() -> None:
    few_rows = pa.table({"country": ["DE", "GB", "US", "FR", "DE"]})

    assert not any(
        isinstance(rule, dict) and "allowed_values" in rule for rule in _rules(few_rows)["country"]
    )


def test_floats_and_booleans_are_never_called_unique() -> None:
    table = pa.table({"x": [0.5, 1.5, 2.5], "flag": [True, False, None]})
    profile = profile_table(table)

    assert profile.column("x").unique is None
    assert profile.column("flag").unique is None
    assert "unique" not in _rules(table)["x"]


def test_the_yaml_snippet_loads_as_a_quality_section_and_holds_on_its_data() -> None:
    table = _customers()
    text = rules_yaml(profile_table(table), source="customers.csv")

    assert text.startswith("# Quality rules suggested by `tidegate profile` from 400 rows of ")
    assert "review" in text.splitlines()[1]
    assert "    zip:\n      - not_null\n      - length: {min: 5, max: 5}\n" in text
    assert "      - regex: '^\\d{5}$'\n" in text
    section = yaml.safe_load(text)["quality"]
    spec = QualitySpec.model_validate(section)
    assert {rule.type for rule in spec.rules} >= {
        "not_null",
        "unique",
        "allowed_values",
        "between",
        "length",
        "regex",
        "min",
        "not_in_future",
    }
    report = check_table(table, section)
    assert report.rejected == 0
    assert sum(report.failures.values()) == 0


def test_a_regex_needs_a_shape_on_98_percent_of_values() -> None:
    codes = [f"{i:05d}" for i in range(98)] + ["12-34", "x"]
    mostly = [f"{i:05d}" for i in range(97)] + ["12-34", "x", "y"]

    assert {"regex": r"^\d{5}$"} in _rules(pa.table({"zip": codes}))["zip"]
    assert not any(
        isinstance(rule, dict) and "regex" in rule
        for rule in _rules(pa.table({"zip": mostly}))["zip"]
    )


def test_shape_regexes_match_their_values_and_escape_specials() -> None:
    assert shape_regex("AA-9999") == r"^[A-Z]{2}-\d{4}$"
    assert shape_regex("a.9(9)") == r"^[a-z]\.\d\(\d\)$"
    for value in ("AB-1234", "x.1(2)", "Zoë 42", "$9.99 +"):
        (shape,) = shapes_of(pa.array([value])).to_pylist()
        assert re.fullmatch(shape_regex(shape), value)


def test_profile_to_dict_is_json() -> None:
    profile = profile_table(_customers(20))
    document = json.loads(json.dumps(profile.to_dict()))

    assert document["rows"] == 20
    by_name = {column["name"]: column for column in document["columns"]}
    assert by_name["zip"]["shapes"][0] == {"shape": "99999", "count": 20, "share": 1.0}
    assert by_name["signup"]["min"] == min(_customers(20).column("signup").to_pylist()).isoformat()
    assert by_name["id"]["unique"] is True
