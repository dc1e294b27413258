"""The csv source on real files: types, encodings, headers, malformed rows and the quarantine."""

from __future__ import annotations

import csv
import gzip
import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from tidegate.core.protocols import REASON_COLUMN, Source
from tidegate.errors import ConfigError, DataError
from tidegate.sources.csv import CsvSettings, CsvSource

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.protocols import SourceBatch


def read(ctx: RunContext, **settings: Any) -> list[SourceBatch]:
    return list(CsvSource(CsvSettings(**settings)).read(ctx))


def table(batches: list[SourceBatch]) -> pa.Table:
    return pa.Table.from_batches([b.batch for b in batches])


def test_reads_typed_columns_and_reports_position(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "orders.csv").write_text(
        "id,amount,day,paid,at\n1,12.50,2024-01-02,true,2024-01-02 10:00:00\n"
        "2,3.10,2024-02-03,false,2024-02-03 11:30:00\n"
    )
    source = CsvSource(
        CsvSettings(
            path="orders.csv",
            columns={
                "id": "int32",
                "amount": "decimal128(12,2)",
                "day": "date32",
                "paid": "bool",
                "at": "timestamp[us]",
            },
        )
    )
    assert isinstance(source, Source)
    assert source.describe() == "csv:orders.csv"
    batches = list(source.read(ctx))
    result = table(batches)
    assert result.schema.field("id").type == pa.int32()
    assert result.schema.field("amount").type == pa.decimal128(12, 2)
    assert result.schema.field("at").type == pa.timestamp("us")
    assert result.column("amount").to_pylist() == [Decimal("12.50"), Decimal("3.10")]
    assert result.column("day").to_pylist() == [date(2024, 1, 2), date(2024, 2, 3)]
    assert result.column("paid").to_pylist() == [True, False]
    assert batches[-1].position == {"rows": 2}


def test_small_blocks_stream_in_several_batches(tmp_path: Path, ctx: RunContext) -> None:
    lines = ["id,name"] + [f"{i},name-{i}" for i in range(20_000)]
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    batches = read(ctx, path="big.csv", block_size=16_384)
    assert len(batches) > 10
    assert max(b.batch.num_rows for b in batches) < 2_000
    assert [b.position["rows"] for b in batches] == sorted(b.position["rows"] for b in batches)
    assert batches[-1].position == {"rows": 20_000}
    assert table(batches).column("id").to_pylist() == list(range(20_000))


