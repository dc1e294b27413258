"""The governance steps of a run: classify what comes in, check what goes out, guard quarantine.

The app puts :attr:`Governance.entry` before the pipeline's steps and :attr:`Governance.exit`
after them. On the first batch the entry step classifies the source columns (a sample, values
untouched) and the exit step decides per column (see ``policy.decide``): it also classifies
what the steps produce, so a column derived from personal data (``full_name`` built from
names) cannot slip through under a new name. The decisions are published as one
``ColumnsClassified`` event; a blocked column raises before the first batch reaches the
destination, so nothing is loaded.

Rejected rows leave the main path before loading, in clear unless a step already protected
them: the entry step, as the run's ``ProtectsQuarantine`` guard, encrypts their confidential
and restricted columns with the governance keyring, bound to ``<pipeline>__quarantine``, so a
replay can restore them with :func:`restore_quarantine`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import pyarrow as pa
import structlog

from tidegate.core.protocols import QUARANTINE_SUFFIX
from tidegate.errors import SecurityError
from tidegate.events import ColumnsClassified
from tidegate.governance.classify import Level, classify_table
from tidegate.governance.encrypt import (
    FORMAT_VERSION,
    NONCE_BYTES,
    TAG_BYTES,
    column_fingerprint,
    decrypt_column,
    encrypt_column,
)
from tidegate.governance.policy import SENSITIVE, Decision, Policy, decide

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tidegate.core import RunContext
    from tidegate.governance.classify import ColumnClassification
    from tidegate.governance.keys import Keyring

__all__ = [
    "ENTRY_STEP",
    "EXIT_STEP",
    "INSPECT_STEP",
    "Governance",
    "QuarantineGuard",
    "is_sealed",
    "quarantine_binding",
    "restore_quarantine",
    "seal_columns",
    "sealed_for",
]

ENTRY_STEP = "governance:classify"
INSPECT_STEP = "governance:inspect"
EXIT_STEP = "governance:check"
"""Step names; a colon cannot appear in a pipeline's own step names, so these never clash."""

_log = structlog.get_logger(__name__)


def quarantine_binding(pipeline: str) -> str:
    """The table name quarantined values are sealed for (associated data)."""
    return f"{pipeline}{QUARANTINE_SUFFIX}"


