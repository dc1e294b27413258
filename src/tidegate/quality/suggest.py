"""The quality rules a profile suggests, as a ``quality:`` section to review and paste.

Each suggestion is a rule the profiled data meets: ``not_null`` for columns without nulls,
``unique`` for exactly unique ones, ``allowed_values`` for a few distinct values, ranges rounded
outwards, ``regex`` from a value shape most values share, ``length`` bounds, ``not_in_future``
for past dates. The YAML keeps each rule on one line, as people write them.

A suggestion is written to a file and pasted into a pipeline, so for the columns a caller
*withholds* (the sensitive ones: the caller classifies, this module does not) no rule quotes
the data: no ``allowed_values``, no range bound, and a ``regex`` only from a shape without
non-ASCII characters (shapes keep those as they are). What remains describes the form of the
values, never one of them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING, Any

import yaml

from tidegate.quality.profile import EMAIL_PATTERN, readable_type, value_kind

if TYPE_CHECKING:
    from collections.abc import Collection

    from tidegate.quality.profile import ColumnProfile, Profile

__all__ = ["rules_yaml", "shape_regex", "suggest_rules"]

DOMINANT_SHARE = 0.98
"""Share of the non-null values a shape (or the e-mail pattern) must cover to suggest a regex."""
_REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}")


def suggest_rules(profile: Profile, *, withheld: Collection[str] = ()) -> dict[str, Any]:
    """A ``quality:`` section drafted from ``profile``, in the pipeline file's own format.

    Per column, in this order: ``not_null`` (no nulls seen), ``unique`` (every value checked
    distinct; not for floats and booleans), ``allowed_values`` (at most ``FEW_VALUES`` strings
    or integers, each seen ~10 times on average), a range (``between``, rounded outwards; for
    past dates ``min`` plus ``not_in_future``; none for unique integers, which look like keys),
    ``length`` for strings and ``regex`` when one shape (or the e-mail pattern) covers
    ``DOMINANT_SHARE`` of the values. Columns named in ``withheld`` get only the rules that
    quote none of their values (see the module docstring).
    """
    columns: dict[str, list[Any]] = {}
    for column in profile.columns:
        rules = _column_rules(column, withheld=column.name in withheld)
        if rules:
            columns[column.name] = rules
    return {"quality": {"columns": columns}}


def rules_yaml(
    profile: Profile, *, source: str | None = None, withheld: Collection[str] = ()
) -> str:
    """``suggest_rules`` as a YAML snippet under a comment saying what it was drawn from.

    Laid out like the examples in the docs: one rule per line, arguments inline
    (``- between: [0, 120]``), patterns in single quotes. The comment names the withheld
    columns present in the profile, so a reader knows why they have fewer rules.
    """
    seen = f"{profile.rows:,} row{'s' if profile.rows != 1 else ''}"
    if profile.limited:
        seen = f"the first {seen}"
    origin = f" of {source}" if source else ""
    header = (
        f"# Quality rules suggested by `tidegate profile` from {seen}{origin}.\n"
        "# They describe the data seen, not what it must be: review each rule, keep those that\n"
        "# hold by definition, then paste the section into pipeline.yaml.\n"
    )
    names = [column.name for column in profile.columns if column.name in withheld]
    if names:
        header += (
            f"# No rule quotes a value of the sensitive columns {', '.join(names)}:\n"
            "# their allowed values and ranges are left out.\n"
        )
    section = suggest_rules(profile, withheld=withheld)
    columns = section["quality"]["columns"]
    section["quality"]["columns"] = {
        name: [_styled(rule) for rule in rules] for name, rules in columns.items()
    }
    body = yaml.dump(
        section, Dumper=_RulesDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return header + body


class _Inline(list[Any]):
    """A rule argument written in flow style: ``[0, 120]``."""


class _InlineMap(dict[str, Any]):
    """A rule argument written in flow style: ``{min: 1, max: 5}``."""


class _Quoted(str):
    """A pattern written in single quotes, so backslashes read as they are."""

    __slots__ = ()


class _RulesDumper(yaml.SafeDumper):
    """Indents list items under their key, as the docs' examples do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_RulesDumper.add_representer(
    _Inline, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_RulesDumper.add_representer(
    _InlineMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)
_RulesDumper.add_representer(
    _Quoted, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="'")
)


def _styled(rule: Any) -> Any:
    if not isinstance(rule, dict):
        return rule
    ((name, argument),) = rule.items()
    if isinstance(argument, list):
        argument = _Inline(argument)
    elif isinstance(argument, dict):
        argument = _InlineMap(argument)
    elif name == "regex":
        argument = _Quoted(argument)
    return {name: argument}


