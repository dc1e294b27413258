"""The ``quality:`` section as a spec: every shorthand becomes the explicit rule form, and rule
sets that cannot mean anything (duplicate ids, misplaced rules, bad patterns, unknown profile
rules) are refused when the pipeline is read, located at their file and line.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from tidegate.errors import SpecError
from tidegate.spec import load_pipeline
from tidegate.spec.quality import QualitySpec, Rule, parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry


def column_rule(item: Any, column: str = "c") -> Rule:
    """The one rule that ``item``, written under ``columns.<column>``, stands for."""
    (rule,) = QualitySpec.model_validate({"columns": {column: [item]}}).rules
    return rule


def table_rule(item: Any) -> Rule:
    (rule,) = QualitySpec.model_validate({"table": [item]}).rules
    return rule


def written(rule: Rule) -> dict[str, Any]:
    """The fields of ``rule`` that differ from the defaults, origin left out."""
    return rule.model_dump(exclude_defaults=True, exclude={"origin"})


def refused(quality: dict[str, Any]) -> str:
    """The message of the validation error that refuses ``quality``."""
    with pytest.raises(ValidationError) as error:
        QualitySpec.model_validate(quality)
    (problem,) = error.value.errors()
    return str(problem["msg"])


# --- shorthand -> explicit ----------------------------------------------------------------

COLUMN_SHORTHANDS = [
    ("not_null", {"type": "not_null"}),
    (
        {"not_null": {"on_fail": "warn", "severity": "warning", "blank_is_null": True}},
        {"type": "not_null", "on_fail": "warn", "severity": "warning", "blank_is_null": True},
    ),
    ("unique", {"type": "unique"}),
    ({"regex": "^[0-9]{5}$"}, {"type": "regex", "pattern": "^[0-9]{5}$"}),
    (
        {"regex": {"pattern": "^a", "case_insensitive": True}},
        {"type": "regex", "pattern": "^a", "case_insensitive": True},
    ),
    ({"between": [0, 120]}, {"type": "between", "min": 0, "max": 120}),
    ({"between": {"min": 0.5, "max": 1}}, {"type": "between", "min": 0.5, "max": 1}),
    (
        {"between": [dt.date(2024, 1, 1), "2024-12-31"]},
        {"type": "between", "min": dt.date(2024, 1, 1), "max": "2024-12-31"},
    ),
    ({"min": 0}, {"type": "min", "min": 0}),
    ({"max": 9.5}, {"type": "max", "max": 9.5}),
    ({"allowed_values": ["US", 1, True]}, {"type": "allowed_values", "values": ("US", 1, True)}),
    ({"length": 5}, {"type": "length", "min": 5, "max": 5}),
    ({"length": {"min": 1, "max": 100}}, {"type": "length", "min": 1, "max": 100}),
    ({"length": {"max": 3}}, {"type": "length", "max": 3}),
    ("not_in_future", {"type": "not_in_future"}),
    ({"not_in_future": "1h"}, {"type": "not_in_future", "tolerance": "1h"}),
    (
        {"not_in_future": {"tolerance": 90, "timezone": "Europe/Berlin"}},
        {"type": "not_in_future", "tolerance": 90, "timezone": "Europe/Berlin"},
    ),
    ({"freshness": "30d"}, {"type": "freshness", "max_age": "30d"}),
    ({"type": "int64"}, {"type": "type", "data_type": "int64"}),
    ({"type": "decimal(12,2)"}, {"type": "type", "data_type": "decimal(12,2)"}),
    (
        {"type": "date32", "on_fail": "warn"},
        {"type": "type", "data_type": "date32", "on_fail": "warn"},
    ),
    (
        {"type": {"data_type": "int32", "message": "not a whole number"}},
        {"type": "type", "data_type": "int32", "message": "not a whole number"},
    ),
    (
        {"referential": {"file": "countries.csv", "key": "code"}},
        {"type": "referential", "file": "countries.csv", "key": "code"},
    ),
    (
        {"referential": {"file": "countries.csv", "column": "code"}},
        {"type": "referential", "file": "countries.csv", "key": "code"},
    ),
    (
        {"referential": {"duckdb": "ref.duckdb", "table": "main.codes"}},
        {"type": "referential", "duckdb": "ref.duckdb", "table": "main.codes"},
    ),
    (
        {"type": "not_null", "id": "c_present", "max_failures": 3, "max_failure_ratio": 0.5},
        {"type": "not_null", "id": "c_present", "max_failures": 3, "max_failure_ratio": 0.5},
    ),
]


@pytest.mark.parametrize(("item", "explicit"), COLUMN_SHORTHANDS)
def test_column_shorthand_becomes_the_explicit_rule(item: Any, explicit: dict[str, Any]) -> None:
    rule = column_rule(item)

    assert written(rule) == {**explicit, "column": "c"}
    assert rule.origin == ("quality", "columns", "c", 0)


TABLE_SHORTHANDS = [
    ({"row_count": {"min": 1, "max": 10}}, {"type": "row_count", "min": 1, "max": 10}),
    ({"unique": {"columns": ["a", "b"]}}, {"type": "unique", "columns": ("a", "b")}),
    ({"unique": ["a", "b"]}, {"type": "unique", "columns": ("a", "b")}),
    ({"unique": "a"}, {"type": "unique", "columns": ("a",)}),
    ({"expression": "a >= b"}, {"type": "expression", "sql": "a >= b"}),
    (
        {"expression": {"id": "signup_after_birth", "sql": "signup >= birth"}},
        {"type": "expression", "id": "signup_after_birth", "sql": "signup >= birth"},
    ),
    ({"custom": "checks:valid_iban"}, {"type": "custom", "function": "checks:valid_iban"}),
    (
        {"custom": {"function": "checks:valid_iban", "columns": ["iban"], "pythonpath": "lib"}},
        {
            "type": "custom",
            "function": "checks:valid_iban",
            "columns": ("iban",),
            "pythonpath": "lib",
        },
    ),
]


@pytest.mark.parametrize(("item", "explicit"), TABLE_SHORTHANDS)
def test_table_shorthand_becomes_the_explicit_rule(item: Any, explicit: dict[str, Any]) -> None:
    rule = table_rule(item)

    assert written(rule) == explicit
    assert rule.origin == ("quality", "table", 0)


def test_default_ids_and_the_columns_a_rule_reads() -> None:
    spec = QualitySpec.model_validate(
        {
            "columns": {"email": ["not_null", {"regex": "@"}, {"regex": r"\.[a-z]+$"}]},
            "table": [
                {"unique": {"columns": ["a", "b"]}},
                {"unique": {"columns": ["c"]}},
                {"expression": "a > 0"},
            ],
        }
    )

    assert [(rule.rule_id, rule.key_columns) for rule in spec.rules] == [
        ("email.not_null", ("email",)),
        ("email.regex", ("email",)),
        ("email.regex_2", ("email",)),
        ("unique", ("a", "b")),
        ("unique_2", ("c",)),
        ("expression", ()),
    ]


def test_the_default_action_of_each_rule() -> None:
    spec = QualitySpec.model_validate(
        {
            "on_fail": "warn",
            "columns": {"t": ["not_null", {"freshness": "1d"}, {"regex": {"pattern": "x"}}]},
            "table": [{"row_count": {"min": 1}}, {"row_count": {"max": 9, "on_fail": "warn"}}],
        }
    )

    assert [(rule.rule_id, spec.action(rule)) for rule in spec.rules] == [
        ("t.not_null", "warn"),
        ("t.freshness", "abort"),
        ("t.regex", "warn"),
        ("row_count", "abort"),
        ("row_count_2", "warn"),
    ]


def test_a_type_rule_names_a_known_type() -> None:
    assert "unknown type 'int65' (did you mean 'int64'?)" in refused(
        {"columns": {"c": [{"type": "int65"}]}}
    )
    # `- type: not_nul` reads as the type rule: the message points at the rule meant
    message = refused({"columns": {"c": [{"type": "not_nul", "id": "x"}]}})
    assert message.startswith("Value error, unknown type 'not_nul'; use one of: int8")
    assert message.endswith("(or did you mean the rule 'not_null'?)")


def test_a_rule_set_written_in_python_is_not_changed_by_reading_it() -> None:
    item = {"regex": "a", "on_fail": "warn"}  # two keys: not a shorthand, refused
    quality = {"columns": {"c": ["not_null", item]}}

    with pytest.raises(ValidationError):
        QualitySpec.model_validate(quality)

    assert quality == {"columns": {"c": ["not_null", {"regex": "a", "on_fail": "warn"}]}}


def test_durations() -> None:
    assert parse_duration("30d") == dt.timedelta(days=30)
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("1w 2d") == dt.timedelta(days=9)
    assert parse_duration("250ms") == dt.timedelta(milliseconds=250)
    assert parse_duration(90) == dt.timedelta(seconds=90)
    assert parse_duration("1.5H") == dt.timedelta(minutes=90)
    with pytest.raises(ValueError, match="'5 parsecs' is not a duration"):
        parse_duration("5 parsecs")
    assert "'soon' is not a duration" in refused({"columns": {"t": [{"freshness": "soon"}]}})


# --- refused rule sets --------------------------------------------------------------------


def test_duplicate_ids_are_refused() -> None:
    explicit = {
        "columns": {"a": [{"not_null": {"id": "present"}}], "b": [{"not_null": {"id": "present"}}]}
    }
    clash = {"columns": {"a": ["not_null", {"unique": {"id": "a.not_null"}}]}}

    assert refused(explicit) == (
        "Value error, two rules have the id 'present': give one of them an id of its own"
    )
    assert "two rules have the id 'a.not_null'" in refused(clash)


def test_reject_is_refused_for_rules_judged_over_the_whole_run() -> None:
    assert refused({"table": [{"row_count": {"min": 1, "on_fail": "reject"}}]}) == (
        "Value error, row_count is judged over the whole run, so it cannot reject rows: "
        "use warn or abort"
    )
    assert "freshness is judged over the whole run" in refused(
        {"columns": {"t": [{"freshness": {"max_age": "1d", "on_fail": "reject"}}]}}
    )


def test_profiles_naming_unknown_rules_are_refused() -> None:
    quality = {
        "profiles": {"prod": {"rules": {"email.regx": {"on_fail": "abort"}}}},
        "columns": {"email": ["not_null", {"regex": "@"}]},
    }

    assert refused(quality) == (
        "Value error, profile 'prod' names unknown rules email.regx "
        "(rules: email.not_null, email.regex)"
    )


def test_a_profile_cannot_make_a_whole_run_rule_reject() -> None:
    quality = {
        "profiles": {"prod": {"rules": {"row_count": {"on_fail": "reject"}}}},
        "table": [{"row_count": {"min": 1}}],
    }

    assert refused(quality) == (
        "Value error, profile 'prod': row_count is judged over the whole run, "
        "so it cannot reject rows: use warn or abort"
    )


def test_a_profile_overrides_thresholds_and_rules() -> None:
    spec = QualitySpec.model_validate(
        {
            "max_reject_ratio": 0.5,
            "max_rejects": 10,
            "profiles": {
                "prod": {
                    "max_reject_ratio": 0.01,
                    "rules": {"email.regex": {"max_failures": 0, "severity": "critical"}},
                }
            },
            "columns": {"email": [{"regex": {"pattern": "@", "on_fail": "warn"}}]},
        }
    )

    prod = spec.for_profile("prod")
    (rule,) = prod.rules

    assert (prod.max_reject_ratio, prod.max_rejects) == (0.01, 10)
    assert (rule.max_failures, rule.severity, rule.on_fail) == (0, "critical", "warn")
    assert spec.for_profile(None) is spec
    assert spec.for_profile("nope") is spec


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        (
            {"columns": {"c": [{"row_count": {"min": 1}}]}},
            "row_count (column 'c') spans columns: put it under quality.table",
        ),
        (
            {"columns": {"c": [{"expression": "c > 0"}]}},
            "expression (column 'c') spans columns: put it under quality.table",
        ),
        (
            {"table": ["not_null"]},
            "not_null checks one column: put it under quality.columns.<column>",
        ),
        ({"table": ["unique"]}, "unique under quality.table needs columns: [..]"),
        (
            {"table": [{"freshness": "1d"}]},
            "freshness checks one column: put it under quality.columns",
        ),
    ],
)
def test_misplaced_rules_are_refused(quality: dict[str, Any], message: str) -> None:
    assert refused(quality) == f"Value error, {message}"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"between": [5, 1]}, "min 5 is greater than max 1"),
        ({"between": {}}, "between needs min, max or both"),
        ({"length": 2.5}, "length bounds are whole numbers, got 2.5"),
        ({"length": {"min": 3, "max": 1}}, "min 3 is greater than max 1"),
        ("regex", "regex needs 'pattern'"),
        ("allowed_values", "allowed_values needs 'values'"),
        ("min", "min needs 'min'"),
        ("freshness", "freshness needs 'max_age'"),
        (
            {"referential": {"file": "a.csv", "duckdb": "b.duckdb"}},
            "referential needs exactly one of file, duckdb or url",
        ),
        (
            {"referential": {"duckdb": "b.duckdb"}},
            "referential with duckdb needs table or query (one of them)",
        ),
        (
            {"referential": {"url": "sqlite:///x.db", "table": "t", "query": "SELECT 1"}},
            "referential with url needs table or query (one of them)",
        ),
    ],
)
def test_rule_arguments_that_do_not_fit_are_refused(item: Any, message: str) -> None:
    assert refused({"columns": {"c": [item]}}) == f"Value error, {message}"


def test_row_count_bounds_are_whole_numbers() -> None:
    assert refused({"table": [{"row_count": {"min": "1"}}]}) == (
        "Value error, row_count bounds are whole numbers, got '1'"
    )
    assert refused({"table": [{"row_count": {}}]}) == (
        "Value error, row_count needs min, max or both"
    )


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(unclosed", "missing )"),
        ("(?=ahead)", "invalid perl operator"),
        ("[z-a]", "invalid character class range"),
    ],
)
def test_invalid_regex_is_refused_with_re2s_reason(pattern: str, fragment: str) -> None:
    message = refused({"columns": {"c": [{"regex": pattern}]}})

    assert message.startswith(f"Value error, {pattern!r} is not a valid RE2 pattern: ")
    assert fragment in message


def test_invalid_sql_expressions_are_refused() -> None:
    assert "is not a valid SQL expression" in refused({"table": [{"expression": "a >>> ("}]})
    assert refused({"table": [{"expression": "a > 0; DROP TABLE t"}]}) == (
        "Value error, an expression is one SQL predicate, without ';'"
    )


def test_unknown_rules_options_and_zones_are_refused() -> None:
    assert refused({"columns": {"c": [{"not_null": "yes"}]}}) == "Extra inputs are not permitted"
    assert refused({"columns": {"c": [{"between": 5}]}}) == "Extra inputs are not permitted"
    with pytest.raises(ValidationError) as unknown:
        QualitySpec.model_validate({"columns": {"c": [{"regx": "^a"}]}})
    assert [(e["loc"], e["type"]) for e in unknown.value.errors()] == [
        (("columns", "c", 0, "type"), "literal_error"),
        (("columns", "c", 0, "regx"), "extra_forbidden"),
    ]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        QualitySpec.model_validate({"columns": {"c": [{"not_null": {"blank": True}}]}})
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        QualitySpec.model_validate(
            {"columns": {"c": [{"not_in_future": {"timezone": "Mars/Olympus"}}]}}
        )
    with pytest.raises(ValidationError, match="String should match pattern"):
        QualitySpec.model_validate({"columns": {"c": [{"not_null": {"id": "has space"}}]}})


# --- in a pipeline file -------------------------------------------------------------------

PIPELINE = """
name: people
source:
  type: csv
  path: people.csv
