"""Column profiles of a table or a stream of batches (the rules they suggest: ``suggest``).

``tidegate profile`` shows what a dataset holds (types, nulls, distinct values, ranges, frequent
values, value shapes) and drafts a ``quality:`` section from what it saw, so writing rules starts
from the data instead of a blank page. The data is streamed: each batch is summarised by DuckDB
(over Arrow, zero-copy) and pyarrow kernels, and only a bounded state per column is kept, so a
5 GB file profiles in the memory of a few batches, plus the hashes of columns still unique:

- counts, min/max and lengths are merged from per-batch aggregates; mean and standard deviation
  with Chan's parallel formula, over finite values (NaN is counted on its own);
- frequent values and value shapes keep at most ``TRACKED`` candidates per column; their counts
  are exact unless a column had more candidates than that (``top_exact`` is then False);
- distinct values are exact while the candidates are (or the column is unique), and otherwise
  estimated from the ``SKETCH`` smallest 64-bit hashes of the values (k-minimum-values, about
  1.6 % relative error; exact below ``SKETCH`` distinct values);
- uniqueness is exact: a column stays a candidate while no duplicate shows up, the hashes of its
  values go to a DuckDB table (8 bytes a row, spilled to a temporary folder past 512 MB) and are
  counted at the end. A hash collision could only hide a unique column, never pass a duplicated
  one as unique.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidegate.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "EMAIL_PATTERN",
    "FEW_VALUES",
    "ColumnProfile",
    "Profile",
    "Shape",
    "ValueCount",
    "plain",
    "profile_table",
    "readable_type",
    "shapes_of",
    "value_kind",
]

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
"""What an e-mail address looks like, for the profile's e-mail share and the suggested regex."""

TOP_VALUES = 5
"""Frequent values shown per column."""
TOP_SHAPES = 3
"""Value shapes shown per column."""
FEW_VALUES = 20
"""A column with at most this many distinct values keeps them all (``values``)."""
TRACKED = 512
"""Frequent-value and shape candidates kept per column; counts are exact below it."""
SKETCH = 4096
"""Hashes kept per column to estimate distinct values beyond ``TRACKED``."""
CHUNK_ROWS = 65_536
"""Rows summarised at a time: small batches are gathered so each query does real work."""
SHAPE_MAX_LENGTH = 64
"""Longer values get no shape: free text has as many shapes as values."""

_MEMORY_LIMIT = "512MB"


def _shape_table() -> np.ndarray[Any, np.dtype[np.uint8]]:
    table = np.arange(256, dtype=np.uint8)
    table[ord("A") : ord("Z") + 1] = ord("A")
    table[ord("a") : ord("z") + 1] = ord("a")
    table[ord("0") : ord("9") + 1] = ord("9")
    return table


_SHAPE_BYTES = _shape_table()
"""Byte -> shape byte: ASCII letters to A/a, digits to 9; other bytes (UTF-8 too) unchanged."""


@dataclass(frozen=True, slots=True)
class ValueCount:
    """A value and how many rows hold it."""

    value: Any
    count: int


@dataclass(frozen=True, slots=True)
class Shape:
    """A value shape (``AA-9999``) and how many, and which share, of the non-null values have it."""

    shape: str
    count: int
    share: float


