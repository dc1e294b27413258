"""Masking strategies over whole Arrow columns, the ``MaskSpec`` that picks one, and ``MaskStep``.

A masked column must stay useful (joins, group-bys, plausible test data) while no longer holding
the personal value. Each strategy trades those differently:

    hash          HMAC-SHA-256 with a secret key: deterministic, so joins still match, and
                  irreversible without the key (a plain hash of an email is reversed by hashing
                  a list of emails). Integer columns give int64, others 64 hex digits.
    partial       keep the last (or first) N characters, the rest become the mask character;
                  at least one character is always hidden, so a short value is never kept whole.
    redact        a fixed text in place of every value.
    null          every value becomes null, the column keeps its type.
    generalize    dates and timestamps to the first day of their month or year (type kept),
                  numbers to the range that holds them ("30-39"), text such as postal codes to a
                  prefix (the rest masked).
    email_domain  only the domain, lowercased: group by provider without the person.
    fake          a consistent, type-appropriate pseudonym (name, email, phone, …) chosen by the
                  keyed HMAC of the value: the same input and key always give the same fake, a
                  different key gives a different one, and a fake never equals its input.

Every strategy works on the whole column through ``pyarrow.compute``, numpy or DuckDB (the
HMAC, see ``_hmac``): no Python loop over values. Null stays null everywhere.

Values a strategy cannot change are its fixed points and are inherent, not bugs: ``redact``
returns its own text unchanged, ``partial`` a value whose hidden characters already are the
mask character, and ``generalize`` a date already on the first day of its period.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tidegate.errors import ConfigError
from tidegate.governance import _fake, _hmac
from tidegate.spec.settings import PluginSettings, Secret

if TYPE_CHECKING:
    from collections.abc import Callable

    from tidegate.core.context import RunContext

__all__ = ["STRATEGIES", "MaskSettings", "MaskSpec", "MaskStep", "Strategy", "mask_column"]

Strategy = Literal["hash", "partial", "redact", "null", "generalize", "email_domain", "fake"]
STRATEGIES: tuple[Strategy, ...] = (
    "hash",
    "partial",
    "redact",
    "null",
    "generalize",
    "email_domain",
    "fake",
)

_OPTIONS: dict[Strategy, frozenset[str]] = {
    "hash": frozenset(),
    "partial": frozenset({"keep", "side", "mask_char"}),
    "redact": frozenset({"text"}),
    "null": frozenset(),
    "generalize": frozenset({"to", "width", "keep", "mask_char"}),
    "email_domain": frozenset(),
    "fake": frozenset({"fake"}),
}
"""The options each strategy reads: setting another one is a mistake worth reporting."""

_KEYED: frozenset[Strategy] = frozenset({"hash", "fake"})


class MaskSpec(BaseModel):
    """How to mask one column: a strategy and the options that strategy reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Strategy = Field(description="the masking strategy")
    keep: int | None = Field(
        default=None,
        ge=0,
        description="partial/generalize: characters kept in clear (default 4 and 3)",
    )
    side: Literal["last", "first"] = Field(
        default="last", description="partial: keep the last or the first characters"
    )
    mask_char: str = Field(
        default="*", min_length=1, max_length=1, description="partial/generalize: mask character"
    )
    text: str = Field(default="[REDACTED]", description="redact: the text shown instead")
    to: Literal["month", "year"] = Field(
        default="year", description="generalize: period dates and timestamps are truncated to"
    )
    width: int = Field(default=10, gt=0, description="generalize: size of a numeric range")
    fake: _fake.FakeKind = Field(default="token", description="fake: the kind of value made up")

    @model_validator(mode="after")
    def _only_own_options(self) -> MaskSpec:
        unused = sorted(self.model_fields_set - _OPTIONS[self.strategy] - {"strategy"})
        if unused:
            allowed = ", ".join(sorted(_OPTIONS[self.strategy])) or "none"
            raise ValueError(
                f"strategy {self.strategy!r} does not read {', '.join(unused)} "
                f"(its options: {allowed})"
            )
        return self

    @property
    def needs_key(self) -> bool:
        """Whether the strategy is keyed (``hash``, ``fake``) and so needs a secret key."""
        return self.strategy in _KEYED


