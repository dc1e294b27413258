"""Canonical JSON is RFC 8785 (JCS): the RFC's own examples, its number samples, and properties.

An auditor must be able to recompute every hash with any JCS library, so these pin the exact
bytes the RFC gives, not only self-consistency.
"""

from __future__ import annotations

import json
import math
import struct
from datetime import UTC, date, datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from pathlib import PurePosixPath
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from tidegate.governance.audit import AuditPayloadError, JsonValue, canonical, to_json
from tidegate.governance.audit.canonical import MAX_INT, rfc3339

# RFC 8785 Appendix B: IEEE 754 doubles (hex) and their JCS text.
_NUMBER_SAMPLES = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), _NUMBER_SAMPLES)
def test_numbers_are_written_as_ecmascript_does(bits: str, text: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical(number) == text.encode()


def test_the_rfc_example_document() -> None:
    # RFC 8785 §3.2.4, parsed from its JSON text as a verifier would.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        r' "string": "\u20ac$\u000F\u000aA' + "'" + r'\u0042\u0022\u005c\\\"\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical(json.loads(source)) == expected.encode()


def test_names_sort_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: the emoji (a surrogate pair, 0xD83D...) sorts before U+FB33, unlike
    # in code point order.
    names = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    document: dict[str, JsonValue] = {name: None for name in names}
    order = list(json.loads(canonical(document)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, MAX_INT + 2, -MAX_INT - 2, 10**400, {1: "x"}, (1, 2), "\ud800"],
)
def test_values_without_a_canonical_form_are_refused(value: JsonValue) -> None:
    with pytest.raises(AuditPayloadError):
        canonical(value)


class _Level(StrEnum):
    RESTRICTED = "restricted"


class _Tier(IntEnum):
    ONE = 1


def test_to_json_turns_python_values_into_json_once() -> None:
    moment = datetime(2026, 5, 4, 3, 2, 1, 7, tzinfo=timezone(timedelta(hours=2)))
    value = to_json(
        {
            "at": moment,
            "day": date(2026, 5, 4),
            "level": _Level.RESTRICTED,
            "tier": _Tier.ONE,
            "id": UUID(int=1),
            "file": PurePosixPath("/data/in.csv"),
            "pair": (1, 2.5),
            "nested": {"empty": [], "none": None, "flag": False},
        }
    )
    assert value == {
        "at": "2026-05-04T01:02:01.000007Z",
        "day": "2026-05-04",
        "level": "restricted",
        "tier": 1,
        "id": "00000000-0000-0000-0000-000000000001",
        "file": "/data/in.csv",
        "pair": [1, 2.5],
        "nested": {"empty": [], "none": None, "flag": False},
    }
    assert isinstance(value, dict)
    assert type(value["level"]) is str
    assert type(value["tier"]) is int


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({"columns": {"email", "phone"}}, "payload.columns is a set"),
        ({"password": SecretStr("hunter2")}, "payload.password is a SecretStr"),
        ({"at": datetime(2026, 1, 1)}, "naive datetime"),
        ({"score": math.nan}, "payload.score is NaN"),
        ({"rows": 2**60}, "payload.rows is an integer beyond"),
        ({"by_id": {7: "x"}}, "payload.by_id has a int key"),
    ],
)
def test_to_json_refuses_by_name_and_type_never_by_value(value: object, what: str) -> None:
    with pytest.raises(AuditPayloadError) as caught:
        to_json(value)
    assert what in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.hint


def test_rfc3339_is_one_text_per_instant() -> None:
    instant = datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rfc3339(instant) == "0999-01-02T03:04:05.000000Z"
    assert rfc3339(instant.astimezone(timezone(timedelta(hours=-5)))) == rfc3339(instant)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_INT, max_value=MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
def test_canonical_text_reads_back_to_the_same_value_and_bytes(value: JsonValue) -> None:
    text = canonical(value)
    again = json.loads(text)
    assert canonical(again) == text  # what a verifier parses, it re-serializes identically
    assert _same(again, value)


def test_a_large_integral_float_reads_back_as_an_int_with_the_same_bytes() -> None:
    # A JSON reader makes an int of "10000000000000000"; the verifier must hash it as written.
    assert canonical(json.loads(canonical(1e16))) == canonical(1e16) == b"10000000000000000"
    assert canonical(json.loads(canonical(1.2345678901234567e20))) == b"123456789012345670000"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_reads_back_exactly(number: float) -> None:
    assert float(canonical(number)) == number


def _same(left: object, right: object) -> bool:
    """Equal as JSON values: numbers are doubles (2.0 and 2 are one number, as are 1e16 and
    10000000000000000)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return float(left) == float(right)
    return left == right
