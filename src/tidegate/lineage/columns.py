"""Column lineage of a pipeline: for each column it loads, the input columns it comes from and
how they were transformed on the way.

Computed from the spec alone, step by step, before any data moves: the source's columns (the
declared ones, or the schema observed at run time when the spec does not list them all), then
``derive``, ``select``, ``rename``, ``cast``, ``sql``, ``mask``, ``encrypt`` and ``python``
steps in order. SQL (``sql`` queries, ``derive`` expressions) is read with sqlglot
(``tidegate.lineage._sql``); a ``sql`` step's reference tables are inputs of their own.

Each edge from an input column to an output column carries the strongest transformation met
on the way, in this order::

    identity < renamed < cast < derived < masked:<strategy> < encrypted < unknown

so a column hashed after being trimmed reads ``masked:hash``, and anything that went through a
``python`` step (user code, which may do anything) reads ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tidegate.lineage.datasets import (
    Dataset,
    destination_dataset,
    file_dataset,
    source_datasets,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tidegate.spec import PipelineSpec, StepSpec

__all__ = [
    "TRANSFORMATIONS",
    "ColumnInput",
    "ColumnLineage",
    "IndirectInput",
    "PipelineLineage",
    "column_lineage",
    "stronger",
]

TRANSFORMATIONS = ("identity", "renamed", "cast", "derived", "masked", "encrypted", "unknown")
"""Transformation kinds from weakest to strongest; ``masked`` is written ``masked:<strategy>``."""

_RANK = {kind: rank for rank, kind in enumerate(TRANSFORMATIONS)}


def stronger(first: str, second: str) -> str:
    """The stronger of two transformations (the later one on a tie: ``masked:hash`` after
    ``masked:fake`` reads ``masked:hash``)."""
    a, b = _RANK[first.split(":", 1)[0]], _RANK[second.split(":", 1)[0]]
    return first if a > b else second


@dataclass(frozen=True)
class ColumnInput:
    """One input column feeding an output column, and how it was transformed on the way."""

    dataset: Dataset
    column: str
    transformation: str


@dataclass(frozen=True)
class ColumnLineage:
    """One output column: the input columns it comes from and the steps that touched it."""

    column: str
    inputs: tuple[ColumnInput, ...]
    steps: tuple[str, ...] = ()

    @property
    def transformation(self) -> str:
        """The strongest transformation over its inputs; ``derived`` for a column made from
        no input column at all (a constant, a row number)."""
        found = "identity" if self.inputs else "derived"
        for item in self.inputs:
            found = stronger(found, item.transformation)
        return found


@dataclass(frozen=True)
class IndirectInput:
    """An input column that decides which rows are loaded, not what a column holds: a join
    key, a filter, a grouping or a sort (OpenLineage's INDIRECT lineage), as ``subtypes``
    (JOIN, FILTER, GROUP_BY, SORT) with the steps that use it that way."""

    dataset: Dataset
    column: str
    subtypes: tuple[str, ...]
    steps: tuple[str, ...]


@dataclass(frozen=True)
class PipelineLineage:
    """The column lineage of a whole pipeline, from its inputs to its output.

    ``inputs`` lists the source's datasets, then the reference tables of ``sql`` steps;
    ``gaps`` says, in words, what could not be told (a python step, a ``*`` over unknown
    columns), so a consumer knows the mapping may be incomplete.
    """

    pipeline: str
    inputs: tuple[Dataset, ...]
    output: Dataset
    columns: tuple[ColumnLineage, ...]
    input_columns: Mapping[Dataset, tuple[str, ...]] = field(default_factory=dict)
    gaps: tuple[str, ...] = ()
    indirect: tuple[IndirectInput, ...] = ()

    def column(self, name: str) -> ColumnLineage:
        """The lineage of output column ``name``; KeyError when the pipeline has none."""
        for item in self.columns:
            if item.column == name:
                return item
        raise KeyError(name)


@dataclass
class _Column:
    """A column while walking the steps: its inputs (with transformations) and steps."""

    inputs: dict[tuple[Dataset, str], str]
    steps: list[str]

    def through(self, step: str, how: str) -> _Column:
        return _Column(
            {key: stronger(kind, how) for key, kind in self.inputs.items()}, [*self.steps, step]
        )


def _merge(columns: Iterable[_Column], step: str, how: str) -> _Column:
    inputs: dict[tuple[Dataset, str], str] = {}
    steps: list[str] = []
    for column in columns:
        for key, kind in column.inputs.items():
            now = stronger(kind, how)
            inputs[key] = stronger(inputs[key], now) if key in inputs else now
        steps.extend(s for s in column.steps if s not in steps)
    return _Column(inputs, [*steps, step])


class _Walk:
    """The state of the walk over the steps: the batch's columns in order."""

    def __init__(self, source: Dataset, columns: Sequence[str] | None) -> None:
        self.source = source
        self.open = columns is None  # columns met later are assumed to come from the source
        self.columns: dict[str, _Column] = {
            name: _Column({(source, name): "identity"}, []) for name in columns or ()
        }
        self.gaps: list[str] = []
        self.tables: dict[Dataset, tuple[str, ...]] = {}
        self.indirect: dict[tuple[Dataset, str], tuple[list[str], list[str]]] = {}

    def use(self, key: tuple[Dataset, str], subtype: str, step: str) -> None:
        """Note that ``step`` uses input column ``key`` to pick rows (``subtype``)."""
        subtypes, steps = self.indirect.setdefault(key, ([], []))
        if subtype not in subtypes:
            subtypes.append(subtype)
        if step not in steps:
            steps.append(step)

    def get(self, name: str) -> _Column:
        found = self._lookup(name)
        if found is not None:
            return self.columns[found]
        return _Column({(self.source, name): "identity"} if self.open else {}, [])

    def _lookup(self, name: str) -> str | None:
        if name in self.columns:
            return name
        lowered = name.lower()  # DuckDB and the steps' SQL ignore case
        return next((known for known in self.columns if known.lower() == lowered), None)

    def put(self, name: str, column: _Column) -> None:
        existing = self._lookup(name)
        if existing is not None and existing != name:
            del self.columns[existing]
        self.columns[name] = column


def column_lineage(
    spec: PipelineSpec,
    *,
    source_columns: Sequence[str] | None = None,
    table_columns: Mapping[str, Sequence[str]] | None = None,
) -> PipelineLineage:
    """The column lineage of ``spec``'s pipeline.

    ``source_columns`` is the source's schema as observed (a file's header, a query's columns);
    without it only the columns the spec declares are known, and a column a step names that is
    not known yet is taken to come from the source under that name. ``table_columns`` gives
    the columns of ``sql`` steps' reference tables by table name; missing ones are read from
    the files' headers when they exist.
    """
    sources = source_datasets(spec)
    source = sources[0] if sources else Dataset("tidegate", f"{spec.name}.source", "source")
    walk = _Walk(source, source_columns or _declared_columns(spec))
    known_tables = dict(table_columns or {})
    for step in spec.steps:
        _STEPS.get(step.type, _opaque)(walk, step, spec, known_tables)
    inputs = [*sources, *(d for d in walk.tables if d not in sources)]
    input_columns: dict[Dataset, tuple[str, ...]] = dict(walk.tables)
    if source_columns or _declared_columns(spec):
        input_columns[source] = tuple(source_columns or _declared_columns(spec) or ())
    return PipelineLineage(
        pipeline=spec.name,
        inputs=tuple(inputs),
        output=destination_dataset(spec),
        columns=tuple(
            ColumnLineage(
                column=name,
                inputs=tuple(
                    ColumnInput(dataset=dataset, column=column, transformation=kind)
                    for (dataset, column), kind in state.inputs.items()
                ),
                steps=tuple(state.steps),
            )
            for name, state in walk.columns.items()
        ),
        input_columns=input_columns,
        gaps=tuple(walk.gaps),
        indirect=tuple(
            IndirectInput(
                dataset=dataset, column=column, subtypes=tuple(subtypes), steps=tuple(steps)
            )
            for (dataset, column), (subtypes, steps) in walk.indirect.items()
        ),
    )


def _declared_columns(spec: PipelineSpec) -> tuple[str, ...] | None:
    """The source columns the spec fixes completely (names given, or a list of columns to
    read); a type map alone (csv ``columns:``) may name only some of them, so it does not."""
    settings = spec.source.settings
    names = getattr(settings, "column_names", None)
    if isinstance(names, list) and names:
        return tuple(names)
    if spec.source.type == "parquet":
        chosen = getattr(settings, "columns", None)
        if isinstance(chosen, list) and chosen:
            return tuple(chosen)
    return None


def _setting(step: StepSpec, name: str) -> Any:
    return getattr(step.settings, name, None)


def _derive(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    from tidegate.lineage._sql import expression_inputs  # noqa: PLC0415 - sqlglot on use

    derived: dict[str, str] = _setting(step, "columns") or {}
    before = dict(walk.columns)
    for name, expression in derived.items():
        how, used = expression_inputs(expression, list(before))
        sources = [_lookup_in(before, walk, column) for column in used]
        if how == "carried" and used:
            kind = "identity" if used[0].lower() == name.lower() else "renamed"
        else:
            kind = how
        walk.put(name, _merge(sources, step.name, kind))


def _lookup_in(columns: dict[str, _Column], walk: _Walk, name: str) -> _Column:
    """A column as it was before the step (derive expressions see the incoming batch)."""
    lowered = name.lower()
    for known, column in columns.items():
        if known.lower() == lowered:
            return column
    return walk.get(name)


def _select(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    chosen: list[str] = _setting(step, "columns") or []
    walk.columns = {name: walk.get(name).through(step.name, "identity") for name in chosen}
    walk.open = False


def _rename(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    renames: dict[str, str] = _setting(step, "columns") or {}
    renamed: dict[str, _Column] = {}
    for name in list(walk.columns):
        new = renames.get(name, name)
        column = walk.get(name)
        renamed[new] = column.through(step.name, "renamed") if new != name else column
    for old, new in renames.items():  # names the walk did not know (open source schema)
        if new not in renamed:
            renamed[new] = walk.get(old).through(step.name, "renamed")
    walk.columns = renamed


def _cast(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    for name in _setting(step, "columns") or {}:
        walk.put(name, walk.get(name).through(step.name, "cast"))


def _mask(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    for name, how in (_setting(step, "columns") or {}).items():
        strategy = getattr(how, "strategy", None) or "mask"
        walk.put(name, walk.get(name).through(step.name, f"masked:{strategy}"))


def _encrypt(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    for name in _setting(step, "columns") or ():
        walk.put(name, walk.get(name).through(step.name, "encrypted"))


def _opaque(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    """A python step, or one whose kind lineage does not know: it may change anything."""
    walk.columns = {
        name: column.through(step.name, "unknown") for name, column in walk.columns.items()
    }
    walk.open = True
    walk.gaps.append(
        f"step {step.name!r} ({step.type}) runs code lineage cannot read: the columns after it "
        "may come from anywhere"
    )


def _sql(walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]) -> None:
    from tidegate.lineage._sql import (  # noqa: PLC0415 - sqlglot on first use
        INPUT,
        indirect_columns,
        select_lineage,
    )

    datasets, schemas = _sql_tables(walk, step, spec, tables)
    if walk.columns and not walk.open:
        schemas[INPUT] = list(walk.columns)
    query = str(_setting(step, "query"))
    projections = select_lineage(query, schemas)
    if projections is None:
        _opaque(walk, step, spec, tables)
        walk.gaps[-1] = (
            f"step {step.name!r} (sql): its output columns cannot be told from the query "
            "(it does not parse, or selects * from columns unknown before the run)"
        )
        return

    def origin(table: str, column: str) -> _Column | None:
        if table.lower() == INPUT:
            return walk.get(column)
        if table in datasets:
            return _Column({(datasets[table], column): "identity"}, [])
        return None

    for table, column, subtype in indirect_columns(query, schemas):
        for key in getattr(origin(table, column), "inputs", {}):
            walk.use(key, subtype, step.name)
    outputs: dict[str, _Column] = {}
    for projection in projections:
        parts = [
            found
            for table, column in projection.sources
            if (found := origin(table, column)) is not None
        ]
        kind = projection.how
        if kind == "carried":
            same = bool(projection.sources) and projection.sources[0][1] == projection.name
            kind = "identity" if same else "renamed"
        outputs[projection.name] = _merge(parts, step.name, kind)
    walk.columns = outputs
    walk.open = False


def _sql_tables(
    walk: _Walk, step: StepSpec, spec: PipelineSpec, tables: dict[str, Any]
) -> tuple[dict[str, Dataset], dict[str, Sequence[str]]]:
    """A ``sql`` step's reference tables as datasets, and the columns of those known."""
    references: dict[str, str] = _setting(step, "tables") or {}
    datasets = {
        name: file_dataset(path, spec.base_dir, "table") for name, path in references.items()
    }
    schemas: dict[str, Sequence[str]] = {}
    for name, path in references.items():
        columns = tables.get(name) or _file_columns(spec.base_dir, path)
        walk.tables.setdefault(datasets[name], tuple(columns or ()))
        if columns is not None:
            schemas[name] = columns
    return datasets, schemas


def _file_columns(base_dir: Path, path: str) -> tuple[str, ...] | None:
    """The column names of a reference table file, from its header or metadata; None when
    the file is missing or unreadable (lineage then knows only the columns the query names)."""
    import pyarrow.csv as pa_csv  # noqa: PLC0415 - readers imported on first use
    import pyarrow.parquet as pq  # noqa: PLC0415

    file = Path(path).expanduser()
    file = file if file.is_absolute() else base_dir / file
    lowered = path.lower()
    try:
        if lowered.endswith(".parquet"):
            return tuple(pq.read_schema(file).names)
        if lowered.endswith((".jsonl", ".ndjson")):
            import json  # noqa: PLC0415

            with file.open(encoding="utf-8") as handle:
                first = json.loads(handle.readline() or "{}")
            return tuple(first) if isinstance(first, dict) else None
        delimiter = "\t" if lowered.endswith(".tsv") else ","
        with pa_csv.open_csv(
            file, parse_options=pa_csv.ParseOptions(delimiter=delimiter)
        ) as reader:
            return tuple(reader.schema.names)
    except (OSError, ValueError):
        return None


_STEPS = {
    "derive": _derive,
    "select": _select,
    "rename": _rename,
    "cast": _cast,
    "sql": _sql,
    "mask": _mask,
    "encrypt": _encrypt,
    "python": _opaque,
}
