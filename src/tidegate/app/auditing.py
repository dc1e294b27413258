"""The audit listener: what each run did, written to the hash-chained audit trail, fail closed.

A run writes its records in three appends, each one transaction of the state store:

1. at ``RunStarted``, ``run_started``: spec hash, Tidegate version, the last git commit of
   the spec file and whether the file has changes not committed (``git_info``: null outside a
   git work tree), user, host, profile, source, destination and steps. A run whose start
   cannot be recorded stops before it reads anything.
2. at ``ColumnsClassified`` (governed runs), one ``column_governed`` per column: what it was
   classified as, the action the policy required, the one applied (``mask:<strategy>``,
   ``encrypt`` with the key id and version, never the key). The exit step publishes the event
   before the first batch reaches the destination, so a run whose decisions cannot be
   recorded loads nothing.
3. at ``RunFinished``: ``quality_outcome`` (from the last ``QualityMeasured``), ``input_read``
   (dataset, rows read, content digest), ``rows_written`` (destination, rows) and
   ``run_finished`` (status, counts, error kind, seconds); then the chain head is signed with
   the head key and appended to the head file, when one is configured.

The content digest of a file source (csv, parquet, jsonl) is SHA-256 over the bytes of its
files as stored, in path order, computed from ``RunStarted`` on by a thread of its own at a lower
CPU priority, so it takes the run's idle time: a second read through the page cache, with
``hashlib`` releasing the GIL.
A file that changed while it was hashed gives no digest, and says so. Other sources have no
content digest: their rows are not files whose bytes can be named.

The listener is ``fail_closed``: its errors fail the run instead of being logged. When the end
of a successful run cannot be recorded, its rows are already committed: the error says so,
and ``tidegate run`` exits non-zero.
"""

from __future__ import annotations

import getpass
import glob
import hashlib
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog

from tidegate.errors import TidegateError
from tidegate.events import (
    ColumnsClassified,
    QualityMeasured,
    RunFinished,
    RunStarted,
)
from tidegate.governance.audit import (
    AuditChain,
    AuditKey,
    AuditKind,
    AuditWriteError,
    Entry,
    HeadAnchor,
    HeadFile,
)
from tidegate.spec.audit import DEFAULT_HEAD_FILE

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tidegate.events import Event
    from tidegate.governance.audit import ChainHead
    from tidegate.spec import PipelineSpec
    from tidegate.state import StateStore

__all__ = [
    "FILE_SOURCES",
    "AuditListener",
    "AuditReporter",
    "ContentDigest",
    "RunFacts",
    "audit_listener",
    "chain_key",
    "encryption_keys",
    "head_file",
    "head_key",
]

_log = structlog.get_logger(__name__)

FILE_SOURCES = frozenset({"csv", "parquet", "jsonl"})
"""Source kinds whose input is files, so whose content has a digest."""

_CHUNK = 1 << 20
_HASH_NICE = 10


@runtime_checkable
class AuditReporter(Protocol):
    """Told the chain head a run left, to show it (the run summary prints it)."""

    def audit_head(self, head: str, *, anchored_in: str | None) -> None:
        """``head`` is ``SEQ:HASH``; ``anchored_in`` the head file it was signed into, if any."""


def chain_key(spec: PipelineSpec) -> AuditKey | None:
    """The chain key of the spec's ``audit.key``, or None when the chain is not keyed."""
    secret = spec.audit.key
    return None if secret is None else AuditKey.from_base64(secret.get_secret_value())


def head_key(spec: PipelineSpec) -> AuditKey | None:
    """The head key of the spec's ``audit.head_key``, or None when heads are not signed."""
    secret = spec.audit.head_key
    return None if secret is None else AuditKey.from_base64(secret.get_secret_value())


def head_file(spec: PipelineSpec) -> Path | None:
    """The head file, resolved against the pipeline's folder; None without a head key."""
    if spec.audit.head_key is None:
        return None
    path = Path(spec.audit.head_file or DEFAULT_HEAD_FILE).expanduser()
    return path if path.is_absolute() else spec.base_dir / path