@dataclass(frozen=True, kw_only=True)
class ColumnProfile:
    """What one column holds; ``None`` where a statistic does not apply to the column's type.

    ``distinct`` is exact when ``distinct_exact``, else an estimate. ``unique`` is True only
    when every non-null value was checked to differ (None: not checked, as for floats and
    booleans). ``values`` lists every distinct value when there are at most ``FEW_VALUES``.
    ``mean`` and ``stddev`` (sample) are over finite numbers; ``nan`` counts NaN, which is not a
    null. Lengths count characters of strings and bytes of binary values.
    """

    name: str
    type: pa.DataType
    rows: int
    nulls: int
    nan: int = 0
    distinct: int | None = None
    distinct_exact: bool = False
    unique: bool | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None
    stddev: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    top_values: tuple[ValueCount, ...] = ()
    top_exact: bool = True
    values: tuple[Any, ...] | None = None
    shapes: tuple[Shape, ...] = ()
    email_share: float | None = None

    @property
    def non_null(self) -> int:
        """Rows holding a value (NaN included)."""
        return self.rows - self.nulls

    @property
    def null_pct(self) -> float:
        """Nulls as a percentage of the rows (0 for an empty input)."""
        return 100.0 * self.nulls / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready values (dates in ISO 8601, decimals as numbers)."""
        return {
            "name": self.name,
            "type": str(self.type),
            "rows": self.rows,
            "nulls": self.nulls,
            "null_pct": round(self.null_pct, 3),
            "nan": self.nan,
            "distinct": self.distinct,
            "distinct_exact": self.distinct_exact,
            "unique": self.unique,
            "min": plain(self.min),
            "max": plain(self.max),
            "mean": plain(self.mean),
            "stddev": plain(self.stddev),
            "min_length": self.min_length,
            "max_length": self.max_length,
            "top_values": [{"value": plain(v.value), "count": v.count} for v in self.top_values],
            "top_exact": self.top_exact,
            "values": None if self.values is None else [plain(v) for v in self.values],
            "shapes": [
                {"shape": s.shape, "count": s.count, "share": round(s.share, 6)}
                for s in self.shapes
            ],
            "email_share": self.email_share,
        }


@dataclass(frozen=True, kw_only=True)
class Profile:
    """The profile of a whole input: its row count and one ``ColumnProfile`` per column.

    ``limited`` is True when profiling stopped at the requested row limit, so the rows seen
    are the first ``rows`` of a longer input.
    """

    rows: int
    columns: tuple[ColumnProfile, ...]
    limited: bool = False

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``; KeyError when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The profile as JSON-ready values."""
        return {
            "rows": self.rows,
            "limited": self.limited,
            "columns": [column.to_dict() for column in self.columns],
        }