destination:
  type: duckdb
  table: people
quality:
  columns:
    signup:
      - between: [2024-01-01, 2024-12-31]
      - type: date32
    email:
      - not_null
      - regex: '(unclosed'
  table:
    - row_count: {min: 1, on_fail: reject}
"""


def test_problems_in_a_pipeline_file_are_located_at_their_line(
    write: Callable[..., Path], registry: Registry
) -> None:
    with pytest.raises(SpecError) as error:
        load_pipeline(write(PIPELINE), registry=registry)

    assert [(p.line, p.path) for p in error.value.problems] == [
        (15, "quality.columns.email.1"),
        (17, "quality.table.0"),
    ]
    assert error.value.problems[1].message == (
        "row_count is judged over the whole run, so it cannot reject rows: use warn or abort"
    )


def test_a_valid_pipeline_keeps_yaml_dates_as_text_for_the_column_type_to_read(
    write: Callable[..., Path], registry: Registry
) -> None:
    valid = PIPELINE.replace("'(unclosed'", "'@'").replace("on_fail: reject", "on_fail: warn")

    spec = load_pipeline(write(valid), registry=registry)

    assert spec.quality is not None
    between, data_type, _, regex, row_count = spec.quality.rules
    # cast to the column's type when the rule runs, so a date column compares dates
    assert (between.min, between.max) == ("2024-01-01", "2024-12-31")
    assert (data_type.type, data_type.data_type) == ("type", "date32")
    assert regex.pattern == "@"
    assert row_count.origin == ("quality", "table", 0)
