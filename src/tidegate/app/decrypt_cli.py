"""``tidegate decrypt PIPELINE``: read back the values a pipeline's encrypt steps stored.

The rows come from the pipeline's destination (``RowsRead``, up to ``--limit``) or from an
extract given with ``--input`` (Parquet, or CSV holding the base64 text form); the encrypted
columns (all of them, or the ``--column`` ones) are decrypted with the keyring and bound table
of the step that encrypted them, and shown as a table (the first column, usually the key, and
the decrypted ones), as JSON lines of every column (``--json``), or written to ``--output``
(Parquet or CSV, every column, created readable by its owner only) for bulk use.

Reading clear values is an access to restricted data, so every decryption logs one
``values_decrypted`` warning naming the pipeline, the columns, the row count and where the rows
came from: the access is on record, never a value or a key. A wrong key or a tampered value is
the ``SecurityError`` of ``decrypt_column``, which names the column, row and key id only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import structlog
from rich.markup import escape
from rich.table import Table

from tidegate.errors import ConfigError, DataError, DependencyError

if TYPE_CHECKING:
    from pathlib import Path

    from tidegate.app.bootstrap import Pipeline
    from tidegate.governance.encrypt_step import EncryptStep

__all__ = ["decrypt_command", "decrypt_table"]

log = structlog.get_logger(__name__)

DEFAULT_LIMIT = 20
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def decrypt_command(
    path: Path,
    *,
    columns: list[str],
    limit: int | None,
    json_out: bool,
    sets: list[str],
    profile: str | None,
    input_file: Path | None,
    output_file: Path | None,
) -> None:
    """Decrypt the pipeline's encrypted columns and print or write the rows.

    ``limit`` None reads ``DEFAULT_LIMIT`` rows, or every row when writing ``output_file``.
    """
    from tidegate.app.bootstrap import build, load, secret_values  # noqa: PLC0415 - fast --help
    from tidegate.app.logs import configure_logging  # noqa: PLC0415
    from tidegate.app.quarantine import readable  # noqa: PLC0415
    from tidegate.observability.logging import SecretRedactor  # noqa: PLC0415

    spec = load(path, overrides=sets)
    configure_logging("warning", spec.logging.format, SecretRedactor(secret_values(spec)))
    pipeline = build(readable(spec), profile=profile)
    steps = encrypt_steps(pipeline)
    chosen = _chosen(steps, columns)
    out_format = _format_of(output_file, "--output") if output_file is not None else None
    wanted = limit if limit is not None else (None if output_file is not None else DEFAULT_LIMIT)
    if input_file is not None:
        table, origin = _read_input(input_file, chosen, wanted), str(input_file)
    else:
        table, origin = _read_destination(pipeline, wanted), pipeline.destination.describe()
    if table.num_columns == 0:
        sys.stderr.write(f"{origin}: no rows loaded yet\n")
        return
    table = decrypt_table(table, steps, pipeline=spec.name, columns=chosen, origin=origin)
    log.warning(
        "values_decrypted",
        pipeline=spec.name,
        columns=chosen,
        rows=table.num_rows,
        source=origin,
        output=None if output_file is None else str(output_file),
    )
    if output_file is not None and out_format is not None:
        _write(table, output_file, out_format)
        sys.stderr.write(f"wrote {table.num_rows:,} rows to {output_file}\n")
    elif json_out:
        lines = (json.dumps(_jsonable(row), ensure_ascii=False) for row in table.to_pylist())
        sys.stdout.write("".join(line + "\n" for line in lines))
    else:
        from tidegate.app.console import out  # noqa: PLC0415 - the shared stdout console

        out.print(_rich_table(_on_screen(table, chosen), title=f"{spec.name}: {origin}"))


def encrypt_steps(pipeline: Pipeline) -> list[EncryptStep]:
    """The pipeline's encrypt steps in order; a ``ConfigError`` when there is none."""
    from tidegate.governance.encrypt_step import EncryptStep  # noqa: PLC0415 - cryptography

    steps = [step for step in pipeline.steps if isinstance(step, EncryptStep)]
    if not steps:
        raise ConfigError(
            f"pipeline {pipeline.spec.name!r} has no encrypt step",
            hint="decrypt reads the columns an encrypt step stored; add one with "
            "type: encrypt, or check the pipeline file",
        )
    return steps


