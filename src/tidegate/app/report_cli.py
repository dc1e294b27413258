"""``tidegate report RUN_ID --html FILE``: a run's dashboard page as one HTML file.

The store is found like ``tidegate show`` finds it (the pipeline's, ``--state URL``, or
``.tidegate/state.db`` here); the page is drawn by ``tidegate.web.report`` from the same
``RunView`` the dashboard shows. The file is written beside its final name and renamed into
place, so a mail job picking it up never reads half a report.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from tidegate.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["report_command"]


def report_command(
    run_id: str, pipeline: Path | None, *, state: str | None, sets: list[str], html: Path
) -> Path:
    """Write the report of the run ``run_id`` (or of the one run starting so) to ``html``;
    return the file's absolute path. An unknown or ambiguous id is a ``ConfigError``."""
    from tidegate.app.dashboard import StoreReader  # noqa: PLC0415 - loads the web stack
    from tidegate.app.history_cli import open_store  # noqa: PLC0415
    from tidegate.web.report import run_report  # noqa: PLC0415

    store, _ = open_store(pipeline, state, sets)
    try:
        try:
            found = store.find(run_id).run["run_id"]
        except ConfigError as exc:
            raise ConfigError(exc.message, hint=_runs_hint(pipeline, state)) from exc
        view = StoreReader(store, ttl=0).run(found)
    finally:
        store.close()
    if view is None:  # deleted between the two reads
        raise ConfigError(
            f"run {found} is gone from {store.shown_url}", hint=_runs_hint(pipeline, state)
        )
    return _write(html, run_report(view, source=store.shown_url))


def _runs_hint(pipeline: Path | None, state: str | None) -> str:
    where = f" {pipeline}" if pipeline is not None else " --state URL" if state else ""
    return f"`tidegate runs{where}` lists the recorded runs and their ids"


def _write(path: Path, text: str) -> Path:
    target = path.absolute()
    if target.is_dir():
        raise ConfigError(f"--html {path} is a folder", hint="give a file name, e.g. run.html")
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint="create the folder first, or choose a writable path",
        ) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from a mail job
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target