def mask_column(
    array: pa.Array | pa.ChunkedArray, spec: MaskSpec, *, key: bytes | None = None
) -> pa.Array:
    """``array`` masked as ``spec`` says, as one contiguous array of the same length.

    ``key`` is required by the keyed strategies (``hash``, ``fake``); a ``ConfigError`` says so
    when it is missing, and a ``ConfigError`` names the strategy and type a column cannot take.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if spec.needs_key and not key:
        raise ConfigError(
            f"masking strategy {spec.strategy!r} needs a secret key",
            hint="set the mask step's key (env:NAME or file:PATH), the same in every run",
        )
    if pa.types.is_null(array.type):
        return array
    return _MASKERS[spec.strategy](array, spec, key or b"")


# -- strategies ----------------------------------------------------------------------------------


def _hash(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    if pa.types.is_integer(array.type):
        return _hmac.hmac_int(array, key)
    return _hmac.hmac_hex(array, key)


def _text(array: pa.Array, strategy: str) -> pa.Array:
    """The column as UTF-8 strings; text-only strategies accept what casts to text cleanly."""
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_large_string(array.type) or pa.types.is_dictionary(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_integer(array.type) or pa.types.is_decimal(array.type):
        return pc.cast(array, pa.string())
    raise ConfigError(
        f"masking strategy {strategy!r} needs a text column, got {array.type}",
        hint="use null, redact or hash for this column, or cast it to a string first",
    )


def _hide(
    strings: pa.Array, *, keep: int, side: Literal["last", "first"], mask_char: str
) -> pa.Array:
    """Keep ``keep`` characters on ``side``, at least one fewer than the value has; mask the rest.

    The per-row count is ``min(keep, length - 1)``: Arrow slices take one start for the whole
    column, so when some rows are not longer than ``keep`` they are sliced apart and chosen.
    """
    length = pc.utf8_length(strings)
    shortest = pc.min(length).as_py()
    if shortest is None or shortest > keep:  # the usual case: one slice serves every row
        hidden = pc.subtract(length, keep)
        clear = _slice(strings, keep=keep, side=side)
    else:
        hidden = pc.subtract(
            length, pc.min_element_wise(keep, pc.max_element_wise(pc.subtract(length, 1), 0))
        )
        short = (
            pc.utf8_slice_codeunits(strings, start=1)
            if side == "last"
            else (pc.utf8_slice_codeunits(strings, start=0, stop=-1))
        )
        clear = pc.if_else(pc.greater(length, keep), _slice(strings, keep=keep, side=side), short)
    # A null row's count is garbage underneath its null; the join keeps the row null anyway.
    masked = pc.binary_repeat(mask_char, pc.fill_null(hidden, 0))
    parts = (masked, clear) if side == "last" else (clear, masked)
    return pc.binary_join_element_wise(*parts, "")


def _slice(strings: pa.Array, *, keep: int, side: Literal["last", "first"]) -> pa.Array:
    """The ``keep`` characters on ``side`` of each value (all of a shorter one)."""
    if keep == 0:
        return pc.if_else(pc.is_valid(strings), "", pa.scalar(None, pa.string()))
    if side == "last":
        return pc.utf8_slice_codeunits(strings, start=-keep)
    return pc.utf8_slice_codeunits(strings, start=0, stop=keep)


def _partial(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    keep = 4 if spec.keep is None else spec.keep
    return _hide(_text(array, "partial"), keep=keep, side=spec.side, mask_char=spec.mask_char)


def _redact(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    return pc.if_else(pc.is_valid(array), spec.text, pa.scalar(None, pa.string()))


def _null(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    return pa.nulls(len(array), type=array.type)


def _generalize(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    kind = array.type
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        floored = pc.floor_temporal(array, unit=spec.to)
        return floored.cast(kind) if floored.type != kind else floored
    if pa.types.is_integer(kind):
        return _integer_ranges(array, spec.width)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return _float_ranges(pc.cast(array, pa.float64()), spec.width)
    strings = _text(array, "generalize")
    keep = 3 if spec.keep is None else spec.keep
    return _hide(strings, keep=keep, side="first", mask_char=spec.mask_char)


def _integer_ranges(array: pa.Array, width: int) -> pa.Array:
    """``"30-39"`` for 34 with width 10; floor division, so -1 falls in ``"-10--1"``."""
    values = pc.cast(array, pa.int64()).fill_null(0).to_numpy()
    low = np.floor_divide(values, width) * width
    labels = pc.binary_join_element_wise(
        pc.cast(pa.array(low), pa.string()), pc.cast(pa.array(low + (width - 1)), pa.string()), "-"
    )
    return pc.if_else(pc.is_valid(array), labels, pa.scalar(None, pa.string()))


def _float_ranges(array: pa.Array, width: int) -> pa.Array:
    """``"[30, 40)"`` for 34.5 with width 10: a half-open range, as fractions fall in between.

    NaN, infinities and magnitudes beyond 1e18 (no exact integer bounds) become ``"[?]"``.
    """
    usable = pc.fill_null(pc.and_(pc.is_finite(array), pc.less(pc.abs(array), 1e18)), False)
    safe = pc.if_else(usable, array, 0.0)
    low = pc.multiply(pc.floor(pc.divide(safe, float(width))), float(width))
    # x / width can round across a bound (-5e-324 / 5 is -0.0): step back into the range.
    low = pc.if_else(pc.greater(low, safe), pc.subtract(low, width), low)
    low = pc.if_else(pc.less_equal(pc.add(low, width), safe), pc.add(low, width), low)
    low = pc.cast(low, pa.int64())
    labels = pc.binary_join_element_wise(
        "[",
        pc.cast(low, pa.string()),
        ", ",
        pc.cast(pc.add(low, width), pa.string()),
        ")",
        "",
    )
    return pc.if_else(usable, labels, pc.if_else(pc.is_valid(array), "[?]", None))


def _email_domain(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    """The part after the last ``@``, lowercased; null for a value that is not an address.

    Every value gets an ``@`` in front, so splitting once from the right always gives two parts
    and the domain is the second: a split and a list lookup, several times cheaper than a regex.
    """
    text = _text(array, "email_domain")
    parts = pc.split_pattern(
        pc.binary_join_element_wise("@", text, ""), "@", max_splits=1, reverse=True
    )
    domain = pc.utf8_lower(pc.list_element(parts, 1))
    is_address = pc.and_(pc.match_substring(text, "@"), pc.not_equal(domain, ""))
    return pc.if_else(is_address, domain, pa.scalar(None, pa.string()))


def _fake_values(array: pa.Array, spec: MaskSpec, key: bytes) -> pa.Array:
    strings = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
    if _hmac.repeats(strings):  # names, cities: make each distinct value's pseudonym once
        encoded = pc.dictionary_encode(strings)
        distinct = encoded.dictionary
        fakes = _fake.pseudonyms(distinct, _hmac.hmac_int(distinct, key), spec.fake)
        return pc.take(fakes, encoded.indices)
    return _fake.pseudonyms(strings, _hmac.hmac_int(strings, key), spec.fake)


_MASKERS: dict[Strategy, Callable[[pa.Array, MaskSpec, bytes], pa.Array]] = {
    "hash": _hash,
    "partial": _partial,
    "redact": _redact,
    "null": _null,
    "generalize": _generalize,
    "email_domain": _email_domain,
    "fake": _fake_values,
}


# -- the step ------------------------------------------------------------------------------------


class MaskSettings(PluginSettings):
    """Settings of the ``mask`` step."""

    columns: dict[str, MaskSpec] = Field(min_length=1, description="column -> how to mask it")
    key: Secret | None = Field(
        default=None, description="secret key of hash and fake (env:NAME or file:PATH)"
    )


class MaskStep:
    """Masks the configured columns of each batch, every column as a whole, side by side.

    The columns are masked on a small thread pool: Arrow kernels and DuckDB release the GIL, so
    a cheap column is done while DuckDB hashes another.
    """

    kind: ClassVar[str] = "mask"
    keeps_rows: ClassVar[bool] = True
    Settings: ClassVar[type[PluginSettings]] = MaskSettings

    def __init__(self, settings: MaskSettings, *, name: str) -> None:
        self.name = name
        self.settings = settings
        keyed = sorted(col for col, spec in settings.columns.items() if spec.needs_key)
        if keyed and settings.key is None:
            raise ConfigError(
                f"mask step {name!r}: columns {', '.join(repr(c) for c in keyed)} use a keyed "
                "strategy (hash, fake) but the step has no key",
                hint="add key: env:NAME (or file:PATH) to the step, the same value in every run",
            )
        self._key = b"" if settings.key is None else settings.key.get_secret_value().encode()

    @property
    def protections(self) -> dict[str, str]:
        """Column -> how this step protects it (``mask:<strategy>``), for the governance check."""
        return {column: f"mask:{spec.strategy}" for column, spec in self.settings.columns.items()}

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``batch`` with each configured column replaced by its masked form, in place."""
        names = batch.schema.names
        missing = sorted(set(self.settings.columns) - set(names))
        if missing:
            raise ConfigError(
                f"mask step {self.name!r}: column(s) {', '.join(repr(c) for c in missing)} "
                "are not in the batch",
                hint=f"the batch has: {', '.join(names)}",
            )
        items = list(self.settings.columns.items())
        with ThreadPoolExecutor(max_workers=min(4, len(items))) as pool:
            masked = list(
                pool.map(
                    lambda item: mask_column(batch.column(item[0]), item[1], key=self._key),
                    items,
                )
            )
        for (column, _), values in zip(items, masked, strict=True):
            index = names.index(column)
            batch = batch.set_column(index, pa.field(column, values.type), values)
        return batch
