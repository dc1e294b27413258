"""``tidegate profile``: statistics of a data file, or of what a pipeline's steps produce.

A data file is read by the same source plugin a pipeline would use, with default settings (or
``--set key=value`` overrides of them), so the profile sees exactly the types a run would. A
pipeline file is loaded and built as for a run; its source is read and its steps applied batch
by batch, and nothing is written anywhere. The quality rules of the pipeline are not applied:
the profile is there to write or review them, so it must see the rows they would reject.

A profile is a side output: it is printed, pasted into tickets, written next to pipelines. So
the columns are classified (``classify_table``, on the first rows the profile reads, which are
kept as they stream past rather than read a second time), and for a confidential or restricted
column every statistic that quotes the data (min, max, frequent and listed values, mean and
standard deviation) goes through the display mask, shapes lose their non-ASCII characters,
and the suggested rules quote none of its values. A caller that knows better than detection
(a pipeline's pinned classification) passes ``levels``; they win over what was detected.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tidegate.app.logs import configure_logging
from tidegate.app.plugins import default_registry
from tidegate.core import RunContext, StepResult, new_run_id
from tidegate.errors import ConfigError, TidegateError
from tidegate.events import EventBus

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    import pyarrow as pa

    from tidegate.core import Source, Step
    from tidegate.governance.classify import Level
    from tidegate.quality.profile import ColumnProfile, Profile

__all__ = [
    "CLASSIFY_ROWS",
    "FORMATS",
    "GovernedProfile",
    "file_batches",
    "governed_profile",
    "pipeline_batches",
    "profile_command",
]

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
"""Data file suffix -> the source kind that reads it (a folder is read as Parquet files)."""

_COMPRESSED = (".gz", ".bz2", ".zst")
_PIPELINE = (".yaml", ".yml")
_CELL = 32
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

CLASSIFY_ROWS = 10_000
"""The first rows read that are kept to classify the profiled columns (``classify``'s sample)."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class GovernedProfile:
    """A profile in two forms, and the level of each column that decided between them.

    ``shown`` is the one to print, store or send anywhere: values of confidential and
    restricted columns are masked in it. ``clear`` is for code that reasons on the values
    and prints none of them, such as the rule suggestions told which columns to withhold.
    ``masked`` names the columns ``shown`` masks.
    """

    clear: Profile
    shown: Profile
    levels: dict[str, Level]
    masked: frozenset[str]


def profile_command(
    target: Path,
    *,
    rows: int | None,
    json_out: bool,
    rules_out: Path | None,
    sets: list[str],
    levels: Mapping[str, Level] | None = None,
) -> None:
    """Profile ``target`` and print the statistics and suggested quality rules.

    ``target`` is a data file (csv, parquet, jsonl/ndjson, optionally compressed), a folder of
    Parquet files or a pipeline.yaml. ``rows`` profiles only the first rows. ``json_out``
    prints one JSON document (statistics and suggestions) instead of a table and YAML;
    ``rules_out`` writes the YAML snippet to that file instead of printing it. ``sets`` are
    ``--set`` overrides: of the pipeline, or of the source's settings for a data file.
    ``levels`` pins the classification level of columns, over what detection finds; values
    of confidential and restricted columns are shown masked (see ``governed_profile``).
    Raises ``ConfigError`` for a target that cannot be read and ``DataError`` for bad data.
    """
    from tidegate.quality.suggest import rules_yaml, suggest_rules  # noqa: PLC0415 - on first use

    # stdout carries the profile (JSON for scripts): logs, warnings only, go to stderr
    configure_logging("warning", "auto")
    if rows is not None and rows < 1:
        raise ConfigError(f"--rows must be at least 1, got {rows}", location="--rows")
    if not target.exists():
        raise ConfigError(
            f"{target} does not exist", hint="give a data file, a Parquet folder or pipeline.yaml"
        )
    if target.suffix.lower() in _PIPELINE:
        batches, counts = pipeline_batches(target, sets)
        levels = {**_pinned_levels(target, sets), **(levels or {})}
    else:
        batches, counts = file_batches(target, sets)
    governed = governed_profile(batches, rows=rows, levels=levels)
    rules = rules_yaml(governed.clear, source=target.name, withheld=governed.masked)
    if rules_out is not None:
        try:
            rules_out.write_text(rules, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write the suggested rules: {exc.strerror}",
                location=str(rules_out),
                hint="choose a writable path for --rules",
            ) from exc
        Console(stderr=True).print(f"wrote suggested rules to {rules_out}", highlight=False)
    if json_out:
        document = {
            "target": str(target),
            **governed.shown.to_dict(),
            "rejected": counts["rejected"],
            "suggested_rules": suggest_rules(governed.clear, withheld=governed.masked),
        }
        for column in document["columns"]:
            column["level"] = str(governed.levels[column["name"]])
            column["masked"] = column["name"] in governed.masked
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    console = Console()
    for table in _tables(governed, target.name, counts["rejected"]):
        console.print(table)
    if rules_out is None:
        sys.stdout.write("\n" + rules)
    sys.stdout.flush()


def governed_profile(
    batches: Iterable[pa.RecordBatch],
    *,
    rows: int | None = None,
    levels: Mapping[str, Level] | None = None,
) -> GovernedProfile:
    """Profile ``batches`` once and classify their columns on the first rows read.

    ``rows`` profiles only the first rows; ``levels`` pins a column's level, over detection
    (names that are not columns are ignored). Only unpinned columns are classified, on the
    first ``CLASSIFY_ROWS`` rows read, which may be more than ``rows`` when a batch holds
    more: detection needs evidence (a few names do not match the gazetteer), and those rows
    were read anyway.
    """
    from tidegate.governance.display import SENSITIVE_LEVELS  # noqa: PLC0415 - keeps --help fast
    from tidegate.quality.profile import profile_table  # noqa: PLC0415 - DuckDB on first use

    kept: list[pa.RecordBatch] = []
    profile = profile_table(_keeping(iter(batches), kept, CLASSIFY_ROWS), limit=rows)
    column_levels = _levels(profile, kept, levels or {})
    masked = frozenset(name for name, level in column_levels.items() if level in SENSITIVE_LEVELS)
    return GovernedProfile(
        clear=profile,
        shown=_masked(profile, column_levels, masked),
        levels=column_levels,
        masked=masked,
    )


def _keeping(
    batches: Iterator[pa.RecordBatch], kept: list[pa.RecordBatch], rows: int
) -> Iterator[pa.RecordBatch]:
    """Pass ``batches`` on, keeping their first ``rows`` rows in ``kept`` as they go by."""
    held = 0
    try:
        for batch in batches:
            if held < rows:
                head = batch.slice(0, rows - held)
                kept.append(head)
                held += head.num_rows
            yield batch
    finally:
        # profile_table closes what it reads early (--rows): the source's files close too
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _levels(
    profile: Profile, kept: list[pa.RecordBatch], pinned: Mapping[str, Level]
) -> dict[str, Level]:
    """Each profiled column's level: pinned, else detected on ``kept``, else public."""
    import pyarrow as pa  # noqa: PLC0415 - loaded with the profile already

    from tidegate.governance.classify import Level, classify_table  # noqa: PLC0415

    names = [column.name for column in profile.columns]
    unpinned = [name for name in names if name not in pinned]
    detected: dict[str, Level] = {}
    if unpinned and kept:
        sample = pa.Table.from_batches(kept).select(unpinned)
        verdicts = classify_table(sample, sample_rows=sample.num_rows)
        detected = {verdict.column: verdict.level for verdict in verdicts}
    return {name: pinned.get(name) or detected.get(name, Level.PUBLIC) for name in names}


def _masked(profile: Profile, levels: Mapping[str, Level], masked: frozenset[str]) -> Profile:
    """``profile`` with the values of the ``masked`` columns as the display mask shows them."""
    columns = tuple(
        _masked_column(column, levels[column.name]) if column.name in masked else column
        for column in profile.columns
    )
    return dataclasses.replace(profile, columns=columns)


def _masked_column(column: ColumnProfile, level: Level) -> ColumnProfile:
    """One column's summaries masked: a few values each, so the scalar display form serves."""
    from tidegate.governance.display import display_value  # noqa: PLC0415 - keeps --help fast
    from tidegate.quality.profile import Shape, ValueCount  # noqa: PLC0415

    return dataclasses.replace(
        column,
        min=display_value(column.min, level),
        max=display_value(column.max, level),
        # the mean of a few salaries or birth dates is close to one of them
        mean=None,
        stddev=None,
        top_values=tuple(
            ValueCount(display_value(v.value, level), v.count) for v in column.top_values
        ),
        values=None
        if column.values is None
        else tuple(display_value(v, level) for v in column.values),
        # shapes turn ASCII letters and digits into classes, other characters stay as they are
        shapes=tuple(Shape(_NON_ASCII.sub("*", s.shape), s.count, s.share) for s in column.shapes),
    )


def file_batches(
    target: Path, sets: Sequence[str]
) -> tuple[Iterator[pa.RecordBatch], dict[str, int]]:
    """The batches of a data file, read by the source plugin its suffix names."""
    from tidegate.spec._overrides import apply_overrides, parse_override  # noqa: PLC0415 - only for data files

    kind = _kind_of(target)
    source_class = default_registry().load("sources", kind)
    data, _ = apply_overrides({"path": str(target)}, [parse_override(raw) for raw in sets])
    try:
        settings = source_class.Settings.model_validate(data, context={"base_dir": Path.cwd()})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"invalid {kind} settings: {problems}",
            location="--set",
            hint=f"see the {kind} source's settings with `tidegate schema`",
        ) from None
    context = RunContext(
        run_id=new_run_id(), pipeline="profile", bus=EventBus(), base_dir=Path.cwd()
    )
    counts = {"rejected": 0}
    return _loaded(source_class(settings), [], context, counts), counts