def _column_rules(column: ColumnProfile, *, withheld: bool) -> list[Any]:
    kind = value_kind(readable_type(column.type))
    if column.non_null == 0:
        return []
    rules: list[Any] = []
    if column.nulls == 0:
        rules.append("not_null")
    if column.unique and column.non_null > 1:
        rules.append("unique")
    if withheld:
        rules.extend(_form_of_range(column, kind))
    elif (
        kind in {"string", "integer"}
        and column.values is not None
        and not column.unique
        and column.non_null >= 10 * len(column.values)
    ):
        rules.append({"allowed_values": list(column.values)})
    else:
        rules.extend(_range_rules(column, kind))
    if kind == "string" and column.min_length is not None:
        rules.append({"length": {"min": column.min_length, "max": column.max_length}})
        pattern = _pattern(column, withheld=withheld)
        if pattern is not None:
            rules.append({"regex": pattern})
    return rules


def _range_rules(column: ColumnProfile, kind: str) -> list[Any]:
    if column.min is None or column.max is None:
        return []
    if kind in {"integer", "float", "decimal"} and not (kind == "integer" and column.unique):
        low, high = float(column.min), float(column.max)
        if math.isfinite(low) and math.isfinite(high):
            return [{"between": list(_outward(low, high, integral=kind == "integer"))}]
    if kind in {"date", "timestamp"}:
        return _time_range(column.min, column.max)
    return []


def _form_of_range(column: ColumnProfile, kind: str) -> list[Any]:
    """What a withheld column's range says without a bound: ``not_in_future`` for past times."""
    return [rule for rule in _range_rules(column, kind) if isinstance(rule, str)]


def _time_range(low: Any, high: Any) -> list[Any]:
    """``min`` plus ``not_in_future`` for past values, else ``between``, whole days outwards."""
    if isinstance(low, dt.datetime):
        now = dt.datetime.now(dt.UTC)
        # the quality engine reads timestamps without a zone as UTC
        past = high <= (now if high.tzinfo else now.replace(tzinfo=None))
        low = low.replace(hour=0, minute=0, second=0, microsecond=0)
        high = high.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    else:
        past = high <= dt.datetime.now(dt.UTC).date()
    # ISO 8601 text: the engine casts it to the column's type, and YAML keeps it as written
    if past:
        return [{"min": low.isoformat()}, "not_in_future"]
    return [{"between": [low.isoformat(), high.isoformat()]}]


def _outward(low: float, high: float, *, integral: bool) -> tuple[int | float, int | float]:
    """``low`` and ``high`` rounded down and up to two significant digits of their span."""
    span = high - low
    if span <= 0:
        return _tidy(low), _tidy(high)
    exponent = math.floor(math.log10(span)) - 1
    if integral:
        exponent = max(exponent, 0)
    step = 10.0**exponent
    digits = max(0, -exponent)
    rounded_low = round(math.floor(low / step) * step, digits)
    rounded_high = round(math.ceil(high / step) * step, digits)
    return _tidy(rounded_low), _tidy(rounded_high)


def _tidy(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _pattern(column: ColumnProfile, *, withheld: bool) -> str | None:
    """A regex covering ``DOMINANT_SHARE`` of the values: the top shape's, or e-mail's.

    A shape keeps non-ASCII characters as they are, so for a withheld column only an ASCII
    shape (letters, digits and punctuation reduced to classes and separators) may become one.
    """
    top = column.shapes[0] if column.shapes else None
    if top is not None and top.share >= DOMINANT_SHARE and (top.shape.isascii() or not withheld):
        return shape_regex(top.shape)
    if column.email_share is not None and column.email_share >= DOMINANT_SHARE:
        return EMAIL_PATTERN
    return None


def shape_regex(shape: str) -> str:
    """The anchored RE2 pattern of a shape: ``AA-9999`` -> ``^[A-Z]{2}-\\d{4}$``."""
    classes = {"A": "[A-Z]", "a": "[a-z]", "9": r"\d"}
    parts: list[str] = []
    for match in re.finditer(r"A+|a+|9+|.", shape, re.DOTALL):
        run = match.group(0)
        if run[0] in classes:
            parts.append(classes[run[0]] + (f"{{{len(run)}}}" if len(run) > 1 else ""))
        else:
            parts.append("\\" + run if run in _REGEX_SPECIAL else run)
    return "^" + "".join(parts) + "$"
