"""The rules that pyarrow.compute evaluates directly on the batch's Arrow buffers.

DuckDB reads an Arrow batch by converting each column it touches into its own vectors; for a
text column that conversion costs more than a simple test of its values. The common one-column
rules (``not_null``, ``regex``, ``allowed_values``, ``length``, ranges, ``not_in_future``) are
therefore evaluated with pyarrow.compute kernels on the Arrow data as it is, with the same
semantics as their SQL form in ``compiler`` (which still checks every rule when the rules are
validated, and evaluates what is left: expressions, ``type``, ``referential``, blanks).

Each function here returns a boolean array that is true for a good row; null means "not
judged" and passes, as in SQL. A rule these kernels cannot evaluate exactly returns None.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.spec.quality import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from tidegate.spec.quality import Rule

__all__ = ["arrow_check", "integer_key"]


def arrow_check(
    rule: Rule, data_type: pa.DataType, now: dt.datetime
) -> Callable[[Any], Any] | None:
    """A kernel evaluating ``rule`` on a column of ``data_type``, or None (use SQL)."""
    builders: dict[str, Callable[[Rule, pa.DataType, dt.datetime], Callable[[Any], Any] | None]] = {
        "not_null": _not_null,
        "regex": _regex,
        "allowed_values": _allowed_values,
        "length": _length,
        "between": _between,
        "min": _between,
        "max": _between,
        "not_in_future": _not_in_future,
    }
    builder = builders.get(rule.type)
    try:
        return builder(rule, data_type, now) if builder else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError):
        return None  # a value the kernels cannot take as is: SQL decides


def integer_key(data_type: pa.DataType) -> bool:
    """Whether a one-column ``unique`` key of this type can be its own 64-bit hash.

    An integer is at most 64 bits: its value is a hash without collisions, and costs no hashing.
    """
    return bool(pa.types.is_integer(data_type))


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def _is_float(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_floating(data_type))


def _not_null(rule: Rule, data_type: pa.DataType, now: dt.datetime) -> Callable[[Any], Any] | None:
    if rule.blank_is_null:
        return None
    if _is_float(data_type):
        return lambda a: pc.and_kleene(pc.is_valid(a), pc.invert(pc.is_nan(a)))
    is_valid: Callable[[Any], Any] = pc.is_valid
    return is_valid


def _regex(rule: Rule, data_type: pa.DataType, now: dt.datetime) -> Callable[[Any], Any] | None:
    if not _is_text(data_type) or rule.pattern is None:
        return None
    pattern, ignore_case = rule.pattern, rule.case_insensitive
    return lambda a: pc.match_substring_regex(a, pattern, ignore_case=ignore_case)


def _allowed_values(
    rule: Rule, data_type: pa.DataType, now: dt.datetime
) -> Callable[[Any], Any] | None:
    values = rule.values or ()
    if rule.case_insensitive:
        return None
    if _is_text(data_type) and all(isinstance(v, str) for v in values):
        allowed = pa.array(values, data_type)
    elif pa.types.is_integer(data_type) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        allowed = pa.array(values, pa.int64()).cast(data_type)  # raises when out of range
    else:
        return None
    return lambda a: pc.or_kleene(pc.is_null(a), pc.is_in(a, value_set=allowed))


def _length(rule: Rule, data_type: pa.DataType, now: dt.datetime) -> Callable[[Any], Any] | None:
    if not _is_text(data_type):
        return None
    low = None if rule.min is None else pa.scalar(rule.min)
    high = None if rule.max is None else pa.scalar(rule.max)
    return lambda a: _within(pc.utf8_length(a), low, high)


def _between(rule: Rule, data_type: pa.DataType, now: dt.datetime) -> Callable[[Any], Any] | None:
    low = None if rule.min is None else _bound(rule.min, data_type)
    high = None if rule.max is None else _bound(rule.max, data_type)
    if (rule.min is not None and low is None) or (rule.max is not None and high is None):
        return None
    if _is_float(data_type):
        return lambda a: pc.and_kleene(_within(a, low, high), pc.invert(pc.is_nan(a)))
    return lambda a: _within(a, low, high)


def _bound(value: Any, data_type: pa.DataType) -> pa.Scalar | None:
    """``value`` as a scalar of the column's type, or None when only SQL can compare them."""
    numeric = pa.types.is_integer(data_type) or _is_float(data_type)
    scalar: pa.Scalar | None = None
    if isinstance(value, bool):
        scalar = None
    elif numeric and isinstance(value, float) and pa.types.is_integer(data_type):
        scalar = pa.scalar(value, pa.float64())
    elif numeric and isinstance(value, int | float):
        scalar = pa.scalar(value).cast(data_type)  # float32: compare in the column's precision
    elif (pa.types.is_date32(data_type) or _is_text(data_type)) and isinstance(value, str):
        scalar = pa.scalar(value).cast(data_type)
    elif pa.types.is_date32(data_type) and type(value) is dt.date:
        scalar = pa.scalar(value, pa.date32())
    return scalar


def _within(values: Any, low: pa.Scalar | None, high: pa.Scalar | None) -> Any:
    checks = []
    if low is not None:
        checks.append(pc.greater_equal(values, low))
    if high is not None:
        checks.append(pc.less_equal(values, high))
    return checks[0] if len(checks) == 1 else pc.and_kleene(*checks)


def _not_in_future(
    rule: Rule, data_type: pa.DataType, now: dt.datetime
) -> Callable[[Any], Any] | None:
    limit = now + parse_duration(rule.tolerance or 0)
    zone = ZoneInfo(rule.timezone)
    if pa.types.is_date32(data_type):
        edge = pa.scalar(limit.astimezone(zone).date(), pa.date32())
    elif pa.types.is_timestamp(data_type) and data_type.tz is not None:
        edge = pa.scalar(limit, pa.timestamp("us", "UTC")).cast(data_type, safe=False)
    elif pa.types.is_timestamp(data_type):
        edge = pa.scalar(limit.astimezone(zone).replace(tzinfo=None), pa.timestamp("us"))
        edge = edge.cast(data_type, safe=False)
    else:
        return None
    return lambda a: pc.less_equal(a, edge)
