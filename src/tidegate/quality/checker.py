"""Evaluates a rule set over batches: which rows fail which rule, with state across batches.

Per batch, one compiled DuckDB query yields a pass/fail column per SQL rule and a key hash per
``unique`` rule; ``custom`` rules call the user's vectorized function. Rules that span the run
keep compact state only: the sorted 64-bit hashes of the keys seen so far (8 bytes a key, so a
duplicate that straddles two batches is caught), the running row count, the newest timestamp.

Hashes can collide: with 64 bits, the chance that two of ten million distinct keys share a hash
is about 3 in a million, and such a pair would be reported as a duplicate. That is the price of
not keeping the keys themselves.
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core.imports import import_function
from tidegate.errors import ConfigError, DataError, InternalError, TidegateError
from tidegate.quality.arrow_rules import arrow_check, integer_key
from tidegate.quality.arrow_sql import arrow_predicate
from tidegate.quality.compiler import INPUT, CompiledQuery, RuleSchemaError, compile_rules
from tidegate.quality.referential import References
from tidegate.spec.scratch import scratch

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from tidegate.spec.quality import Rule

__all__ = ["RuleChecker"]


_MIN_SLICE_ROWS = 16_384
"""Batches are cut in slices of at least this many rows for the kernels to share the cores."""


@functools.cache
def _pool() -> ThreadPoolExecutor:
    """The threads that evaluate a batch's rules side by side, one per core, made once."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="tidegate-rules")