def test_utf8_bom_is_stripped(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "bom.csv").write_bytes("\ufeffid,name\n1,café\n".encode())
    for encoding in ("utf-8", "utf-8-sig"):
        result = table(read(ctx, path="bom.csv", encoding=encoding))
        assert result.column_names == ["id", "name"]
        assert result.column("name").to_pylist() == ["café"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_and_cp1252_are_transcoded(tmp_path: Path, ctx: RunContext, encoding: str) -> None:
    (tmp_path / "legacy.csv").write_bytes("id,name\n1,Zoë\n2,Müller\n".encode(encoding))
    result = table(read(ctx, path="legacy.csv", encoding=encoding))
    assert result.column("name").to_pylist() == ["Zoë", "Müller"]
    assert result.schema.field("name").type == pa.string()


def test_invalid_utf8_names_line_and_suggests_latin1(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "legacy.csv").write_bytes(b"id,name\n1,ok\n\n2,Zo\xeb\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="legacy.csv")
    error = caught.value
    assert error.location == f"{tmp_path / 'legacy.csv'} line 4"
    assert "'name'" in error.message
    assert "UTF-8" in error.message
    assert error.hint is not None
    assert "latin-1" in error.hint


def test_null_markers_apply_to_every_column(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "n.csv").write_text("id,name,score\n1,-,n/a\n2,bob,7\n3,,-\n")
    result = table(read(ctx, path="n.csv", null_values=["-", "n/a", ""]))
    assert result.column("name").to_pylist() == [None, "bob", None]
    assert result.column("score").to_pylist() == [None, 7, None]
    assert result.schema.field("score").type == pa.int64()


def test_no_header_uses_column_names(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "raw.csv").write_text("1;a\n2;b\n")
    result = table(
        read(ctx, path="raw.csv", header=False, column_names=["id", "code"], delimiter=";")
    )
    assert result.column_names == ["id", "code"]
    assert result.column("id").to_pylist() == [1, 2]


def test_column_names_replace_an_existing_header(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "h.csv").write_text("ID,Name\n1,a\n")
    result = table(read(ctx, path="h.csv", column_names=["id", "name"]))
    assert result.to_pydict() == {"id": [1], "name": ["a"]}


def test_header_false_without_names_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="column_names"):
        CsvSettings(path="x.csv", header=False)


def test_unknown_type_string_is_refused() -> None:
    with pytest.raises(ValidationError, match="int65"):
        CsvSettings(path="x.csv", columns={"id": "int65"})
    with pytest.raises(ConfigError, match="'int65'"):
        CsvSource(CsvSettings.model_construct(path="x.csv", columns={"id": "int65"}))


def test_skip_rows_quotes_and_escapes(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "q.csv").write_text("exported by tool\nid|text\n1|'a|b'\n")
    result = table(read(ctx, path="q.csv", skip_rows=1, delimiter="|", quote_char="'"))
    assert result.to_pydict() == {"id": [1], "text": ["a|b"]}
    (tmp_path / "e.csv").write_text("id|text\n1|x\\|y\n")
    with pytest.raises(DataError, match="expected 2 columns, got 3"):
        read(ctx, path="e.csv", delimiter="|")
    escaped = table(read(ctx, path="e.csv", delimiter="|", escape_char="\\"))
    assert escaped.column("text").to_pylist() == ["x|y"]


def test_newlines_in_values(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "nl.csv").write_text('id,note\n1,"two\nlines"\n2,one\n')
    result = table(read(ctx, path="nl.csv", newlines_in_values=True))
    assert result.column("note").to_pylist() == ["two\nlines", "one"]


def test_gzip_file_is_decompressed(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "z.csv.gz").write_bytes(gzip.compress(b"id\n1\n2\n"))
    assert table(read(ctx, path="z.csv.gz")).column("id").to_pylist() == [1, 2]


def test_header_only_file_yields_an_empty_batch_with_the_schema(
    tmp_path: Path, ctx: RunContext
) -> None:
    (tmp_path / "empty.csv").write_text("id,name\n")
    batches = read(ctx, path="empty.csv", columns={"id": "int64"})
    assert len(batches) == 1
    assert batches[0].batch.num_rows == 0
    assert batches[0].batch.schema.names == ["id", "name"]
    assert batches[0].position == {"rows": 0}


def test_empty_file_is_a_data_error(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "void.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read(ctx, path="void.csv")


def test_missing_file_names_the_resolved_path(tmp_path: Path, ctx: RunContext) -> None:
    with pytest.raises(ConfigError) as caught:
        read(ctx, path="data/missing.csv")
    assert f"file not found: {tmp_path / 'data' / 'missing.csv'}" in str(caught.value)


def test_declared_column_missing_from_file(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n")
    with pytest.raises(ConfigError, match="not in the file: amount"):
        read(ctx, path="a.csv", columns={"amount": "double"})


def test_ragged_row_fails_with_line_and_counts(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "r.csv").write_text("a,b,c,d,e\n1,2,3,4,5\n\n1,2,3,4,5,6,7\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="r.csv")
    assert caught.value.location == f"{tmp_path / 'r.csv'} line 4"
    assert caught.value.message == "expected 5 columns, got 7"
    assert "quarantine" in (caught.value.hint or "")
    assert "Traceback" not in str(caught.value)


def test_ragged_row_deep_in_a_big_file_is_located(tmp_path: Path, ctx: RunContext) -> None:
    lines = ["id,v"] + [f"{i},{i}" for i in range(50_000)]
    lines[40_000] = "oops"
    (tmp_path / "deep.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="deep.csv", block_size=65_536)
    assert caught.value.location == f"{tmp_path / 'deep.csv'} line 40001"
    assert "expected 2 columns, got 1" in caught.value.message


def test_unterminated_quote_is_named(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "u.csv").write_text('id,name\n1,"open\n2,b\n')
    with pytest.raises(DataError) as caught:
        read(ctx, path="u.csv")
    assert "unterminated quoted value" in caught.value.message
    assert caught.value.location == f"{tmp_path / 'u.csv'} line 2"
    assert "'name'" in caught.value.message


def test_value_not_convertible_names_column_line_value(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "c.csv").write_text("id,qty\n1,4\n2,four\n")
    with pytest.raises(DataError) as caught:
        read(ctx, path="c.csv", columns={"qty": "int64"})
    error = caught.value
    assert error.location == f"{tmp_path / 'c.csv'} line 3"
    assert error.message == "column 'qty': value 'four' is not a valid int64"
    assert "qty: string" in (error.hint or "")


def test_decimal_overflow_is_a_data_error(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "d.csv").write_text("id,x\n1,0.123456\n")
    with pytest.raises(DataError, match="column 'x'"):
        read(ctx, path="d.csv", columns={"x": "decimal128(5,2)"})


@pytest.mark.parametrize(
    ("name", "content", "looks_like"),
    [
        ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG image"),
        ("blob.csv", b"id,x\n1,\x00\x01\x02\n", "binary data"),
    ],
)
def test_binary_file_does_not_look_like_csv(
    tmp_path: Path, ctx: RunContext, name: str, content: bytes, looks_like: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        read(ctx, path=name)
    assert "does not look like CSV" in caught.value.message
    assert looks_like in caught.value.message


def test_parquet_file_does_not_look_like_csv(tmp_path: Path, ctx: RunContext) -> None:
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "data.csv")
    with pytest.raises(DataError) as caught:
        read(ctx, path="data.csv")
    assert "does not look like CSV" in caught.value.message
    assert "type: parquet" in (caught.value.hint or "")


def test_quarantine_sets_malformed_rows_aside(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "people.csv").write_text(
        'id,name,age\n1,ann,30\n\n2,bob\n3,cid,40\n4,dan,50,extra\n5,"eve,60\n'
    )
    batches = read(ctx, path="people.csv", on_malformed="quarantine")
    result = table(batches)
    assert result.to_pydict() == {"id": [1, 3], "name": ["ann", "cid"], "age": [30, 40]}
    rejected = pa.Table.from_batches([b.rejected for b in batches if b.rejected is not None])
    assert rejected.column_names == ["line", "text", REASON_COLUMN]
    assert rejected.column("line").to_pylist() == [4, 6, 7]
    assert rejected.column("text").to_pylist() == ["2,bob", "4,dan,50,extra", '5,"eve,60']
    reasons = rejected.column(REASON_COLUMN).to_pylist()
    assert reasons[0] == "expected 3 columns, got 2"
    assert reasons[1] == "expected 3 columns, got 4"
    assert "unterminated quoted value" in reasons[2]
    quarantine = tmp_path / ".tidegate" / "quarantine" / "people.malformed.csv"
    with quarantine.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "reason", "text"]
    assert rows[1:3] == [
        ["4", "expected 3 columns, got 2", "2,bob"],
        ["6", "expected 3 columns, got 4", "4,dan,50,extra"],
    ]
    assert rows[3][0] == "7"
    assert batches[-1].position == {"rows": 2}


def test_quarantine_path_setting_and_clean_rerun(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "in.csv").write_text("a,b\n1,2\n3\n")
    read(ctx, path="in.csv", on_malformed="quarantine", quarantine_path="bad/rows.csv")
    target = tmp_path / "bad" / "rows.csv"
    assert target.read_text().splitlines()[1] == '3,"expected 2 columns, got 1",3'
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    batches = read(ctx, path="in.csv", on_malformed="quarantine", quarantine_path="bad/rows.csv")
    assert all(b.rejected is None for b in batches)
    assert not target.exists()


def test_quarantine_across_many_batches_keeps_line_numbers(tmp_path: Path, ctx: RunContext) -> None:
    lines = ["id,v"] + [f"{i},{i}" for i in range(30_000)]
    bad = {5_000, 17_000, 29_999}
    for index in bad:
        lines[index] = f"broken{index}"
    (tmp_path / "many.csv").write_text("\n".join(lines) + "\n")
    batches = read(ctx, path="many.csv", on_malformed="quarantine", block_size=32_768)
    rejected = pa.Table.from_batches([b.rejected for b in batches if b.rejected is not None])
    assert sorted(rejected.column("line").to_pylist()) == sorted(i + 1 for i in bad)
    assert sum(b.batch.num_rows for b in batches) == 30_000 - len(bad)
    texts = rejected.column("text").to_pylist()
    assert all(re.fullmatch(r"broken\d+", t) for t in texts)
