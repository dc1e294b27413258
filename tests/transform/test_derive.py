"""The derive step: SQL expressions become new (or replaced) columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError
from tidegate.transform.derive import DeriveSettings, DeriveStep

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

BATCH = pa.record_batch(
    {"price": [2.5, 4.0], "qty": pa.array([2, 3], pa.int64()), "name": ["a", "b"]}
)


def derive(columns: dict[str, str]) -> DeriveStep:
    return DeriveStep(DeriveSettings(columns=columns), name="calc")


def test_new_columns_are_appended_in_order(ctx: RunContext) -> None:
    out = derive({"total": "price * qty", "label": "upper(name) || '!'"}).process(BATCH, ctx)

    assert out.schema.names == ["price", "qty", "name", "total", "label"]
    assert out.column("total").to_pylist() == [5.0, 12.0]
    assert out.column("label").to_pylist() == ["A!", "B!"]
    assert out.column("price").to_pylist() == [2.5, 4.0]


def test_an_existing_column_is_replaced_in_place(ctx: RunContext) -> None:
    out = derive({"qty": "qty * 10"}).process(BATCH, ctx)

    assert out.schema.names == ["price", "qty", "name"]
    assert out.column("qty").to_pylist() == [20, 30]


def test_hostile_column_names_are_quoted(ctx: RunContext) -> None:
    name = 'x"; DROP TABLE input; --'

    out = derive({name: "1 + 1", "select": "qty"}).process(BATCH, ctx)

    assert out.schema.names[-2:] == [name, "select"]
    assert out.column(name).to_pylist() == [2, 2]


def test_a_bad_expression_is_a_config_error(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match=r"derive step 'calc': query failed: .*missing"):
        derive({"x": "missing + 1"}).process(BATCH, ctx)