class ContentDigest:
    """SHA-256 over a file source's bytes, computed on a thread while the run reads them."""

    def __init__(self, source_type: str, settings: object, base_dir: Path) -> None:
        self._files: list[Path] | None = None
        self._note = f"not computed for {source_type} sources"
        self._result: dict[str, Any] = {}
        self._thread: threading.Thread | None = None
        path = getattr(settings, "path", None)
        if source_type in FILE_SOURCES and isinstance(path, str):
            self._files, self._note = _input_files(path, base_dir, source_type), ""

    def start(self) -> None:
        """Begin hashing in the background (nothing to do for a source that is not files)."""
        if self._files is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._hash, name="tidegate-audit-digest")
        self._thread.daemon = True  # an interrupted run must not wait on a 10 GB file
        self._thread.start()

    def result(self) -> dict[str, Any]:
        """``content_digest`` (``sha256:<hex>`` or None), ``digest`` (how, or why not), files."""
        if self._files is None:
            return {"content_digest": None, "digest": self._note}
        if self._thread is None:
            self.start()
        assert self._thread is not None  # noqa: S101 - start() made it
        self._thread.join()
        return dict(self._result)

    def _hash(self) -> None:
        _lower_priority()
        files = self._files or []
        digest = hashlib.sha256()
        size = 0
        try:
            if not files:
                raise FileNotFoundError("no input file matched")
            before = [_stamp(path) for path in files]
            buffer = bytearray(_CHUNK)
            view = memoryview(buffer)
            for path in files:
                with path.open("rb", buffering=0) as data:
                    while count := data.readinto(buffer):
                        digest.update(view[:count])
                        size += count
            changed = [str(p) for p, s in zip(files, before, strict=True) if _stamp(p) != s]
        except OSError as exc:
            self._result = {
                "content_digest": None,
                "digest": f"not computed: {exc.strerror or exc}",
                "files": len(files),
            }
            return
        if changed:
            self._result = {
                "content_digest": None,
                "digest": f"not computed: {changed[0]} changed while it was read",
                "files": len(files),
            }
            return
        self._result = {
            "content_digest": f"sha256:{digest.hexdigest()}",
            "digest": "SHA-256 of the files' bytes as stored, in path order",
            "files": len(files),
            "bytes": size,
        }


def _lower_priority() -> None:
    """Give the calling thread a lower CPU priority, so hashing fills the run's idle time
    rather than taking cores from its readers. On Linux only, where a thread's id names it to
    ``setpriority``; elsewhere the same call would reach the process of that number."""
    if sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HASH_NICE)
    except OSError:  # a container that forbids it: hash at the same priority
        return


def _stamp(path: Path) -> tuple[int, int]:
    found = path.stat()
    return found.st_size, found.st_mtime_ns


def _input_files(path: str, base_dir: Path, source_type: str) -> list[Path]:
    """The files a file source reads, expanded as the sources expand ``path``: a file, a glob
    pattern, or (parquet) a folder of ``*.parquet`` files; sorted."""
    candidate = Path(path).expanduser()
    resolved = candidate if candidate.is_absolute() else base_dir / candidate
    if any(char in path for char in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(resolved), recursive=True))
        return [p for p in found if p.is_file()]
    if resolved.is_dir() and source_type == "parquet":
        return sorted(p for p in resolved.rglob("*.parquet") if p.is_file())
    return [resolved]


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry: a bare container
        return str(os.getuid())


@dataclass(frozen=True, kw_only=True)
class RunFacts:
    """What the run_started record says beyond the event: the spec and where it runs."""

    spec_hash: str
    spec_file: Path
    profile: str | None
    source_type: str


