"""The parquet source on real files, folders and globs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidegate.errors import ConfigError, DataError
from tidegate.sources.parquet import ParquetSettings, ParquetSource

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import SourceBatch


def read(ctx: RunContext, **settings: Any) -> list[SourceBatch]:
    return list(ParquetSource(ParquetSettings(**settings)).read(ctx))


def test_reads_a_file_in_bounded_batches(tmp_path: Path, ctx: RunContext) -> None:
    data = pa.table({"id": list(range(10_000)), "name": [f"n{i}" for i in range(10_000)]})
    pq.write_table(data, tmp_path / "t.parquet", row_group_size=3_000)
    source = ParquetSource(ParquetSettings(path="t.parquet", batch_size=1_000))
    assert source.describe() == "parquet:t.parquet"
    batches = list(source.read(ctx))
    assert max(b.batch.num_rows for b in batches) <= 1_000
    assert pa.Table.from_batches([b.batch for b in batches]).equals(data)
    assert batches[-1].position == {"rows": 10_000, "file": "t.parquet", "file_rows": 10_000}


def test_folder_and_glob_read_files_in_order(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "parts").mkdir()
    for index in range(3):
        part = pa.table({"id": [index * 10, index * 10 + 1], "v": [1.0, 2.0]})
        pq.write_table(part, tmp_path / "parts" / f"part-{index}.parquet")
    (tmp_path / "parts" / "_SUCCESS").write_text("")
    ids = [0, 1, 10, 11, 20, 21]
    folder = read(ctx, path="parts")
    assert [v for b in folder for v in b.batch.column("id").to_pylist()] == ids
    globbed = read(ctx, path="parts/part-*.parquet", columns=["id"])
    assert [v for b in globbed for v in b.batch.column("id").to_pylist()] == ids
    assert all(b.batch.schema.names == ["id"] for b in globbed)
    assert globbed[-1].position["rows"] == 6


def test_missing_file_glob_and_column(tmp_path: Path, ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read(ctx, path="nope.parquet")
    with pytest.raises(ConfigError, match="no files match"):
        read(ctx, path="*.parquet")
    pq.write_table(pa.table({"id": [1]}), tmp_path / "a.parquet")
    with pytest.raises(ConfigError) as caught:
        read(ctx, path="a.parquet", columns=["id", "amount"])
    assert "amount" in caught.value.message
    assert "the file has: id" in (caught.value.hint or "")


def test_text_file_does_not_look_like_parquet(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "a.parquet").write_text("id,name\n1,x\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="a.parquet")
    assert "does not look like Parquet" in caught.value.message
    assert caught.value.location == str(tmp_path / "a.parquet")
    assert "type: csv" in (caught.value.hint or "")


def test_files_with_different_schemas_fail(tmp_path: Path, ctx: RunContext) -> None:
    pq.write_table(pa.table({"id": [1]}), tmp_path / "1.parquet")
    pq.write_table(pa.table({"id": ["x"]}), tmp_path / "2.parquet")
    with pytest.raises(DataError) as caught:
        read(ctx, path=str(tmp_path / "*.parquet"))
    assert caught.value.location == str(tmp_path / "2.parquet")
    assert "id int64" in caught.value.message
    assert "id string" in caught.value.message


def test_empty_file_yields_its_schema(tmp_path: Path, ctx: RunContext) -> None:
    pq.write_table(pa.table({"id": pa.array([], pa.int32())}), tmp_path / "e.parquet")
    batches = read(ctx, path="e.parquet")
    assert len(batches) == 1
    assert batches[0].batch.schema == pa.schema([("id", pa.int32())])
    assert batches[0].position == {"rows": 0}
