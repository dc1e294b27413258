"""The ``quality:`` section of ``pipeline.yaml``: data-quality rules and the run's thresholds.

Rules are written the way dbt users write tests: per column a list whose items are a rule name
(``- not_null``), a rule with its main argument (``- regex: '^[0-9]{5}$'``) or a rule with a
mapping of options (``- between: {min: 0, max: 120, on_fail: warn}``); rules over several
columns or the whole run go under ``table:``. A ``before`` validator turns every shorthand into
the one explicit form ``{type: regex, column: zip, pattern: ...}`` so that pydantic validates a
single shape, and records where in the file each rule was written (``origin``) so checks made
after loading — an unknown column, a type that cannot be compared — still point at file:line.

Regular expressions and SQL expressions are checked here, with DuckDB's own parser (the engine
that evaluates them), so a typo fails ``tidegate validate`` before any data is read.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tidegate.spec.scratch import scratch
from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = [
    "COLUMN_ONLY",
    "RULE_TYPES",
    "TABLE_ONLY",
    "OnFail",
    "QualityProfile",
    "QualitySpec",
    "Rule",
    "RuleOverride",
    "RuleType",
    "Severity",
    "parse_duration",
]

Severity = Literal["info", "warning", "error", "critical"]
OnFail = Literal["warn", "reject", "abort"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)
_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"

RuleType = Literal[
    "not_null",
    "unique",
    "between",
    "min",
    "max",
    "regex",
    "allowed_values",
    "length",
    "type",
    "not_in_future",
    "freshness",
    "referential",
    "row_count",
    "expression",
    "custom",
]
"""Every rule name the ``quality:`` section accepts."""

RULE_TYPES: tuple[str, ...] = get_args(RuleType)

TABLE_ONLY = frozenset({"row_count", "expression", "custom"})
"""Rules that look at several columns or the whole run, so they go under ``table:``."""

COLUMN_ONLY = frozenset(
    {"not_null", "between", "min", "max", "regex", "allowed_values", "length", "type"}
)
"""Rules about one column's values, so they go under ``columns:``."""

AGGREGATE = frozenset({"row_count", "freshness"})
"""Rules judged over the whole run rather than row by row: rows cannot be rejected by them."""

_MAIN_ARGUMENT = {
    "regex": "pattern",
    "allowed_values": "values",
    "min": "min",
    "max": "max",
    "type": "data_type",
    "not_in_future": "tolerance",
    "freshness": "max_age",
    "expression": "sql",
    "custom": "function",
    "unique": "columns",
}
"""What a scalar written after a rule name means: ``- regex: '^a'`` sets ``pattern``."""

# ms before m: alternatives are tried in order, and "250ms" must not read as 250m + "s"
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|w|d|h|m|s)", re.IGNORECASE)
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | float) -> dt.timedelta:
    """``"30d"``, ``"1h30m"``, ``"90s"`` or a number of seconds, as a timedelta."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return dt.timedelta(seconds=float(text))
    compact = str(text).replace(" ", "")
    matches = list(_DURATION.finditer(compact))
    if not matches or "".join(m.group(0) for m in matches) != compact:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, like 30d, 12h, 15m or 90s"
        )
    seconds = sum(float(m["n"]) * _UNITS[m["unit"].lower()] for m in matches)
    return dt.timedelta(seconds=seconds)


Scalar = bool | int | float | dt.datetime | dt.date | str
"""A literal a rule compares with; a string is cast to the column's type when the rule runs."""


