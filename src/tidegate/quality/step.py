"""The quality step: checks every batch against the ``quality:`` rules and acts on failures.

Per rule, ``on_fail`` decides: ``warn`` counts the failing rows and keeps them, ``reject``
splits them off with their reasons (the runner hands them to the destination's quarantine in
the same transaction as the batch), ``abort`` stops the run, and the runner rolls back the
batch that was not committed yet. Thresholds (``max_rejects``, ``max_reject_ratio``, and per
rule ``max_failures`` / ``max_failure_ratio``) are checked on running totals after every batch;
crossing one stops the run the same way, with a message naming the rule, the count and the
threshold. Rules over the whole run (``row_count`` min, ``freshness``) are judged in ``finish``,
before the final commit.

At the end (or when it stops the run) the step emits ``QualityMeasured``: per-rule counts, the
quality dimensions and the score.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidegate.core.protocols import REASON_COLUMN, ROW_COLUMN, RULES_COLUMN, StepResult
from tidegate.errors import DataError, Problem, SpecError
from tidegate.events import QualityMeasured
from tidegate.quality.checker import RuleChecker
from tidegate.quality.metrics import QualityTally
from tidegate.spec.quality import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tidegate.core.context import RunContext
    from tidegate.spec.quality import QualitySpec, Rule

__all__ = ["QualityStep", "describe_failure"]


def _unlocated(path: tuple[str | int, ...], message: str, hint: str | None) -> Problem:
    return Problem(
        file="<quality>", line=None, path=".".join(map(str, path)), message=message, hint=hint
    )


class QualityStep:
    """Checks batches against a ``QualitySpec``; one instance per run."""

    kind: ClassVar[str] = "quality"

    def __init__(
        self,
        spec: QualitySpec,
        *,
        name: str = "quality",
        base_dir: Path | None = None,
        row_numbers: bool = True,
        locate: Callable[[tuple[str | int, ...], str, str | None], Problem] | None = None,
        now: dt.datetime | None = None,
        whole_run: bool = True,
    ) -> None:
        self.name = name
        self.spec = spec
        self.row_numbers = row_numbers
        self.locate = locate or _unlocated
        self.now = now or dt.datetime.now(dt.UTC)
        self.checker = RuleChecker(spec.rules, base_dir=base_dir or Path.cwd(), now=self.now)
        self.tally = QualityTally(spec)
        self._actions = {rule.rule_id: spec.action(rule) for rule in spec.rules}
        self._rules = {rule.rule_id: rule for rule in spec.rules}
        self._reported = False
        self.whole_run = whole_run

    def seed_keys(self, read: Callable[[Sequence[str]], pa.Table]) -> None:
        """Let ``unique`` rules know the keys already loaded (``read`` returns them by columns).

        A replay checks a few quarantined rows; without the loaded keys, a row rejected as a
        duplicate would pass on its own and be loaded twice.
        """
        for rule in self.spec.rules:
            if rule.type == "unique":
                self.checker.seed(rule.rule_id, read(rule.key_columns))

    def check_schema(self, schema: pa.Schema) -> None:
        """Raise ``SpecError`` with every rule that cannot run on batches of ``schema``."""
        problems = self.checker.problems(schema)
        if problems:
            raise SpecError(
                [self.locate(p.rule.origin or ("quality",), p.message, p.hint) for p in problems]
            )

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch | StepResult:
        """The rows that pass (or only warn), and the rejected ones with their reasons."""
        if not self.checker.knows(batch.schema):
            self.check_schema(batch.schema)
        failed = self.checker.check(batch)
        reject = np.zeros(batch.num_rows, dtype=bool)
        for rule_id, mask in failed.items():
            action = self._actions[rule_id]
            if action == "abort":
                self.tally.add(batch, failed, 0)
                self._report(ctx, final=False)
                raise self._abort_error(self._rules[rule_id], mask, ctx)
            if action == "reject":
                reject |= mask
        rejected_rows = int(reject.sum())
        self.tally.add(batch, failed, rejected_rows)
        if self.whole_run:
            self._check_thresholds(ctx)
            self._check_row_count_max(ctx)
        if not rejected_rows:
            return batch
        return StepResult(
            batch=batch.filter(pa.array(~reject)),
            rejected=self._rejected(batch, reject, failed, ctx),
        )

    def finish(self, ctx: RunContext) -> None:
        """Judge the whole-run rules, then report the run's quality."""
        problems: list[str] = []
        for rule in self.spec.rules if self.whole_run else ():
            if rule.type == "row_count":
                problem = self._row_count_problem(rule, final=True)
            elif rule.type == "freshness":
                problem = self._freshness_problem(rule)
            else:
                continue
            if problem is None:
                continue
            if rule.type == "row_count":
                self.tally.failed[rule.rule_id] = 1
            if self._actions[rule.rule_id] == "abort":
                problems.append(problem)
        self._report(ctx, final=not problems)
        if problems:
            raise DataError(
                "quality: " + "; ".join(problems),
                location=f"step {self.name!r}",
                hint="nothing of the run's last batches was committed; fix the data or the "
                "rule, then run again",
            )

    def _report(self, ctx: RunContext, *, final: bool) -> None:
        if self._reported:
            return
        self._reported = True
        tally = self.tally
        ctx.emit(
            QualityMeasured(
                run_id=ctx.run_id,
                pipeline=ctx.pipeline,
                step=self.name,
                rows=tally.rows,
                rejected=tally.rejected,
                score=tally.score(),
                dimensions=tally.dimensions(),
                columns=tally.columns(),
                rules=tuple(
                    tally.rule_figures(rule, self._actions[rule.rule_id])
                    for rule in self.spec.rules
                ),
                final=final,
            )
        )

    def _rejected(
        self,
        batch: pa.RecordBatch,
        reject: np.ndarray,
        failed: dict[str, np.ndarray],
        ctx: RunContext,
    ) -> pa.RecordBatch:
        picked = pa.array(reject)
        rows = batch.filter(picked)
        reasons: list[pa.Array] = []
        ids: list[pa.Array] = []
        for rule_id, mask in failed.items():
            hit = pa.array(mask).filter(picked)
            rule = self._rules[rule_id]
            subject = f"{rule.column} " if rule.column else ""
            reasons.append(pc.if_else(hit, f"{rule_id}: {subject}{describe_failure(rule)}", None))
            ids.append(pc.if_else(hit, rule_id, None))
        reason = pc.binary_join_element_wise(*reasons, "; ", null_handling="skip")
        rule_ids = pc.binary_join_element_wise(*ids, ",", null_handling="skip")
        if self.row_numbers:
            numbers = pa.array(np.flatnonzero(reject) + ctx.batch.first_row, type=pa.int64())
        else:
            numbers = pa.nulls(rows.num_rows, type=pa.int64())
        columns = [*rows.columns, numbers, rule_ids, reason]
        names = [*rows.schema.names, ROW_COLUMN, RULES_COLUMN, REASON_COLUMN]
        return pa.RecordBatch.from_arrays(columns, names=names)

    def _abort_error(self, rule: Rule, mask: np.ndarray, ctx: RunContext) -> DataError:
        count = int(mask.sum())
        first = int(np.flatnonzero(mask)[0])
        where = (
            f"first at source row {ctx.batch.first_row + first:,}"
            if self.row_numbers
            else f"first at row {first + 1:,} of the batch"
        )
        return DataError(
            f"quality rule {rule.rule_id!r} ({rule.severity}) failed on {count:,} "
            f"row{'s' if count != 1 else ''} of batch {ctx.batch.number} ({where}): "
            f"{rule.column or 'row'} {describe_failure(rule)}",
            location=f"step {self.name!r}",
            hint="on_fail is abort, so the run stopped and the batch was not committed; fix the "
            "data, or set on_fail: reject to quarantine such rows instead",
        )

    def _check_thresholds(self, ctx: RunContext) -> None:
        tally = self.tally
        spec = self.spec
        crossed: str | None = None
        if spec.max_rejects is not None and tally.rejected > spec.max_rejects:
            crossed = (
                f"{tally.rejected:,} rows rejected, more than max_rejects {spec.max_rejects:,}"
            )
        elif (
            spec.max_reject_ratio is not None
            and tally.rejected > spec.max_reject_ratio * tally.rows
        ):
            crossed = (
                f"{tally.rejected:,} of {tally.rows:,} rows rejected "
                f"({tally.rejected / tally.rows:.2%}), more than max_reject_ratio "
                f"{spec.max_reject_ratio:.2%}"
            )
        for rule in spec.rules:
            if crossed:
                break
            failures = tally.failed[rule.rule_id]
            if rule.max_failures is not None and failures > rule.max_failures:
                crossed = (
                    f"rule {rule.rule_id!r} failed on {failures:,} rows, more than "
                    f"max_failures {rule.max_failures:,}"
                )
            elif (
                rule.max_failure_ratio is not None
                and failures > rule.max_failure_ratio * tally.rows
            ):
                crossed = (
                    f"rule {rule.rule_id!r} failed on {failures:,} of {tally.rows:,} rows "
                    f"({failures / tally.rows:.2%}), more than max_failure_ratio "
                    f"{rule.max_failure_ratio:.2%}"
                )
        if crossed:
            self._report(ctx, final=False)
            raise DataError(
                f"quality threshold crossed at batch {ctx.batch.number}: {crossed}",
                location=f"step {self.name!r}",
                hint="the run stopped and that batch was not committed; see the reasons with "
                "`tidegate quarantine show`, fix the data or the rules, then run again",
            )

    def _check_row_count_max(self, ctx: RunContext) -> None:
        for rule in self.spec.rules:
            if rule.type != "row_count":
                continue
            problem = self._row_count_problem(rule, final=False)
            if problem and self._actions[rule.rule_id] == "abort":
                self.tally.failed[rule.rule_id] = 1
                self._report(ctx, final=False)
                raise DataError(
                    f"quality: {problem}",
                    location=f"step {self.name!r}",
                    hint="the run stopped and that batch was not committed",
                )

    def _row_count_problem(self, rule: Rule, *, final: bool) -> str | None:
        rows = self.tally.rows
        if isinstance(rule.max, int) and rows > rule.max:
            return f"rule {rule.rule_id!r}: {rows:,} rows, more than max {rule.max:,}"
        if final and isinstance(rule.min, int) and rows < rule.min:
            return f"rule {rule.rule_id!r}: {rows:,} rows, fewer than min {rule.min:,}"
        return None

    def _freshness_problem(self, rule: Rule) -> str | None:
        assert rule.max_age is not None  # noqa: S101 - guaranteed by the spec's validation
        newest = self.checker.newest(rule)
        age = _age(newest, self.now, rule.timezone)
        met = age is not None and age <= parse_duration(rule.max_age)
        self.tally.freshness_met[rule.rule_id] = met
        if met:
            return None
        if newest is None:
            return (
                f"rule {rule.rule_id!r}: column {rule.column!r} has no value to judge freshness by"
            )
        return (
            f"rule {rule.rule_id!r}: newest {rule.column} is {newest} ({_human(age)} old), "
            f"older than max_age {rule.max_age}"
        )


