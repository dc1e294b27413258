"""The chain as JSON Lines: one canonical record per line, for export, offline checks and tests.

An export is what an auditor receives: every record as the single line of canonical JSON
(``AuditRecord.line``) with its hash, in seq order. :func:`read_jsonl` reads it back, so the
same ``verify`` runs on an export as on the live store, with nothing of Tidegate's storage.

:class:`JsonlAuditStore` is also a full ``AuditStore`` on such a file: each append holds an
exclusive ``flock`` while it checks the last line and writes, opens the file with ``O_APPEND``,
writes all its records in one call and ``fsync``s before returning, so an append that returned
is on disk and two processes never interleave. A write that fails midway is cut back off.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tidegate.governance.audit.errors import AuditFormatError, AuditWriteError
from tidegate.governance.audit.record import AuditRecord, ChainHead
from tidegate.governance.audit.store import check_follows

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path

__all__ = ["JsonlAuditStore", "export_jsonl", "parse_record", "read_jsonl"]

_FIELDS = frozenset({"seq", "at", "kind", "run_id", "pipeline", "payload", "prev_hash", "hash"})
_TAIL_CHUNK = 65_536


def parse_record(line: bytes | str, *, where: str = "audit record") -> AuditRecord:
    """One record from its JSON text; ``AuditFormatError`` naming ``where`` if it is not one.

    Exactly the eight fields of a record must be present, each of its type, and no JSON object
    may repeat a name: a second ``"seq"`` is how one would hide a field from one parser and
    show it to another. The hash is not checked here; ``verify`` does that.
    """
    try:
        data = json.loads(line, object_pairs_hook=_unique, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuditFormatError(
            f"not a JSON object ({type(exc).__name__})",
            location=where,
            hint="the line was cut short or edited; compare it with an earlier export",
        ) from exc
    if not isinstance(data, dict) or data.keys() != _FIELDS:
        fields = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise AuditFormatError(
            f"an audit record has exactly the fields {sorted(_FIELDS)}, this has {fields}",
            location=where,
            hint="fields were added or removed by hand; compare it with an earlier export",
        )
    return AuditRecord(
        seq=_typed(data, "seq", int, where),
        at=_moment(data["at"], where),
        kind=_typed(data, "kind", str, where),
        run_id=_optional_text(data, "run_id", where),
        pipeline=_optional_text(data, "pipeline", where),
        payload=_typed(data, "payload", dict, where),
        prev_hash=_typed(data, "prev_hash", str, where),
        hash=_typed(data, "hash", str, where),
    )


def read_jsonl(path: Path) -> Iterator[AuditRecord]:
    """The records of a JSONL export or store file, in file order, one line at a time.

    Raises ``AuditFormatError`` at the first line that is not a record (``verify`` turns it
    into a finding at that line), and ``OSError`` if the file cannot be opened.
    """
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            where = f"{path}:{number}"
            if not line.endswith(b"\n"):
                raise AuditFormatError(
                    "the last line has no line end: a write was cut short",
                    location=where,
                    hint="the process writing the chain died mid-record; the run that wrote "
                    "it failed; keep the file as evidence and restore the line from a copy",
                )
            yield parse_record(line, where=where)


def export_jsonl(records: Iterable[AuditRecord], path: Path) -> int:
    """Write ``records`` to ``path`` as JSON Lines, atomically (temp file, fsync, rename).

    Returns how many were written. Records go out as stored, so an export of a tampered store
    shows the tampering to whoever verifies it.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with temp.open("wb") as out:
            for record in records:
                out.write(record.line() + b"\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path)
    return count


class JsonlAuditStore:
    """An ``AuditStore`` in one JSON Lines file (see the module docstring)."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        """``fsync=False`` skips the flush to disk: for tests and throwaway chains only."""
        self.path = path
        self._fsync = fsync

    def __repr__(self) -> str:
        return f"JsonlAuditStore({str(self.path)!r})"

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Append ``records`` under an exclusive lock if they follow the file's last record."""
        data = b"".join(record.line() + b"\n" for record in records)
        created = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._failed("cannot open it", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            check_follows(self._tail_head(fd, size), records)
            self._write(fd, data, size)
        finally:
            os.close(fd)  # releases the lock
        if created:
            _sync_folder(self.path)

    def records(self) -> Iterator[AuditRecord]:
        """Every record in file order; nothing when the file does not exist yet."""
        if not self.path.exists():
            return iter(())
        return read_jsonl(self.path)

    def head(self) -> ChainHead | None:
        """The last line's record as a head, read from the end of the file."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._failed("cannot open it", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._tail_head(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)

    def _tail_head(self, fd: int, size: int) -> ChainHead | None:
        if size == 0:
            return None
        start, tail = size, b""
        while start > 0 and tail.count(b"\n") < 2:
            step = min(_TAIL_CHUNK, start)
            start -= step
            tail = os.pread(fd, step, start) + tail
        if not tail.endswith(b"\n"):
            raise AuditWriteError(
                "the audit file ends in a partial line, left by a write that was cut short",
                location=str(self.path),
                hint="keep the file as evidence, move it aside and restore the chain from its "
                "last export; `tidegate audit verify` shows where it breaks",
            )
        last = tail[:-1].rsplit(b"\n", 1)[-1]
        return parse_record(last, where=f"{self.path} (last line)").head

    def _write(self, fd: int, data: bytes, size: int) -> None:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
        except OSError as exc:
            try:
                os.ftruncate(fd, size)
            except OSError:
                exc.add_note("the partly written records could not be cut back off")
            raise self._failed("cannot write to it", exc) from exc

    def _failed(self, what: str, exc: OSError) -> AuditWriteError:
        return AuditWriteError(
            f"the audit chain file {what} ({exc.strerror or type(exc).__name__})",
            location=str(self.path),
            hint="check that the folder exists, is writable and has free space; "
            "the run stopped because audit records must be written",
        )


def _sync_folder(path: Path) -> None:
    """Flush the folder entry of a new or renamed file, so it survives a power cut too."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a JSON object repeats a name")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _typed(data: dict[str, Any], name: str, kind: type[Any], where: str) -> Any:
    value = data[name]
    if type(value) is not kind:
        raise AuditFormatError(
            f"field {name!r} is a {type(value).__name__}, not a {kind.__name__}",
            location=where,
            hint="the record was edited by hand; compare it with an earlier export",
        )
    return value


def _optional_text(data: dict[str, Any], name: str, where: str) -> str | None:
    text: str | None = None if data[name] is None else _typed(data, name, str, where)
    return text


def _moment(value: object, where: str) -> datetime:
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise AuditFormatError(
            "field 'at' is not an RFC 3339 timestamp with a time zone",
            location=where,
            hint="the record was edited by hand; compare it with an earlier export",
        )
    return moment