def _kind_of(target: Path) -> str:
    if target.is_dir():
        return "parquet"
    suffixes = [suffix.lower() for suffix in target.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    kind = FORMATS.get(suffixes[-1]) if suffixes else None
    if kind is None:
        known = ", ".join(FORMATS)
        raise ConfigError(
            f"cannot tell the format of {target.name}",
            location=str(target),
            hint=f"name the file with one of {known} (or .yaml for a pipeline)",
        )
    return kind


def _pinned_levels(target: Path, sets: Sequence[str]) -> dict[str, Level]:
    """The levels a pipeline pins by hand in ``governance.classification``."""
    from tidegate.app.bootstrap import load  # noqa: PLC0415 - keeps --help fast
    from tidegate.governance.classify import Level  # noqa: PLC0415

    governance = load(target, overrides=sets).governance
    pins = governance.classification if governance is not None else {}
    return {column: Level(level) for column, level in pins.items()}


def pipeline_batches(
    target: Path, sets: Sequence[str]
) -> tuple[Iterator[pa.RecordBatch], dict[str, int]]:
    """The batches a pipeline's steps produce, with secrets registered for redaction."""
    from tidegate.app.bootstrap import build, load, secret_values  # noqa: PLC0415 - keeps --help fast
    from tidegate.observability.logging import SecretRedactor  # noqa: PLC0415 - keeps --help fast

    spec = load(target, overrides=sets)
    configure_logging("warning", spec.logging.format, SecretRedactor(secret_values(spec)))
    pipeline = build(spec)
    context = RunContext(
        run_id=new_run_id(), pipeline=spec.name, bus=EventBus(), base_dir=spec.base_dir
    )
    counts = {"rejected": 0}
    return _loaded(pipeline.source, pipeline.steps, context, counts), counts


def _loaded(
    source: Source, steps: Sequence[Step], ctx: RunContext, counts: dict[str, int]
) -> Iterator[pa.RecordBatch]:
    """Read ``source`` and apply ``steps`` as the runner does, counting rejected rows."""
    consumed = 0
    for number, item in enumerate(source.read(ctx), start=1):
        ctx.batch.number = number
        ctx.batch.first_row = consumed + 1
        consumed += item.batch.num_rows
        if item.rejected is not None:
            counts["rejected"] += item.rejected.num_rows
        batch = item.batch
        for step in steps:
            try:
                output = step.process(batch, ctx)
            except TidegateError as exc:
                exc.location = exc.location or f"step {step.name!r}, batch {number}"
                raise
            if isinstance(output, StepResult):
                if output.rejected is not None:
                    counts["rejected"] += output.rejected.num_rows
                output = output.batch
            batch = output
        yield batch


def _tables(governed: GovernedProfile, name: str, rejected: int) -> list[Table]:
    """Two tables: the statistics per column, then each column's frequent values and shapes."""
    profile, masked = governed.shown, governed.masked
    seen = f"{profile.rows:,} rows"
    if profile.limited:
        seen = f"the first {seen} (--rows)"
    stats = Table(
        title=escape(f"{name}: {seen}, {len(profile.columns)} columns"), title_justify="left"
    )
    headers = ("column", "level", "type", "nulls", "distinct", "min", "max", "mean ± sd", "length")
    for header in headers:
        stats.add_column(header, overflow="fold")
    values = Table(
        title="frequent values and shapes",
        title_justify="left",
        caption=escape(_caption(rejected, masked=bool(masked))),
        caption_justify="left",
    )
    for header in ("column", "top values (rows)", "shapes (share of values)"):
        values.add_column(header, overflow="fold")
    for column in profile.columns:
        level = f"{governed.levels[column.name]}{', masked' if column.name in masked else ''}"
        stats.add_row(*(escape(cell) for cell in _stats_cells(column, level)))
        values.add_row(*(escape(cell) for cell in _value_cells(column)))
    return [stats, values]


def _caption(rejected: int, *, masked: bool) -> str:
    caption = "~ marks an estimate: a column with many distinct values is summarised, not counted"
    if masked:
        caption += (
            ". Values of confidential and restricted columns are masked: * hides a character,"
            " [confidential] or [restricted] a whole value"
        )
    if rejected:
        caption = f"{rejected:,} rows rejected by the source or steps are left out. {caption}"
    return caption


def _stats_cells(column: ColumnProfile, level: str) -> list[str]:
    nulls = f"{column.nulls:,}"
    if column.nulls:
        nulls += f" ({column.null_pct:.1f}%)"
    if column.nan:
        nulls += f" +{column.nan:,} NaN"
    distinct = "" if column.distinct is None else f"{column.distinct:,}"
    if distinct and not column.distinct_exact:
        distinct = "~" + distinct
    if column.unique:
        distinct += " (unique)"
    spread = ""
    if column.mean is not None:
        spread = f"{column.mean:.6g}"
        if column.stddev is not None:
            spread += f" ± {column.stddev:.3g}"
    length = ""
    if column.min_length is not None:
        length = f"{column.min_length}..{column.max_length}"
    return [
        column.name,
        level,
        str(column.type),
        nulls,
        distinct,
        _show(column.min),
        _show(column.max),
        spread,
        length,
    ]


def _value_cells(column: ColumnProfile) -> list[str]:
    mark = "" if column.top_exact else "~"
    # every value of a unique column occurs once: listing five of them says nothing
    top = (
        ""
        if column.unique
        else ", ".join(f"{_show(v.value)} ({mark}{v.count:,})" for v in column.top_values)
    )
    shapes = ", ".join(f"{_show(s.shape)} {100 * s.share:.1f}%" for s in column.shapes)
    return [column.name, top, shapes]


def _show(value: Any) -> str:
    """A value for a table cell: ISO dates, short floats, long text cut with an ellipsis."""
    from tidegate.quality.profile import plain  # noqa: PLC0415 - loaded with the profile already

    if value is None:
        return ""
    if value == "":
        return '""'
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(plain(value))
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"