def plain(value: Any) -> Any:
    """``value`` as a JSON-ready value: ISO 8601 text for dates, numbers for decimals."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def profile_table(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch], *, limit: int | None = None
) -> Profile:
    """Profile an Arrow table or a stream of RecordBatches, reading it once.

    ``limit`` stops after that many rows (the first rows, not a random sample). Every batch
    must have the schema of the first one; a batch that cannot be cast to it is a
    ``DataError``.
    """
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    # a table or a RecordBatchReader knows its schema even when it holds no batch
    schema: pa.Schema | None = getattr(data, "schema", None)
    batches = data.to_batches() if isinstance(data, pa.Table) else data
    profiler: _Profiler | None = None
    limited = False
    iterator = iter(batches)
    try:
        for batch in iterator:
            if profiler is None:
                profiler = _Profiler(schema or batch.schema)
            if limit is not None and profiler.rows + batch.num_rows >= limit:
                profiler.add(batch.slice(0, limit - profiler.rows))
                limited = True
                break
            profiler.add(batch)
        if profiler is None:
            return _empty(schema)
        return profiler.finish(limited=limited)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        if profiler is not None:
            profiler.close()


def _empty(schema: pa.Schema | None) -> Profile:
    if schema is None:
        return Profile(rows=0, columns=())
    columns = tuple(
        ColumnProfile(name=f.name, type=f.type, rows=0, nulls=0, distinct=0, distinct_exact=True)
        for f in schema
    )
    return Profile(rows=0, columns=columns)


def value_kind(data_type: pa.DataType) -> str:
    """The family of a type, which decides the statistics computed for it."""
    checks = (
        ("boolean", pa.types.is_boolean),
        ("integer", pa.types.is_integer),
        ("float", pa.types.is_floating),
        ("decimal", pa.types.is_decimal128),
        ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
        (
            "binary",
            lambda t: (
                pa.types.is_binary(t)
                or pa.types.is_large_binary(t)
                or pa.types.is_fixed_size_binary(t)
            ),
        ),
        ("date", pa.types.is_date),
        ("timestamp", pa.types.is_timestamp),
        ("time", pa.types.is_time),
    )
    for kind, check in checks:
        if check(data_type):
            return kind
    return "other"


def readable_type(data_type: pa.DataType) -> pa.DataType:
    """The type a column is profiled as: dictionaries decoded, half floats widened."""
    if pa.types.is_dictionary(data_type):
        return readable_type(data_type.value_type)
    if pa.types.is_float16(data_type):
        return pa.float32()
    if pa.types.is_string_view(data_type):
        return pa.string()
    if pa.types.is_binary_view(data_type):
        return pa.binary()
    return data_type


class _Frequent:
    """The most frequent values of a column so far: at most ``TRACKED``, with their counts."""

    def __init__(self) -> None:
        self.table: pa.Table | None = None
        self.exact = True

    def add(self, array: pa.Array) -> None:
        if len(array) == 0:
            return
        counted = pc.value_counts(array)
        table = pa.table({"v": counted.field("values"), "n": counted.field("counts")})
        table = self._prune(table)
        if self.table is not None:
            merged = pa.concat_tables([self.table, table]).group_by("v").aggregate([("n", "sum")])
            table = merged.rename_columns({"n_sum": "n"}).select(["v", "n"])
        self.table = self._prune(table).combine_chunks()

    def _prune(self, table: pa.Table) -> pa.Table:
        """The ``TRACKED`` most frequent rows of ``table``; counts stop being exact."""
        if table.num_rows <= TRACKED:
            return table
        self.exact = False
        keep = pc.select_k_unstable(table, TRACKED, sort_keys=[("n", "descending")])
        return table.take(keep)

    @property
    def size(self) -> int:
        return 0 if self.table is None else self.table.num_rows

    @property
    def repeated(self) -> bool:
        """Whether some value was seen twice (counts are never overestimated)."""
        return self.table is not None and pc.max(self.table.column("n")).as_py() > 1

    def top(self, k: int) -> list[tuple[Any, int]]:
        """The ``k`` most frequent values, ties in value order."""
        if self.table is None:
            return []
        ordered = self.table.sort_by([("n", "descending"), ("v", "ascending")]).slice(0, k)
        return [(row["v"], row["n"]) for row in ordered.to_pylist()]

    def all_values(self) -> list[Any]:
        return [] if self.table is None else sorted(self.table.column("v").to_pylist())


@dataclass(slots=True)
class _Column:
    """The running state of one column."""

    index: int
    name: str
    type: pa.DataType
    kind: str
    nulls: int = 0
    nan: int = 0
    low: Any = None
    high: Any = None
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min_length: int | None = None
    max_length: int | None = None
    emails: int = 0
    values: _Frequent | None = None
    shapes: _Frequent | None = None
    sketch: np.ndarray[Any, np.dtype[np.uint64]] = field(
        default_factory=lambda: np.empty(0, dtype=np.uint64)
    )
    hashing: bool = False
    unique: bool | None = None

    @property
    def c(self) -> str:
        return f"c{self.index}"

    def merge_moments(self, count: int, mean: float | None, variance: float | None) -> None:
        """Fold a batch's count, mean and population variance in (Chan et al.)."""
        if not count or mean is None:
            return
        total = self.n + count
        delta = mean - self.mean
        self.m2 += (variance or 0.0) * count + delta * delta * self.n * count / total
        self.mean += delta * count / total
        self.n = total


