"""JSONL exports and the file store: an auditor verifies the file itself, edited as text.

The 10,000-record chain is exported once; each test edits a copy of the file's lines the way
someone with a text editor would, and ``verify(read_jsonl(path))`` must name the line's record.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from tests.governance.audit.chains import CHAIN_LENGTH
from tidegate.governance.audit import (
    AuditChain,
    AuditFormatError,
    AuditKey,
    AuditWriteError,
    JsonlAuditStore,
    MemoryAuditStore,
    Tampering,
    export_jsonl,
    read_jsonl,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.governance.audit import AuditRecord, ChainBreak

N = 777


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, keyed_chain: list[AuditRecord]) -> Path:
    path = tmp_path_factory.mktemp("export") / "audit.jsonl"
    assert export_jsonl(MemoryAuditStore(keyed_chain).records(), path) == CHAIN_LENGTH
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _verify_edit(tmp_path: Path, key: AuditKey, lines: list[bytes]) -> ChainBreak:
    path = tmp_path / "edited.jsonl"
    path.write_bytes(b"".join(lines))
    result = verify(read_jsonl(path), key=key)
    assert result.problem is not None, "the edit went unnoticed"
    return result.problem


def test_an_export_is_one_canonical_record_per_line_and_verifies(
    exported: Path, keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    lines = _lines(exported)
    assert len(lines) == CHAIN_LENGTH
    assert lines[N - 1] == keyed_chain[N - 1].line() + b"\n"
    assert list(json.loads(lines[0])) == sorted(json.loads(lines[0]))
    assert list(read_jsonl(exported)) == keyed_chain
    result = verify(read_jsonl(exported), key=chain_key)
    assert result.ok, result.problem
    assert result.checked == CHAIN_LENGTH


def test_editing_a_value_in_the_text_is_found(
    exported: Path, tmp_path: Path, chain_key: AuditKey
) -> None:
    lines = _lines(exported)
    before = lines[N - 1]
    lines[N - 1] = before.replace(b'"rows":', b'"rows":1', 1)
    assert lines[N - 1] != before
    problem = _verify_edit(tmp_path, chain_key, lines)
    assert (problem.seq, problem.tampering, problem.position) == (N, Tampering.EDITED, N)


def test_deleting_swapping_and_duplicating_lines_are_found(
    exported: Path, tmp_path: Path, chain_key: AuditKey
) -> None:
    lines = _lines(exported)
    problem = _verify_edit(tmp_path, chain_key, lines[: N - 1] + lines[N:])
    assert (problem.seq, problem.tampering) == (N, Tampering.DELETED)
    swapped = list(lines)
    swapped[N - 1], swapped[N + 99] = swapped[N + 99], swapped[N - 1]
    problem = _verify_edit(tmp_path, chain_key, swapped)
    assert (problem.seq, problem.tampering) == (N, Tampering.REORDERED)
    assert f"found later, at position {N + 100}" in problem.message
    duplicated = [*lines[:N], lines[N - 1], *lines[N:]]
    problem = _verify_edit(tmp_path, chain_key, duplicated)
    assert (problem.seq, problem.tampering) == (N, Tampering.INSERTED)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda line: b"garbage\n", "not a JSON object"),
        (lambda line: line.replace(b'{"at"', b'{"note":"x","at"', 1), "exactly the fields"),
        (lambda line: line.replace(b'"seq":', b'"seq":1,"seq":', 1), "not a JSON object"),
        (lambda line: line.replace(b'"rows":', b'"rows":NaN,"x":', 1), "not a JSON object"),
        (lambda line: line.replace(b'"seq":', b'"seq":"', 1).replace(b"}\n", b'"}\n'), "'seq'"),
        (lambda line: line.replace(b'Z"', b'"', 1), "time zone"),
        (lambda line: b"\n", "not a JSON object"),
    ],
)
def test_a_line_that_is_not_a_record_is_malformed_at_its_line(
    exported: Path,
    tmp_path: Path,
    chain_key: AuditKey,
    edit: Callable[[bytes], bytes],
    why: str,
) -> None:
    lines = _lines(exported)
    lines[N - 1] = edit(lines[N - 1])
    problem = _verify_edit(tmp_path, chain_key, lines)
    assert (problem.seq, problem.tampering, problem.position) == (N, Tampering.MALFORMED, N)
    assert f"edited.jsonl:{N}" in problem.message
    assert why in problem.message


def test_a_torn_last_line_is_malformed_and_the_store_refuses_to_append_after_it(
    exported: Path, tmp_path: Path, chain_key: AuditKey
) -> None:
    path = tmp_path / "torn.jsonl"
    data = exported.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    result = verify(read_jsonl(path), key=chain_key)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.tampering) == (CHAIN_LENGTH, Tampering.MALFORMED)
    assert "cut short" in result.problem.message
    with pytest.raises(AuditWriteError, match="ends in a partial line"):
        AuditChain(JsonlAuditStore(path), key=chain_key).append("run_started")


def test_the_file_store_appends_reads_back_and_keeps_its_head(
    tmp_path: Path, chain_key: AuditKey
) -> None:
    path = tmp_path / "audit.jsonl"
    store = JsonlAuditStore(path)
    assert store.head() is None
    assert list(store.records()) == []
    chain = AuditChain(store, key=chain_key)
    written = [chain.append("rows_written", {"rows": i, "blob": "x" * 70_000}) for i in range(3)]
    assert store.head() == written[-1].head  # read from the end across a 64 KiB chunk
    assert list(store.records()) == written
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # A second process's view of the same file continues the same chain.
    again = AuditChain(JsonlAuditStore(path), key=chain_key).append("run_finished")
    assert again.seq == 4
    assert again.prev_hash == written[-1].hash
    assert verify(store.records(), key=chain_key).checked == 4


def test_reading_a_missing_export_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(read_jsonl(tmp_path / "absent.jsonl"))


def test_a_format_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(b"[]\n")
    with pytest.raises(AuditFormatError) as caught:
        list(read_jsonl(path))
    assert caught.value.location == f"{path}:1"
    assert caught.value.hint
