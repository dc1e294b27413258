"""The files destination: streamed CSV/Parquet output, atomic rename on commit, clean rollback."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tidegate.core import Checkpoint
from tidegate.destinations.files import FilesDestination, FilesSettings
from tidegate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.core.context import RunContext

DONE = Checkpoint(pipeline="p", run_id="t", batch=1, rows=0, position={}, finished=True)


def make(path: str, **settings: Any) -> FilesDestination:
    return FilesDestination(FilesSettings(path=path, **settings))


def batch(ids: list[int], names: list[str]) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(ids, pa.int64()), "name": pa.array(names)})


def load(dest: FilesDestination, ctx: RunContext, *batches: pa.RecordBatch) -> None:
    try:
        dest.open(ctx)
        for number, item in enumerate(batches, start=1):
            dest.write(item, batch_number=number)
        dest.finish(DONE)
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def test_parquet_output_holds_every_batch(tmp_path: Path, ctx: RunContext) -> None:
    load(make("out/people.parquet"), ctx, batch([1, 2], ["ann", "bob"]), batch([3], ["cy"]))

    table = pq.read_table(tmp_path / "out/people.parquet")
    assert table.to_pydict() == {"id": [1, 2, 3], "name": ["ann", "bob", "cy"]}
    assert pq.ParquetFile(tmp_path / "out/people.parquet").metadata.row_group(0).column(
        0
    ).compression == ("ZSTD")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["people.parquet"]


def test_csv_output_with_options(tmp_path: Path, ctx: RunContext) -> None:
    load(
        make("people.txt", format="csv", options={"delimiter": ";", "header": False}),
        ctx,
        batch([1, 2], ["ann", "b;ob"]),
    )

    assert (tmp_path / "people.txt").read_text() == '1;"ann"\n2;"b;ob"\n'


def test_gzipped_csv_is_read_back_exactly(tmp_path: Path, ctx: RunContext) -> None:
    load(make("people.csv.gz"), ctx, batch([1], ["ann"]), batch([2], ["bob"]))

    text = gzip.decompress((tmp_path / "people.csv.gz").read_bytes()).decode()
    assert text == '"id","name"\n1,"ann"\n2,"bob"\n'
    assert pacsv.read_csv(tmp_path / "people.csv.gz").num_rows == 2


def test_commit_replaces_the_old_file_and_leaves_no_temp(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "people.csv").write_text("old content\n")
    dest = make("people.csv")
    dest.open(ctx)
    dest.write(batch([1], ["ann"]), batch_number=1)

    temp = tmp_path / f".people.csv.{ctx.run_id}.tmp"
    assert temp.exists()  # written next to the target, under the run's id
    assert (tmp_path / "people.csv").read_text() == "old content\n"  # untouched until commit

    dest.finish(DONE)
    dest.close()
    assert (tmp_path / "people.csv").read_text() == '"id","name"\n1,"ann"\n'
    assert not temp.exists()


def test_rollback_deletes_the_temp_file_and_keeps_the_old_output(
    tmp_path: Path, ctx: RunContext
) -> None:
    (tmp_path / "people.parquet").write_bytes(b"previous run")
    dest = make("people.parquet")
    dest.open(ctx)
    dest.write(batch([1], ["ann"]), batch_number=1)

    dest.rollback()
    dest.close()

    assert (tmp_path / "people.parquet").read_bytes() == b"previous run"
    assert [p.name for p in tmp_path.iterdir()] == ["people.parquet"]


def test_rollback_removes_folders_the_run_created(tmp_path: Path, ctx: RunContext) -> None:
    dest = make("a/b/people.csv")
    dest.open(ctx)
    dest.write(batch([1], ["ann"]), batch_number=1)

    dest.rollback()
    dest.close()

    assert list(tmp_path.iterdir()) == []


def test_rollback_after_a_failed_open_is_safe(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "people.csv").mkdir()
    dest = make("people.csv")

    with pytest.raises(ConfigError, match="is a folder"):
        dest.open(ctx)
    dest.rollback()
    dest.close()

    assert (tmp_path / "people.csv").is_dir()


def test_if_exists_fail_refuses_an_existing_file(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "people.csv").write_text("keep\n")

    with pytest.raises(ConfigError, match="already exists") as info:
        load(make("people.csv", if_exists="fail"), ctx, batch([1], ["ann"]))

    assert info.value.hint == "remove it, or set if_exists: replace"
    assert (tmp_path / "people.csv").read_text() == "keep\n"


def test_if_exists_fail_refuses_a_file_that_appears_during_the_run(
    tmp_path: Path, ctx: RunContext
) -> None:
    dest = make("people.csv", if_exists="fail")
    dest.open(ctx)
    dest.write(batch([1], ["ann"]), batch_number=1)
    (tmp_path / "people.csv").write_text("someone else\n")

    with pytest.raises(ConfigError, match="appeared during the run"):
        dest.finish(DONE)
    dest.rollback()
    dest.close()

    assert (tmp_path / "people.csv").read_text() == "someone else\n"
    assert [p.name for p in tmp_path.iterdir()] == ["people.csv"]


def test_a_run_without_batches_leaves_the_old_output(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "people.csv").write_text("keep\n")

    load(make("people.csv"), ctx)

    assert (tmp_path / "people.csv").read_text() == "keep\n"
    assert [p.name for p in tmp_path.iterdir()] == ["people.csv"]


def test_batches_with_compatible_types_are_cast_to_the_first_schema(
    tmp_path: Path, ctx: RunContext
) -> None:
    narrow = pa.record_batch({"id": pa.array([2], pa.int32()), "name": pa.array(["bob"])})

    load(make("people.parquet"), ctx, batch([1], ["ann"]), narrow)

    table = pq.read_table(tmp_path / "people.parquet")
    assert table.schema.field("id").type == pa.int64()
    assert table.column("id").to_pylist() == [1, 2]


def test_a_batch_with_other_columns_is_a_data_error(tmp_path: Path, ctx: RunContext) -> None:
    other = pa.record_batch({"id": [2], "email": ["b@x"]})

    with pytest.raises(DataError, match=r"batch 2 has columns \['id', 'email'\]"):
        load(make("people.parquet"), ctx, batch([1], ["ann"]), other)

    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_needs_a_format() -> None:
    with pytest.raises(ConfigError, match="cannot tell the format") as info:
        make("people.dat")

    assert info.value.hint is not None
    assert "format: csv" in info.value.hint
    assert make("people.dat", format="parquet").format == "parquet"
    assert make("x/people.PQ").describe() == "files:x/people.PQ"


def test_a_parquet_codec_for_csv_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'zstd' is not available for csv"):
        make("people.csv", options={"compression": "zstd"})
