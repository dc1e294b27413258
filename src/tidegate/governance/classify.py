"""Automated PII classification of a table's columns from header semantics and value evidence.

A data steward must know which columns hold personal data before deciding what to mask or
encrypt. :func:`classify_table` looks at a bounded random sample of each column and decides its
PII type, with a confidence, the evidence (what matched, on which share of the non-null sampled
values, and what the header suggested) and a default classification level.

Two rules keep it honest:

- **values decide, headers only help.** A header hint (``email``, ``Geburtsdatum``, ``téléphone``)
  lowers the share of values that must validate, and settles formats that values alone cannot
  (a 5-digit code is a postal code only under a postal header), but a header never classifies a
  column on its own: ``email_sent`` holding booleans is not an email.
- **checksums, not shapes.** Values must pass a validator (Luhn, IBAN, python-stdnum national ids,
  phone numbering plans, strict email and IP parsing, plausible birth dates, name gazetteer), so
  order numbers, UUIDs, hashes, timestamps and ids that merely look like PII stay ``none``.

The match ratio is taken over non-null sampled values, so 40 % nulls do not hide a column, and
the threshold (80 %, 60 % under a matching header) tolerates a few dirty values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidegate.governance._detectors import (
    HINTED_THRESHOLD,
    THRESHOLD,
    Hit,
    detect_date_of_birth,
    detect_free_text,
    detect_geolocation_numbers,
    detect_strings,
)
from tidegate.governance._headers import header_hint

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_LEVELS",
    "ColumnClassification",
    "Evidence",
    "Level",
    "PiiType",
    "classify_table",
]


class PiiType(StrEnum):
    """The kinds of personal data Tidegate recognises in a column (``none``: not PII)."""

    EMAIL = "email"
    PHONE = "phone"
    PERSON_NAME = "person_name"
    STREET_ADDRESS = "street_address"
    POSTAL_CODE = "postal_code"
    DATE_OF_BIRTH = "date_of_birth"
    NATIONAL_ID = "national_id"
    CREDIT_CARD = "credit_card"
    IBAN = "iban"
    IP_ADDRESS = "ip_address"
    MAC_ADDRESS = "mac_address"
    GEOLOCATION = "geolocation"
    FREE_TEXT_PII = "free_text_pii"
    NONE = "none"


class Level(StrEnum):
    """Classification levels, from least to most protected."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


# The default PII type -> level mapping; a governance policy file overrides it. Identifiers that
# allow fraud on their own (national ids, cards, bank accounts) are restricted; what identifies
# or locates a person is confidential; network and coarse location data is internal.
DEFAULT_LEVELS: Final[dict[PiiType, Level]] = {
    PiiType.EMAIL: Level.CONFIDENTIAL,
    PiiType.PHONE: Level.CONFIDENTIAL,
    PiiType.PERSON_NAME: Level.CONFIDENTIAL,
    PiiType.STREET_ADDRESS: Level.CONFIDENTIAL,
    PiiType.POSTAL_CODE: Level.INTERNAL,
    PiiType.DATE_OF_BIRTH: Level.CONFIDENTIAL,
    PiiType.NATIONAL_ID: Level.RESTRICTED,
    PiiType.CREDIT_CARD: Level.RESTRICTED,
    PiiType.IBAN: Level.RESTRICTED,
    PiiType.IP_ADDRESS: Level.INTERNAL,
    PiiType.MAC_ADDRESS: Level.INTERNAL,
    PiiType.GEOLOCATION: Level.CONFIDENTIAL,
    PiiType.FREE_TEXT_PII: Level.CONFIDENTIAL,
    PiiType.NONE: Level.PUBLIC,
}

_FREE_TEXT_THRESHOLD: Final = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Why a column got its type: what matched, on which share, and what the header said."""

    matched: str
    ratio: float
    sampled: int
    header_hint: PiiType | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "matched": self.matched,
            "ratio": round(self.ratio, 4),
            "sampled": self.sampled,
            "header_hint": None if self.header_hint is None else str(self.header_hint),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnClassification:
    """The verdict on one column: PII type, confidence in 0..1, evidence and default level."""

    column: str
    pii_type: PiiType
    confidence: float
    evidence: Evidence
    level: Level

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (for ``tidegate classify --json`` and the classification event)."""
        return {
            "column": self.column,
            "pii_type": str(self.pii_type),
            "confidence": round(self.confidence, 3),
            "level": str(self.level),
            "evidence": self.evidence.to_dict(),
        }


def classify_table(
    table: pa.Table | Iterator[pa.RecordBatch],
    *,
    sample_rows: int = 10_000,
    seed: int = 0,
) -> list[ColumnClassification]:
    """Classify every column of ``table`` (or of a stream of batches) by PII type.

    At most ``sample_rows`` rows are looked at, drawn uniformly at random with ``seed`` so the
    verdict is reproducible; a stream is sampled on the fly (reservoir by random keys), so memory
    stays bounded by the sample, not the input.
    """
    rng = np.random.default_rng(seed)
    sample = _sample(table, sample_rows, rng)
    today = dt.datetime.now(tz=dt.UTC).date()
    return [
        _classify_column(name, sample.column(name).combine_chunks(), rng=rng, today=today)
        for name in sample.column_names
    ]


