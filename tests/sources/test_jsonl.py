"""The jsonl source on real files: inference, declared types and located errors."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest

from tidegate.errors import ConfigError, DataError
from tidegate.sources.jsonl import JsonlSettings, JsonlSource

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import SourceBatch


def read(ctx: RunContext, **settings: Any) -> list[SourceBatch]:
    return list(JsonlSource(JsonlSettings(**settings)).read(ctx))


def write_lines(path: Path, objects: list[Any]) -> None:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))


def test_reads_and_infers(tmp_path: Path, ctx: RunContext) -> None:
    write_lines(tmp_path / "e.jsonl", [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}])
    source = JsonlSource(JsonlSettings(path="e.jsonl"))
    assert source.describe() == "jsonl:e.jsonl"
    batches = list(source.read(ctx))
    result = pa.Table.from_batches([b.batch for b in batches])
    assert result.to_pydict() == {"id": [1, 2], "tags": [["a"], []]}
    assert batches[-1].position == {"rows": 2}


def test_declared_types(tmp_path: Path, ctx: RunContext) -> None:
    write_lines(
        tmp_path / "e.jsonl",
        [
            {"id": 1, "day": "2024-01-02", "amount": "12.50", "at": "2024-01-02 10:00:00"},
            {"id": 2, "day": "2024-01-03", "amount": "3.10", "at": "2024-01-03T11:00:00"},
        ],
    )
    columns = {"id": "int32", "day": "date32", "amount": "decimal128(10,2)", "at": "timestamp[us]"}
    result = pa.Table.from_batches([b.batch for b in read(ctx, path="e.jsonl", columns=columns)])
    assert result.schema.field("id").type == pa.int32()
    assert result.column("day").to_pylist() == [date(2024, 1, 2), date(2024, 1, 3)]
    assert result.column("amount").to_pylist() == [Decimal("12.50"), Decimal("3.10")]
    assert result.column("at").to_pylist()[1] == datetime(2024, 1, 3, 11, 0)


def test_many_blocks_keep_one_schema(tmp_path: Path, ctx: RunContext) -> None:
    write_lines(tmp_path / "m.jsonl", [{"id": i, "v": f"x{i}"} for i in range(20_000)])
    batches = read(ctx, path="m.jsonl", block_size=16_384)
    assert len(batches) > 5
    assert {b.batch.schema for b in batches} == {batches[0].batch.schema}
    assert batches[-1].position == {"rows": 20_000}


def test_malformed_line_is_located(tmp_path: Path, ctx: RunContext) -> None:
    lines = [json.dumps({"id": i}) for i in range(5_000)]
    lines[3_210] = '{"id": 3210, oops}'
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="bad.jsonl", block_size=8_192)
    assert caught.value.location == f"{tmp_path / 'bad.jsonl'} line 3211"
    assert caught.value.message.startswith("invalid JSON")


def test_type_change_names_field_and_line(tmp_path: Path, ctx: RunContext) -> None:
    write_lines(tmp_path / "t.jsonl", [{"id": 1}, {"id": None}, {"id": "two"}])
    with pytest.raises(DataError) as caught:
        read(ctx, path="t.jsonl")
    assert caught.value.location == f"{tmp_path / 't.jsonl'} line 3"
    assert caught.value.message == "field 'id' holds a string where a number was expected"
    assert "id: string" in (caught.value.hint or "")


def test_unconvertible_declared_value(tmp_path: Path, ctx: RunContext) -> None:
    write_lines(tmp_path / "t.jsonl", [{"at": "2024-01-01"}, {"at": "soon"}])
    with pytest.raises(DataError) as caught:
        read(ctx, path="t.jsonl", columns={"at": "timestamp[us]"})
    assert caught.value.location == f"{tmp_path / 't.jsonl'} line 2"
    assert "'soon'" in caught.value.message


def test_field_appearing_late_is_not_dropped(tmp_path: Path, ctx: RunContext) -> None:
    objects: list[dict[str, Any]] = [{"id": i} for i in range(5_000)]
    objects.append({"id": 5_000, "extra": "x"})
    write_lines(tmp_path / "late.jsonl", objects)
    with pytest.raises(DataError) as caught:
        read(ctx, path="late.jsonl", block_size=4_096)
    assert caught.value.location == f"{tmp_path / 'late.jsonl'} line 5001"
    assert "'extra'" in caught.value.message
    both = read(ctx, path="late.jsonl", block_size=4_096, columns={"extra": "string"})
    assert sum(b.batch.num_rows for b in both) == 5_001
    assert both[-1].batch.column("extra").to_pylist()[-1] == "x"


def test_binary_and_missing_files(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "x.jsonl").write_bytes(b"PAR1\x00\x00")
    with pytest.raises(DataError, match="does not look like JSON lines"):
        read(ctx, path="x.jsonl")
    with pytest.raises(ConfigError, match="file not found"):
        read(ctx, path="nope.jsonl")
