"""Data-quality benchmark: the same 10 rules in Tidegate, pandera (pandas, polars) and GX.

    python bench/quality.py --rows 1000000 [--repeat 3] [--seed 42] [--keep]

Needs the ``bench`` extra (``pip install -e '.[dev,bench]'``). Generates the demo
``customers.csv`` with N rows and turns it into Parquet (neither timed), then:

1. **In memory.** Each tool validates the same 10 rules on the same rows in a child process of
   its own, in its native form: ``tidegate.quality.check_table`` on a pyarrow Table, a pandera
   ``DataFrameSchema`` on a pandas DataFrame and on a polars DataFrame (``lazy=True``, the way
   pandera collects every failure), and a Great Expectations 1.x suite run on a pandas
   DataFrame through an ephemeral context. The child loads the Parquet into that form and builds
   its schema or suite *before* its clock starts; the clock covers validating and turning the
   result into failing rows per rule. The parent checks that all four agree on every rule's
   count (a disagreement fails the benchmark: the rules must really be the same).
2. **In a run.** ``tidegate.run`` loads the CSV into DuckDB with the Core benchmark's pipeline
   (``load_csv.PIPELINE``), once as it is and once with the same rules as its ``quality:``
   section, all ``on_fail: warn`` so both runs write the same rows. ``in_run_overhead`` is
   ``(with - without) / without``.

Peak memory is the kernel's figure for the whole child process (``os.wait4`` -> ``ru_maxrss``):
interpreter, libraries, the data in the tool's form and whatever validating adds. Just before
its clock starts the child resets the kernel's high-water mark (``/proc/self/clear_refs``), so
a transient peak while *converting* the data (Arrow -> pandas holds both for a moment) counts
against no one: the figure is the peak while validating, the loaded data included.

The last line is JSON with ``rows``, ``tidegate_s``, ``pandera_pandas_s``, ``pandera_polars_s``,
``gx_s``, ``speedup_vs_best_pandera``, ``speedup_vs_gx``, ``in_run_overhead``,
``tidegate_peak_rss_mb`` and ``best_peer_peak_rss_mb``, plus the details.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import _harness
from _harness import Measure

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    import polars as pl

    Validate = Callable[[], dict[str, int]]

EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
POSTAL = r"^[0-9A-Z]{2,5}[ -]?[0-9A-Z]{2,3}$"
SHIPPED_TO = ("US", "GB", "DE", "FR", "NL", "ES")  # the demo data also has PL: ~7% fail
NAME_LENGTH = (1, 9)  # "Małgorzata" has 10 characters: ~2% fail
BORN = (dt.date(1940, 1, 1), dt.date(2006, 6, 30))  # births run to 2006-12-31: ~0.7% fail

QUALITY: dict[str, Any] = {
    "on_fail": "warn",  # count, keep every row: the run with rules writes what the one without does
    "columns": {
        "customer_id": ["not_null", "unique"],
        "email": ["not_null", {"regex": EMAIL}],
        "country": [{"allowed_values": list(SHIPPED_TO)}],
        "first_name": [{"length": {"min": NAME_LENGTH[0], "max": NAME_LENGTH[1]}}],
        "birth_date": [{"between": [BORN[0].isoformat(), BORN[1].isoformat()]}],
        "signup_date": ["not_in_future"],
        "postal_code": [{"regex": POSTAL}],
    },
    "table": [{"expression": {"id": "signup_after_birth", "sql": "signup_date >= birth_date"}}],
}
"""Tidegate's form of the 10 rules: the ``quality:`` section, as a mapping and in the YAML."""

RULES = (
    "customer_id.not_null",
    "customer_id.unique",
    "email.not_null",
    "email.regex",
    "country.allowed_values",
    "first_name.length",
    "birth_date.between",
    "signup_date.not_in_future",
    "postal_code.regex",
    "signup_after_birth",
)
"""Rule ids, Tidegate's defaults; every other tool labels its checks with them."""