class Governance:
    """One run's governance: the classification, the decisions and the two steps that make them.

    Make a new one per run: the classification is taken once, from the run's first batch.
    """

    def __init__(
        self,
        *,
        policy: Policy,
        profile: str | None,
        pins: Mapping[str, str],
        protections: Mapping[str, str],
        keyring: Keyring | None,
        sample_rows: int,
        quarantines: bool,
    ) -> None:
        self.policy = policy
        self.profile = profile
        self.pins = dict(pins)
        self.protections = dict(protections)
        self.keyring = keyring
        self.sample_rows = sample_rows
        self.quarantines = quarantines
        self.source: list[ColumnClassification] | None = None
        self.derived: list[ColumnClassification] | None = None
        self.decisions: list[Decision] | None = None
        self.entry = _Entry(self)
        self.inspect = _Inspect(self)
        self.exit = _Exit(self)

    def classify_source(self, batch: pa.RecordBatch) -> None:
        """Classify the source columns from ``batch`` (the run's first)."""
        self.source = classify_table(pa.Table.from_batches([batch]), sample_rows=self.sample_rows)

    def classify_derived(self, batch: pa.RecordBatch) -> None:
        """Classify the columns of ``batch`` that the source does not have: those the steps
        derived before the first protecting step, while their values are still in clear."""
        known = {v.column for v in self.source or ()}
        fresh = [name for name in batch.schema.names if name not in known]
        self.derived = (
            classify_table(
                pa.Table.from_batches([batch.select(fresh)]), sample_rows=self.sample_rows
            )
            if fresh
            else []
        )

    def decide(self, batch: pa.RecordBatch, pipeline: str) -> list[Decision]:
        """The decision per column, given the steps' output ``batch`` (source classified)."""
        known = {v.column for v in (*(self.source or ()), *(self.derived or ()))}
        fresh = [
            name
            for name in batch.schema.names
            if name not in known and name not in self.protections
        ]
        output = (
            classify_table(
                pa.Table.from_batches([batch.select(fresh)]), sample_rows=self.sample_rows
            )
            if fresh
            else []
        )
        return decide(
            self.source or (),
            policy=self.policy,
            pipeline=pipeline,
            profile=self.profile,
            pins=self.pins,
            protections=self.protections,
            output_columns=batch.schema.names,
            output_verdicts=[*(self.derived or ()), *output],
        )

    def check(self, batch: pa.RecordBatch, ctx: RunContext) -> None:
        """Decide per column from the first output batch; publish; raise when blocked."""
        self.decisions = self.decide(batch, ctx.pipeline)
        problems = [d.problem() for d in self.decisions if d.status == "blocked"]
        problems += self._quarantine_problems(batch)
        ctx.emit(
            ColumnsClassified(
                run_id=ctx.run_id,
                pipeline=ctx.pipeline,
                policy=self.policy.source,
                profile=self.profile,
                columns=tuple(d.to_dict() for d in self.decisions),
                blocked=bool(problems),
            )
        )
        for decision in self.decisions:
            if decision.status == "warned":
                _log.warning("governance_unprotected", **decision.to_dict())
        if problems:
            raise SecurityError(
                "governance policy "
                f"({self.policy.source}, profile {self.profile or 'default'}) blocks the run "
                "before loading:\n  - " + "\n  - ".join(problems),
                hint="mask or encrypt these columns with a mask or encrypt step, drop them, "
                "pin their level in governance.classification if detection is wrong, or have "
                "the policy list them under exceptions",
            )

    def _quarantine_problems(self, batch: pa.RecordBatch) -> list[str]:
        if not self.quarantines or self.keyring is not None:
            return []
        clear = sorted(self.sensitive_columns())
        if not clear:
            return []
        return [
            f"rejected rows would keep {', '.join(repr(c) for c in clear)} in clear in the "
            "quarantine: governance.keys is needed to encrypt them there"
        ]

    def sensitive_columns(self) -> set[str]:
        """Columns whose values must not be kept in clear outside the main path: those at a
        sensitive level, and every column a step masks or encrypts (its author says so)."""
        found = set(self.protections)
        if self.decisions is not None:
            return found | {d.column for d in self.decisions if d.sensitive}
        for verdict in (*(self.source or ()), *(self.derived or ())):
            pinned = self.pins.get(verdict.column)
            level = Level(pinned) if pinned else self.policy.level_of(verdict.pii_type)
            if level in SENSITIVE:
                found.add(verdict.column)
        return found

    def protect(self, rows: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        """``rows`` with every sensitive column still in clear encrypted for the quarantine.

        Rows are rejected wherever the rules run, before or after the steps that protect a
        column: a column already holding ciphertexts (an encrypt step ran) is left as it is.
        """
        sensitive = self.sensitive_columns()
        targets = [
            name
            for name in rows.schema.names
            if name in sensitive and not is_sealed(rows.column(name))
        ]
        if not targets:
            return rows
        if self.keyring is None:
            raise SecurityError(
                f"rejected rows hold {', '.join(repr(c) for c in targets)} in clear and "
                "there is no key to encrypt them in the quarantine",
                hint="add governance.keys to the pipeline (`tidegate keys generate`)",
            )
        return seal_columns(rows, set(targets), keyring=self.keyring, pipeline=ctx.pipeline)


class _Entry:
    """First step of a governed run: classifies the source columns on the first batch."""

    keeps_rows: ClassVar[bool] = True

    def __init__(self, governance: Governance) -> None:
        self.name = ENTRY_STEP
        self.governance = governance

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        if self.governance.source is None:
            self.governance.classify_source(batch)
        return batch

    def protect_quarantine(self, rows: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        return self.governance.protect(rows, ctx)


class _Inspect:
    """Runs where the rules run, before the first protecting step: classifies derived columns
    (``full_name`` built from names) while their values are still in clear."""

    keeps_rows: ClassVar[bool] = True

    def __init__(self, governance: Governance) -> None:
        self.name = INSPECT_STEP
        self.governance = governance

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        if self.governance.derived is None:
            self.governance.classify_derived(batch)
        return batch


class _Exit:
    """Last step of a governed run: decides and stops the run before loading when blocked."""

    keeps_rows: ClassVar[bool] = True

    def __init__(self, governance: Governance) -> None:
        self.name = EXIT_STEP
        self.governance = governance

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        if self.governance.decisions is None:
            self.governance.check(batch, ctx)
        return batch


def _first_header(array: pa.Array) -> bytes | None:
    """The first non-null value of a binary ``array`` when it has a ciphertext's shape."""
    if not pa.types.is_binary(array.type):
        return None
    values = array.drop_null()
    if not len(values):
        return None
    first = values[0].as_py()
    if not isinstance(first, bytes) or len(first) < 2 or first[0] != FORMAT_VERSION:
        return None
    return first if len(first) >= _MIN_SEALED + first[1] else None


_MIN_SEALED = 2 + 4 + 4 + 4 + 1 + 1 + NONCE_BYTES + TAG_BYTES
"""Bytes of the smallest ciphertext besides its key id: header fields, nonce and tag."""


def is_sealed(array: pa.Array | pa.ChunkedArray) -> bool:
    """Whether ``array`` holds ciphertexts of ``encrypt`` (judged by its first value)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return _first_header(array) is not None


def sealed_for(array: pa.Array, *, table: str, column: str) -> bool:
    """Whether ``array`` holds ciphertexts sealed for ``table.column``.

    Reads the header fields of ``encrypt``'s layout up to the column fingerprint: version,
    key id length, key id, key version, key check value, then the fingerprint.
    """
    first = _first_header(array)
    if first is None:
        return False
    start = 2 + first[1] + 4 + 4
    return first[start : start + 4] == column_fingerprint(table, column)


class QuarantineGuard:
    """A step that changes nothing and encrypts ``columns`` of rows on their way to quarantine.

    A replay restores encrypted quarantined columns to run them through the rules again; rows
    rejected again must go back encrypted, which this guard does.
    """

    keeps_rows: ClassVar[bool] = True

    def __init__(self, columns: set[str], keyring: Keyring) -> None:
        self.name = "governance:guard"
        self.columns = columns
        self.keyring = keyring

    def process(self, batch: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        return batch

    def protect_quarantine(self, rows: pa.RecordBatch, ctx: RunContext) -> pa.RecordBatch:
        return seal_columns(rows, self.columns, keyring=self.keyring, pipeline=ctx.pipeline)


def seal_columns(
    rows: pa.RecordBatch, columns: set[str], *, keyring: Keyring, pipeline: str
) -> pa.RecordBatch:
    """``rows`` with ``columns`` (those present) encrypted for the pipeline's quarantine."""
    table = quarantine_binding(pipeline)
    for name in [n for n in rows.schema.names if n in columns]:
        index = rows.schema.get_field_index(name)
        sealed = encrypt_column(rows.column(index), keyring=keyring, table=table, column=name)
        rows = rows.set_column(index, pa.field(name, sealed.type), sealed)
    return rows


def restore_quarantine(
    rows: pa.Table, *, pipeline: str, keyring: Keyring | None
) -> tuple[pa.Table, set[str]]:
    """``rows`` read from the quarantine with the columns governance encrypted decrypted back,
    and the names of those columns.

    A binary column holds quarantine ciphertexts when its values are sealed for the pipeline's
    quarantine binding; columns an ``encrypt`` step sealed for the target stay as they are.
    """
    restored: set[str] = set()
    table = quarantine_binding(pipeline)
    for index, field in enumerate(rows.schema):
        values = rows.column(index).combine_chunks()
        if not sealed_for(values, table=table, column=field.name):
            continue
        if keyring is None:
            raise SecurityError(
                f"quarantined column {field.name!r} is encrypted and the pipeline has no keyring",
                hint="add the governance.keys the rows were quarantined with",
            )
        clear = decrypt_column(values, keyring=keyring, table=table, column=field.name)
        rows = rows.set_column(index, pa.field(field.name, clear.type), clear)
        restored.add(field.name)
    return rows, restored
