"""The rename step: renames columns, refuses unknown names and clashes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError
from tidegate.transform.rename import RenameSettings, RenameStep

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

BATCH = pa.record_batch({"cust_id": [1, 2], "nm": ["a", "b"], "city": ["x", "y"]})


def rename(columns: dict[str, str]) -> RenameStep:
    return RenameStep(RenameSettings(columns=columns), name="names")


def test_renames_and_keeps_order_and_data(ctx: RunContext) -> None:
    out = rename({"nm": "name", "cust_id": "Kundennummer_ä"}).process(BATCH, ctx)

    assert out.schema.names == ["Kundennummer_ä", "name", "city"]
    assert out.column("name").to_pylist() == ["a", "b"]


def test_an_unknown_old_name_suggests_the_nearest(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="column 'cust_di' is not in the batch") as info:
        rename({"cust_di": "id"}).process(BATCH, ctx)

    assert info.value.hint is not None
    assert "did you mean 'cust_id'?" in info.value.hint


def test_a_rename_onto_an_existing_name_is_refused(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="two columns named 'city'"):
        rename({"nm": "city"}).process(BATCH, ctx)


def test_swapping_two_names_is_allowed(ctx: RunContext) -> None:
    out = rename({"nm": "city", "city": "nm"}).process(BATCH, ctx)

    assert out.to_pydict() == {"cust_id": [1, 2], "city": ["a", "b"], "nm": ["x", "y"]}