class Rule(BaseModel):
    """One data-quality rule, in the explicit form every shorthand is turned into."""

    model_config = _FROZEN

    type: RuleType = Field(description="The rule: one of the names in the quality rules reference.")
    id: str | None = Field(
        default=None,
        pattern=_ID_PATTERN,
        description="Unique rule id; default <column>.<rule>, or <rule> for table rules.",
    )
    column: str | None = Field(default=None, description="The column, for a column rule.")
    severity: Severity = Field(
        default="error", description="How bad a failure is: info, warning, error or critical."
    )
    on_fail: OnFail | None = Field(
        default=None,
        description="warn (count and keep the row), reject (quarantine it) or abort the run; "
        "default from quality.on_fail (abort for row_count and freshness).",
    )
    max_failures: int | None = Field(
        default=None, ge=0, description="Abort the run once more rows than this fail the rule."
    )
    max_failure_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Abort once failing rows / checked rows exceeds this (running totals).",
    )
    message: str | None = Field(
        default=None, description="What a failure means, for people; replaces the default reason."
    )
    # rule arguments; each rule type uses some of them (checked below)
    blank_is_null: bool = Field(
        default=False, description="not_null: count empty and blank strings as missing too."
    )
    columns: tuple[str, ...] | None = Field(
        default=None,
        min_length=1,
        description="unique: the key columns; custom: the columns the function receives.",
    )
    min: Scalar | None = Field(
        default=None, description="between/min/length/row_count: smallest allowed (inclusive)."
    )
    max: Scalar | None = Field(
        default=None, description="between/max/length/row_count: largest allowed (inclusive)."
    )
    pattern: str | None = Field(
        default=None, description="regex: RE2 pattern a value must contain a match of."
    )
    case_insensitive: bool = Field(
        default=False, description="regex, allowed_values: ignore letter case."
    )
    values: tuple[Scalar, ...] | None = Field(
        default=None, min_length=1, description="allowed_values: the values allowed."
    )
    data_type: str | None = Field(
        default=None, description="type: the type every value must be castable to (int64, …)."
    )
    tolerance: str | float | None = Field(
        default=None, description="not_in_future: how far ahead of now is still allowed (5m)."
    )
    max_age: str | float | None = Field(
        default=None, description="freshness: the newest value may be at most this old (24h)."
    )
    timezone: str = Field(
        default="UTC",
        description="not_in_future/freshness: the zone of timestamps without one.",
    )
    sql: str | None = Field(
        default=None, description="expression: a DuckDB SQL predicate that holds for good rows."
    )
    function: str | None = Field(
        default=None,
        description="custom: module:function returning a boolean array, True for good rows.",
    )
    pythonpath: str | None = Field(
        default=None, description="custom: folder added to sys.path, relative to the pipeline."
    )
    file: str | None = Field(
        default=None, description="referential: CSV/Parquet/JSON file holding the allowed keys."
    )
    duckdb: str | None = Field(
        default=None, description="referential: DuckDB database file to read the keys from."
    )
    url: Secret | None = Field(
        default=None,
        description="referential: SQLAlchemy URL of a database to read the keys from "
        "(env:/file: secret references allowed).",
    )
    table: str | None = Field(default=None, description="referential: table holding the keys.")
    query: str | None = Field(default=None, description="referential: query returning the keys.")
    key: str | None = Field(
        default=None,
        description="referential: the key column of the file, table or query (default: the "
        "rule's column name, or the query's first column).",
    )
    origin: tuple[str | int, ...] = Field(
        default=(), description="Where the rule is written in the pipeline file (set by Tidegate)."
    )

    @field_validator("pattern")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _check_duckdb("SELECT regexp_matches('', $1)", [value], "is not a valid RE2 pattern")
        return value

    @field_validator("sql")
    @classmethod
    def _sql_parses(cls, value: str | None) -> str | None:
        if value is not None:
            _check_sql_parses(value)
        return value

    @field_validator("data_type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        from tidegate.spec.types import parse_type  # noqa: PLC0415 - only for type rules

        if value is not None:
            try:
                parse_type(value)
            except ValueError as exc:
                import difflib  # noqa: PLC0415 - only on the error path

                # `- type: not_nul` is read as the type rule; say so when a rule was meant
                near = difflib.get_close_matches(value, RULE_TYPES, n=1, cutoff=0.8)
                rule = f" (or did you mean the rule {near[0]!r}?)" if near else ""
                raise ValueError(f"{exc}{rule}") from exc
        return value

    @field_validator("tolerance", "max_age")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415 - rarely needed

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like UTC") from exc
        return value

    @model_validator(mode="after")
    def _arguments_fit(self) -> Rule:
        problem = _argument_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def rule_id(self) -> str:
        """The id, given or default (set by ``QualitySpec`` for every rule it holds)."""
        return self.id or (f"{self.column}.{self.type}" if self.column else self.type)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The columns the rule reads (empty for row_count and expression)."""
        if self.columns:
            return self.columns
        return (self.column,) if self.column else ()


def _argument_problem(rule: Rule) -> str | None:
    """What is wrong with the combination of arguments, or None."""
    kind = rule.type
    needs = {
        "regex": "pattern",
        "allowed_values": "values",
        "type": "data_type",
        "expression": "sql",
        "custom": "function",
        "freshness": "max_age",
        "min": "min",
        "max": "max",
    }
    problems: list[str] = []
    if kind in needs and getattr(rule, needs[kind]) is None:
        problems.append(f"{kind} needs {needs[kind]!r}")
    if kind in {"between", "length", "row_count"}:
        problems.extend(_bounds_problems(rule))
    if kind == "referential":
        sources = [name for name in ("file", "duckdb", "url") if getattr(rule, name)]
        if len(sources) != 1:
            problems.append("referential needs exactly one of file, duckdb or url")
        elif sources[0] != "file" and (rule.table is None) == (rule.query is None):
            problems.append(f"referential with {sources[0]} needs table or query (one of them)")
    if kind in AGGREGATE and rule.on_fail == "reject":
        problems.append(
            f"{kind} is judged over the whole run, so it cannot reject rows: use warn or abort"
        )
    return "; ".join(problems) or None


def _bounds_problems(rule: Rule) -> list[str]:
    if rule.min is None and rule.max is None:
        return [f"{rule.type} needs min, max or both"]
    if rule.type != "between":
        for bound in (rule.min, rule.max):
            if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
                return [f"{rule.type} bounds are whole numbers, got {bound!r}"]
    if rule.min is not None and rule.max is not None and _greater(rule.min, rule.max):
        return [f"min {rule.min!r} is greater than max {rule.max!r}"]
    return []


def _greater(low: Any, high: Any) -> bool:
    try:
        return bool(low > high)
    except TypeError:
        return False


def _check_duckdb(sql: str, params: list[Any], what: str) -> None:
    import duckdb  # noqa: PLC0415 - heavy engine imported on first use (DESIGN §2)

    try:
        scratch().execute(sql, params)
    except duckdb.Error as exc:
        raise ValueError(f"{params[0]!r} {what}: {str(exc).strip()}") from exc


def _check_sql_parses(expression: str) -> None:
    """Parse (not bind: columns are unknown here) ``SELECT <expression>`` with DuckDB."""

    if ";" in expression:
        raise ValueError("an expression is one SQL predicate, without ';'")
    statement = f"SELECT ({expression}) FROM t"
    row = (
        scratch()
        .execute("SELECT json_extract(json_serialize_sql($1), '$.error_message')", [statement])
        .fetchone()
    )
    message = row[0] if row else None
    if message:
        raise ValueError(f"{expression!r} is not a valid SQL expression: {message.strip(chr(34))}")


class RuleOverride(BaseModel):
    """What an environment profile changes about one rule."""

    model_config = _FROZEN

    on_fail: OnFail | None = Field(default=None, description="Replaces the rule's on_fail.")
    severity: Severity | None = Field(default=None, description="Replaces the rule's severity.")
    max_failures: int | None = Field(default=None, ge=0, description="Replaces max_failures.")
    max_failure_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Replaces max_failure_ratio."
    )


class QualityProfile(BaseModel):
    """Thresholds of one environment profile (``--profile NAME``), over the section's own."""

    model_config = _FROZEN

    max_reject_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Replaces quality.max_reject_ratio."
    )
    max_rejects: int | None = Field(default=None, ge=0, description="Replaces max_rejects.")
    rules: dict[str, RuleOverride] = Field(
        default_factory=dict, description="Rule id -> what changes about it."
    )