UNIQUE = "customer_id.unique"
TOOLS = ("tidegate", "pandera_pandas", "pandera_polars", "gx")
LABELS = {
    "tidegate": "tidegate",
    "pandera_pandas": "pandera/pandas",
    "pandera_polars": "pandera/polars",
    "gx": "great_expectations",
}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run as the parent, or as one of the children it starts."""
    parser = argparse.ArgumentParser(description="Quality rules: Tidegate, pandera and GX")
    parser.add_argument("--rows", type=int, default=1_000_000, help="customer rows to check")
    parser.add_argument("--repeat", type=int, default=5, help="runs per contender; best kept")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    parser.add_argument("--keep", action="store_true", help="keep the data, databases and YAML")
    children = ["prepare", "run", *TOOLS]
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, data=args.data, out=args.out, rows=args.rows, seed=args.seed)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    with _harness.work_folder(keep=args.keep) as folder:
        _bench(folder, rows=args.rows, repeat=args.repeat, seed=args.seed)
    if args.keep:
        print("kept", folder, file=sys.stderr)
    return 0


# -- the parent side -----------------------------------------------------------------------------


def _bench(folder: Path, *, rows: int, repeat: int, seed: int) -> None:
    """Prepare the data, measure every tool and both runs, check the counts, report."""
    import load_csv  # noqa: PLC0415 - the Core benchmark's pipeline, reused as it is

    csv, parquet = folder / "data" / "customers.csv", folder / "customers.parquet"
    began = time.perf_counter()
    prepared = _measure("prepare", data=parquet, out=folder / "prepare.json", rows=rows, seed=seed)
    reference = json.loads((folder / "prepare.json").read_text())
    size_mb = _harness.generated(csv, rows=rows, since=began)
    if prepared.rows != rows:
        _harness.fail(f"the Parquet file holds {prepared.rows:,} rows, expected {rows:,}")

    measures: dict[str, Measure] = {}
    details: dict[str, dict[str, Any]] = {}
    for tool in TOOLS:
        measures[tool], details[tool] = _best_in_memory(tool, parquet, folder, repeat=repeat)
        if measures[tool].rows != rows:
            _harness.fail(f"{tool} checked {measures[tool].rows:,} rows, expected {rows:,}")
    failures = {tool: details[tool]["failures"] for tool in TOOLS}
    _print_failures(failures, reference)

    pipelines = {}
    for kind, quality in (("without", None), ("with", QUALITY)):
        pipeline = folder / f"pipeline_{kind}.yaml"
        db = folder / f"run_{kind}.duckdb"
        text = load_csv.PIPELINE.format(
            csv=json.dumps(str(csv)), db=json.dumps(str(db)), table=load_csv.TABLE, mode="replace"
        )
        if quality is not None:
            text += "quality: " + json.dumps(quality) + "\n"  # JSON is YAML's flow style
        pipeline.write_text(text, encoding="utf-8")
        pipelines[kind] = (pipeline, db)
    # interleaved, so that a change in the machine's load falls on both alike
    measured: dict[str, list[Measure]] = {"without": [], "with": []}
    for _ in range(repeat):
        for kind, (pipeline, db) in pipelines.items():
            for stale in (db, db.with_name(db.name + ".wal")):
                stale.unlink(missing_ok=True)
            measured[kind].append(_measure("run", data=pipeline, out=db))
    runs = {kind: _harness.best(found) for kind, found in measured.items()}
    for kind, run in runs.items():
        if run.rows != rows:
            _harness.fail(f"the run {kind} rules wrote {run.rows:,} rows, expected {rows:,}")

    _report(
        rows=rows, size_mb=size_mb, repeat=repeat, measures=measures, details=details, runs=runs
    )


def _best_in_memory(
    tool: str, parquet: Path, folder: Path, *, repeat: int
) -> tuple[Measure, dict[str, Any]]:
    """Fastest of ``repeat`` validations by ``tool``; RSS is the worst seen; the run's details."""
    out = folder / f"{tool}.json"
    runs, found = [], []
    for _ in range(repeat):
        runs.append(_measure(tool, data=parquet, out=out))
        found.append(json.loads(out.read_text()))
    if any(f["failures"] != found[0]["failures"] for f in found):
        _harness.fail(f"{tool} counted different failures in repeated runs: {found}")
    fastest = min(range(repeat), key=lambda i: runs[i].seconds)
    return _harness.best(runs), found[fastest]


def _measure(kind: str, *, data: Path, out: Path, rows: int = 0, seed: int = 0) -> Measure:
    """Run this script as a ``kind`` child in the bench folder (see ``_harness.run_child``)."""
    args = ["--data", str(data), "--out", str(out), "--rows", str(rows), "--seed", str(seed)]
    return _harness.run_child(__file__, kind, args, cwd=out.parent)


