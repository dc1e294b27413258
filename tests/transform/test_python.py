"""The python step: imports a user function and checks what it returns."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tidegate.core.protocols import StepResult
from tidegate.errors import ConfigError, InternalError
from tidegate.transform.python import PythonSettings, PythonStep

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.core.context import RunContext

BATCH = pa.record_batch({"n": [1, 2, 3]})


def double(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.set_column(0, "n", pc.multiply(batch.column("n"), 2))


def as_table(batch: pa.RecordBatch) -> pa.Table:
    return pa.Table.from_batches([batch, batch])


def as_list(batch: pa.RecordBatch) -> list[int]:
    return [1]


def split(batch: pa.RecordBatch) -> StepResult:
    return StepResult(batch.slice(0, 1), rejected=batch.slice(1))


def explode(batch: pa.RecordBatch) -> pa.RecordBatch:
    raise ZeroDivisionError("boom")


NOT_CALLABLE = 42


def step(function: str, **settings: str) -> PythonStep:
    return PythonStep(PythonSettings(function=function, **settings), name="custom")


def test_calls_the_function_given_with_a_colon_or_a_dot(ctx: RunContext) -> None:
    for spec in (f"{__name__}:double", f"{__name__}.double"):
        out = step(spec).process(BATCH, ctx)
        assert isinstance(out, pa.RecordBatch)
        assert out.column("n").to_pylist() == [2, 4, 6]


def test_a_table_becomes_one_batch_and_a_step_result_passes(ctx: RunContext) -> None:
    out = step(f"{__name__}:as_table").process(BATCH, ctx)
    assert isinstance(out, pa.RecordBatch)
    assert out.num_rows == 6

    result = step(f"{__name__}:split").process(BATCH, ctx)
    assert isinstance(result, StepResult)
    assert result.rejected is not None
    assert result.rejected.num_rows == 2


def test_pythonpath_is_resolved_against_the_pipeline_folder(
    tmp_path: Path, ctx: RunContext
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "tidegate_test_udf_mod.py").write_text(
        textwrap.dedent(
            """
            import pyarrow as pa

            def keep_first(batch: pa.RecordBatch) -> pa.RecordBatch:
                return batch.slice(0, 1)
            """
        )
    )

    out = step("tidegate_test_udf_mod:keep_first", pythonpath="code").process(BATCH, ctx)

    assert isinstance(out, pa.RecordBatch)
    assert out.to_pydict() == {"n": [1]}


def test_a_missing_pythonpath_folder_is_a_config_error(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="pythonpath folder does not exist"):
        step("whatever:f", pythonpath="nowhere").process(BATCH, ctx)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'"),
        (f"{__name__}:nothing", "has no attribute 'nothing'"),
        (f"{__name__}:NOT_CALLABLE", "is a int, not a function"),
        ("justaname", "is not of the form package.module:func"),
    ],
)
def test_bad_function_names_fail_at_construction(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        step(spec)


def test_a_wrong_return_type_is_an_internal_error(ctx: RunContext) -> None:
    with pytest.raises(InternalError, match="returned list, not a pyarrow RecordBatch"):
        step(f"{__name__}:as_list").process(BATCH, ctx)


def test_an_exception_in_the_function_is_wrapped_and_chained(ctx: RunContext) -> None:
    with pytest.raises(InternalError, match="raised ZeroDivisionError: boom") as info:
        step(f"{__name__}:explode").process(BATCH, ctx)

    assert isinstance(info.value.__cause__, ZeroDivisionError)