class AuditListener:
    """Writes a run's audit records (see the module docstring); fails the run when it cannot."""

    fail_closed = True

    def __init__(
        self,
        *,
        state_url: str,
        key: AuditKey | None,
        facts: RunFacts,
        digest: ContentDigest,
        key_ids: Mapping[str, tuple[str, int]] | None = None,
        anchor: HeadAnchor | None = None,
        anchored_in: Path | None = None,
        reporters: Sequence[AuditReporter] = (),
    ) -> None:
        self._url = state_url
        self._key = key
        self._state: StateStore | None = None
        self.chain: AuditChain | None = None
        self._facts = facts
        self._digest = digest
        self._key_ids = dict(key_ids or {})
        self._anchor = anchor
        self._anchored_in = anchored_in
        self._reporters = tuple(reporters)
        self._started: RunStarted | None = None
        self._columns: tuple[Mapping[str, Any], ...] | None = None
        self._quality: QualityMeasured | None = None
        self.head: ChainHead | None = None
        self.seconds = 0.0
        """Time spent recording, for the audit's cost in a run."""

    def __repr__(self) -> str:
        return f"AuditListener(keyed={self._key is not None})"

    def handle(self, event: Event) -> None:
        """Record what the event says about the run; raise ``AuditWriteError`` if it cannot."""
        began = time.perf_counter()
        try:
            if isinstance(event, RunStarted):
                self._run_started(event)
            elif isinstance(event, ColumnsClassified):
                self._classified(event)
            elif isinstance(event, QualityMeasured):
                self._quality = event
            elif isinstance(event, RunFinished):
                self._run_finished(event)
        finally:
            self.seconds += time.perf_counter() - began

    def _run_started(self, event: RunStarted) -> None:
        from tidegate.app.audit_store import StateAuditStore  # noqa: PLC0415 - bootstrap imports us
        from tidegate.app.git_info import git_info  # noqa: PLC0415
        from tidegate.state import StateStore  # noqa: PLC0415

        facts = self._facts
        git = git_info(facts.spec_file)  # here, so its log lines carry the run's id
        payload = {
            "spec_hash": facts.spec_hash,
            "spec_file": str(facts.spec_file),
            "tidegate_version": _version(),
            "git_commit": None if git is None else git.commit,
            "git_dirty": None if git is None else git.dirty,
            "user": _user(),
            "host": socket.gethostname(),
            "profile": facts.profile,
            "source": event.source,
            "destination": event.destination,
            "steps": list(event.steps),
            "chain_keyed": self._key is not None,
        }
        try:
            # opened here, not before the run, so an unreachable store fails the run closed
            self._state = StateStore.open(self._url)
            self.chain = AuditChain(StateAuditStore(self._state), key=self._key)
            self.chain.append(
                AuditKind.RUN_STARTED, payload, run_id=event.run_id, pipeline=event.pipeline
            )
        except Exception as exc:
            self._close()
            raise _unwritten(
                exc,
                f"run {event.run_id} stopped before reading anything: its run_started audit "
                "record could not be written",
            ) from exc
        self._started = event
        self._digest.start()

    def _close(self) -> None:
        if self._state is not None:
            self._state.close()

    def _classified(self, event: ColumnsClassified) -> None:
        if self.chain is None or self._started is None or event.columns == self._columns:
            return  # a load retried in the same run classifies again: recorded once
        entries = [
            Entry(
                kind=AuditKind.COLUMN_GOVERNED,
                payload=self._column(event, column),
                run_id=event.run_id,
                pipeline=event.pipeline,
            )
            for column in event.columns
        ]
        try:
            self.chain.append_all(entries)
        except Exception as exc:
            raise _unwritten(
                exc,
                f"run {event.run_id} stopped before loading anything: its column_governed "
                "audit records could not be written",
            ) from exc
        self._columns = event.columns

    def _column(self, event: ColumnsClassified, column: Mapping[str, Any]) -> dict[str, Any]:
        name = str(column["column"])
        applied = str(column["applied"])
        key = self._key_ids.get(name) if applied == "encrypt" else None
        return {
            "column": name,
            "classified_as": column["pii_type"],
            "confidence": column["confidence"],
            "level": column["level"],
            "origin": column["origin"],
            "required": column["required"],
            "action": applied,
            "status": column["status"],
            "key_id": None if key is None else key[0],
            "key_version": None if key is None else key[1],
            "policy": event.policy,
            "profile": event.profile,
        }

    def _run_finished(self, event: RunFinished) -> None:
        started, chain = self._started, self.chain
        if started is None or chain is None:
            self._close()
            return  # its start was not recorded: the run stopped before reading
        ids = {"run_id": event.run_id, "pipeline": event.pipeline}
        entries = []
        if self._quality is not None:
            entries.append(Entry(kind=AuditKind.QUALITY_OUTCOME, payload=self._outcome(), **ids))
        entries += [
            Entry(
                kind=AuditKind.INPUT_READ,
                payload={"dataset": started.source, "rows": event.rows_read, **self._read()},
                **ids,
            ),
            Entry(
                kind=AuditKind.ROWS_WRITTEN,
                payload={"destination": started.destination, "rows": event.rows_written},
                **ids,
            ),
            Entry(
                kind=AuditKind.RUN_FINISHED,
                payload={
                    "status": event.status,
                    "error_kind": event.error_kind,
                    "rows_read": event.rows_read,
                    "rows_written": event.rows_written,
                    "rows_rejected": event.rows_rejected,
                    "batches": event.batches,
                    "seconds": round(event.seconds, 3),
                },
                **ids,
            ),
        ]
        try:
            last = chain.append_all(entries)[-1]
            if self._anchor is not None:
                if self._anchored_in is not None:
                    self._anchored_in.parent.mkdir(parents=True, exist_ok=True)
                self._anchor.anchor(last.head)
        except Exception as exc:
            if event.status != "succeeded":  # the run failed already: its own error says why
                _log.error("audit_not_written", run=event.run_id, error=_reason(exc))
                return
            raise _unwritten(
                exc,
                f"run {event.run_id} loaded {event.rows_written:,} rows into "
                f"{started.destination}, but its closing audit records could not be written",
                hint="the rows stay loaded and the audit trail lacks this run's end: make the "
                "state store writable (and the head file, if one is set), then check the chain "
                "with `tidegate audit verify`; record the run's outcome by hand if your "
                "procedures require it",
            ) from exc
        finally:
            self._close()
        self.head = last.head
        for reporter in self._reporters:
            shown = None if self._anchor is None else str(self._anchored_in)
            reporter.audit_head(str(last.head), anchored_in=shown)

    def _outcome(self) -> dict[str, Any]:
        measured = self._quality
        assert measured is not None  # noqa: S101 - only called with a measurement
        failed = {str(rule["id"]): int(rule["failed"]) for rule in measured.rules if rule["failed"]}
        return {
            "step": measured.step,
            "score": measured.score,
            "rows": measured.rows,
            "rejected": measured.rejected,
            "passed": not failed,
            "failed_rules": failed,
            "final": measured.final,
        }

    def _read(self) -> dict[str, Any]:
        return {"source_type": self._facts.source_type, **self._digest.result()}


