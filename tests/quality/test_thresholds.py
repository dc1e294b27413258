"""What the quality step does with failures: warn, reject, abort, the run's thresholds, profiles,
the whole-run rules (row_count, freshness), the rejected rows' bookkeeping and the figures.

Thresholds are judged on running totals after every batch, so most tables here are built from
several batches with ``pa.Table.from_batches``: the batch that crosses a threshold is named in
the error, and the batches before it were checked in full.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from tidegate.core.context import RunContext
from tidegate.core.protocols import REASON_COLUMN, ROW_COLUMN, RULES_COLUMN, StepResult
from tidegate.errors import DataError
from tidegate.events import EventBus, QualityMeasured
from tidegate.quality import QualityStep, check_table
from tidegate.spec.quality import QualitySpec
from tidegate.testing import RecordingListener

if TYPE_CHECKING:
    from tidegate.quality import QualityReport


def batches(*values: list[Any]) -> pa.Table:
    """A one-column table (``v``, int64) made of one batch per list, in order."""
    schema = pa.schema({"v": pa.int64()})
    return pa.Table.from_batches(
        [pa.record_batch({"v": pa.array(v, pa.int64())}, schema=schema) for v in values],
        schema=schema,
    )


def rule_figures(report: QualityReport) -> dict[str, tuple[int, bool, str]]:
    """Rule id -> (failed, passed, on_fail) from the report's QualityMeasured event."""
    return {
        str(rule["id"]): (int(rule["failed"]), bool(rule["passed"]), str(rule["on_fail"]))
        for rule in report.measured.rules
    }


# --- on_fail --------------------------------------------------------------------------------


def test_warn_counts_failures_and_keeps_every_row() -> None:
    table = batches([1, None, 3], [None, 5])

    report = check_table(table, {"on_fail": "warn", "columns": {"v": ["not_null"]}})

    assert report.failures == {"v.not_null": 2}
    assert report.rejected == 0
    assert report.quarantined is None
    assert report.valid.column("v").to_pylist() == [1, None, 3, None, 5]
    assert rule_figures(report) == {"v.not_null": (2, False, "warn")}


def test_reject_splits_failing_rows_off_with_row_numbers_rules_and_reasons() -> None:
    table = pa.Table.from_batches(
        [
            pa.record_batch({"id": [1, 2], "email": ["a@x.io", "nope"]}),
            pa.record_batch({"id": [None, 1], "email": ["c@x.io", "bad"]}),
        ]
    )
    quality = {
        "columns": {
            "id": ["not_null", "unique"],
            "email": [{"regex": {"pattern": "@", "message": "has no @"}}],
        }
    }

    report = check_table(table, quality)

    assert report.rows == 4
    assert report.rejected == 3
    assert report.valid.to_pylist() == [{"id": 1, "email": "a@x.io"}]
    assert report.quarantined is not None
    assert report.quarantined.schema.names == [
        "id",
        "email",
        ROW_COLUMN,
        RULES_COLUMN,
        REASON_COLUMN,
    ]
    assert report.quarantined.to_pylist() == [
        {
            "id": 2,
            "email": "nope",
            ROW_COLUMN: 2,
            RULES_COLUMN: "email.regex",
            REASON_COLUMN: "email.regex: email has no @",
        },
        {
            "id": None,
            "email": "c@x.io",
            ROW_COLUMN: 3,
            RULES_COLUMN: "id.not_null",
            REASON_COLUMN: "id.not_null: id is missing",
        },
        {
            # the rules in the order they are written
            "id": 1,
            "email": "bad",
            ROW_COLUMN: 4,
            RULES_COLUMN: "id.unique,email.regex",
            REASON_COLUMN: "id.unique: id repeats a value seen earlier in the run; "
            "email.regex: email has no @",
        },
    ]


def test_a_rejected_row_lists_the_warn_rules_it_failed_too() -> None:
    table = pa.table({"v": [5, 500, -1, 200]})
    quality = {
        "columns": {"v": [{"max": {"max": 100, "on_fail": "warn"}}, {"min": 0}]},
    }

    report = check_table(table, quality)

    assert report.failures == {"v.max": 2, "v.min": 1}
    assert report.valid.column("v").to_pylist() == [5, 500, 200]
    assert report.quarantined is not None
    assert report.quarantined.select([ROW_COLUMN, RULES_COLUMN, REASON_COLUMN]).to_pylist() == [
        {ROW_COLUMN: 3, RULES_COLUMN: "v.min", REASON_COLUMN: "v.min: v is below the minimum 0"}
    ]
    table = pa.table({"v": [500, -1]})
    quality = {"columns": {"v": [{"between": [0, 100]}, {"max": {"max": 10, "on_fail": "warn"}}]}}
    report = check_table(table, quality)
    assert report.quarantined is not None
    assert report.quarantined.column(RULES_COLUMN).to_pylist() == ["v.between,v.max", "v.between"]
    assert report.quarantined.column(REASON_COLUMN).to_pylist() == [
        "v.between: v is outside [0, 100]; v.max: v is above the maximum 10",
        "v.between: v is outside [0, 100]",
    ]


