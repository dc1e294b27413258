"""The display mask: what side outputs show per level, its promises as properties (hypothesis)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidegate.governance.classify import Level
from tidegate.governance.display import SENSITIVE_LEVELS, display_value, mask_for_display

CONTENT = re.compile(r"[^\t\n\v\f\r !-/:-@\[-`{-~]")
"""A character the confidential layout must not show: anything but ASCII punctuation/space."""

texts = st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=40)
sensitive = st.sampled_from(sorted(SENSITIVE_LEVELS))


def test_only_confidential_and_restricted_are_sensitive() -> None:
    assert frozenset({Level.CONFIDENTIAL, Level.RESTRICTED}) == SENSITIVE_LEVELS


@pytest.mark.parametrize("level", [Level.PUBLIC, Level.INTERNAL])
@pytest.mark.parametrize(
    "values",
    [
        pa.array(["ana@mail.example", None, ""]),
        pa.array([1, None, 3]),
        pa.chunked_array([["a"], [None, "b"]]),
    ],
    ids=["text", "numbers", "chunked"],
)
def test_public_and_internal_values_come_back_unchanged(
    level: Level, values: pa.Array | pa.ChunkedArray
) -> None:
    assert mask_for_display(values, level) is values
    assert display_value("ana@mail.example", level) == "ana@mail.example"
    assert display_value(dt.date(1990, 4, 1), level) == dt.date(1990, 4, 1)


def test_confidential_text_keeps_its_layout_and_loses_its_content() -> None:
    values = pa.array(
        ["ana.lopez@mail.example", "+44 20 7946 0958", "José García", "王小明", None, "", "--"]
    )

    shown = mask_for_display(values, Level.CONFIDENTIAL).to_pylist()

    assert shown == [
        "***.*****@****.*******",
        "+** ** **** ****",
        "**** ******",
        "***",
        None,
        "",
        "[confidential]",  # nothing to mask: the layout would be the value itself
    ]


def test_restricted_shows_nothing_but_null() -> None:
    values = pa.array(["4111 1111 1111 1111", None, "", "[restricted]"])

    shown = mask_for_display(values, Level.RESTRICTED).to_pylist()

    assert shown == ["[restricted]", None, "[restricted]", "[**********]"]


@pytest.mark.parametrize(
    "values",
    [
        pa.array([52_000, None]),
        pa.array([Decimal("1.50"), None]),
        pa.array([dt.date(1990, 4, 1), None]),
        pa.array([dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), None]),
        pa.array([b"\x00\x01", None]),
        pa.array([True, None]),
    ],
    ids=["integer", "decimal", "date", "timestamp", "binary", "boolean"],
)
@pytest.mark.parametrize("level", sorted(SENSITIVE_LEVELS))
def test_values_that_are_not_text_show_as_the_level(values: pa.Array, level: Level) -> None:
    shown = mask_for_display(values, level)

    assert shown.type == pa.string()
    assert shown.to_pylist() == [f"[{level}]", None]
    assert display_value(values[0].as_py(), level) == f"[{level}]"


@pytest.mark.parametrize("level", sorted(SENSITIVE_LEVELS))
def test_every_string_type_is_masked(level: Level) -> None:
    dictionary = pa.array(["ana", None, "ana"]).dictionary_encode()
    large = pa.array(["ana", None], pa.large_string())
    view = pa.array(["ana", None], pa.string_view())
    chunked = pa.chunked_array([["ana"], [None]])
    expected = "***" if level == Level.CONFIDENTIAL else "[restricted]"

    assert mask_for_display(dictionary, level).to_pylist() == [expected, None, expected]
    assert mask_for_display(large, level).type == pa.large_string()
    assert mask_for_display(view, level).to_pylist() == [expected, None]
    masked_chunks = mask_for_display(chunked, level)
    assert isinstance(masked_chunks, pa.ChunkedArray)
    assert masked_chunks.to_pylist() == [expected, None]


@pytest.mark.parametrize("level", list(Level))
def test_null_and_empty_arrays_are_safe(level: Level) -> None:
    assert mask_for_display(pa.nulls(3), level).to_pylist() == [None, None, None]
    assert mask_for_display(pa.array([], pa.string()), level).to_pylist() == []
    assert display_value(None, level) is None


@given(values=texts, level=sensitive)
def test_a_non_empty_sensitive_value_is_never_shown_as_itself(
    values: list[str | None], level: Level
) -> None:
    shown = mask_for_display(pa.array(values, pa.string()), level).to_pylist()

    assert len(shown) == len(values)
    for value, masked in zip(values, shown, strict=True):
        assert (masked is None) == (value is None)
        if value:
            assert masked != value
            assert display_value(value, level) == masked


@given(values=texts)
def test_confidential_text_shows_no_letter_digit_or_non_ascii_character_of_the_value(
    values: list[str | None],
) -> None:
    shown = mask_for_display(pa.array(values, pa.string()), Level.CONFIDENTIAL).to_pylist()

    for value, masked in zip(values, shown, strict=True):
        if value is None or masked == "[confidential]":
            continue
        assert len(masked) == len(value)
        assert CONTENT.sub("*", value) == masked


@given(value=st.one_of(st.integers(), st.floats(), st.dates(), st.binary(min_size=1)))
def test_a_sensitive_value_that_is_not_text_is_never_shown(value: Any) -> None:
    for level in SENSITIVE_LEVELS:
        assert display_value(value, level) == f"[{level}]"