def _sample(
    table: pa.Table | Iterator[pa.RecordBatch], size: int, rng: np.random.Generator
) -> pa.Table:
    """A uniform random sample of at most ``size`` rows (smallest random keys win)."""
    if isinstance(table, pa.Table):
        if table.num_rows <= size:
            return table
        return table.take(pa.array(np.sort(rng.choice(table.num_rows, size, replace=False))))
    kept: pa.Table | None = None
    keys = np.empty(0)
    for batch in table:
        batch_keys = rng.random(batch.num_rows)
        merged = (
            pa.Table.from_batches([batch])
            if kept is None
            else pa.concat_tables([kept, pa.Table.from_batches([batch])])
        )
        keys = np.concatenate([keys, batch_keys])
        if len(keys) > size:
            keep = np.sort(np.argpartition(keys, size)[:size])
            merged, keys = merged.take(pa.array(keep)), keys[keep]
        kept = merged
    if kept is None:
        return pa.table({})
    return kept


def _classify_column(
    name: str, column: pa.Array, *, rng: np.random.Generator, today: dt.date
) -> ColumnClassification:
    hint_value = header_hint(name)
    hint = None if hint_value is None else PiiType(hint_value)
    values = _present(column)
    sampled = len(values)
    hits = _hits(values, hint=hint_value, rng=rng, today=today) if sampled else []
    best = _decide(hits, hint_value)
    if best is None:
        top = max(hits, key=lambda hit: hit.ratio, default=None)
        matched = (
            "no validator matched"
            if top is None or top.ratio == 0
            else (f"best: {top.pii_type} ({top.matched}) below threshold")
        )
        ratio = 0.0 if top is None else top.ratio
        evidence = Evidence(matched=matched, ratio=ratio, sampled=sampled, header_hint=hint)
        return ColumnClassification(
            column=name,
            pii_type=PiiType.NONE,
            confidence=round(1.0 - ratio, 3),
            evidence=evidence,
            level=DEFAULT_LEVELS[PiiType.NONE],
        )
    pii = PiiType(best.pii_type)
    agrees = hint == pii
    confidence = min(1.0, best.ratio * (1.0 if agrees else 0.9) + (0.05 if agrees else 0.0))
    if pii is PiiType.FREE_TEXT_PII:
        confidence = min(1.0, 0.6 + best.ratio + (0.1 if agrees else 0.0))
    return ColumnClassification(
        column=name,
        pii_type=pii,
        confidence=round(confidence, 3),
        evidence=Evidence(
            matched=best.matched, ratio=best.ratio, sampled=sampled, header_hint=hint
        ),
        level=DEFAULT_LEVELS[pii],
    )


def _present(column: pa.Array) -> pa.Array:
    """The values that say something: not null and, for text, not blank.

    A CSV has no null: an empty field reads as an empty string. Counting those would let a
    sparse column (notes filled on 60 % of the rows, IBANs only for the countries that have
    them) fall under its threshold, which is what dropping nulls is meant to prevent.
    """
    values = column.drop_null()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = values.filter(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0))
    return values


def _hits(
    values: pa.Array, *, hint: str | None, rng: np.random.Generator, today: dt.date
) -> list[Hit]:
    """Evidence for every type the column's Arrow type can hold."""
    kind = values.type
    hits: list[Hit] = []
    if pa.types.is_boolean(kind) or pa.types.is_binary(kind) or pa.types.is_nested(kind):
        return hits
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        dob = detect_date_of_birth(values, hint=hint, today=today)
        return [] if dob is None else [dob]
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        geo = detect_geolocation_numbers(values, hint=hint)
        return [] if geo is None else [geo]
    strings = pc.cast(values, pa.string())
    if pa.types.is_integer(kind) and hint == "postal_code":
        strings = pc.utf8_lpad(strings, 5, "0")
    hits.extend(detect_strings(strings, hint=hint, rng=rng))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        dob = detect_date_of_birth(strings, hint=hint, today=today)
        if dob is not None:
            hits.append(dob)
        free = detect_free_text(strings)
        if free is not None:
            hits.append(free)
    return hits


def _decide(hits: list[Hit], hint: str | None) -> Hit | None:
    """The best hit over its threshold; a structured type beats free text, the hint breaks ties."""
    structured = [
        hit
        for hit in hits
        if hit.pii_type != PiiType.FREE_TEXT_PII
        and hit.ratio >= (HINTED_THRESHOLD if hit.pii_type == hint else THRESHOLD)
    ]
    if structured:
        return max(structured, key=lambda hit: hit.ratio + (0.1 if hit.pii_type == hint else 0))
    free = [
        h for h in hits if h.pii_type == PiiType.FREE_TEXT_PII and h.ratio >= _FREE_TEXT_THRESHOLD
    ]
    return free[0] if free else None