def test_abort_stops_at_the_first_failing_batch_naming_rule_count_and_source_row() -> None:
    table = batches([1, 2, 3], [4, None, None], [None])
    quality = {"columns": {"v": [{"not_null": {"on_fail": "abort", "severity": "critical"}}]}}

    with pytest.raises(DataError) as error:
        check_table(table, quality)

    assert error.value.message == (
        "quality rule 'v.not_null' (critical) failed on 2 rows of batch 2 "
        "(first at source row 5): v is missing"
    )
    assert error.value.location == "step 'quality'"
    assert error.value.hint is not None
    assert error.value.hint.startswith("on_fail is abort, so the run stopped")


def test_an_aborted_run_still_reports_the_rows_checked_until_then() -> None:
    spec = QualitySpec.model_validate(
        {
            "columns": {
                "v": [{"not_null": {"on_fail": "abort"}}, {"max": {"max": 2, "on_fail": "warn"}}]
            }
        }
    )
    recorder = RecordingListener()
    bus = EventBus()
    bus.subscribe(recorder)
    ctx = RunContext(run_id="r1", pipeline="p", bus=bus)
    step = QualityStep(spec)
    good = pa.record_batch({"v": [1, 2, 3]})
    bad = pa.record_batch({"v": [None, 4]})

    ctx.batch.number = 1
    assert step.process(good, ctx) is good
    ctx.batch.number, ctx.batch.first_row = 2, 4
    with pytest.raises(DataError, match=r"failed on 1 row of batch 2 \(first at source row 4\)"):
        step.process(bad, ctx)

    (measured,) = recorder.of(QualityMeasured)
    assert measured.final is False
    assert measured.rows == 5
    assert measured.rejected == 0
    assert [(rule["id"], rule["failed"], rule["passed"]) for rule in measured.rules] == [
        ("v.not_null", 1, False),
        ("v.max", 2, False),
    ]
    assert measured.dimensions["completeness"] == pytest.approx(0.8)
    assert measured.dimensions["validity"] == pytest.approx(0.6)


# --- the run's thresholds ---------------------------------------------------------------------


def test_max_rejects_stops_the_run_once_crossed_not_when_reached() -> None:
    table = batches([None, None, 1], [2, 3, 4], [None, 5, 6])
    quality: dict[str, Any] = {"max_rejects": 2, "columns": {"v": ["not_null"]}}

    with pytest.raises(DataError) as error:
        check_table(table, quality)
    report = check_table(batches([None, None, 1], [2, 3, 4]), quality)

    assert error.value.message == (
        "quality threshold crossed at batch 3: 3 rows rejected, more than max_rejects 2"
    )
    assert report.rejected == 2


def test_max_reject_ratio_is_judged_on_running_totals() -> None:
    tenth_bad = [None, *range(9)]
    quality: dict[str, Any] = {"max_reject_ratio": 0.1, "columns": {"v": ["not_null"]}}

    assert check_table(batches(tenth_bad, tenth_bad), quality).rejected == 2
    with pytest.raises(DataError) as error:
        check_table(batches(tenth_bad, [None, None, *range(8)], tenth_bad), quality)

    assert error.value.message == (
        "quality threshold crossed at batch 2: 3 of 20 rows rejected (15.00%), "
        "more than max_reject_ratio 10.00%"
    )


def test_max_reject_ratio_can_stop_the_first_batch() -> None:
    with pytest.raises(DataError, match=r"at batch 1: 1 of 2 rows rejected \(50\.00%\)"):
        check_table(
            batches([None, 1], list(range(100))),
            {"max_reject_ratio": 0.05, "columns": {"v": ["not_null"]}},
        )


def test_warned_rows_do_not_count_as_rejected() -> None:
    table = batches([None, None, None, 1])
    quality = {"max_rejects": 0, "columns": {"v": [{"not_null": {"on_fail": "warn"}}]}}

    report = check_table(table, quality)

    assert (report.rejected, report.failures) == (0, {"v.not_null": 3})


