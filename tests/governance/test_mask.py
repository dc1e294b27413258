"""Masking: each strategy's output, its promises as properties (hypothesis), and the mask step."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tidegate.core.context import RunContext
from tidegate.errors import ConfigError
from tidegate.events import EventBus
from tidegate.governance.mask import MaskSettings, MaskSpec, MaskStep, mask_column

if TYPE_CHECKING:
    from pathlib import Path

KEY = b"a secret key for the tests"
FAKE_KINDS = (
    "token",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "street_address",
    "city",
    "postal_code",
)

texts = st.lists(st.one_of(st.none(), st.text(max_size=30)), min_size=1, max_size=40)
emails = st.lists(st.one_of(st.none(), st.emails().map(str)), min_size=1, max_size=40)
dates = st.lists(
    st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))),
    min_size=1,
    max_size=40,
)
integers = st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), min_size=1, max_size=40)
floats = st.lists(
    st.one_of(st.none(), st.floats(-1e15, 1e15, allow_nan=False)), min_size=1, max_size=40
)


def mask(values: list[object], spec: MaskSpec, key: bytes | None = KEY) -> list[object]:
    return mask_column(pa.array(values), spec, key=key).to_pylist()


# -- properties: deterministic where promised, null stays null, never the input unchanged ---------


@given(texts)
def test_hash_is_a_deterministic_keyed_hmac_that_keeps_nulls(values: list[str | None]) -> None:
    out = mask(values, MaskSpec(strategy="hash"))

    assert out == mask(values, MaskSpec(strategy="hash"))
    expected = [
        None if v is None else hmac.new(KEY, v.encode(), hashlib.sha256).hexdigest() for v in values
    ]
    assert out == expected
    assert all(o != v for o, v in zip(out, values, strict=True) if v)


@given(integers)
def test_hash_of_integers_keeps_an_integer_column(values: list[int | None]) -> None:
    out = mask_column(pa.array(values, pa.int64()), MaskSpec(strategy="hash"), key=KEY)

    assert out.type == pa.int64()
    expected = [
        None
        if v is None
        else int(hmac.new(KEY, str(v).encode(), hashlib.sha256).hexdigest()[:15], 16)
        for v in values
    ]
    assert out.to_pylist() == expected
    assert [o is None for o in out.to_pylist()] == [v is None for v in values]
    assert all(o != v for o, v in zip(out.to_pylist(), values, strict=True) if v is not None)


@given(texts, st.integers(0, 8), st.sampled_from(["last", "first"]))
def test_partial_hides_at_least_one_character(
    values: list[str | None], keep: int, side: str
) -> None:
    spec = MaskSpec(strategy="partial", keep=keep, side=side, mask_char="#")  # type: ignore[arg-type]
    out = mask(values, spec, key=None)

    for value, masked in zip(values, out, strict=True):
        if value is None:
            assert masked is None
            continue
        assert isinstance(masked, str)
        assert len(masked) == len(value)
        hidden = len(value) - min(keep, max(len(value) - 1, 0))
        where = slice(len(value) - hidden, None) if side == "first" else slice(0, hidden)
        assert set(masked[where]) <= {"#"}
        if value and set(value[where]) != {"#"}:  # hidden "#" already: a fixed point
            assert masked != value


@given(texts)
def test_redact_replaces_every_value_and_keeps_nulls(values: list[str | None]) -> None:
    out = mask(values, MaskSpec(strategy="redact", text="<gone>"), key=None)

    assert out == [None if v is None else "<gone>" for v in values]
    assert all(o != v for o, v in zip(out, values, strict=True) if v and v != "<gone>")


@given(integers)
def test_null_keeps_the_type_and_no_value(values: list[int | None]) -> None:
    out = mask_column(pa.array(values, pa.int32()), MaskSpec(strategy="null"))

    assert out.type == pa.int32()
    assert out.null_count == len(values)


@given(dates, st.sampled_from(["month", "year"]))
def test_generalize_dates_to_the_start_of_their_period(
    values: list[dt.date | None], to: str
) -> None:
    out = mask_column(pa.array(values, pa.date32()), MaskSpec(strategy="generalize", to=to))  # type: ignore[arg-type]

    assert out.type == pa.date32()
    for value, masked in zip(values, out.to_pylist(), strict=True):
        if value is None:
            assert masked is None
            continue
        start = value.replace(day=1) if to == "month" else value.replace(month=1, day=1)
        assert masked == start
        if value != start:  # a date already on the first day of its period is a fixed point
            assert masked != value


@given(integers, st.integers(1, 1000))
def test_generalize_integers_to_the_range_holding_them(
    values: list[int | None], width: int
) -> None:
    out = mask(values, MaskSpec(strategy="generalize", width=width), key=None)

    for value, masked in zip(values, out, strict=True):
        if value is None:
            assert masked is None
            continue
        low = (value // width) * width
        assert masked == f"{low}-{low + width - 1}"


@given(floats)
def test_generalize_floats_to_half_open_ranges(values: list[float | None]) -> None:
    out = mask(values, MaskSpec(strategy="generalize", width=5), key=None)

    for value, masked in zip(values, out, strict=True):
        if value is None:
            assert masked is None
            continue
        assert isinstance(masked, str)
        low, high = (int(part) for part in masked.strip("[)").split(", "))
        assert low <= value < high
        assert high - low == 5


@given(emails)
def test_email_domain_keeps_only_the_domain(values: list[str | None]) -> None:
    out = mask(values, MaskSpec(strategy="email_domain"), key=None)

    for value, masked in zip(values, out, strict=True):
        if value is None:
            assert masked is None
            continue
        assert masked == value.rsplit("@", 1)[1].lower()
        assert "@" not in masked


@settings(max_examples=50)
@given(texts, st.sampled_from(FAKE_KINDS))
def test_fake_is_consistent_keyed_and_never_the_input(values: list[str | None], kind: str) -> None:
    spec = MaskSpec(strategy="fake", fake=kind)  # type: ignore[arg-type]
    out = mask(values, spec)

    assert out == mask(values, spec)
    assert [o is None for o in out] == [v is None for v in values]
    assert all(o != v for o, v in zip(out, values, strict=True) if v)
    by_value = dict(zip(values, out, strict=True))
    assert [by_value[v] for v in values] == out  # same input, same pseudonym


@given(st.lists(st.sampled_from(["Ada", "Chen", "Olga", "Ezra"]), min_size=1, max_size=40))
def test_a_fake_equal_to_its_input_is_replaced(values: list[str]) -> None:
    out = mask(values, MaskSpec(strategy="fake", fake="first_name"))

    assert all(o != v for o, v in zip(out, values, strict=True))


# -- examples -------------------------------------------------------------------------------------


def test_hash_keeps_joins_and_depends_on_the_key() -> None:
    left = mask(["a@x.org", "b@x.org"], MaskSpec(strategy="hash"))
    right = mask(["b@x.org"], MaskSpec(strategy="hash"))
    other = mask(["b@x.org"], MaskSpec(strategy="hash"), key=b"another key")

    assert right[0] == left[1]
    assert other[0] != right[0]


def test_hash_over_repeated_values_matches_hash_over_distinct_ones() -> None:
    repeated = ["Ada", "Chen", None] * 5000  # few distinct values: hashed once each
    out = mask(repeated, MaskSpec(strategy="hash"))

    assert out[:3] == mask(["Ada", "Chen", None], MaskSpec(strategy="hash"))
    assert out == out[:3] * 5000


def test_partial_keeps_the_last_four_by_default() -> None:
    out = mask(["4111111111111111", "12", ""], MaskSpec(strategy="partial"), key=None)

    assert out == ["************1111", "*2", ""]


def test_generalize_postal_codes_keeps_a_prefix() -> None:
    out = mask(["75008", "SW1A 1AA", "D"], MaskSpec(strategy="generalize"), key=None)

    assert out == ["750**", "SW1*****", "*"]


def test_generalize_timestamps_keeps_type_and_zone() -> None:
    values = pa.array([dt.datetime(1990, 5, 17, 8, 30, tzinfo=dt.UTC)], pa.timestamp("us", "UTC"))
    out = mask_column(values, MaskSpec(strategy="generalize", to="month"))

    assert out.type == pa.timestamp("us", "UTC")
    assert out.to_pylist() == [dt.datetime(1990, 5, 1, tzinfo=dt.UTC)]


def test_generalize_floats_beyond_exact_bounds_say_unknown() -> None:
    out = mask([float("nan"), float("inf"), 1e300], MaskSpec(strategy="generalize"), key=None)

    assert out == ["[?]", "[?]", "[?]"]


def test_email_domain_of_a_non_address_is_null() -> None:
    assert mask(["no address", "a@"], MaskSpec(strategy="email_domain"), key=None) == [None, None]


def test_fake_kinds_look_like_their_kind() -> None:
    def fake(kind: str) -> str:
        value = mask(["Jane Roe"], MaskSpec(strategy="fake", fake=kind))[0]  # type: ignore[arg-type]
        assert isinstance(value, str)
        return value

    assert fake("email").endswith("@example.com")
    assert fake("phone").startswith("+1-555-")
    assert len(fake("name").split(" ")) == 2
    assert fake("postal_code").isdigit()


def test_chunked_arrays_and_all_null_columns_are_accepted() -> None:
    chunked = pa.chunked_array([["ab"], ["cde"]])
    nulls = pa.nulls(3)

    assert mask_column(chunked, MaskSpec(strategy="partial", keep=1)).to_pylist() == ["*b", "**e"]
    assert mask_column(nulls, MaskSpec(strategy="hash"), key=KEY).null_count == 3


def test_a_keyed_strategy_without_a_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="'hash' needs a secret key"):
        mask(["x"], MaskSpec(strategy="hash"), key=None)


def test_a_text_strategy_on_dates_names_the_type() -> None:
    with pytest.raises(ConfigError, match="needs a text column, got date32"):
        mask_column(pa.array([dt.date(2000, 1, 1)]), MaskSpec(strategy="partial"))


def test_an_option_the_strategy_does_not_read_is_refused() -> None:
    with pytest.raises(ValidationError, match="'redact' does not read keep"):
        MaskSpec(strategy="redact", keep=2)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MaskSpec.model_validate({"strategy": "hash", "salt": "x"})


# -- the step -------------------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    return RunContext(run_id="t", pipeline="p", bus=EventBus(), base_dir=tmp_path)


def test_the_step_masks_the_configured_columns_only(ctx: RunContext) -> None:
    batch = pa.record_batch({"id": [1, 2], "email": ["a@x.org", None], "city": ["Lyon", "Oslo"]})
    step = MaskStep(
        MaskSettings.model_validate(
            {
                "columns": {"id": {"strategy": "hash"}, "email": {"strategy": "email_domain"}},
                "key": "step key",
            }
        ),
        name="mask_pii",
    )

    out = step.process(batch, ctx)

    assert out.schema.names == ["id", "email", "city"]
    assert out.column("id").to_pylist() == mask([1, 2], MaskSpec(strategy="hash"), b"step key")
    assert out.column("email").to_pylist() == ["x.org", None]
    assert out.column("city").to_pylist() == ["Lyon", "Oslo"]


def test_the_step_reads_its_key_from_the_environment(
    ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDEGATE_TEST_MASK_KEY", "from env")
    settings_ = MaskSettings.model_validate(
        {
            "columns": {"n": {"strategy": "fake", "fake": "name"}},
            "key": "env:TIDEGATE_TEST_MASK_KEY",
        }
    )
    out = MaskStep(settings_, name="m").process(pa.record_batch({"n": ["Jane Roe"]}), ctx)

    expected = mask(["Jane Roe"], MaskSpec(strategy="fake", fake="name"), b"from env")
    assert out.column("n").to_pylist() == expected
    assert "from env" not in repr(settings_)


def test_a_step_with_keyed_columns_and_no_key_is_refused() -> None:
    settings_ = MaskSettings.model_validate({"columns": {"email": {"strategy": "hash"}}})

    with pytest.raises(ConfigError, match="columns 'email' use a keyed strategy"):
        MaskStep(settings_, name="m")


def test_a_missing_column_is_named(ctx: RunContext) -> None:
    step = MaskStep(
        MaskSettings.model_validate({"columns": {"mail": {"strategy": "null"}}}), name="m"
    )

    with pytest.raises(ConfigError, match="'mail' are not in the batch") as info:
        step.process(pa.record_batch({"email": ["a@x.org"]}), ctx)
    assert info.value.hint == "the batch has: email"