class QualitySpec(BaseModel):
    """The ``quality:`` section: rules per column and per table, and when a run must stop."""

    model_config = _FROZEN

    on_fail: OnFail = Field(
        default="reject", description="Action of rules that do not set on_fail."
    )
    max_reject_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Abort once rejected rows / checked rows exceeds this (running totals).",
    )
    max_rejects: int | None = Field(
        default=None, ge=0, description="Abort once more rows than this were rejected."
    )
    profiles: dict[str, QualityProfile] = Field(
        default_factory=dict, description="Thresholds per environment profile (--profile NAME)."
    )
    columns: dict[str, tuple[Rule, ...]] = Field(
        default_factory=dict, description="Column name -> the rules its values must meet."
    )
    table: tuple[Rule, ...] = Field(
        default=(), description="Rules over several columns or the whole run."
    )

    @model_validator(mode="before")
    @classmethod
    def _explicit(cls, data: Any) -> Any:
        """Turn every shorthand rule into ``{type: ..., column: ..., origin: ...}``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        columns = data.get("columns")
        if isinstance(columns, dict):
            data["columns"] = {
                name: _explicit_list(items, ("quality", "columns", name), column=str(name))
                for name, items in columns.items()
            }
        if "table" in data:
            data["table"] = _explicit_list(data["table"], ("quality", "table"), column=None)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> QualitySpec:
        seen: dict[str, Rule] = {}
        for rule in self.rules:
            where = f"column {rule.column!r}" if rule.column else "table"
            if rule.column and rule.type in TABLE_ONLY:
                raise ValueError(f"{rule.type} ({where}) spans columns: put it under quality.table")
            if not rule.column and rule.type in COLUMN_ONLY:
                raise ValueError(
                    f"{rule.type} checks one column: put it under quality.columns.<column>"
                )
            if not rule.column and rule.type == "unique" and not rule.columns:
                raise ValueError("unique under quality.table needs columns: [..]")
            if not rule.column and rule.type in {"not_in_future", "freshness", "referential"}:
                raise ValueError(f"{rule.type} checks one column: put it under quality.columns")
            if rule.rule_id in seen:
                raise ValueError(
                    f"two rules have the id {rule.rule_id!r}: give one of them an id of its own"
                )
            seen[rule.rule_id] = rule
        for profile_name, profile in self.profiles.items():
            unknown = sorted(set(profile.rules) - set(seen))
            if unknown:
                raise ValueError(
                    f"profile {profile_name!r} names unknown rules {', '.join(unknown)} "
                    f"(rules: {', '.join(seen) or 'none'})"
                )
            for rule_id, override in profile.rules.items():
                # for_profile copies overrides in without validating the rule again
                if override.on_fail == "reject" and seen[rule_id].type in AGGREGATE:
                    raise ValueError(
                        f"profile {profile_name!r}: {rule_id} is judged over the whole run, "
                        "so it cannot reject rows: use warn or abort"
                    )
        return self

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule, column rules first, in the order written."""
        column_rules = tuple(rule for rules in self.columns.values() for rule in rules)
        return column_rules + self.table

    def for_profile(self, name: str | None) -> QualitySpec:
        """The section with the thresholds of profile ``name`` applied (itself when None)."""
        profile = self.profiles.get(name) if name else None
        if profile is None:
            return self

        def changed(rule: Rule) -> Rule:
            override = profile.rules.get(rule.rule_id)
            if override is None:
                return rule
            return rule.model_copy(update=override.model_dump(exclude_none=True))

        return self.model_copy(
            update={
                "max_reject_ratio": profile.max_reject_ratio
                if profile.max_reject_ratio is not None
                else self.max_reject_ratio,
                "max_rejects": profile.max_rejects
                if profile.max_rejects is not None
                else self.max_rejects,
                "columns": {
                    column: tuple(changed(rule) for rule in rules)
                    for column, rules in self.columns.items()
                },
                "table": tuple(changed(rule) for rule in self.table),
            }
        )

    def action(self, rule: Rule) -> OnFail:
        """What a failure of ``rule`` does: its own on_fail, or the section's default."""
        if rule.on_fail is not None:
            return rule.on_fail
        return "abort" if rule.type in AGGREGATE else self.on_fail