class _Profiler:
    """Folds batches into per-column state through one DuckDB connection."""

    def __init__(self, schema: pa.Schema) -> None:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        self.schema = schema
        self.readable = pa.schema([f.with_type(readable_type(f.type)) for f in schema])
        self.rows = 0
        self._spill = tempfile.TemporaryDirectory(prefix="tidegate-profile-")
        self._con: Any = duckdb.connect(
            ":memory:", config={"memory_limit": _MEMORY_LIMIT, "temp_directory": self._spill.name}
        )
        self._con.execute("SET TimeZone = 'UTC'")
        self.columns: list[_Column] = []
        for index, f in enumerate(self.readable):
            column = _Column(index=index, name=f.name, type=schema.field(index).type, kind="")
            column.kind = value_kind(f.type)
            if column.kind == "binary":
                column.hashing = True  # values are not counted: long blobs, rarely repeated
            elif column.kind != "other":
                column.values = _Frequent()
            if column.kind == "string":
                column.shapes = _Frequent()
            if column.kind not in {"other", "boolean", "float"}:
                column.unique = True  # until a repeat shows up
            self.columns.append(column)
        self._tables: set[str] = set()
        self._pending: list[pa.RecordBatch] = []
        self._held = 0
        self._engine = [c for c in self.columns if c.kind != "other"]

    def close(self) -> None:
        self._con.close()
        self._spill.cleanup()

    def add(self, batch: pa.RecordBatch) -> None:
        """Take a batch in; small batches are gathered to ``CHUNK_ROWS`` rows first."""
        batch = self._conform(batch)
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        self._pending.append(batch)
        self._held += batch.num_rows
        if self._held >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = pa.concat_batches(self._pending)
        self._pending, self._held = [], 0
        for column in self.columns:
            column.nulls += batch.column(column.index).null_count
        if not self._engine:
            return
        named = pa.RecordBatch.from_arrays(
            [batch.column(c.index) for c in self._engine], names=[c.c for c in self._engine]
        )
        self._con.register("batch", named)
        try:
            self._aggregate()
            for column in self._engine:
                self._count(column, batch.column(column.index))
            hashing = [c for c in self._engine if c.hashing]
            if hashing:
                sql = "SELECT " + ", ".join(_hash_expression(c) for c in hashing) + " FROM batch"
                hashed = self._con.sql(sql).to_arrow_table()
                for column in hashing:
                    self._hashes(column, hashed.column(f"h{column.index}"))
        finally:
            self._con.unregister("batch")

    def _conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.schema.names != self.schema.names:
            raise DataError(
                f"a batch has the columns {', '.join(batch.schema.names)}, but the first had "
                f"{', '.join(self.schema.names)}",
                hint="every batch of one input must have the same columns",
            )
        if batch.schema == self.readable:
            return batch
        try:
            return batch.cast(self.readable)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise DataError(
                f"a batch's column types ({batch.schema.types}) do not match the first batch's: "
                f"{exc}",
                hint="every batch of one input must have the same column types",
            ) from exc

    def _aggregate(self) -> None:
        parts = [expr for c in self._engine for expr in _aggregates(c)]
        if not parts:
            return
        row = self._con.sql("SELECT " + ", ".join(parts) + " FROM batch").to_arrow_table()
        values = row.to_pylist()[0]
        for column in self._engine:
            get = values.get
            c = column.c
            column.nan += get(f"{c}_nan") or 0
            low, high = get(f"{c}_min"), get(f"{c}_max")
            if low is not None:
                column.low = low if column.low is None else min(column.low, low)
            if high is not None:
                column.high = high if column.high is None else max(column.high, high)
            column.merge_moments(get(f"{c}_n") or 0, get(f"{c}_mean"), get(f"{c}_var"))
            shortest, longest = get(f"{c}_minlen"), get(f"{c}_maxlen")
            if shortest is not None:
                known = column.min_length is not None and column.max_length is not None
                column.min_length = min(shortest, column.min_length) if known else shortest
                column.max_length = max(longest, column.max_length) if known else longest
            column.emails += get(f"{c}_emails") or 0

    def _count(self, column: _Column, array: pa.Array) -> None:
        """Count the batch's values and shapes; switch to hashes once there are too many."""
        present = array.drop_null()
        if column.kind == "float":
            present = present.filter(pc.invert(pc.is_nan(present)))
        if column.shapes is not None:
            short = pc.less_equal(pc.utf8_length(present), SHAPE_MAX_LENGTH)
            column.shapes.add(shapes_of(present.filter(short)))
        values = column.values
        if values is None:
            return
        before = values.table
        values.add(present)
        if column.unique and values.repeated:
            self._rule_out(column)
        if values.exact or column.hashing:
            return
        # From here on distinct values are estimated, and uniqueness checked, from hashes;
        # the values seen before this batch were all counted, so their hashes start it off.
        column.hashing = True
        if before is not None:
            self._con.register("seen", pa.table({"v": before.column("v")}))
            try:
                seen = self._con.sql("SELECT hash(v) AS h FROM seen").to_arrow_table()
            finally:
                self._con.unregister("seen")
            self._hashes(column, seen.column("h"))

    def _hashes(self, column: _Column, hashes: pa.ChunkedArray) -> None:
        """Fold 64-bit hashes of values into the sketch and, for a candidate, the key table."""
        every = hashes.drop_null().to_numpy()
        kept = column.sketch
        fresh = every[every < kept[-1]] if kept.size >= SKETCH else every
        if fresh.size:
            column.sketch = _smallest_distinct(np.concatenate([kept, fresh]), SKETCH)
        if not column.unique or not every.size:
            return
        table = f"u{column.index}"
        if table not in self._tables:
            self._con.execute(f"CREATE TABLE {table} (h UBIGINT)")
            self._tables.add(table)
        self._con.register("hashes", pa.table({"h": pa.array(every, pa.uint64())}))
        try:
            self._con.execute(f"INSERT INTO {table} SELECT h FROM hashes")
        finally:
            self._con.unregister("hashes")

    def _rule_out(self, column: _Column) -> None:
        column.unique = False
        table = f"u{column.index}"
        if table in self._tables:
            self._con.execute(f"DROP TABLE {table}")
            self._tables.discard(table)

    def finish(self, *, limited: bool) -> Profile:
        self._flush()
        for column in self.columns:
            non_null = self.rows - column.nulls
            if column.unique and column.hashing and non_null:
                sql = f"SELECT count(DISTINCT h) FROM u{column.index}"
                ((distinct,),) = self._con.sql(sql).fetchall()
                column.unique = distinct == non_null
            elif column.unique and not non_null:
                column.unique = False
        return Profile(
            rows=self.rows,
            columns=tuple(self._profile(c) for c in self.columns),
            limited=limited,
        )

    def _profile(self, column: _Column) -> ColumnProfile:
        non_null = self.rows - column.nulls
        distinct, exact = _distinct(column, non_null)
        values = column.values
        shapes = column.shapes
        stddev = math.sqrt(column.m2 / (column.n - 1)) if column.n > 1 else None
        return ColumnProfile(
            name=column.name,
            type=column.type,
            rows=self.rows,
            nulls=column.nulls,
            nan=column.nan,
            distinct=distinct,
            distinct_exact=exact,
            unique=column.unique,
            min=column.low,
            max=column.high,
            mean=column.mean if column.n else None,
            stddev=stddev,
            min_length=column.min_length,
            max_length=column.max_length,
            top_values=tuple(ValueCount(v, n) for v, n in values.top(TOP_VALUES)) if values else (),
            top_exact=values.exact if values else False,
            values=tuple(values.all_values())
            if values and values.exact and values.size <= FEW_VALUES
            else None,
            shapes=tuple(Shape(s, n, n / non_null) for s, n in shapes.top(TOP_SHAPES))
            if shapes and non_null
            else (),
            email_share=column.emails / non_null if column.kind == "string" and non_null else None,
        )