def decrypt_table(
    table: pa.Table,
    steps: list[EncryptStep],
    *,
    pipeline: str,
    columns: list[str],
    origin: str,
) -> pa.Table:
    """``table`` with ``columns`` decrypted by the steps that encrypted them, last step first.

    A column encrypted by two steps is opened in reverse order, so it comes back clear.
    """
    from tidegate.governance.encrypt import decrypt_column  # noqa: PLC0415 - cryptography

    missing = [column for column in columns if column not in table.column_names]
    if missing:
        raise ConfigError(
            f"encrypted column(s) {', '.join(map(repr, missing))} are not in {origin}",
            hint=f"it has: {', '.join(table.column_names)}",
        )
    for column in columns:
        values = table.column(column)
        if pa.types.is_null(values.type):  # nothing but nulls: nothing to open
            values = values.cast(pa.binary())
        for step in reversed(steps):
            if column in step.settings.columns:
                values = decrypt_column(
                    values,
                    keyring=step.keyring,
                    table=step.bound_table(pipeline),
                    column=column,
                )
        index = table.column_names.index(column)
        table = table.set_column(index, pa.field(column, values.type), values)
    return table


def _chosen(steps: list[EncryptStep], columns: list[str]) -> list[str]:
    encrypted = list(dict.fromkeys(c for step in steps for c in step.settings.columns))
    unknown = [column for column in columns if column not in encrypted]
    if unknown:
        raise ConfigError(
            f"column(s) {', '.join(map(repr, unknown))} are not encrypted by the pipeline",
            hint=f"the encrypted columns are: {', '.join(encrypted)}",
        )
    return list(dict.fromkeys(columns)) if columns else encrypted


def _read_destination(pipeline: Pipeline, limit: int | None) -> pa.Table:
    from tidegate.core import RowsRead  # noqa: PLC0415 - keeps --help fast

    destination = pipeline.destination
    if not isinstance(destination, RowsRead):
        raise ConfigError(
            f"destination {destination.describe()} cannot read its rows back",
            hint="export the rows (Parquet, or CSV of the base64 text form) and pass --input",
        )
    destination.open(pipeline.context())
    try:
        return destination.read_rows(limit=limit)
    finally:
        destination.rollback()
        destination.close()


def _format_of(path: Path, option: str) -> str:
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(
            f"{option} {path}: cannot tell the format from the extension",
            hint="name the file .parquet or .csv",
        )
    return kind


def _read_input(path: Path, encrypted: list[str], limit: int | None) -> pa.Table:
    """The extract's rows; CSV columns to decrypt are read as text (the base64 form)."""
    kind = _format_of(path, "--input")
    if not path.is_file():
        raise ConfigError(f"--input {path} does not exist", hint="give a Parquet or CSV file")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq  # noqa: PLC0415 - only Parquet extracts need it

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv  # noqa: PLC0415 - only CSV extracts need it

            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(encrypted, pa.string()),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
    except OSError as exc:
        raise DependencyError(
            f"cannot read --input {path}: {exc.strerror or exc}", hint="check the path"
        ) from exc
    except pa.ArrowException as exc:
        raise DataError(
            f"cannot read --input {path}: {exc}",
            hint="give a Parquet file, or a CSV file with a header line",
        ) from exc
    return table if limit is None else table.slice(0, limit)


def _write(table: pa.Table, path: Path, kind: str) -> None:
    """Write the clear rows to a new file only its owner can read (it holds restricted data)."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as sink:
            if kind == "parquet":
                import pyarrow.parquet as pq  # noqa: PLC0415 - only Parquet output needs it

                pq.write_table(table, sink)
            else:
                import pyarrow.csv as pacsv  # noqa: PLC0415 - only CSV output needs it

                pacsv.write_csv(table, sink)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise DependencyError(
            f"cannot write --output {path}: {exc.strerror or exc}",
            hint="check the folder and its free space",
        ) from exc
    except pa.ArrowException as exc:
        temp.unlink(missing_ok=True)
        raise DataError(
            f"cannot write --output {path} as {kind}: {exc}",
            hint="write .parquet, which holds every column type",
        ) from exc


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)  # decimals, durations: their exact text


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _shown(value) for key, value in row.items()}


def _on_screen(table: pa.Table, decrypted: list[str]) -> pa.Table:
    """The first column (usually the key, to tell rows apart) and the decrypted ones: rows are
    wide, terminals are not; ``--json`` and ``--output`` carry every column."""
    first = table.column_names[0]
    return table.select(list(dict.fromkeys([first, *decrypted])))


def _rich_table(table: pa.Table, *, title: str) -> Table:
    shown = Table(*(escape(name) for name in table.column_names), title=escape(title))
    for row in table.to_pylist():
        shown.add_row(
            *(
                ""
                if value is None
                else f"<{len(value)} bytes>"
                if isinstance(value, bytes)
                else escape(str(_shown(value)))
                for value in row.values()
            )
        )
    return shown