def _explicit_list(items: Any, path: tuple[str | int, ...], *, column: str | None) -> Any:
    if not isinstance(items, list):
        return items
    counts: dict[str, int] = {}
    out = []
    for index, item in enumerate(items):
        rule = _explicit_rule(item, column)
        if isinstance(rule, dict):
            rule["origin"] = (*path, index)
            kind = str(rule.get("type"))
            counts[kind] = counts.get(kind, 0) + 1
            if counts[kind] > 1 and "id" not in rule:
                base = f"{column}.{kind}" if column else kind
                rule["id"] = f"{base}_{counts[kind]}"
        out.append(rule)
    return out


def _explicit_rule(item: Any, column: str | None) -> Any:
    if isinstance(item, str):
        rule: dict[str, Any] | None = {"type": item}
    elif isinstance(item, dict) and "type" in item and item["type"] not in RULE_TYPES:
        # `- type: int64` is the type rule's shorthand, not the explicit form
        rule = {**item, "type": "type"}
        if isinstance(item["type"], dict):
            rule.update(item["type"])
        else:
            rule["data_type"] = item["type"]
    elif isinstance(item, dict) and "type" in item:
        rule = dict(item)
    elif isinstance(item, dict) and len(item) == 1:
        ((name, argument),) = item.items()
        rule = _with_argument(str(name), argument)
    else:
        rule = None
    if rule is None:
        # let validation say what is not understood, on a copy: origin is added to it
        return dict(item) if isinstance(item, dict) else item
    if column is not None:
        if rule.get("type") == "referential" and "column" in rule and "key" not in rule:
            # under columns.<name> the checked column is <name>; `referential: {file: f,
            # column: code}` names the reference's column, as the rules reference writes it
            rule["key"] = rule.pop("column")
        rule.setdefault("column", column)
    return rule


def _with_argument(name: str, argument: Any) -> dict[str, Any]:
    """``{name: argument}`` in explicit form (an argument not understood is kept, to be refused)."""
    rule: dict[str, Any] = {"type": name}
    if isinstance(argument, dict):
        rule.update(argument)
    elif name == "between" and isinstance(argument, list) and len(argument) == 2:
        rule["min"], rule["max"] = argument
    elif name == "length" and isinstance(argument, int | float) and not isinstance(argument, bool):
        rule["min"] = rule["max"] = argument  # a fraction is refused with the bounds' message
    elif name == "unique" and isinstance(argument, str):
        rule["columns"] = [argument]
    elif argument is not None and name in _MAIN_ARGUMENT:
        rule[_MAIN_ARGUMENT[name]] = argument
    elif argument is not None:
        rule[name] = argument  # not understood: refused as an unknown option, at its own key
    return rule