def _print_failures(failures: dict[str, dict[str, int]], reference: dict[str, int]) -> None:
    """The failing rows per rule and tool; stop the benchmark when the tools disagree.

    ``unique`` is the one rule whose row semantics differ by design: Tidegate fails a row whose
    key appeared in an *earlier* row (the first passes: a stream cannot recall rows it already
    loaded), and pandera is told the same; GX's ``ExpectColumnValuesToBeUnique`` fails *every*
    row of a repeated key. Both are checked against counts the untimed prepare child computed.
    """
    print(f"\nfailing rows per rule{'':12}" + "".join(f"{LABELS[t]:>20}" for t in TOOLS))
    wrong = []
    for rule in RULES:
        counts = {tool: failures[tool].get(rule, 0) for tool in TOOLS}
        expected = {tool: counts["tidegate"] for tool in TOOLS}
        if rule == UNIQUE:
            expected = {tool: reference["repeats"] for tool in TOOLS}
            expected["gx"] = reference["involved"]
        mark = "" if counts == expected else "  <-- DISAGREE"
        print(f"{rule:33}" + "".join(f"{counts[t]:>20,}" for t in TOOLS) + mark)
        if mark:
            wrong.append(f"{rule}: got {counts}, expected {expected}")
    print(
        f"({UNIQUE}: rows whose id appeared earlier = {reference['repeats']:,}; "
        f"GX counts every row of a repeated id = {reference['involved']:,})"
    )
    for tool in TOOLS:
        extra = sorted(set(failures[tool]) - set(RULES))
        if extra:
            wrong.append(f"{tool} reported rules that were not asked for: {extra}")
    if wrong:
        _harness.fail("the tools disagree, so the rules are not the same:\n" + "\n".join(wrong))


def _report(
    *,
    rows: int,
    size_mb: float,
    repeat: int,
    measures: dict[str, Measure],
    details: dict[str, dict[str, Any]],
    runs: dict[str, Measure],
) -> None:
    """The tables for people, the verdict on the targets, then one JSON line for machines."""
    print(f"\n10 rules on {rows:,} rows in memory, best of {repeat} (CSV {size_mb:,.1f} MB)")
    print(f"{'':20}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}{'loaded MB':>12}")
    for tool in TOOLS:
        m, loaded = measures[tool], details[tool]["loaded_rss_mb"]
        print(
            f"{LABELS[tool]:20}{m.seconds:>10.3f}{rows / m.seconds:>14,.0f}"
            f"{m.peak_rss_mb:>14.1f}{loaded:>12.1f}"
        )
    print("(loaded MB: the child's RSS when its clock started: interpreter, libraries, data)")
    tide = measures["tidegate"]
    best_pandera = min(measures["pandera_pandas"].seconds, measures["pandera_polars"].seconds)
    best_peer_rss = min(measures[t].peak_rss_mb for t in TOOLS if t != "tidegate")
    vs_pandera = best_pandera / tide.seconds
    vs_gx = measures["gx"].seconds / tide.seconds

    without, with_rules = runs["without"], runs["with"]
    overhead = (with_rules.seconds - without.seconds) / without.seconds
    print(f"\nCSV -> DuckDB run (bench/load_csv.py's pipeline), {rows:,} rows, best of {repeat}")
    print(f"{'':20}{'seconds':>10}{'rows/s':>14}{'peak RSS MB':>14}")
    for name, m in (("without rules", without), ("with the 10 rules", with_rules)):
        print(f"{name:20}{m.seconds:>10.2f}{rows / m.seconds:>14,.0f}{m.peak_rss_mb:>14.1f}")

    targets = {
        "as fast as the fastest pandera back-end": vs_pandera >= 1.0,
        ">= 10x faster than Great Expectations": vs_gx >= 10.0,
        "less peak memory than every peer": tide.peak_rss_mb < best_peer_rss,
        "rules cost <= 15% of the CSV -> DuckDB run": overhead <= 0.15,
    }
    print(f"\nspeed-up: {vs_pandera:.2f}x the best pandera, {vs_gx:.1f}x GX; run: {overhead:+.1%}")
    for target, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {target}")
    summary = {
        "rows": rows,
        "tidegate_s": round(tide.seconds, 3),
        "pandera_pandas_s": round(measures["pandera_pandas"].seconds, 3),
        "pandera_polars_s": round(measures["pandera_polars"].seconds, 3),
        "gx_s": round(measures["gx"].seconds, 3),
        "speedup_vs_best_pandera": round(vs_pandera, 2),
        "speedup_vs_gx": round(vs_gx, 1),
        "in_run_overhead": round(overhead, 3),
        "tidegate_peak_rss_mb": round(tide.peak_rss_mb, 1),
        "best_peer_peak_rss_mb": round(best_peer_rss, 1),
        **{f"{t}_peak_rss_mb": round(measures[t].peak_rss_mb, 1) for t in TOOLS if t != "tidegate"},
        "run_without_rules_s": round(without.seconds, 3),
        "run_with_rules_s": round(with_rules.seconds, 3),
        "targets_met": all(targets.values()),
    }
    print(json.dumps(summary), flush=True)


