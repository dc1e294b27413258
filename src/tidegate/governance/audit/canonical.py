"""The canonical JSON form that audit hashes and signatures are computed over.

A hash chain is only as good as the agreement on which bytes were hashed, so every record has
exactly one serialization: the JSON Canonicalization Scheme of RFC 8785 (JCS), which any
auditor can reproduce with an off-the-shelf JCS library, restricted to values that survive a
round trip through any JSON parser:

- UTF-8, no whitespace between tokens, object members sorted by their names' UTF-16 code units;
- strings escape only ``"``, ``\\`` and control characters (``\\n``, ``\\t``, ..., else
  ``\\u00xx`` in lowercase hex); lone surrogates are refused, as JCS requires;
- integers in plain decimal; :func:`to_json` refuses those beyond +-(2**53 - 1) (I-JSON: a
  reader may not keep them exactly, so a larger count must travel as a string), and
  :func:`canonical` accepts beyond that only what a reader makes of a large float's text
  (``1e16`` is written ``10000000000000000``, which reads back as an int);
- finite floats in ECMAScript's shortest form (``1.5``, ``100``, ``1e+21``, ``1e-7``); NaN and
  infinities are refused, and ``-0.0`` is written ``0``;
- ``true``, ``false``, ``null``, arrays, and objects whose names are strings.

Python values outside JSON are turned into it once, by :func:`to_json`, before a record is
hashed: an aware ``datetime`` becomes RFC 3339 UTC with microseconds
(``2026-11-27T07:51:55.123456Z``), a ``date`` ``YYYY-MM-DD``, an enum its value, a ``UUID`` or a
``Path`` its text, a tuple a list. Anything else (a set, bytes, a ``SecretStr``, a naive
datetime) is refused by name and type, never by value, so a secret cannot reach the message.

The stdlib's C encoder is not used for whole documents: it writes ``1.0`` and ``1e-07`` where
JCS writes ``1`` and ``1e-7``, and sorts names by code point. Strings, the bulk of a record,
still go through its C escaper.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from json.encoder import encode_basestring
from pathlib import PurePath
from typing import TypeAlias
from uuid import UUID

from tidegate.governance.audit.errors import AuditPayloadError

__all__ = ["MAX_INT", "JsonValue", "canonical", "rfc3339", "to_json", "to_json_object"]

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

MAX_INT = 2**53 - 1
"""Largest integer every JSON parser reads back exactly (an IEEE double's integer range)."""


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC as RFC 3339 with microseconds and ``Z``: one text per instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise AuditPayloadError(
            "a naive datetime has no single instant to record",
            hint="give audit timestamps a time zone, e.g. datetime.now(UTC)",
        )
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def to_json(value: object, *, where: str = "payload") -> JsonValue:  # noqa: PLR0911 - flat dispatch by type
    """``value`` as plain JSON values, ready for :func:`canonical`; refused if it has no form.

    ``where`` names the value in the error (``payload.columns[3]``): the message says where and
    which type, never the value itself.
    """
    if isinstance(value, Enum):
        return to_json(value.value, where=where)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        _check_int(int(value), where)
        return int(value)
    if isinstance(value, float):
        _check_float(float(value), where)
        return float(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID | PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return to_json_object(value, where=where)
    if isinstance(value, list | tuple):
        return [to_json(item, where=f"{where}[{i}]") for i, item in enumerate(value)]
    raise _refused(
        where,
        f"is a {type(value).__name__}, which has no canonical JSON form",
        "pass text, numbers, booleans, None, datetimes, lists or dicts of them",
    )


def to_json_object(value: Mapping[str, object], *, where: str = "payload") -> dict[str, JsonValue]:
    """A mapping as a plain JSON object (see :func:`to_json`); its names must be text."""
    if not isinstance(value, Mapping):
        raise _refused(where, f"is a {type(value).__name__}, not a mapping", "pass a dict")
    out: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _refused(where, f"has a {type(key).__name__} key", "use text keys")
        name = str.__str__(key)
        # Plain text, flags and nulls (most values) are already JSON: no call, no path text.
        if type(item) is str or type(item) is bool or item is None:
            out[name] = item
        else:
            out[name] = to_json(item, where=f"{where}.{name}")
    return out


def canonical(value: JsonValue) -> bytes:
    """The RFC 8785 bytes of ``value``, which must already be plain JSON (see :func:`to_json`).

    Only the exact JSON types are accepted (a ``str`` subclass or a tuple is refused), so what is
    hashed is what a JSON parser gives back when the record is read again.
    """
    out: list[str] = []
    _write(value, out, "value")
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AuditPayloadError(
            "a text holds a lone UTF-16 surrogate, which has no UTF-8 form",
            hint="pass valid Unicode text",
        ) from exc


def _write(value: JsonValue, out: list[str], where: str) -> None:
    # Exact type tests, not isinstance: bool is an int, and a str or dict subclass may print
    # itself differently from what a JSON parser gives back.
    if type(value) is str:
        out.append(encode_basestring(value))
    elif type(value) is dict:
        _write_object(value, out, where)
    elif type(value) is int:
        out.append(_integer(value, where))
    elif value is None:
        out.append("null")
    elif type(value) is bool:
        out.append("true" if value else "false")
    elif type(value) is list:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, where)
        out.append("]")
    elif type(value) is float:
        _check_float(value, where)
        out.append(_es_number(value))
    else:
        kind = type(value).__name__
        raise _refused(where, f"is a {kind}, not a JSON value", "convert it with to_json")


def _write_object(value: dict[str, JsonValue], out: list[str], where: str) -> None:
    names = list(value)
    for name in names:
        if type(name) is not str:
            raise _refused(where, f"has a {type(name).__name__} key", "use text keys")
    # ASCII names (nearly all) sort the same by code point as by UTF-16: skip encoding them.
    if "".join(names).isascii():
        names.sort()
    else:
        names.sort(key=_utf16)
    out.append("{")
    for i, name in enumerate(names):
        if i:
            out.append(",")
        out.append(encode_basestring(name))
        out.append(":")
        _write(value[name], out, where)
    out.append("}")


def _utf16(key: str) -> bytes:
    """Sort key giving JCS's order of member names: by UTF-16 code units, not code points
    (the two differ for a name beyond U+FFFF against one in U+E000-U+FFFF)."""
    return key.encode("utf-16-be")


def _es_number(number: float) -> str:
    """A finite float as ECMAScript's ``Number.prototype.toString`` writes it (RFC 8785 §3.2.2.3).

    Python's ``repr`` already gives the shortest digits that read back to the same double, as
    ECMAScript does; only the layout differs: ECMAScript drops ``.0``, keeps plain notation from
    1e-6 up to 1e21 (Python switches below 1e-4 and from 1e16) and writes ``1e-7``, not ``1e-07``.
    """
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    text = repr(abs(number))
    mantissa, _, exp_text = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k, n = len(digits), point
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * -n + digits
    else:
        exponent = n - 1
        head = digits[0] + ("." + digits[1:] if k > 1 else "")
        body = f"{head}e{'+' if exponent > 0 else '-'}{abs(exponent)}"
    return sign + body


def _integer(number: int, where: str) -> str:
    """An integer as JCS writes it.

    Beyond +-(2**53 - 1) the only integers accepted are the ones a JSON reader makes of a large
    float's JCS text (``1e16`` is written ``10000000000000000`` and read back as an int): their
    text is that of the double nearest to them. Any other is not a number JCS can keep.
    """
    text = int.__repr__(number)
    if -MAX_INT <= number <= MAX_INT:
        return text
    try:
        as_double = _es_number(float(number))
    except OverflowError:
        as_double = ""
    if as_double != text:
        _check_int(number, where)
    return text


def _check_int(number: int, where: str) -> None:
    if not -MAX_INT <= number <= MAX_INT:
        raise _refused(
            where,
            "is an integer beyond +-(2**53 - 1), which JSON readers do not keep exactly",
            "pass it as a string",
        )


def _check_float(number: float, where: str) -> None:
    if not math.isfinite(number):
        raise _refused(where, "is NaN or infinite, which JSON cannot hold", "record null instead")


def _refused(where: str, what: str, hint: str) -> AuditPayloadError:
    return AuditPayloadError(f"audit value {where} {what}", hint=hint)
