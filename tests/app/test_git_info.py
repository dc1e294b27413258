"""``git_info`` against real git repositories made in a temporary folder: the last commit that
touched the file and its author, a dirty or never committed file, a folder outside git, and no
git at all."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import structlog

from tidegate.app.git_info import git_info

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _repository(folder: Path) -> Path:
    _git(folder, "init", "-q")
    _git(folder, "config", "user.name", "Ann Lee")
    _git(folder, "config", "user.email", "ann@example.com")
    _git(folder, "config", "commit.gpgsign", "false")
    spec = folder / "pipeline.yaml"
    spec.write_text("name: orders\n", encoding="utf-8")
    _git(folder, "add", "pipeline.yaml")
    _git(folder, "commit", "-q", "-m", "orders")
    return spec


def test_a_committed_file_has_its_last_commit_and_author(tmp_path: Path) -> None:
    spec = _repository(tmp_path)
    touched = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "other.txt").write_text("x", encoding="utf-8")
    _git(tmp_path, "add", "other.txt")
    _git(tmp_path, "-c", "user.name=Bob", "commit", "-q", "-m", "not the spec")
    info = git_info(spec)
    assert info is not None
    assert (info.commit, info.author, info.dirty) == (touched, "Ann Lee <ann@example.com>", False)


def test_a_modified_file_is_dirty(tmp_path: Path) -> None:
    spec = _repository(tmp_path)
    spec.write_text("name: orders\nowner: data\n", encoding="utf-8")
    info = git_info(spec)
    assert info is not None
    assert info.dirty is True
    assert info.commit == _git(tmp_path, "rev-parse", "HEAD")


def test_a_file_never_committed_has_no_commit_and_is_dirty(tmp_path: Path) -> None:
    _repository(tmp_path)
    fresh = tmp_path / "new.yaml"
    fresh.write_text("name: new\n", encoding="utf-8")
    info = git_info(fresh)
    assert info is not None
    assert (info.commit, info.author, info.dirty) == (None, None, True)


def test_a_file_outside_git_has_none(tmp_path: Path) -> None:
    spec = tmp_path / "pipeline.yaml"
    spec.write_text("name: orders\n", encoding="utf-8")
    with structlog.testing.capture_logs() as logs:
        assert git_info(spec) is None
    assert logs == []  # the usual case: nothing to report


def test_no_git_installed_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _repository(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with structlog.testing.capture_logs() as logs:
        assert git_info(spec) is None
    assert {line["event"] for line in logs} == {"git_info_unavailable"}
    assert {line["log_level"] for line in logs} == {"debug"}


def test_no_time_left_gives_none_without_waiting(tmp_path: Path) -> None:
    spec = _repository(tmp_path)
    assert git_info(spec, timeout=0.0) is None