# -- the child side ------------------------------------------------------------------------------


def _child(kind: str, *, data: Path, out: Path, rows: int, seed: int) -> int:
    """The work of one child: load and build before the clock, validate while it runs."""
    if kind == "prepare":
        return _prepare(data, out, rows=rows, seed=seed)
    if kind == "run":
        import tidegate  # noqa: PLC0415

        began = time.perf_counter()
        result = tidegate.run(data, raise_on_error=False)
        seconds = time.perf_counter() - began
        if not result.ok:
            print(result.error, file=sys.stderr)
            return 1
        return _harness.report(seconds, result.rows_written)
    load = {
        "tidegate": _tidegate,
        "pandera_pandas": _pandera_pandas,
        "pandera_polars": _pandera_polars,
        "gx": _gx,
    }[kind]
    validate, checked = load(data)
    loaded_mb = _fresh_peak()
    began = time.perf_counter()
    failures = validate()
    seconds = time.perf_counter() - began
    out.write_text(json.dumps({"failures": failures, "loaded_rss_mb": loaded_mb}))
    return _harness.report(seconds, checked)


def _prepare(parquet: Path, out: Path, *, rows: int, seed: int) -> int:
    """Generate the CSV, write it as Parquet, and count ``unique``'s two readings (untimed).

    Strings read empty as null, as the demo data means them ("a required field left blank").
    """
    import numpy as np  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.csv as pa_csv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from tidegate.app.demo_data import CUSTOMER_SCHEMA, generate  # noqa: PLC0415

    csv = parquet.parent / "data" / "customers.csv"
    generate(csv.parent, rows=rows, seed=seed)
    options = pa_csv.ConvertOptions(
        column_types=CUSTOMER_SCHEMA, strings_can_be_null=True, null_values=[""]
    )
    table = pa_csv.read_csv(csv, convert_options=options)
    pq.write_table(table, parquet)
    ids = table["customer_id"].drop_null()
    counts = pc.value_counts(ids).field("counts").to_numpy()
    repeated = counts[counts > 1]
    reference = {"repeats": int(np.sum(repeated - 1)), "involved": int(np.sum(repeated))}
    out.write_text(json.dumps(reference))
    return _harness.report(0.0, table.num_rows)


def _fresh_peak() -> float:
    """Forget the peak of loading; the RSS now, in MB (Linux).

    Writing 5 to ``/proc/self/clear_refs`` resets the high-water mark that ``wait4`` reports,
    so the parent sees the peak from here on: the loaded data plus what validating adds.
    """
    gc.collect()
    if "pyarrow" in sys.modules:  # freed Arrow buffers may stay mapped in its allocator
        import pyarrow as pa  # noqa: PLC0415

        pa.default_memory_pool().release_unused()
    Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


def _tidegate(parquet: Path) -> tuple[Validate, int]:
    """A pyarrow Table and ``check_table`` with the ``quality:`` section.

    The section is parsed into its ``QualitySpec`` before the clock, as the peers build their
    schema or suite before theirs, and DuckDB (Tidegate's rule engine, imported on first use)
    is imported before it too, as the peers' libraries are.
    """
    import duckdb  # noqa: F401, PLC0415 - the engine loads before the clock, like the peers'
    import pyarrow.parquet as pq  # noqa: PLC0415

    from tidegate.quality import check_table  # noqa: PLC0415
    from tidegate.spec.quality import QualitySpec  # noqa: PLC0415

    table = pq.read_table(parquet)
    spec = QualitySpec.model_validate(QUALITY)

    def validate() -> dict[str, int]:
        report = check_table(table, spec)
        return {rule: int(n) for rule, n in report.failures.items() if n}

    return validate, table.num_rows


