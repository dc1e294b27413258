"""The files destination's quarantine: one Parquet file per run next to the output, on disk.

Covers the file appearing with the output at ``finish`` (and only then), rollback leaving
nothing behind, runs whose columns differ, type conflicts, reading order and the run filter,
deletes (rewrites, emptied files removed, rolled back), ``read_target`` over CSV and Parquet
outputs, and value round trips.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import QUARANTINE_COLUMNS, Checkpoint, Quarantines
from tidegate.destinations.files import FilesDestination, FilesSettings
from tidegate.errors import ConfigError, DataError
from tidegate.events import EventBus
from tidegate.testing.doubles import quarantine_rows

if TYPE_CHECKING:
    from pathlib import Path

META = [name for name, _ in QUARANTINE_COLUMNS]
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
OUT = "out/customers.csv"
FOLDER = "out/customers__quarantine"


def make(path: str = OUT, **settings: Any) -> FilesDestination:
    return FilesDestination(FilesSettings(path=path, **settings))


def context(tmp_path: Path, run_id: str) -> RunContext:
    return RunContext(run_id=run_id, pipeline="p", bus=EventBus(), base_dir=tmp_path)


def done(run_id: str) -> Checkpoint:
    return Checkpoint(pipeline="p", run_id=run_id, batch=1, rows=0, position={}, finished=True)


def run(
    dest: FilesDestination,
    ctx: RunContext,
    *steps: tuple[pa.RecordBatch | None, pa.RecordBatch | None],
) -> None:
    """One successful run: per batch, write the good rows, quarantine the rejected ones."""
    dest.open(ctx)
    try:
        dest.start(resume=False)
        for number, (good, rejected) in enumerate(steps, start=1):
            if good is not None:
                dest.write(good, batch_number=number)
            if rejected is not None:
                dest.write_quarantine(rejected)
        dest.finish(done(ctx.run_id))
    except BaseException:
        dest.rollback()
        raise
    finally:
        dest.close()


def read(tmp_path: Path, run_id: str | None = None, path: str = OUT) -> pa.Table:
    dest = make(path)
    dest.open(context(tmp_path, "reader"))
    try:
        return dest.read_quarantine(run_id=run_id)
    finally:
        dest.rollback()
        dest.close()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_quarantine_is_a_folder_named_after_the_output(tmp_path: Path) -> None:
    assert isinstance(make(), Quarantines)
    assert make().quarantine_name() == FOLDER
    assert make("x/data.v2.parquet").quarantine_name() == "x/data.v2__quarantine"
    assert make("people.csv.gz").quarantine_name() == "people__quarantine"
    dest = make("p.txt", format="csv")
    assert dest.quarantine_name() == "p__quarantine"
    dest.open(context(tmp_path, "r"))
    assert dest.quarantine_name() == str(tmp_path / "p__quarantine")
    dest.rollback()
    dest.close()


def test_one_file_per_run_appears_with_the_output_at_finish(tmp_path: Path) -> None:
    ctx = context(tmp_path, "run-1")
    dest = make()
    dest.open(ctx)
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(
        quarantine_rows(
            {"id": [2], "email": ["nope"]},
            run_id="run-1",
            batch=1,
            rules="email.regex",
            first_row=2,
            at=T0,
        )
    )
    assert not (tmp_path / OUT).exists()
    assert listing(tmp_path / FOLDER) == [".run-1.part000001.parquet.tmp"]  # hidden, pending
    assert dest.read_quarantine().column("id").to_pylist() == [2]  # the run sees its own rows
    dest.finish(done("run-1"))
    dest.close()

    assert (tmp_path / OUT).read_text() == '"id"\n1\n'
    assert listing(tmp_path / FOLDER) == ["run-1.parquet"]
    got = read(tmp_path)
    assert got.to_pylist() == [
        {
            "id": 2,
            "email": "nope",
            "_tidegate_qid": "run-1:1:0",
            "_tidegate_run_id": "run-1",
            "_tidegate_step": "rules",
            "_tidegate_batch": 1,
            "_tidegate_row": 2,
            "_tidegate_rules": "email.regex",
            "_tidegate_reason": "rejected",
            "_tidegate_quarantined_at": T0,
        }
    ]
    assert got.schema.field("_tidegate_quarantined_at").type == pa.timestamp("us", "UTC")


def test_a_run_whose_rows_are_all_rejected_still_keeps_them(tmp_path: Path) -> None:
    rejected = quarantine_rows({"id": [1, 2]}, run_id="all-bad", batch=1)
    run(make(), context(tmp_path, "all-bad"), (None, rejected))
    assert not (tmp_path / OUT).exists()
    assert read(tmp_path).column("id").to_pylist() == [1, 2]


def test_rollback_leaves_no_file_and_no_folder(tmp_path: Path) -> None:
    dest = make("deep/er/out.parquet")
    dest.open(context(tmp_path, "r1"))
    dest.write(pa.record_batch({"id": [1]}), batch_number=1)
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id="r1", batch=1))
    dest.write_quarantine(quarantine_rows({"id": [3]}, run_id="r1", batch=2))
    dest.rollback()
    dest.close()
    assert listing(tmp_path) == []  # the output's folders and the quarantine's, all gone


def test_rollback_keeps_earlier_runs(tmp_path: Path) -> None:
    run(make(), context(tmp_path, "r1"), (None, quarantine_rows({"id": [1]}, run_id="r1", batch=1)))
    dest = make()
    dest.open(context(tmp_path, "r2"))
    dest.write_quarantine(quarantine_rows({"id": [2]}, run_id="r2", batch=1))
    dest.rollback()
    dest.close()
    assert listing(tmp_path / FOLDER) == ["r1.parquet"]
    assert read(tmp_path).column("id").to_pylist() == [1]


def test_runs_with_different_columns_are_read_as_one_table(tmp_path: Path) -> None:
    first = quarantine_rows(
        {"id": pa.array([1], pa.int32()), "old": ["o"]}, run_id="r1", batch=1, at=T0
    )
    run(make(), context(tmp_path, "r1"), (None, first))
    later = T0 + dt.timedelta(minutes=1)
    second = quarantine_rows({"id": [2], "new": [True]}, run_id="r2", batch=1, at=later)
    third = quarantine_rows({"id": [3], "newer": [1.5]}, run_id="r2", batch=2, at=later)
    run(make(if_exists="replace"), context(tmp_path, "r2"), (None, second), (None, third))

    got = read(tmp_path)
    assert got.column_names == ["id", "old", "new", "newer", *META]
    assert got.schema.field("id").type == pa.int32()  # the run's rows were cast to it
    assert got.column("id").to_pylist() == [1, 2, 3]
    assert got.column("old").to_pylist() == ["o", None, None]
    assert got.column("new").to_pylist() == [None, True, None]
    assert got.column("newer").to_pylist() == [None, None, 1.5]
    assert pq.read_schema(tmp_path / FOLDER / "r2.parquet").names[:3] == ["id", "new", "newer"]


def test_read_order_and_run_filter(tmp_path: Path) -> None:
    late = quarantine_rows({"id": [1]}, run_id="run-b", batch=1, at=T0 + dt.timedelta(days=1))
    early = quarantine_rows({"id": [2, 3]}, run_id="run-b", batch=2, at=T0)
    run(make(), context(tmp_path, "run-b"), (None, late), (None, early))
    other = quarantine_rows({"id": [4]}, run_id="run-a", batch=1, at=T0)
    run(make(), context(tmp_path, "run-a"), (None, other))

    assert read(tmp_path).column("_tidegate_qid").to_pylist() == [
        "run-a:1:0",
        "run-b:2:0",
        "run-b:2:1",
        "run-b:1:0",
    ]
    assert read(tmp_path, "run-b").column("id").to_pylist() == [2, 3, 1]
    assert read(tmp_path, "nobody").num_rows == 0
    assert read(tmp_path, path="elsewhere.csv").num_rows == 0  # no folder at all


def test_delete_rewrites_files_atomically_at_finish(tmp_path: Path) -> None:
    run(
        make(),
        context(tmp_path, "r1"),
        (None, quarantine_rows({"id": [1, 2]}, run_id="r1", batch=1)),
    )
    run(make(), context(tmp_path, "r2"), (None, quarantine_rows({"id": [3]}, run_id="r2", batch=1)))

    dest = make()
    dest.open(context(tmp_path, "r3"))
    assert dest.delete_quarantine(["r1:1:0", "r2:1:0", "r2:1:0", "unknown"]) == 2
    assert dest.read_quarantine().column("id").to_pylist() == [2]  # this run's view
    assert read(tmp_path).column("id").to_pylist() == [1, 2, 3]  # others': nothing changed yet
    assert dest.delete_quarantine(["r1:1:1"]) == 1  # a second delete on the rewritten file
    dest.write_quarantine(quarantine_rows({"id": [4, 5]}, run_id="r3", batch=1))
    assert dest.delete_quarantine(["r3:1:0"]) == 1  # this run's own pending rows
    dest.finish(done("r3"))
    dest.close()

    assert listing(tmp_path / FOLDER) == ["r3.parquet"]  # emptied files are removed
    assert read(tmp_path).column("id").to_pylist() == [5]


def test_a_partial_delete_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    run(
        make(),
        context(tmp_path, "r1"),
        (None, quarantine_rows({"id": [1, 2, 3]}, run_id="r1", batch=1)),
    )
    dest = make()
    dest.open(context(tmp_path, "r2"))
    assert dest.delete_quarantine(["r1:1:1"]) == 1
    dest.finish(done("r2"))
    dest.close()
    assert listing(tmp_path / FOLDER) == ["r1.parquet"]
    assert read(tmp_path).column("id").to_pylist() == [1, 3]


def test_a_rolled_back_delete_changes_nothing(tmp_path: Path) -> None:
    run(
        make(),
        context(tmp_path, "r1"),
        (None, quarantine_rows({"id": [1, 2]}, run_id="r1", batch=1)),
    )
    before = (tmp_path / FOLDER / "r1.parquet").read_bytes()
    dest = make()
    dest.open(context(tmp_path, "r2"))
    assert dest.delete_quarantine(["r1:1:0"]) == 1
    dest.rollback()
    dest.close()
    assert listing(tmp_path / FOLDER) == ["r1.parquet"]
    assert (tmp_path / FOLDER / "r1.parquet").read_bytes() == before


def test_a_type_conflict_names_the_column_both_types_and_the_way_out(tmp_path: Path) -> None:
    run(
        make(),
        context(tmp_path, "r1"),
        (None, quarantine_rows({"age": [41]}, run_id="r1", batch=1)),
    )
    dest = make()
    dest.open(context(tmp_path, "r2"))
    try:
        with pytest.raises(DataError) as caught:
            dest.write_quarantine(quarantine_rows({"age": ["forty"]}, run_id="r2", batch=1))
    finally:
        dest.rollback()
        dest.close()
    assert "column 'age' of the rejected rows is string, but int64 in quarantine" in str(
        caught.value
    )
    assert FOLDER in str(caught.value)
    assert "rename or drop the quarantine" in (caught.value.hint or "")


def test_files_that_cannot_be_unified_or_read_are_named(tmp_path: Path) -> None:
    run(
        make(),
        context(tmp_path, "r1"),
        (None, quarantine_rows({"age": [41]}, run_id="r1", batch=1)),
    )
    odd = quarantine_rows({"age": ["x"]}, run_id="r2", batch=1)
    pq.write_table(pa.Table.from_batches([odd]), tmp_path / FOLDER / "r2.parquet")
    with pytest.raises(DataError, match=r"column 'age' is int64 in quarantine file r1\.parquet"):
        read(tmp_path)
    (tmp_path / FOLDER / "r2.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"quarantine file r2\.parquet cannot be read"):
        read(tmp_path)


def test_unicode_nulls_and_time_zones_round_trip(tmp_path: Path) -> None:
    paris = dt.datetime(2024, 6, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rejected = quarantine_rows(
        {
            "name": ["Zoë 🌊", None],
            "seen": pa.array([paris, None], pa.timestamp("us", "Europe/Paris")),
            "tags": pa.array(["a", None]).dictionary_encode(),
        },
        run_id="r1",
        batch=1,
        reason="naïve ✗",
    )
    run(make("out/wé ird.parquet"), context(tmp_path, "r1"), (None, rejected))
    got = read(tmp_path, path="out/wé ird.parquet")
    assert got.column("name").to_pylist() == ["Zoë 🌊", None]
    assert got.schema.field("seen").type == pa.timestamp("us", "UTC")
    assert got.column("seen").to_pylist() == [paris, None]
    assert got.column("tags").to_pylist() == ["a", None]
    assert got.column("_tidegate_reason").to_pylist() == ["naïve ✗"] * 2


def test_read_target_of_csv_and_parquet_outputs(tmp_path: Path) -> None:
    good = pa.record_batch({"id": [1, 2, 2, None], "country": ["DE", "FR", "FR", None]})
    for path in ("a.csv", "b.tsv.gz", "c.parquet"):
        run(make(path), context(tmp_path, "r1"), (good, None))
        dest = make(path)
        dest.open(context(tmp_path, "r2"))
        try:
            dest.write(pa.record_batch({"id": [9], "country": ["US"]}), batch_number=1)
            target = dest.read_target(["id", "country"])  # the file in place, not the temp
            assert sorted(target.to_pylist(), key=str) == sorted(
                [
                    {"id": 1, "country": "DE"},
                    {"id": 2, "country": "FR"},
                    {"id": None, "country": None},
                ],
                key=str,
            ), path
            with pytest.raises(ConfigError, match=r"'nope' not in the output file"):
                dest.read_target(["nope"])
        finally:
            dest.rollback()
            dest.close()


def test_read_target_without_an_output_or_a_header(tmp_path: Path) -> None:
    dest = make("none.csv")
    dest.open(context(tmp_path, "r1"))
    empty = dest.read_target(["id"])
    assert (empty.num_rows, empty.column_names) == (0, ["id"])
    dest.rollback()
    dest.close()

    run(
        make("bare.csv", options={"header": False}),
        context(tmp_path, "r1"),
        (pa.record_batch({"id": [1]}), None),
    )
    dest = make("bare.csv", options={"header": False})
    dest.open(context(tmp_path, "r2"))
    with pytest.raises(ConfigError, match="no header line"):
        dest.read_target(["id"])
    dest.rollback()
    dest.close()


def test_quarantine_before_open_is_refused() -> None:
    with pytest.raises(ConfigError, match="write_quarantine before open"):
        make().write_quarantine(quarantine_rows({"id": [1]}, run_id="r", batch=1))
    with pytest.raises(ConfigError, match="read_target before open"):
        make().read_target(["id"])
