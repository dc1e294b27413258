"""``StateRecorder``: the listener that writes each run into the state store.

It writes twice per run, never per batch: a ``running`` row when the run starts (so a run in
progress, or one killed, shows in ``tidegate runs``), with the effective spec the first time
its hash is seen and a change log entry when the hash differs from the previous run's, and,
when it ends, the outcome with its steps, quality, column classification, source schema,
performance figures, any regression against the pipeline's baseline, its timeline and a few
sample rejected rows, in one transaction.

The timeline is kept in memory until then and bounded: the start, resumes, retries, breaker
changes and faults are kept up to ``MAX_EVENTS`` (the rest counted in one entry), the error
and the end always; of the batches committed and of the rejections only the first and last
``EDGE_ENTRIES`` each, with one entry summing up those in between. So a run of ten thousand
batches costs the store a few hundred rows.
An error's entry carries what its kind means and who acts on it, from the error taxonomy
(``core.taxonomy.KIND_POLICIES``), the table ``tidegate errors`` prints. A regression is also
published as a ``RunRegressed`` event for the other listeners (logs, metrics, alerts).

The state store observes runs; it must never fail one. A store that cannot be written is
logged once per recorder and the run goes on.
"""

from __future__ import annotations

import getpass
import socket
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.core.taxonomy import KIND_POLICIES
from tidegate.errors import ErrorKind, TidegateError
from tidegate.events import (
    BatchCommitted,
    BatchRead,
    BreakerChanged,
    ColumnsClassified,
    FaultInjected,
    QualityMeasured,
    RetryAttempted,
    RowsRejected,
    RunFinished,
    RunRegressed,
    RunResumed,
    RunStarted,
)
from tidegate.state.changes import SpecOrigin
from tidegate.state.store import regressions

if TYPE_CHECKING:
    from tidegate.core.taxonomy import KindPolicy
    from tidegate.events import Event, EventBus
    from tidegate.spec.observability import BaselineSpec
    from tidegate.state.changes import GitInfo
    from tidegate.state.store import StateStore

__all__ = ["EDGE_ENTRIES", "MAX_EVENTS", "MAX_REJECT_SAMPLES", "RejectSampler", "StateRecorder"]

_log = structlog.get_logger(__name__)

EDGE_ENTRIES = 100
"""Batches committed (and rejections) kept at each end of a run's timeline; those between are
summed up in one entry."""

MAX_EVENTS = 400
"""Other timeline entries (retries, breaker changes, faults...) kept per run; the rest are
counted in a last entry."""

MAX_REJECT_SAMPLES = 20
"""Sample rejected rows kept per run."""

_UNREACHABLE = frozenset({str(ErrorKind.DEPENDENCY), str(ErrorKind.TRANSIENT)})

RejectSampler = Callable[[str, int, Mapping[str, str] | None], Sequence[Mapping[str, Any]]]
"""``(run_id, rejected, levels) -> rows``: up to ``MAX_REJECT_SAMPLES`` rows the run rejected,
each with ``step``, ``batch``, ``source_row``, ``rules``, ``reason`` and ``row`` (a JSON-ready
mapping of its values, masked as the policy requires). ``rejected`` is how many rows the run
rejected (reading them all back may not be worth it); ``levels`` maps the run's classified
columns to their level, None when it classified none. The app layer provides it; it may raise.
"""