def _pandas_frame(parquet: Path) -> pd.DataFrame:
    """The Parquet file as pandas' own types: dates as datetime64, strings Arrow-backed.

    Plain ``pd.read_parquet`` gives dates as Python ``date`` objects, which every comparison
    would walk one by one; ``datetime64`` is the form pandas computes on, so pandera and GX
    get their best case.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    table = pq.read_table(parquet)
    frame = table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)
    del table
    return frame


def _pandera_pandas(parquet: Path) -> tuple[Validate, int]:
    """pandera's pandas back-end: one ``DataFrameSchema``, ``validate(lazy=True)``.

    ``unique`` is a custom check on ``Series.duplicated(keep="first")``: pandera's built-in
    ``unique=True`` takes the nulls of a column for duplicates of each other, which no other
    tool here does (nulls pass every rule but ``not_null``). Pandera drops nulls before a
    column check runs (``ignore_na``), so the check sees the present ids only.
    """
    import pandas as pd  # noqa: PLC0415
    import pandera.pandas as pa  # noqa: PLC0415
    from pandera.errors import SchemaErrors  # noqa: PLC0415

    frame = _pandas_frame(parquet)
    today = pd.Timestamp(dt.date.today())
    low, high = (pd.Timestamp(day) for day in BORN)

    def signup_after_birth(df: pd.DataFrame) -> pd.Series:
        signup, birth = df["signup_date"], df["birth_date"]
        return (signup >= birth) | signup.isna() | birth.isna()

    schema = pa.DataFrameSchema(
        {
            "customer_id": pa.Column(
                nullable=False,
                checks=pa.Check(lambda s: ~s.duplicated(keep="first"), error=UNIQUE),
            ),
            "email": pa.Column(
                nullable=False, checks=pa.Check.str_matches(EMAIL, error="email.regex")
            ),
            "country": pa.Column(
                nullable=True, checks=pa.Check.isin(SHIPPED_TO, error="country.allowed_values")
            ),
            "first_name": pa.Column(
                nullable=True, checks=pa.Check.str_length(*NAME_LENGTH, error="first_name.length")
            ),
            "birth_date": pa.Column(
                nullable=True, checks=pa.Check.in_range(low, high, error="birth_date.between")
            ),
            "signup_date": pa.Column(
                nullable=True, checks=pa.Check.le(today, error="signup_date.not_in_future")
            ),
            "postal_code": pa.Column(
                nullable=True, checks=pa.Check.str_matches(POSTAL, error="postal_code.regex")
            ),
        },
        checks=pa.Check(signup_after_birth, error="signup_after_birth"),
    )

    def validate() -> dict[str, int]:
        try:
            schema.validate(frame, lazy=True)
        except SchemaErrors as exc:
            cases = exc.failure_cases
            rule = cases["check"].where(
                cases["check"] != "not_nullable", cases["column"] + ".not_null"
            )
            counts = cases.assign(rule=rule).groupby("rule")["index"].nunique()
            return {str(k): int(v) for k, v in counts.items()}
        return {}

    return validate, len(frame)


def _pandera_polars(parquet: Path) -> tuple[Validate, int]:
    """pandera's polars back-end: one ``DataFrameSchema``, ``validate(lazy=True)``.

    ``unique`` is a custom check on ``is_first_distinct`` for the reason given in
    ``_pandera_pandas`` (the polars back-end's ``unique=True`` also counts nulls as repeats).
    """
    import pandera.polars as pa  # noqa: PLC0415
    import polars as pl  # noqa: PLC0415
    from pandera.errors import SchemaErrors  # noqa: PLC0415

    frame = pl.read_parquet(parquet)
    today = dt.date.today()

    def first_of_its_id(data: pa.PolarsData) -> pl.LazyFrame:
        key = pl.col(data.key)
        return data.lazyframe.select(key.is_first_distinct() | key.is_null())

    def signup_after_birth(data: pa.PolarsData) -> pl.LazyFrame:
        # a comparison with a null is null, and pandera's ignore_na lets null results pass
        return data.lazyframe.select(pl.col("signup_date") >= pl.col("birth_date"))

    schema = pa.DataFrameSchema(
        {
            "customer_id": pa.Column(
                nullable=False, checks=pa.Check(first_of_its_id, error=UNIQUE)
            ),
            "email": pa.Column(
                nullable=False, checks=pa.Check.str_matches(EMAIL, error="email.regex")
            ),
            "country": pa.Column(
                nullable=True, checks=pa.Check.isin(SHIPPED_TO, error="country.allowed_values")
            ),
            "first_name": pa.Column(
                nullable=True, checks=pa.Check.str_length(*NAME_LENGTH, error="first_name.length")
            ),
            "birth_date": pa.Column(
                nullable=True, checks=pa.Check.in_range(*BORN, error="birth_date.between")
            ),
            "signup_date": pa.Column(
                nullable=True, checks=pa.Check.le(today, error="signup_date.not_in_future")
            ),
            "postal_code": pa.Column(
                nullable=True, checks=pa.Check.str_matches(POSTAL, error="postal_code.regex")
            ),
        },
        checks=pa.Check(signup_after_birth, error="signup_after_birth"),
    )

    def validate() -> dict[str, int]:
        try:
            schema.validate(frame, lazy=True)
        except SchemaErrors as exc:
            cases = exc.failure_cases
            rule = (
                pl.when(pl.col("check") == "not_nullable")
                .then(pl.col("column") + ".not_null")
                .otherwise(pl.col("check"))
            )
            counts = cases.group_by(rule.alias("rule")).agg(pl.col("index").n_unique())
            return {str(k): int(v) for k, v in counts.iter_rows()}
        return {}

    return validate, frame.height


def _gx(parquet: Path) -> tuple[Validate, int]:
    """Great Expectations 1.x: ephemeral context, pandas data source, one suite, BASIC results.

    BASIC is the least result format that still gives ``unexpected_count`` per expectation.
    Progress bars and usage analytics are off: neither is validation.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx  # noqa: PLC0415
    import great_expectations.expectations as gxe  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415
    from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: PLC0415

    frame = _pandas_frame(parquet)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("bench")
        .add_dataframe_asset("customers")
        .add_batch_definition_whole_dataframe("all")
    )
    low, high = (pd.Timestamp(day) for day in BORN)
    expectations = {
        "customer_id.not_null": gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        UNIQUE: gxe.ExpectColumnValuesToBeUnique(column="customer_id"),
        "email.not_null": gxe.ExpectColumnValuesToNotBeNull(column="email"),
        "email.regex": gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL),
        "country.allowed_values": gxe.ExpectColumnValuesToBeInSet(
            column="country", value_set=list(SHIPPED_TO)
        ),
        "first_name.length": gxe.ExpectColumnValueLengthsToBeBetween(
            column="first_name", min_value=NAME_LENGTH[0], max_value=NAME_LENGTH[1]
        ),
        "birth_date.between": gxe.ExpectColumnValuesToBeBetween(
            column="birth_date", min_value=low, max_value=high
        ),
        "signup_date.not_in_future": gxe.ExpectColumnValuesToBeBetween(
            column="signup_date", max_value=pd.Timestamp(dt.date.today())
        ),
        "postal_code.regex": gxe.ExpectColumnValuesToMatchRegex(column="postal_code", regex=POSTAL),
        "signup_after_birth": gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="signup_date",
            column_B="birth_date",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
    }
    suite = context.suites.add(gx.ExpectationSuite(name="customers"))
    for rule, expectation in expectations.items():
        expectation.meta = {"rule": rule}
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="customers", data=batch, suite=suite)
    )

    def validate() -> dict[str, int]:
        result = definition.run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "BASIC"}
        )
        counts = {}
        for outcome in result.results:
            rule = outcome.expectation_config.meta["rule"]
            if outcome.exception_info.get("raised_exception"):
                _harness.fail(f"GX raised on {rule}: {outcome.exception_info}")
            counts[rule] = int(outcome.result["unexpected_count"])
        return {rule: n for rule, n in counts.items() if n}

    return validate, len(frame)


if __name__ == "__main__":
    raise SystemExit(main())