def _distinct(column: _Column, non_null: int) -> tuple[int | None, bool]:
    """The distinct count and whether it is exact (values, uniqueness, then the sketch)."""
    if column.kind == "other":
        return None, False
    if column.values is not None and column.values.exact:
        return column.values.size, True
    if column.unique:
        return non_null, True
    kept = column.sketch
    if kept.size < SKETCH:
        return int(kept.size), True
    estimate = (SKETCH - 1) * 2.0**64 / (float(kept[-1]) + 1.0)
    return min(round(estimate), non_null), False


def _aggregates(column: _Column) -> list[str]:
    """DuckDB aggregate expressions over ``batch`` for one column, aliased ``c<i>_<stat>``."""
    c, kind = column.c, column.kind
    if kind == "float":
        real, finite = f"NOT isnan({c})", f"isfinite({c})"
        return [
            f"count(*) FILTER (WHERE isnan({c})) AS {c}_nan",
            f"min({c}) FILTER (WHERE {real}) AS {c}_min",
            f"max({c}) FILTER (WHERE {real}) AS {c}_max",
            f"count({c}) FILTER (WHERE {finite}) AS {c}_n",
            f"avg({c}) FILTER (WHERE {finite}) AS {c}_mean",
            f"var_pop({c}) FILTER (WHERE {finite}) AS {c}_var",
        ]
    if kind in {"integer", "decimal"}:
        return [
            f"min({c}) AS {c}_min",
            f"max({c}) AS {c}_max",
            f"count({c}) AS {c}_n",
            f"avg({c})::DOUBLE AS {c}_mean",
            f"var_pop({c}::DOUBLE) AS {c}_var",
        ]
    if kind == "string":
        email = EMAIL_PATTERN.replace("'", "''")
        return [
            f"min({c}) AS {c}_min",
            f"max({c}) AS {c}_max",
            f"min(length({c})) AS {c}_minlen",
            f"max(length({c})) AS {c}_maxlen",
            f"count(*) FILTER (WHERE regexp_matches({c}, '{email}')) AS {c}_emails",
        ]
    if kind == "binary":
        return [f"min(octet_length({c})) AS {c}_minlen", f"max(octet_length({c})) AS {c}_maxlen"]
    cast = ""
    if kind == "time":
        cast = "::TIME"
    elif kind == "timestamp":
        # microseconds: pyarrow turns nanosecond timestamps into pandas objects, not datetimes
        cast = "::TIMESTAMPTZ" if readable_type(column.type).tz else "::TIMESTAMP"
    return [f"min({c}){cast} AS {c}_min", f"max({c}){cast} AS {c}_max"]


