"""Helpers shared by the file sources: finding files, sniffing formats, locating lines.

They run once per file or only after something went wrong (to turn pyarrow's record numbers
into physical line numbers), never per row on the hot path.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from tidegate.core.health import Check, timed
from tidegate.errors import ConfigError, DataError

if TYPE_CHECKING:
    from tidegate.core.context import RunContext

__all__ = [
    "RecordLines",
    "existing_file",
    "expand_paths",
    "foreign_format",
    "head_bytes",
    "readable_check",
]

_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PAR1", "a Parquet file", "use `type: parquet` for this file"),
    (b"\x89PNG", "a PNG image", "point `path` at the CSV export, not at an image"),
    (b"\xff\xd8\xff", "a JPEG image", "point `path` at the CSV export, not at an image"),
    (b"GIF8", "a GIF image", "point `path` at the CSV export, not at an image"),
    (b"%PDF", "a PDF document", "export the table as CSV first"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one)", "export the sheet as CSV"),
    (b"SQLite format 3", "a SQLite database", "use `type: sql` with a sqlite:/// URL"),
    (b"\x7fELF", "an executable", "point `path` at the data file"),
    (b"ORC", "an ORC file", "convert it to Parquet and use `type: parquet`"),
    (b"\x1f\x8b", "a gzip file without a .gz suffix", "rename it to end in .gz"),
)


def existing_file(ctx: RunContext, path: str) -> Path:
    """Resolve a settings path; a missing file is a ``ConfigError`` naming the resolved path."""
    resolved = ctx.resolve(path)
    if not resolved.exists():
        raise ConfigError(
            f"file not found: {resolved}",
            location="source.path",
            hint="check `path`; relative paths resolve against the pipeline file's folder",
        )
    if resolved.is_dir():
        raise ConfigError(
            f"{resolved} is a folder, not a file",
            location="source.path",
            hint="point `path` at one file",
        )
    return resolved


def readable_check(ctx: RunContext, path: str, component: str) -> Check:
    """The health check of a file source: every file exists and its first bytes can be read."""

    def probe() -> str:
        files = expand_paths(ctx, path)
        for file in files:
            head_bytes(file, size=1)
        size = sum(file.stat().st_size for file in files)
        return f"{len(files)} file{'s' if len(files) != 1 else ''}, {size / 1e6:,.1f} MB"

    return timed(component, "readable", probe)


def expand_paths(ctx: RunContext, path: str) -> list[Path]:
    """Resolve a file, a folder or a glob pattern to a sorted list of files."""
    resolved = ctx.resolve(path)
    if any(char in path for char in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(resolved), recursive=True))
        files = [p for p in found if p.is_file()]
        if not files:
            raise ConfigError(
                f"no files match {resolved}",
                location="source.path",
                hint="check the pattern; relative paths resolve against the pipeline's folder",
            )
        return files
    if not resolved.exists():
        raise ConfigError(
            f"file not found: {resolved}",
            location="source.path",
            hint="check `path`; relative paths resolve against the pipeline file's folder",
        )
    return [resolved]


def head_bytes(path: Path, size: int = 65_536) -> bytes:
    """The first bytes of a file, decompressed when its suffix names a codec (``.gz``, …)."""
    with pa.input_stream(str(path), compression="detect") as stream:
        data: bytes = stream.read(size)
    return data


def foreign_format(head: bytes) -> tuple[str, str] | None:
    """``(what it looks like, hint)`` when the bytes are clearly not delimited text."""
    for magic, what, hint in _MAGIC:
        if head.startswith(magic):
            return what, hint
    return None


def not_text_error(path: Path, head: bytes, *, expected: str) -> DataError | None:
    """A ``DataError`` when a file meant to be text is a known binary format or has NULs."""
    found = foreign_format(head)
    if found is not None:
        what, hint = found
        return DataError(
            f"file does not look like {expected}: it starts like {what}",
            location=str(path),
            hint=hint,
        )
    if b"\x00" in head:
        offset = head.index(b"\x00")
        return DataError(
            f"file does not look like {expected}: it holds binary data (a NUL byte at offset "
            f"{offset})",
            location=str(path),
            hint="check `path`; for UTF-16 text set `encoding: utf-16`",
        )
    return None


class RecordLines:
    """Maps pyarrow's record numbers to physical line numbers, reading the file forward.

    pyarrow numbers records from 1 at the top of the file but skips empty lines, so the
    numbers drift from line numbers in files with blank lines. Lookups must come in
    increasing order; the file is read once, in 1 MiB chunks, and only when asked.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stream: pa.NativeFile | None = None
        self._lines = 0  # physical lines consumed
        self._records = 0  # non-empty lines consumed
        self._pending: list[bytes] = []
        self._carry = b""
        self._eof = False

    def line_of(self, record: int) -> int:
        """The 1-based physical line holding record ``record`` (best effort at end of file)."""
        while self._records < record:
            if not self._pending and not self._fill(record):
                return self._lines + (record - self._records)
            line = self._pending.pop()
            self._lines += 1
            if line.strip(b"\r"):
                self._records += 1
        return self._lines

    def _fill(self, record: int) -> bool:
        if self._eof:
            return False
        if self._stream is None:
            self._stream = pa.input_stream(str(self._path), compression="detect")
        while True:
            chunk: bytes = self._stream.read(1 << 20)
            if not chunk:
                self._eof = True
                self._stream.close()
                if self._carry:
                    self._pending = [self._carry]
                    self._carry = b""
                    return True
                return False
            data = self._carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                self._carry = data
                continue
            body, self._carry = data[:cut], data[cut + 1 :]
            count = body.count(b"\n") + 1
            blank = body.startswith((b"\n", b"\r\n", b"\r")) or b"\n\n" in body
            blank = blank or b"\n\r\n" in body or body in (b"", b"\r")
            if not blank and self._records + count < record:
                # no blank lines here and the target lies beyond: skip without splitting
                self._lines += count
                self._records += count
                continue
            self._pending = body.split(b"\n")[::-1]
            return True
