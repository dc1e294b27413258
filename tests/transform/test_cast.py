"""The cast step: vectorised conversions, and bad values located exactly or turned into nulls."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pydantic import ValidationError

from tidegate.errors import ConfigError, DataError
from tidegate.transform.cast import CastSettings, CastStep

if TYPE_CHECKING:
    from tidegate.core.context import RunContext


def cast(columns: dict[str, str], *, safe: bool = True) -> CastStep:
    return CastStep(CastSettings(columns=columns, safe=safe), name="types")


def test_casts_strings_to_typed_columns(ctx: RunContext) -> None:
    batch = pa.record_batch(
        {
            "id": ["1", "2"],
            "amount": ["12.50", "3.10"],
            "day": ["2024-01-31", "2024-02-01"],
            "flag": ["true", "false"],
            "keep": ["x", "y"],
        }
    )

    out = cast(
        {"id": "int64", "amount": "decimal128(12,2)", "day": "date32", "flag": "bool"}
    ).process(batch, ctx)

    assert out.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("amount", pa.decimal128(12, 2)),
            ("day", pa.date32()),
            ("flag", pa.bool_()),
            ("keep", pa.string()),
        ]
    )
    assert out.column("amount").to_pylist() == [Decimal("12.50"), Decimal("3.10")]
    assert out.column("id").to_pylist() == [1, 2]


def test_a_bad_value_names_column_row_and_value(ctx: RunContext) -> None:
    values = [str(i) for i in range(1000)]
    values[637] = "12x"
    values[900] = "later"
    batch = pa.record_batch({"n": values})

    with pytest.raises(DataError) as info:
        cast({"n": "int64"}).process(batch, ctx)

    assert "column 'n' value '12x' in row 637 of the batch cannot be cast to int64" in str(
        info.value
    )
    assert info.value.hint is not None
    assert "safe: false" in info.value.hint


def test_unsafe_turns_only_the_bad_values_into_nulls(ctx: RunContext) -> None:
    values: list[str | None] = [str(i) for i in range(300)]
    for bad in (0, 5, 17, 150, 299):
        values[bad] = f"bad{bad}"
    values[7] = None
    batch = pa.record_batch({"n": values})

    out = cast({"n": "int32"}, safe=False).process(batch, ctx)

    expected = [None if v is None or v.startswith("bad") else int(v) for v in values]
    assert out.column("n").type == pa.int32()
    assert out.column("n").to_pylist() == expected


def test_overflow_is_a_data_error(ctx: RunContext) -> None:
    batch = pa.record_batch({"n": pa.array([1, 70_000], pa.int64())})

    with pytest.raises(DataError, match="value 70000 in row 1"):
        cast({"n": "int16"}).process(batch, ctx)


def test_unknown_type_and_unknown_column_are_config_errors(ctx: RunContext) -> None:
    with pytest.raises(ValidationError, match=r"columns\.n\s+Value error, unknown type 'integr'"):
        CastSettings(columns={"n": "integr"})  # refused when the pipeline is loaded
    unchecked = CastSettings.model_construct(columns={"n": "integr"}, safe=True)
    with pytest.raises(ConfigError, match="cast step 'types': column 'n': unknown type 'integr'"):
        CastStep(unchecked, name="types")
    with pytest.raises(ConfigError, match="did you mean 'amount'"):
        cast({"amuont": "double"}).process(pa.record_batch({"amount": [1]}), ctx)


def test_an_impossible_conversion_is_a_config_error(ctx: RunContext) -> None:
    batch = pa.record_batch({"d": pa.array([1.5], pa.float64())})

    with pytest.raises(ConfigError, match="cannot be cast from double to date32"):
        cast({"d": "date32"}).process(batch, ctx)


def test_the_reason_names_the_reported_value(ctx: RunContext) -> None:
    batch = pa.record_batch({"name": ["ann", "bob", "cy"]})

    with pytest.raises(DataError) as info:
        cast({"name": "int64"}).process(batch, ctx)

    assert "value 'ann' in row 0" in info.value.message
    assert info.value.message.endswith("Failed to parse string: 'ann' as a scalar of type int64")