def _smallest_distinct(
    hashes: np.ndarray[Any, np.dtype[np.uint64]], k: int
) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The ``k`` smallest distinct values, sorted; a partial sort first when that suffices."""
    if hashes.size > k:
        smallest = np.unique(np.partition(hashes, k - 1)[:k])
        if smallest.size == k:
            return smallest
    return np.unique(hashes)[:k]


def _hash_expression(column: _Column) -> str:
    """The per-row hash of a column's values (``h<i>``, null for null and NaN)."""
    c, i = column.c, column.index
    missing = f"{c} IS NULL OR isnan({c})" if column.kind == "float" else f"{c} IS NULL"
    return f"if({missing}, NULL, hash({c})) AS h{i}"


def shapes_of(strings: pa.Array) -> pa.Array:
    """The shape of every string: ``AB-12x`` -> ``AA-99a``; ASCII letters and digits only.

    Mapped byte by byte over the array's UTF-8 buffer, which keeps the offsets and the
    validity: no Python per value, and non-ASCII characters (never single bytes below 128)
    stay as they are.
    """
    validity, offsets, data = strings.buffers()
    if data is None:
        return strings
    mapped = _SHAPE_BYTES[np.frombuffer(data, dtype=np.uint8)]
    return pa.Array.from_buffers(
        strings.type,
        len(strings),
        [validity, offsets, pa.py_buffer(mapped.tobytes())],
        strings.null_count,
        strings.offset,
    )