def _version() -> str:
    from tidegate import __version__  # noqa: PLC0415 - the package imports the app lazily

    return __version__


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TidegateError):
        return exc.message
    return type(exc).__name__


def _unwritten(exc: BaseException, what: str, *, hint: str | None = None) -> AuditWriteError:
    return AuditWriteError(
        f"{what}: {_reason(exc)}",
        location=getattr(exc, "location", None),
        hint=hint
        or "the run stopped because audit records must be written: check that the state "
        "store is reachable and that this user may insert into tidegate_audit "
        "(or switch auditing off with audit.enabled: false)",
    )


def encryption_keys(steps: Iterable[object]) -> dict[str, tuple[str, int]]:
    """Per column an encrypt step seals: the key id and version that encrypts it (the newest
    version of the step's key id), so a record names the key without holding it."""
    found: dict[str, tuple[str, int]] = {}
    for step in steps:
        keyring = getattr(step, "keyring", None)
        protections = getattr(step, "protections", None)
        if keyring is None or not isinstance(protections, dict):
            continue
        settings = getattr(step, "settings", None)
        key = keyring.newest(getattr(settings, "key_id", None))
        for column, action in protections.items():
            if action == "encrypt":
                found[column] = (key.key_id, key.version)
    return found


def audit_listener(
    spec: PipelineSpec,
    *,
    steps: Sequence[object] = (),
    profile: str | None = None,
    reporters: Iterable[object] = (),
) -> AuditListener:
    """The listener auditing one run of ``spec`` into its state store (``audit:`` section).

    Keys are read here, so a bad key stops the run before it starts; the store is only
    opened at ``RunStarted``, where a failure fails the run closed.
    """
    from tidegate.app.observing import spec_hash, state_url  # noqa: PLC0415 - with audit only

    key = chain_key(spec)
    signing = head_key(spec)
    path = head_file(spec)
    anchor = None
    if signing is not None and path is not None:
        anchor = HeadAnchor(signing, [HeadFile(path)], chain_key=key)
    return AuditListener(
        state_url=state_url(spec),
        key=key,
        facts=RunFacts(
            spec_hash=spec_hash(spec),
            spec_file=spec.file,
            profile=profile,
            source_type=spec.source.type,
        ),
        digest=ContentDigest(spec.source.type, spec.source.settings, spec.base_dir),
        key_ids=encryption_keys(steps),
        anchor=anchor,
        anchored_in=path,
        reporters=[r for r in reporters if isinstance(r, AuditReporter)],
    )