def _age(newest: Any, now: dt.datetime, zone: str) -> dt.timedelta | None:
    from zoneinfo import ZoneInfo  # noqa: PLC0415 - only for freshness rules

    if newest is None:
        return None
    if isinstance(newest, dt.datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=ZoneInfo(zone))
    else:
        moment = dt.datetime.combine(newest, dt.time.max, tzinfo=ZoneInfo(zone))
    return now - moment


def _human(age: dt.timedelta | None) -> str:
    if age is None:
        return "unknown"
    hours = age.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def describe_failure(rule: Rule) -> str:
    """What a failing value of ``rule`` is, for people (the rule's own message when it has one)."""
    if rule.message:
        return rule.message
    texts: dict[str, str] = {
        "not_null": "is missing" + (" or blank" if rule.blank_is_null else ""),
        "unique": "repeats a value seen earlier in the run",
        "between": f"is outside [{_bound(rule.min)}, {_bound(rule.max)}]",
        "min": f"is below the minimum {rule.min}",
        "max": f"is above the maximum {rule.max}",
        "regex": f"does not match {rule.pattern}",
        "allowed_values": f"is not one of {_listed(rule.values or ())}",
        "length": f"has a length outside [{_bound(rule.min)}, {_bound(rule.max)}]",
        "type": f"is not a valid {rule.data_type}",
        "not_in_future": "is in the future",
        "referential": f"has no match in {rule.file or rule.table or 'the reference query'}",
        "expression": f"fails {rule.sql}",
        "custom": f"fails {rule.function}",
    }
    return texts.get(rule.type, "fails")


def _bound(value: Any) -> str:
    return "…" if value is None else str(value)


def _listed(values: tuple[Any, ...]) -> str:
    shown = ", ".join(map(str, values[:5]))
    return shown + (f", … ({len(values)} values)" if len(values) > 5 else "")