def test_per_rule_max_failures_counts_warned_rows() -> None:
    table = batches([1, 200], [300, 3], [400])
    rule = {"max": {"max": 100, "on_fail": "warn", "max_failures": 2}}

    with pytest.raises(DataError) as error:
        check_table(table, {"columns": {"v": [rule]}})

    assert error.value.message == (
        "quality threshold crossed at batch 3: rule 'v.max' failed on 3 rows, "
        "more than max_failures 2"
    )


def test_per_rule_max_failure_ratio() -> None:
    table = batches([1, 2, 3, 4], [None, 5, 6, 7], [None, None, 8, 9])
    rule = {"not_null": {"max_failure_ratio": 0.2}}

    with pytest.raises(DataError) as error:
        check_table(table, {"columns": {"v": [rule]}})

    assert error.value.message == (
        "quality threshold crossed at batch 3: rule 'v.not_null' failed on 3 of 12 rows "
        "(25.00%), more than max_failure_ratio 20.00%"
    )


# --- profiles ---------------------------------------------------------------------------------

PROFILED: dict[str, Any] = {
    "max_reject_ratio": 0.5,
    "profiles": {
        "prod": {"max_reject_ratio": 0.1},
        "dev": {
            "max_rejects": 100,
            "rules": {"v.not_null": {"on_fail": "warn", "severity": "info"}},
        },
        "strict": {"rules": {"v.min": {"on_fail": "abort"}, "v.not_null": {"max_failures": 0}}},
    },
    "columns": {"v": ["not_null", {"min": 0}]},
}


def test_a_profile_replaces_the_run_thresholds() -> None:
    table = batches([None, 1, 2, 3, 4], [5, 6, 7, 8, 9])

    assert check_table(table, PROFILED).rejected == 1
    with pytest.raises(DataError) as error:
        check_table(table, PROFILED, profile="prod")

    assert error.value.message == (
        "quality threshold crossed at batch 1: 1 of 5 rows rejected (20.00%), "
        "more than max_reject_ratio 10.00%"
    )


def test_a_profile_replaces_what_a_rule_does() -> None:
    table = batches([None, 1, -2])

    dev = check_table(table, PROFILED, profile="dev")
    with pytest.raises(DataError) as strict:
        check_table(table, PROFILED, profile="strict")

    assert dev.rejected == 1
    assert [(r["id"], r["on_fail"], r["severity"]) for r in dev.measured.rules] == [
        ("v.not_null", "warn", "info"),
        ("v.min", "reject", "error"),
    ]
    assert strict.value.message.startswith("quality rule 'v.min' (error) failed on 1 row")


def test_a_profile_the_section_does_not_define_leaves_it_as_written() -> None:
    table = batches([None, 1, 2])

    assert check_table(table, PROFILED, profile="staging").rejected == 1


# --- row_count --------------------------------------------------------------------------------


def test_row_count_max_stops_the_run_at_the_batch_that_crosses_it() -> None:
    quality: dict[str, Any] = {"table": [{"row_count": {"max": 5}}]}

    assert check_table(batches([1, 2, 3], [4, 5]), quality).failures == {"row_count": 0}
    with pytest.raises(DataError) as error:
        check_table(batches([1, 2, 3], [4, 5, 6], [7]), quality)

    assert error.value.message == "quality: rule 'row_count': 6 rows, more than max 5"


def test_row_count_min_is_judged_at_the_end() -> None:
    quality: dict[str, Any] = {"table": [{"row_count": {"min": 3, "max": 3}}]}

    assert check_table(batches([1], [2], [3]), quality).failures == {"row_count": 0}
    with pytest.raises(DataError) as error:
        check_table(batches([1], [2]), quality)

    assert error.value.message == "quality: rule 'row_count': 2 rows, fewer than min 3"
    assert error.value.hint is not None
    assert error.value.hint.startswith("nothing of the run's last batches was committed")


def test_row_count_min_on_empty_input() -> None:
    empty = batches()

    with pytest.raises(DataError, match=r"rule 'row_count': 0 rows, fewer than min 1"):
        check_table(empty, {"table": [{"row_count": {"min": 1}}]})
    report = check_table(empty, {"table": [{"row_count": {"min": 1, "on_fail": "warn"}}]})

    assert report.rows == 0
    assert rule_figures(report) == {"row_count": (1, False, "warn")}
    assert report.score is None


def test_row_count_with_warn_reports_instead_of_stopping() -> None:
    report = check_table(
        batches([1, 2], [3, 4]), {"table": [{"row_count": {"max": 3, "on_fail": "warn"}}]}
    )

    assert report.valid.num_rows == 4
    assert rule_figures(report) == {"row_count": (1, False, "warn")}


# --- freshness --------------------------------------------------------------------------------


