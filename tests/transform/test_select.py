"""The select step: keeps and orders columns; unknown names get a suggestion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pydantic import ValidationError

from tidegate.errors import ConfigError
from tidegate.transform.select import SelectSettings, SelectStep

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

BATCH = pa.record_batch({"id": [1, 2], "email": ["a@x", "b@x"], "name": ["a", "b"]})


def test_keeps_the_listed_columns_in_order(ctx: RunContext) -> None:
    out = SelectStep(SelectSettings(columns=["name", "id"]), name="keep").process(BATCH, ctx)

    assert out.to_pydict() == {"name": ["a", "b"], "id": [1, 2]}


def test_an_unknown_column_lists_the_columns_and_the_nearest(ctx: RunContext) -> None:
    keep = SelectStep(SelectSettings(columns=["id", "emial"]), name="keep")

    with pytest.raises(ConfigError) as info:
        keep.process(BATCH, ctx)

    assert info.value.message == (
        "select step 'keep': column 'emial' is not in the batch (columns: id, email, name)"
    )
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'email'?")


def test_a_column_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="listed more than once: id"):
        SelectSettings(columns=["id", "name", "id"])
