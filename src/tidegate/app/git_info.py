"""Where a pipeline file stands in git, for the change log: the last commit that touched it, its
author, and whether the file has changes not committed.

``git`` runs as a subprocess with a short deadline shared by its two calls (``log`` and
``status``, restricted to the one file, with optional locks off so a status never writes the
index). No git, a folder outside a work tree, a repository git refuses (another owner) or a
slow git all give None, logged at debug: git is context for a change, never a reason for a run
to fail or wait.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

import structlog

from tidegate.state.changes import GitInfo

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["GIT_TIMEOUT", "git_info"]

_log = structlog.get_logger(__name__)

GIT_TIMEOUT = 2.0
"""Seconds the two git calls may take together."""

_COMMIT_LENGTH = 40
_AUTHOR_LENGTH = 255
"""The change log's columns: a SHA-256 repository's commit is cut to 40 digits (an
abbreviation git still resolves), an author to 255 characters."""


def git_info(path: Path, *, timeout: float = GIT_TIMEOUT) -> GitInfo | None:
    """The git state of file ``path``; None when git cannot tell (see the module docstring).

    A file never committed has no commit and is dirty; a repository without any commit yet
    still tells whether the file is dirty.
    """
    deadline = time.monotonic() + timeout
    folder = path.parent
    logged = _git(folder, deadline, "log", "-1", "--format=%H%x00%an <%ae>", "--", path.name)
    status = _git(folder, deadline, "status", "--porcelain", "--", path.name)
    if status is None:
        return None
    commit = author = None
    if logged:
        commit, _, author = logged.strip().partition("\x00")
    return GitInfo(
        commit=commit[:_COMMIT_LENGTH] if commit else None,
        author=author[:_AUTHOR_LENGTH] if author else None,
        dirty=bool(status.strip()),
    )


def _git(folder: Path, deadline: float, *args: str) -> str | None:
    """The output of ``git -C folder ARGS``, or None when it failed or ran out of time."""
    left = deadline - time.monotonic()
    if left <= 0:
        _log.debug("git_info_unavailable", folder=str(folder), error="out of time")
        return None
    environment = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=left,
            env=environment,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:  # no git, or a slow one
        _log.debug("git_info_unavailable", folder=str(folder), error=str(exc))
        return None
    if done.returncode != 0:
        first = done.stderr.strip().splitlines()[0] if done.stderr.strip() else ""
        if "not a git repository" not in first:  # outside git is the usual case, not news
            _log.debug("git_info_unavailable", folder=str(folder), error=first)
        return None
    return done.stdout
