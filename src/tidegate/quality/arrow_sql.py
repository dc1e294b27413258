"""Simple SQL predicates (``signup_date >= birth_date``) evaluated by pyarrow.compute.

Most ``expression`` rules compare columns with each other or with a constant. DuckDB parses
the expression (``json_serialize_sql``, the parser that would run it) and, when every node is
one of the few kinds below over columns whose comparison means the same in Arrow and in SQL,
the expression becomes a tree of pyarrow.compute calls: no SQL query per batch. Anything else
(functions, casts, decimals, float columns whose NaN orders differently) stays with DuckDB.
The caller tries the result on an empty batch and falls back to SQL when Arrow refuses the
types, as it does for a text constant compared with a date, which SQL would cast.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from tidegate.spec.scratch import scratch

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["arrow_predicate"]

_COMPARE = {
    "COMPARE_EQUAL": pc.equal,
    "COMPARE_NOTEQUAL": pc.not_equal,
    "COMPARE_LESSTHAN": pc.less,
    "COMPARE_LESSTHANOREQUALTO": pc.less_equal,
    "COMPARE_GREATERTHAN": pc.greater,
    "COMPARE_GREATERTHANOREQUALTO": pc.greater_equal,
}
_ARITHMETIC = {"+": pc.add_checked, "-": pc.subtract_checked, "*": pc.multiply_checked}


class _UnsupportedError(Exception):
    """The expression uses something only SQL evaluates faithfully."""


def arrow_predicate(sql: str, schema: pa.Schema) -> Callable[[pa.RecordBatch], Any] | None:
    """``sql`` as a function of a batch giving a boolean array, or None (SQL must run it)."""
    tree = _parsed(sql)
    if tree is None:
        return None
    try:
        return _node(tree, schema)
    except (_UnsupportedError, KeyError, TypeError, ValueError):
        return None  # a parse tree this module does not know (another DuckDB version): SQL


@functools.cache
def _parsed(sql: str) -> dict[str, Any] | None:
    row = scratch().execute("SELECT json_serialize_sql($1)", [f"SELECT ({sql}) FROM t"]).fetchone()
    document = json.loads(row[0]) if row else {}
    if document.get("error"):
        return None
    select: list[dict[str, Any]] = document["statements"][0]["node"]["select_list"]
    return select[0]


def _node(node: dict[str, Any], schema: pa.Schema) -> Callable[[pa.RecordBatch], Any]:
    kind = node.get("class")
    if kind == "COLUMN_REF":
        return _column(node, schema)
    if kind == "CONSTANT":
        return _constant(node)
    if kind == "COMPARISON" and node["type"] in _COMPARE:
        compare = _COMPARE[node["type"]]
        left, right = _node(node["left"], schema), _node(node["right"], schema)
        return lambda batch: compare(left(batch), right(batch))
    if kind == "CONJUNCTION":
        join = {"CONJUNCTION_AND": pc.and_kleene, "CONJUNCTION_OR": pc.or_kleene}.get(node["type"])
        parts = [_node(child, schema) for child in node["children"]]
        if join is None:
            raise _UnsupportedError(node["type"])
        return lambda batch: functools.reduce(join, (part(batch) for part in parts))
    if kind == "OPERATOR":
        return _operator(node, schema)
    if kind == "FUNCTION" and node.get("function_name") in _ARITHMETIC and not node.get("filter"):
        operation = _ARITHMETIC[node["function_name"]]
        arguments = node.get("children") or [item["expression"] for item in node["arguments"]]
        children = [_node(child, schema) for child in arguments]
        if len(children) != 2:
            raise _UnsupportedError("unary arithmetic")
        return lambda batch: operation(children[0](batch), children[1](batch))
    raise _UnsupportedError(str(kind))


def _operator(node: dict[str, Any], schema: pa.Schema) -> Callable[[pa.RecordBatch], Any]:
    children = [_node(child, schema) for child in node["children"]]
    operators: dict[str, Callable[[Any], Any]] = {
        "OPERATOR_NOT": pc.invert,
        "OPERATOR_IS_NULL": pc.is_null,
        "OPERATOR_IS_NOT_NULL": pc.is_valid,
    }
    operation = operators.get(node["type"])
    if operation is None or len(children) != 1:
        raise _UnsupportedError(node["type"])
    child = children[0]
    return lambda batch: operation(child(batch))


def _column(node: dict[str, Any], schema: pa.Schema) -> Callable[[pa.RecordBatch], Any]:
    names = node["column_names"]
    if len(names) != 1:
        raise _UnsupportedError("qualified column")
    wanted = names[0].lower()
    matches = [index for index, name in enumerate(schema.names) if name.lower() == wanted]
    if len(matches) != 1:
        raise _UnsupportedError("unknown column")  # DuckDB reports it, with its suggestions
    index = matches[0]
    data_type = schema.field(index).type
    if not (
        pa.types.is_integer(data_type)
        or pa.types.is_date32(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
    ):
        raise _UnsupportedError(str(data_type))  # floats: NaN orders differently in SQL
    return lambda batch: batch.column(index)


def _constant(node: dict[str, Any]) -> Callable[[pa.RecordBatch], Any]:
    literal = node["literal"]  # DuckDB's parse tree: {"kind": "INTEGER", "text": "3"}
    scalars: dict[str, Callable[[str], pa.Scalar]] = {
        "INTEGER": lambda text: pa.scalar(int(text), pa.int64()),
        "BOOLEAN": lambda text: pa.scalar(text.lower() == "true", pa.bool_()),
        "STRING": lambda text: pa.scalar(text, pa.string()),
    }
    make = scalars.get(literal["kind"])
    if make is None:
        raise _UnsupportedError(literal["kind"])  # NUMERIC is a DECIMAL in SQL, NULL is NULL
    scalar = make(literal["text"])
    return lambda batch: scalar