class StateRecorder:
    """Records runs published on ``bus`` into ``store``.

    ``figures`` returns the finished run's performance figures (a ``RunFigures.to_dict()``),
    or None; the app subscribes the meter that computes them before this recorder, so they are
    complete when ``RunFinished`` arrives here. ``spec`` is the pipeline's effective spec
    (secrets redacted), stored once per ``spec_hash``. ``rejects`` reads sample rejected rows
    back after a run that quarantined some; its failure costs the samples, never the record.

    The change log: a run whose spec hash differs from its pipeline's previous run's is
    recorded as a new version of the spec with its diff, in the run start's transaction.
    ``spec_file`` is where the spec was read from, ``fingerprints`` fingerprint the values
    ``spec`` shows redacted (so a rotated secret still shows as changed), and ``git`` tells
    the spec file's git state; it is called only for a new version, before the store's
    transaction opens, and whatever it raises costs the git columns, never the record.
    The source schema of the run's first ``BatchRead`` is recorded with the run's end.
    """

    fail_closed = False

    def __init__(
        self,
        store: StateStore,
        *,
        bus: EventBus,
        baseline: BaselineSpec,
        spec_hash: str,
        profile: str | None = None,
        figures: Callable[[], Mapping[str, Any] | None] = lambda: None,
        spec: Mapping[str, Any] | None = None,
        rejects: RejectSampler | None = None,
        spec_file: str | None = None,
        fingerprints: Mapping[str, str] | None = None,
        git: Callable[[], GitInfo | None] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.baseline = baseline
        self.spec_hash = spec_hash
        self.profile = profile
        self.figures = figures
        self.spec = spec
        self.rejects = rejects
        self.spec_file = spec_file
        self.fingerprints = dict(fingerprints or {})
        self.git = git
        self.failures = 0
        self._schema: list[dict[str, str]] | None = None
        self._quality: QualityMeasured | None = None
        self._columns: ColumnsClassified | None = None
        self._resumed_from: str | None = None
        self._quarantined = False
        self._timeline = _Timeline(datetime.now(UTC))
        self._started: set[str] = set()

    def handle(self, event: Event) -> None:
        """Record run starts and ends; keep what the end needs."""
        if isinstance(event, RunStarted):
            self._quality = self._columns = self._resumed_from = None
            self._quarantined = False
            self._schema = None
            self._timeline = _Timeline(event.at)
            self._timeline.started(event)
            self._write(self._start, event)
        elif isinstance(event, QualityMeasured):
            self._quality = event
        elif isinstance(event, ColumnsClassified):
            self._columns = event
        elif isinstance(event, RunResumed):
            self._resumed_from = event.from_run
            self._timeline.resumed(event)
        elif isinstance(event, RowsRejected):
            self._quarantined = self._quarantined or event.quarantine is not None
            self._timeline.rejected(event)
        elif isinstance(event, BatchCommitted | RetryAttempted | BreakerChanged | FaultInjected):
            self._timeline.note(event)
        elif isinstance(event, BatchRead) and event.schema is not None:
            self._schema = [{"name": name, "type": kind} for name, kind in event.schema]
        elif isinstance(event, RunFinished) and event.run_id in self._started:
            self._timeline.finished(event)
            self._write(self._finish, event)

    def _write(self, action: Callable[[Any], None], event: Event) -> None:
        try:
            action(event)
        except TidegateError as exc:
            self.failures += 1
            if self.failures == 1:
                _log.warning(
                    "state_store_unavailable",
                    store=self.store.shown_url,
                    error=exc.message,
                    hint="runs go on; this one is missing from `tidegate runs`",
                )

    def _start(self, event: RunStarted) -> None:
        self.store.start_run(
            {
                "run_id": event.run_id,
                "pipeline": event.pipeline,
                "status": "running",
                "started_at": event.at,
                "profile": self.profile,
                "spec_hash": self.spec_hash,
                "host": socket.gethostname(),
                "user_name": _user(),
                "version": version("tidegate"),
            },
            spec=self.spec,
            origin=SpecOrigin(
                spec_file=self.spec_file, git=self._git(event), fingerprints=self.fingerprints
            ),
        )
        self._started.add(event.run_id)

    def _git(self, event: RunStarted) -> GitInfo | None:
        """The spec file's git state when this run is about to be a new version, else None
        (git is not asked for a run of an unchanged spec)."""
        if self.git is None:
            return None
        previous = self.store.previous_spec_hash(
            event.pipeline, run_id=event.run_id, started_at=event.at
        )
        if previous == self.spec_hash:
            return None
        try:
            return self.git()
        except Exception as exc:  # git is a convenience: the version is recorded without it
            _log.debug("git_info_unavailable", error=str(exc))
            return None

    def _finish(self, event: RunFinished) -> None:
        figures = dict(self.figures() or {})
        measured = {
            "seconds": event.seconds,
            "rows_read": float(event.rows_read),
            "rows_per_s": event.rows_read / event.seconds if event.seconds else 0.0,
        }
        found: list[dict[str, Any]] = []
        if event.status == "succeeded":
            baseline = self.store.baseline(
                event.pipeline, runs=self.baseline.runs, before=event.run_id
            )
            if len(baseline) >= self.baseline.min_runs:
                found = regressions(measured, baseline, sigma=self.baseline.sigma)
        self.store.finish_run(
            event.run_id,
            {
                "status": event.status,
                "error_kind": event.error_kind,
                "error": event.error,
                "finished_at": datetime.now(UTC),
                "seconds": event.seconds,
                "rows_read": event.rows_read,
                "rows_written": event.rows_written,
                "rows_rejected": event.rows_rejected,
                "batches": event.batches,
                "quality_score": self._quality.score if self._quality else None,
                "resumed_from": self._resumed_from,
                "figures": figures or None,
                "source_schema": self._schema,
            },
            steps=[
                {
                    "step": step["step"],
                    "position": position,
                    "batches": step["batches"],
                    "rows_in": step["rows_in"],
                    "rows_out": step["rows_out"],
                    "rejected": step["rejected"],
                    "seconds": step["seconds"],
                }
                for position, step in enumerate(figures.get("steps", ()))
            ],
            quality=self._quality_row(),
            columns=self._column_rows(),
            regressions=found,
            timeline=self._timeline.entries(),
            rejects=self._sample_rejects(event),
        )
        self._started.discard(event.run_id)
        for regression in found:
            self.bus.publish(
                RunRegressed(
                    run_id=event.run_id,
                    pipeline=event.pipeline,
                    metric=str(regression["metric"]),
                    value=regression["value"],
                    mean=regression["mean"],
                    stddev=regression["stddev"],
                    sigmas=regression["sigmas"],
                    runs=int(regression["runs"]),
                )
            )

    def _sample_rejects(self, event: RunFinished) -> list[dict[str, Any]]:
        """A few of the rows the run quarantined, masked by the sampler; none when it fails,
        nor after a run that failed because a system was down or timing out: the sampler
        would read them back from that system (the destination) and wait on it again."""
        if self.rejects is None or not self._quarantined or event.error_kind in _UNREACHABLE:
            return []
        run_id = event.run_id
        levels = (
            None
            if self._columns is None
            else {str(c["column"]): str(c["level"]) for c in self._columns.columns}
        )
        try:
            rows = self.rejects(run_id, event.rows_rejected, levels)
        except Exception as exc:  # samples are a convenience: whatever fails, the record goes on
            _log.warning("reject_samples_unavailable", run_id=run_id, error=str(exc))
            return []
        return [
            {
                "seq": seq,
                "step": str(row["step"]),
                "batch": row.get("batch"),
                "source_row": row.get("source_row"),
                "rules": row.get("rules"),
                "reason": str(row.get("reason") or ""),
                "row": dict(row["row"]),
            }
            for seq, row in enumerate(rows[:MAX_REJECT_SAMPLES])
        ]

    def _quality_row(self) -> dict[str, Any] | None:
        quality = self._quality
        if quality is None:
            return None
        return {
            "step": quality.step,
            "score": quality.score,
            "rows": quality.rows,
            "rejected": quality.rejected,
            "dimensions": dict(quality.dimensions),
            "rules": [dict(rule) for rule in quality.rules],
        }

    def _column_rows(self) -> list[dict[str, Any]]:
        classified = self._columns
        if classified is None:
            return []
        return [
            {
                "column_name": column["column"],
                "pii_type": column["pii_type"],
                "level": column["level"],
                "origin": column["origin"],
                "required": column["required"],
                "applied": column["applied"],
                "status": column["status"],
                "policy": classified.policy,
            }
            for column in classified.columns
        ]


@dataclass
class _Entry:
    """One timeline entry; ``order`` is the order events arrived in."""

    order: int
    offset: float
    kind: str
    text: str
    detail: dict[str, Any]
    error_kind: str | None = None


@dataclass
class _Edges:
    """The first and last ``EDGE_ENTRIES`` entries of a frequent kind, and what lies between:
    how many, how many rows, from when to when."""

    head: list[_Entry] = field(default_factory=list)
    tail: deque[_Entry] = field(default_factory=lambda: deque(maxlen=EDGE_ENTRIES))
    between: int = 0
    rows: int = 0
    first: _Entry | None = None
    last: _Entry | None = None

    def add(self, entry: _Entry) -> None:
        if len(self.head) < EDGE_ENTRIES:
            self.head.append(entry)
            return
        if len(self.tail) == EDGE_ENTRIES:
            dropped = self.tail[0]
            self.between += 1
            self.rows += int(dropped.detail.get("rows", 0))
            self.first = self.first or dropped
            self.last = dropped
        self.tail.append(entry)

    def entries(self, summary: str) -> list[_Entry]:
        found = [*self.head]
        if self.between and self.first is not None and self.last is not None:
            found.append(
                _Entry(
                    order=self.first.order,
                    offset=self.first.offset,
                    kind="summary",
                    text=summary.format(
                        count=self.between,
                        rows=self.rows,
                        since=self.first.offset,
                        until=self.last.offset,
                    ),
                    detail={
                        "entries": self.between,
                        "rows": self.rows,
                        "until_seconds": self.last.offset,
                    },
                )
            )
        return [*found, *self.tail]


class _Timeline:
    """A run's timeline as its events arrive, bounded (see the module docstring)."""

    def __init__(self, origin: datetime) -> None:
        self.origin = origin
        self.order = 0
        self.kept: list[_Entry] = []
        self.dropped = 0
        self.batches = _Edges()
        self.rejections = _Edges()
        self.committed = 0

    def _entry(
        self, at: datetime, kind: str, text: str, error_kind: str | None = None, **detail: Any
    ) -> _Entry:
        self.order += 1
        offset = max((at - self.origin).total_seconds(), 0.0)
        return _Entry(self.order, offset, kind, text, detail, error_kind)

    def _keep(self, entry: _Entry) -> None:
        if len(self.kept) < MAX_EVENTS:
            self.kept.append(entry)
        else:
            self.dropped += 1

    def started(self, event: RunStarted) -> None:
        steps = " → ".join(event.steps) if event.steps else "no step"
        self._keep(
            self._entry(
                event.at,
                "start",
                f"run started: {event.source} → {steps} → {event.destination}",
                source=event.source,
                destination=event.destination,
                steps=list(event.steps),
            )
        )

    def resumed(self, event: RunResumed) -> None:
        self.committed = event.rows
        text = (
            f"resuming run {event.from_run} after batch {event.batch:,} "
            f"({event.rows:,} source rows committed)"
        )
        if event.already_finished:
            text = f"run {event.from_run} had finished: nothing left to load"
        self._keep(
            self._entry(
                event.at,
                "resume",
                text,
                from_run=event.from_run,
                batch=event.batch,
                rows=event.rows,
                already_finished=event.already_finished,
            )
        )

    def rejected(self, event: RowsRejected) -> None:
        reasons = sorted(event.reasons.items(), key=lambda pair: (-pair[1], pair[0]))
        said = "; ".join(f"{reason} ({count:,})" for reason, count in reasons[:3])
        more = f"; {len(reasons) - 3} more reasons" if len(reasons) > 3 else ""
        entry = self._entry(
            event.at,
            "rejected",
            f"{event.rows:,} rows rejected by {event.step} in batch {event.batch:,}"
            + (f": {said}{more}" if said else ""),
            step=event.step,
            batch=event.batch,
            rows=event.rows,
            reasons=dict(reasons[:10]),
            quarantine=event.quarantine,
        )
        self.rejections.add(entry)

    def note(self, event: BatchCommitted | RetryAttempted | BreakerChanged | FaultInjected) -> None:
        if isinstance(event, BatchCommitted):
            rows = max(event.rows - self.committed, 0)
            self.committed = event.rows
            entry = self._entry(
                event.at,
                "batch",
                f"batch {event.batch:,} committed: {rows:,} rows ({event.rows:,} so far), "
                f"commit {event.seconds:.3f} s",
                batch=event.batch,
                rows=rows,
                total=event.rows,
                seconds=event.seconds,
            )
            self.batches.add(entry)
        elif isinstance(event, RetryAttempted):
            policy = _policy(event.error_kind)
            self._keep(
                self._entry(
                    event.at,
                    "retry",
                    f"{event.operation} on {event.target} failed ({event.error_kind}), "
                    f"attempt {event.attempt}: trying again in {event.delay:.3g} s",
                    event.error_kind,
                    operation=event.operation,
                    target=event.target,
                    attempt=event.attempt,
                    delay=event.delay,
                    retried=policy.retried if policy else None,
                )
            )
        elif isinstance(event, BreakerChanged):
            probe = (
                f", next probe at {event.next_probe_at.isoformat(timespec='seconds')}"
                if event.next_probe_at
                else ""
            )
            self._keep(
                self._entry(
                    event.at,
                    "breaker",
                    f"circuit breaker on {event.target}: {event.previous} → {event.state} "
                    f"(failure rate {event.failure_rate:.0%}){probe}",
                    target=event.target,
                    previous=event.previous,
                    state=event.state,
                    failure_rate=event.failure_rate,
                )
            )
        else:
            self._keep(
                self._entry(
                    event.at,
                    "fault",
                    f"fault injected: {event.fault} at {event.point} of batch {event.batch:,}",
                    point=event.point,
                    batch=event.batch,
                    fault=event.fault,
                )
            )

    def finished(self, event: RunFinished) -> None:
        if event.status != "succeeded":
            policy = _policy(event.error_kind)
            kind = event.error_kind or "internal"
            self.kept.append(  # past the bound too: the error is what the reader looks for
                self._entry(
                    event.at,
                    "error",
                    f"{kind} error: {event.error or 'the run failed'}",
                    kind,
                    meaning=policy.meaning if policy else None,
                    retried=policy.retried if policy else None,
                    next_action=policy.next_step(run_id=event.run_id) if policy else None,
                    escalation=policy.escalation if policy else None,
                )
            )
        if self.dropped:
            self.kept.append(
                self._entry(
                    event.at,
                    "summary",
                    f"{self.dropped:,} more events not kept (retries, breaker changes, faults)",
                    entries=self.dropped,
                )
            )
        self.kept.append(
            self._entry(
                event.at,
                "finish",
                f"run {event.status}: {event.rows_read:,} rows read, "
                f"{event.rows_written:,} written, {event.rows_rejected:,} rejected, "
                f"{event.batches:,} batches in {event.seconds:.2f} s",
                status=event.status,
                rows_read=event.rows_read,
                rows_written=event.rows_written,
                rows_rejected=event.rows_rejected,
                batches=event.batches,
                seconds=event.seconds,
            )
        )

    def entries(self) -> list[dict[str, Any]]:
        """The entries in the order the events came, numbered from 0, for the store."""
        found = [
            *self.kept,
            *self.batches.entries(
                "{count:,} more batches committed ({rows:,} rows) from +{since:.2f} s "
                "to +{until:.2f} s"
            ),
            *self.rejections.entries(
                "{count:,} more rejections ({rows:,} rows) from +{since:.2f} s to +{until:.2f} s"
            ),
        ]
        found.sort(key=lambda entry: entry.order)
        return [
            {
                "seq": seq,
                "offset_seconds": round(entry.offset, 6),
                "kind": entry.kind,
                "text": entry.text,
                "error_kind": entry.error_kind,
                "detail": entry.detail,
            }
            for seq, entry in enumerate(found)
        ]


def _policy(kind: str | None) -> KindPolicy | None:
    """The taxonomy's policy of error kind ``kind``, None for a kind it does not know."""
    try:
        return KIND_POLICIES[ErrorKind(kind or "internal")]
    except ValueError:
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        return "unknown"