def fresh(values: pa.Array, rule: Any) -> QualityReport:
    return check_table(pa.table({"t": values}), {"columns": {"t": [{"freshness": rule}]}})


def test_freshness_on_tz_aware_timestamps() -> None:
    now = dt.datetime.now(dt.UTC)
    values = pa.array(
        [now - dt.timedelta(hours=30), now - dt.timedelta(hours=5), None],
        pa.timestamp("us", tz="Asia/Tokyo"),
    )

    met = fresh(values, "6h")
    with pytest.raises(DataError) as error:
        fresh(values, "4h")

    assert rule_figures(met) == {"t.freshness": (0, True, "abort")}
    assert met.dimensions["timeliness"] == 1.0
    assert re.fullmatch(
        r"quality: rule 't\.freshness': newest t is \S+ \S+\+09:00 \(5\.0 hours old\), "
        r"older than max_age 4h",
        error.value.message,
    )


def test_freshness_reads_naive_timestamps_in_the_rules_timezone() -> None:
    berlin_an_hour_ago = dt.datetime.now(ZoneInfo("Europe/Berlin")).replace(
        tzinfo=None
    ) - dt.timedelta(hours=1)
    values = pa.array([berlin_an_hour_ago], pa.timestamp("ms"))

    in_berlin = fresh(values, {"max_age": "90m", "timezone": "Europe/Berlin"})
    # Kiritimati's clock is 12 or 13 hours ahead of Berlin's: the same wall time is older there
    in_kiritimati = fresh(
        values, {"max_age": "90m", "timezone": "Pacific/Kiritimati", "on_fail": "warn"}
    )

    assert rule_figures(in_berlin) == {"t.freshness": (0, True, "abort")}
    assert rule_figures(in_kiritimati) == {"t.freshness": (1, False, "warn")}
    assert in_kiritimati.dimensions["timeliness"] == 0.0
    assert in_kiritimati.score == 0.0


def test_freshness_counts_a_date_until_its_end_in_the_rules_timezone() -> None:
    zone = "America/New_York"
    three_days_ago = dt.datetime.now(ZoneInfo(zone)).date() - dt.timedelta(days=3)
    values = pa.array([three_days_ago - dt.timedelta(days=10), three_days_ago, None])

    met = fresh(values, {"max_age": "3d", "timezone": zone})
    with pytest.raises(DataError) as error:
        fresh(values, {"max_age": "2d", "timezone": zone})

    assert rule_figures(met) == {"t.freshness": (0, True, "abort")}
    assert re.fullmatch(
        rf"quality: rule 't\.freshness': newest t is {three_days_ago} \([23]\.\d days old\), "
        r"older than max_age 2d",  # 2.0 to 3.0 days, rounded
        error.value.message,
    )


def test_freshness_takes_the_newest_value_of_every_batch() -> None:
    now = dt.datetime.now(dt.UTC)
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                {"t": pa.array([now - dt.timedelta(days=9)], pa.timestamp("us", "UTC"))}
            ),
            pa.record_batch(
                {"t": pa.array([now - dt.timedelta(hours=1)], pa.timestamp("us", "UTC"))}
            ),
            pa.record_batch(
                {"t": pa.array([now - dt.timedelta(days=5)], pa.timestamp("us", "UTC"))}
            ),
        ]
    )

    report = check_table(table, {"columns": {"t": [{"freshness": "2h"}]}})

    assert report.failures == {"t.freshness": 0}


def test_freshness_reads_nanosecond_timestamps_to_the_microsecond() -> None:
    nanoseconds = int(dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC).timestamp()) * 10**9 + 1234
    values = pa.array([nanoseconds], pa.timestamp("ns", tz="UTC"))

    with pytest.raises(DataError) as error:
        fresh(values, "1d")

    assert error.value.message.startswith(
        "quality: rule 't.freshness': newest t is 2024-01-01 10:00:00.000001+00:00 ("
    )


def test_freshness_without_any_value_is_missed() -> None:
    values = pa.array([None, None], pa.timestamp("us"))

    with pytest.raises(DataError) as error:
        fresh(values, "1d")

    assert error.value.message == (
        "quality: rule 't.freshness': column 't' has no value to judge freshness by"
    )
    with pytest.raises(DataError, match="has no value to judge freshness by"):
        fresh(pa.array([], pa.date32()), "1d")


# --- the figures ------------------------------------------------------------------------------