def _parts(rows: int) -> list[tuple[int, int]]:
    """``(start, length)`` slices of a batch, one per core for big batches: a rule's kernel
    (a regular expression over a text column, say) then uses every core, not one."""
    count = max(1, min(os.cpu_count() or 1, rows // _MIN_SLICE_ROWS))
    size = -(-rows // count) if rows else 0
    return (
        [(start, min(size, rows - start)) for start in range(0, rows, size)] if rows else [(0, 0)]
    )


def _works(kernel: Callable[[pa.RecordBatch], Any], empty: pa.RecordBatch) -> bool:
    """Whether Arrow accepts the kernel's types (tried on an empty batch of the schema)."""
    try:
        result = kernel(empty)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return bool(pa.types.is_boolean(result.type))


def _failing(kernel: Callable[[pa.RecordBatch], Any], batch: pa.RecordBatch) -> np.ndarray | None:
    """The rows ``kernel`` fails (True = failed), or None when every row passes."""
    failed = pc.fill_null(pc.invert(kernel(batch)), False)
    if not pc.any(failed).as_py():
        return None
    return np.asarray(failed.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass(frozen=True)
class _Plan:
    """How the rules run on batches of one schema."""

    query: CompiledQuery
    kernels: list[tuple[Rule, Callable[[pa.RecordBatch], Any]]]
    integer_keys: list[tuple[Rule, str]]


class RuleChecker:
    """Holds the compiled rules and the cross-batch state of one run."""

    def __init__(self, rules: Sequence[Rule], *, base_dir: Path, now: dt.datetime) -> None:

        self.rules = tuple(rules)
        self.base_dir = base_dir
        self.now = now
        self._con = scratch()
        self._references = References(self._con, base_dir)
        self._plans: dict[pa.Schema, _Plan] = {}
        self._described: dict[pa.Schema, dict[str, str]] = {}
        self._seen: dict[str, list[np.ndarray]] = {}
        self._newest: dict[str, Any] = {}
        self._functions: dict[str, Callable[..., Any]] = {}
        self._seeds: dict[str, pa.Table] = {}
        self.rows = 0

    def seed(self, rule_id: str, keys: pa.Table) -> None:
        """Count the keys of ``keys`` as seen by unique rule ``rule_id`` (keys already loaded).

        They are hashed at the first batch, once its column types are known, so that a key read
        back from the destination in another type (a date as text) hashes like the batch's.
        """
        self._seeds[rule_id] = keys

    def problems(self, schema: pa.Schema) -> list[RuleSchemaError]:
        """What keeps the rules from running on batches of ``schema`` (empty when they can)."""
        try:
            query, problems = self._compile(schema)
        except RuleSchemaError as problem:
            return [problem]
        if not problems:
            empty = pa.RecordBatch.from_pylist([], schema=schema)
            try:
                self._run(query, empty)
            except DataError:
                problems.extend(self._culprits(query, empty))
        failing = {problem.rule.rule_id for problem in problems}
        for rule in self.rules:
            if rule.type == "custom" and rule.rule_id not in failing:
                try:
                    self._function(rule)
                except ConfigError as exc:
                    problems.append(RuleSchemaError(rule, exc.message, exc.hint))
        if not problems:
            self._plans[schema] = self._plan(schema, query)
        return problems

    def _culprits(self, query: CompiledQuery, empty: pa.RecordBatch) -> list[RuleSchemaError]:
        """The rules whose own SQL fails to bind, tried one by one (a user's expression)."""
        culprits = []
        for rule in query.predicates:
            single, _ = compile_rules(
                [rule], self._types(empty.schema), now=self.now, references=self._references
            )
            try:
                self._run(single, empty)
            except DataError as exc:
                culprits.append(
                    RuleSchemaError(rule, f"rule {rule.rule_id!r}: {exc.message}", exc.hint)
                )
        return culprits

    def knows(self, schema: pa.Schema) -> bool:
        """Whether batches of ``schema`` were checked already (their rules compiled)."""
        return schema in self._plans

    def check(self, batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        """The rows of ``batch`` failing each rule (True = failed), for rules that failed.

        The result lists the rules in the order they are written, whichever engine ran them.
        """
        plan = self._plans.get(batch.schema)
        if plan is None:
            query, problems = self._compile(batch.schema)
            if problems:
                first = problems[0]
                raise ConfigError(first.message, hint=first.hint)
            plan = self._plans[batch.schema] = self._plan(batch.schema, query)
        self.rows += batch.num_rows
        failed = self._by_kernels(plan, batch)
        for rule in self.rules:
            if rule.type == "custom":
                mask = self._custom(rule, batch)
                if mask.any():
                    failed[rule.rule_id] = mask
            elif rule.type == "freshness":
                self._observe_newest(rule, batch)
        return {rule.rule_id: failed[rule.rule_id] for rule in self.rules if rule.rule_id in failed}

    def _by_kernels(self, plan: _Plan, batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        """Run the Arrow kernels, the integer-key checks and the query side by side.

        pyarrow's kernels, NumPy's sorts and DuckDB release the GIL, so the rules of a batch
        spread over the machine's cores the way a DataFrame library's expressions do.
        """
        pool = _pool()
        whole = [(0, batch.num_rows)]
        parts = _parts(batch.num_rows)  # only regular expressions are worth cutting up
        sliced: list[tuple[str, list[tuple[int, int]], list[Future[np.ndarray | None]]]] = []
        for rule, kernel in plan.kernels:
            cuts = parts if rule.type == "regex" else whole
            jobs = [pool.submit(_failing, kernel, batch.slice(start, n)) for start, n in cuts]
            sliced.append((rule.rule_id, cuts, jobs))
        keys = [
            (rule.rule_id, pool.submit(self._integer_duplicates, rule, name, batch))
            for rule, name in plan.integer_keys
        ]
        query = pool.submit(self._by_query, plan.query, batch) if plan.query.sql_needed else None
        failed: dict[str, np.ndarray] = {}
        for rule_id, cuts, jobs in sliced:
            masks = [job.result() for job in jobs]
            if any(mask is not None for mask in masks):
                failed[rule_id] = np.concatenate(
                    [
                        np.zeros(length, dtype=bool) if mask is None else mask
                        for mask, (_, length) in zip(masks, cuts, strict=True)
                    ]
                )
        failed.update(
            (rule_id, mask) for rule_id, job in keys if (mask := job.result()) is not None
        )
        if query is not None:
            failed.update(query.result())
        return failed

    def _integer_duplicates(
        self, rule: Rule, name: str, batch: pa.RecordBatch
    ) -> np.ndarray | None:
        if rule.rule_id in self._seeds:
            self._hash_seed(rule, batch.schema)
        dupes = self._duplicates(rule.rule_id, pa.chunked_array([batch.column(name)]))
        return dupes if dupes.any() else None

    def _kernel(
        self, rule: Rule, schema: pa.Schema, name: str | None
    ) -> Callable[[pa.RecordBatch], Any] | None:
        """The rule as a function of a batch, when pyarrow.compute can evaluate it exactly."""
        if rule.type == "expression" and rule.sql is not None:
            return arrow_predicate(rule.sql, schema)
        if name is None:
            return None
        check = arrow_check(rule, schema.field(name).type, self.now)
        if check is None:
            return None
        return lambda batch: check(batch.column(name))

    def _by_query(self, query: CompiledQuery, batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        failed: dict[str, np.ndarray] = {}
        result = self._run(query, batch)
        for index, rule in enumerate(query.predicates):
            passed = result.column(f"p{index}").to_numpy(zero_copy_only=False)
            if not passed.all():
                failed[rule.rule_id] = ~passed
        for index, rule in enumerate(query.hashes):
            if rule.rule_id in self._seeds:
                self._hash_seed(rule, batch.schema)
            dupes = self._duplicates(rule.rule_id, result.column(f"h{index}"))
            if dupes.any():
                failed[rule.rule_id] = dupes
        return failed

    def _plan(self, schema: pa.Schema, query: CompiledQuery) -> _Plan:
        """Split the compiled rules: Arrow kernels where they are exact, one query for the rest."""
        kernels: list[tuple[Rule, Callable[[pa.RecordBatch], Any]]] = []
        integer_keys: list[tuple[Rule, str]] = []
        rest: list[Rule] = []
        empty = pa.RecordBatch.from_pylist([], schema=schema)
        for rule in (*query.predicates, *query.hashes):
            name = _name_in(schema, rule.key_columns[0]) if rule.key_columns else None
            if rule.type == "unique":
                if name and len(rule.key_columns) == 1 and integer_key(schema.field(name).type):
                    integer_keys.append((rule, name))
                    continue
            else:
                kernel = self._kernel(rule, schema, name)
                if kernel is not None and _works(kernel, empty):
                    kernels.append((rule, kernel))
                    continue
            rest.append(rule)
        remaining, _ = compile_rules(
            rest, self._types(schema), now=self.now, references=self._references
        )
        return _Plan(query=remaining, kernels=kernels, integer_keys=integer_keys)

    def newest(self, rule: Rule) -> Any:
        """The newest value of a freshness rule's column seen so far (None when all null)."""
        return self._newest.get(rule.rule_id)

    def _types(self, schema: pa.Schema) -> dict[str, str]:
        """Column name -> DuckDB type, as DuckDB sees a batch of ``schema``."""
        known = self._described.get(schema)
        if known is not None:
            return known
        self._con.register(INPUT, pa.RecordBatch.from_pylist([], schema=schema))
        try:
            described = self._con.execute(f"DESCRIBE SELECT * FROM {INPUT}").fetchall()
        finally:
            self._con.unregister(INPUT)
        types = self._described[schema] = {str(row[0]): str(row[1]) for row in described}
        return types

    def _compile(self, schema: pa.Schema) -> tuple[CompiledQuery, list[RuleSchemaError]]:
        return compile_rules(
            self.rules, self._types(schema), now=self.now, references=self._references
        )

    def _run(self, query: CompiledQuery, batch: pa.RecordBatch) -> pa.Table:
        import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

        self._con.register(INPUT, batch)
        try:
            table: pa.Table = self._con.sql(query.sql, params=query.params).to_arrow_table()
        except duckdb.Error as exc:
            raise DataError(
                f"quality rules could not be evaluated: {str(exc).strip()}",
                hint="check the expression's SQL: column names and the types it compares",
            ) from exc
        finally:
            self._con.unregister(INPUT)
        return table.combine_chunks()

    def _duplicates(self, rule_id: str, hashes: pa.ChunkedArray) -> np.ndarray:
        """Rows whose key was seen before, in this batch or an earlier one (first one passes).

        The keys seen so far are kept as a few sorted runs of hashes whose sizes halve from
        one to the next (a log-structured merge): a batch is looked up in each run with a
        binary search of its own sorted keys, and its new keys become a run that is merged
        with the last one only while they are of similar size, so each hash is merged
        O(log n) times over a run instead of on every batch.
        """
        valid = pc.is_valid(hashes).to_numpy(zero_copy_only=False)
        keys = pc.fill_null(hashes, 0).to_numpy(zero_copy_only=False).astype(np.uint64)
        positions = np.flatnonzero(valid)
        dupes = np.zeros(len(keys), dtype=bool)
        if positions.size == 0:
            return dupes
        present = keys[positions]
        order = np.argsort(present, kind="stable")
        ordered = present[order]
        repeat = np.zeros(len(ordered), dtype=bool)
        repeat[1:] = ordered[1:] == ordered[:-1]
        earlier = np.zeros(len(ordered), dtype=bool)
        runs = self._seen.setdefault(rule_id, [])
        for run in runs:
            at = np.minimum(np.searchsorted(run, ordered), run.size - 1)
            earlier |= run[at] == ordered
        sorted_dupes = repeat | earlier
        unsorted = np.empty_like(sorted_dupes)
        unsorted[order] = sorted_dupes
        dupes[positions] = unsorted
        new = ordered[~sorted_dupes]
        if new.size:
            runs.append(new)
            while len(runs) > 1 and runs[-2].size <= 2 * runs[-1].size:
                merged = np.concatenate([runs.pop(-2), runs.pop()])
                merged.sort(kind="stable")  # two sorted runs: a linear merge
                runs.append(merged)
        return dupes

    def _hash_seed(self, rule: Rule, schema: pa.Schema) -> None:
        keys = self._seeds.pop(rule.rule_id)
        columns = []
        for name in rule.key_columns:
            wanted = schema.field(_name_in(schema, name)).type
            columns.append(keys[name].cast(wanted) if name in keys.column_names else None)
        if any(column is None for column in columns) or keys.num_rows == 0:
            return
        plan = self._plans.get(schema)
        if plan is not None and any(key is rule for key, _ in plan.integer_keys):
            self._duplicates(rule.rule_id, pa.chunked_array([columns[0]]))
            return
        seed = pa.table(dict(zip(rule.key_columns, columns, strict=True)))
        quoted = ", ".join(f'"{name}"' for name in rule.key_columns)
        self._con.register("_seed", seed)
        try:
            hashes = self._con.sql(f"SELECT hash({quoted}) AS h FROM _seed").to_arrow_table()
        finally:
            self._con.unregister("_seed")
        self._duplicates(rule.rule_id, hashes.column("h"))

    def _function(self, rule: Rule) -> Callable[..., Any]:
        """The custom rule's function, imported once (a typo is found before any row)."""
        function = self._functions.get(rule.rule_id)
        if function is None:
            assert rule.function is not None  # noqa: S101 - guaranteed by the spec's validation
            folder = self.base_dir / rule.pythonpath if rule.pythonpath else None
            function = import_function(
                rule.function, folder=folder, owner=f"quality rule {rule.rule_id!r}"
            )
            self._functions[rule.rule_id] = function
        return function

    def _custom(self, rule: Rule, batch: pa.RecordBatch) -> np.ndarray:
        function = self._function(rule)
        columns = [_name_in(batch.schema, name) for name in rule.columns or ()]
        data = batch.select(columns) if columns else batch
        try:
            result = function(data)
        except TidegateError:
            raise
        except Exception as exc:
            raise InternalError(
                f"quality rule {rule.rule_id!r}: {rule.function} raised "
                f"{type(exc).__name__}: {exc}",
                hint="fix the function; the traceback above shows where it failed",
            ) from exc
        try:
            array = result if isinstance(result, pa.Array | pa.ChunkedArray) else pa.array(result)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise _not_boolean(rule, type(result).__name__) from exc
        # no cast to boolean: it would take 0/1 or 'true'/'false' for verdicts, and a function
        # returning the wrong column (ids, counts) would pass silently
        if not (pa.types.is_boolean(array.type) or pa.types.is_null(array.type)):
            raise _not_boolean(rule, f"{type(result).__name__} of {array.type}")
        passed = pc.fill_null(array.cast(pa.bool_()), True).to_numpy(zero_copy_only=False)
        if len(passed) != batch.num_rows:
            raise InternalError(
                f"quality rule {rule.rule_id!r}: {rule.function} returned {len(passed)} values "
                f"for {batch.num_rows} rows",
                hint="return exactly one boolean per row of the batch",
            )
        return np.asarray(~passed, dtype=bool)

    def _observe_newest(self, rule: Rule, batch: pa.RecordBatch) -> None:
        assert rule.column is not None  # noqa: S101 - freshness is a column rule
        largest = pc.max(batch.column(_name_in(batch.schema, rule.column)))
        if pa.types.is_timestamp(largest.type) and largest.type.unit == "ns":
            # as_py() of nanoseconds needs pandas (not a dependency); a microsecond is plenty
            largest = largest.cast(pa.timestamp("us", largest.type.tz), safe=False)
        newest = largest.as_py()
        if newest is None:
            return
        current = self._newest.get(rule.rule_id)
        if current is None or newest > current:
            self._newest[rule.rule_id] = newest


def _name_in(schema: pa.Schema, name: str) -> str:
    """The batch's spelling of column ``name``: rules name columns ignoring case, as DuckDB."""
    if name in schema.names:
        return name
    return next((field for field in schema.names if field.lower() == name.lower()), name)


def _not_boolean(rule: Rule, what: str) -> InternalError:
    return InternalError(
        f"quality rule {rule.rule_id!r}: {rule.function} returned {what}, not a boolean array",
        hint="return a pyarrow boolean array (True for good rows), one value per row",
    )