def test_quality_measured_figures_and_score() -> None:
    now = dt.datetime.now(dt.UTC)
    past, future = now - dt.timedelta(hours=1), now + dt.timedelta(days=1)
    table = pa.Table.from_batches(
        [
            pa.record_batch(
                {
                    "id": pa.array([1, 2], pa.int64()),
                    "age": pa.array([10, 200], pa.int64()),
                    "email": ["a@x", "b"],
                    "start": pa.array([1, 1], pa.int64()),
                    "end": pa.array([2, 2], pa.int64()),
                    "at": pa.array([past, past], pa.timestamp("us", "UTC")),
                }
            ),
            pa.record_batch(
                {
                    "id": pa.array([2, None], pa.int64()),
                    "age": pa.array([30, 40], pa.int64()),
                    "email": ["c@x", None],
                    "start": pa.array([5, 1], pa.int64()),
                    "end": pa.array([2, None], pa.int64()),
                    "at": pa.array([future, past], pa.timestamp("us", "UTC")),
                }
            ),
        ]
    )
    quality = {
        "columns": {
            "id": ["not_null", "unique"],
            "age": [{"between": {"min": 0, "max": 120, "on_fail": "warn", "severity": "warning"}}],
            "email": [{"not_null": {"on_fail": "warn"}}, {"regex": "@"}],
            "at": [{"not_in_future": {"on_fail": "warn"}}, {"freshness": "1d"}],
        },
        "table": [{"expression": {"sql": '"start" <= "end"', "on_fail": "warn"}}],
    }

    report = check_table(table, quality)

    # rejected: row 2 (email.regex), row 3 (id.unique), row 4 (id.not_null)
    assert (report.rows, report.rejected) == (4, 3)
    assert report.dimensions == {
        "completeness": pytest.approx((0.75 + 0.75) / 2),
        "validity": 0.75,  # row 2 fails both age and email
        "uniqueness": 0.75,
        "timeliness": pytest.approx((0.75 + 1.0) / 2),
        "consistency": 0.75,  # the NULL of row 4 passes
    }
    assert report.score == round(100 * (0.75 + 0.75 + 0.75 + 0.875 + 0.75) / 5, 1) == 77.5
    assert report.measured.final is True
    assert report.measured.columns == {
        "id": {"completeness": 0.75, "uniqueness": 0.75},
        "age": {"completeness": 1.0, "validity": 0.75},
        "email": {"completeness": 0.75, "validity": 0.75},
        "start": {"completeness": 1.0},
        "end": {"completeness": 0.75},
        "at": {"completeness": 1.0},
    }
    assert list(report.measured.rules) == [
        {
            "id": rule_id,
            "type": kind,
            "column": column,
            "severity": severity,
            "on_fail": on_fail,
            "checked": 4,
            "failed": failed,
            "passed": failed == 0,
        }
        for rule_id, kind, column, severity, on_fail, failed in [
            ("id.not_null", "not_null", "id", "error", "reject", 1),
            ("id.unique", "unique", "id", "error", "reject", 1),
            ("age.between", "between", "age", "warning", "warn", 1),
            ("email.not_null", "not_null", "email", "error", "warn", 1),
            ("email.regex", "regex", "email", "error", "reject", 1),
            ("at.not_in_future", "not_in_future", "at", "error", "warn", 1),
            ("at.freshness", "freshness", "at", "error", "abort", 0),
            ("expression", "expression", None, "error", "warn", 1),
        ]
    ]


def test_a_rule_that_finds_nothing_does_not_lower_the_score() -> None:
    table = batches([1, None, 3, 4])

    alone = check_table(table, {"on_fail": "warn", "columns": {"v": ["not_null"]}})
    with_more = check_table(
        table, {"on_fail": "warn", "columns": {"v": ["not_null", "unique", {"min": 0}]}}
    )

    assert alone.score == 75.0
    assert with_more.score == round(100 * (0.75 + 1.0 + 1.0) / 3, 1) == 91.7
    assert alone.dimensions["validity"] is None
    assert with_more.dimensions["validity"] == 1.0


def test_the_step_returns_the_batch_itself_when_nothing_is_rejected() -> None:
    spec = QualitySpec.model_validate({"columns": {"v": [{"min": 0}]}})
    ctx = RunContext(run_id="r1", pipeline="p", bus=EventBus())
    step = QualityStep(spec, row_numbers=False)
    good, bad = pa.record_batch({"v": [1, 2]}), pa.record_batch({"v": [3, -4, -5]})

    assert step.process(good, ctx) is good
    result = step.process(bad, ctx)

    assert isinstance(result, StepResult)
    assert result.batch.column(0).to_pylist() == [3]
    assert result.rejected is not None
    # without row numbers (after a step that may reorder rows) the column is there, empty
    assert result.rejected.column(ROW_COLUMN).to_pylist() == [None, None]
