"""Anchored heads: signed with a key of their own, kept in an append-only file, and checked.

The end-to-end case is the one anchors exist for: runs append to a chain and anchor their
heads; someone cuts the chain's tail or recomputes it whole; verifying against the head file
names the record.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from tests.governance.audit.chains import resealed, ticking_clock
from tidegate.errors import ConfigError
from tidegate.governance.audit import (
    AuditChain,
    AuditFormatError,
    AuditKey,
    AuditWriteError,
    ChainHead,
    Hasher,
    HeadAnchor,
    HeadFile,
    HeadSignatureError,
    JsonlAuditStore,
    SignedHead,
    Tampering,
    check_head,
    parse_head,
    parse_signed_head,
    read_jsonl,
    sign_head,
    verify,
)

if TYPE_CHECKING:
    from pathlib import Path

HEAD_KEY = AuditKey(b"h" * 32)
HEAD = ChainHead(42, "ab" * 32)
AT = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)


def test_a_signed_head_is_checked_with_the_head_key() -> None:
    signed = sign_head(HEAD, HEAD_KEY, at=AT)
    assert check_head(signed, HEAD_KEY) == HEAD
    assert json.loads(signed.line()) == {
        "at": "2026-03-01T07:00:00.000000Z",
        "hash": HEAD.hash,
        "seq": 42,
        "signature": signed.signature,
    }
    assert parse_signed_head(signed.line()) == signed


@pytest.mark.parametrize(
    "change",
    [{"seq": 43}, {"hash": "cd" * 32}, {"at": AT + timedelta(seconds=1)}, {"signature": "0" * 64}],
)
def test_an_altered_head_or_another_key_is_refused_clearly(change: dict[str, object]) -> None:
    signed = sign_head(HEAD, HEAD_KEY, at=AT)
    altered: SignedHead = replace(signed, **change)  # type: ignore[arg-type]
    with pytest.raises(HeadSignatureError) as caught:
        check_head(altered, HEAD_KEY, where="heads.jsonl:3")
    text = str(caught.value)
    assert text.startswith("heads.jsonl:3: the head at seq")
    assert "altered or forged, or the key is another one" in text
    assert HEAD_KEY.check in text
    assert HEAD_KEY.material().hex() not in text
    other = AuditKey(b"o" * 32)
    with pytest.raises(HeadSignatureError, match=other.check):
        check_head(signed, other)


def test_parse_head_takes_what_run_summaries_print() -> None:
    assert parse_head(f" {HEAD} ") == HEAD
    assert parse_head(HEAD.hash) == HEAD.hash
    for bad in ("42", "0:" + HEAD.hash, "x:" + HEAD.hash, "42:" + HEAD.hash.upper(), "42:abc"):
        with pytest.raises(ConfigError, match="SEQ:HASH"):
            parse_head(bad)


def test_the_head_file_appends_one_line_per_head_and_reads_them_back(tmp_path: Path) -> None:
    heads = HeadFile(tmp_path / "heads.jsonl")
    first, second = sign_head(HEAD, HEAD_KEY, at=AT), sign_head(ChainHead(43, "cd" * 32), HEAD_KEY)
    heads.publish(first)
    heads.publish(second)
    assert (tmp_path / "heads.jsonl").read_bytes() == first.line() + b"\n" + second.line() + b"\n"
    assert list(heads.signed_heads()) == [first, second]
    assert heads.heads(HEAD_KEY) == [first.head, second.head]


def test_a_forged_line_in_the_head_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "heads.jsonl"
    heads = HeadFile(path)
    heads.publish(sign_head(HEAD, HEAD_KEY, at=AT))
    heads.publish(sign_head(ChainHead(41, "ee" * 32), AuditKey(b"f" * 32), at=AT))
    with pytest.raises(HeadSignatureError, match=f"{path}:2: the head at seq 41"):
        heads.heads(HEAD_KEY)
    with path.open("ab") as out:
        out.write(b'{"seq": 1}\n')
    with pytest.raises(AuditFormatError, match=f"{path}:3: not a signed head"):
        list(heads.signed_heads())


def test_the_anchor_refuses_the_chain_key_and_publishes_to_every_sink(tmp_path: Path) -> None:
    chain_key = AuditKey(b"c" * 32)
    with pytest.raises(ConfigError, match="head key is the chain key"):
        HeadAnchor(AuditKey(b"c" * 32), [], chain_key=chain_key)
    files = [HeadFile(tmp_path / "a.jsonl"), HeadFile(tmp_path / "b.jsonl")]
    anchor = HeadAnchor(HEAD_KEY, files, chain_key=chain_key, clock=lambda: AT)
    signed = anchor.anchor(HEAD)
    assert signed == sign_head(HEAD, HEAD_KEY, at=AT)
    assert [f.heads(HEAD_KEY) for f in files] == [[HEAD], [HEAD]]
    assert HEAD_KEY.material().hex() not in repr(anchor)


class _Unreachable:
    """A sink whose remote end refuses, as a down object store would."""

    def publish(self, head: SignedHead) -> None:
        raise ConnectionRefusedError("connection refused")

    def __repr__(self) -> str:
        return "Unreachable()"


def test_a_sink_that_fails_fails_the_anchor_closed(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(AuditWriteError, match="could not append the chain head 42"):
        HeadAnchor(HEAD_KEY, [HeadFile(tmp_path / "file" / "heads.jsonl")]).anchor(HEAD)
    with pytest.raises(AuditWriteError, match="in Unreachable\\(\\): ConnectionRefusedError"):
        HeadAnchor(HEAD_KEY, [_Unreachable()]).anchor(HEAD)


def _three_runs(tmp_path: Path, chain_key: AuditKey | None) -> tuple[Path, HeadFile]:
    """Three runs of 20 records each into a file chain, each run's head anchored."""
    store_path = tmp_path / "audit.jsonl"
    chain = AuditChain(JsonlAuditStore(store_path), key=chain_key, clock=ticking_clock())
    heads = HeadFile(tmp_path / "heads.jsonl")
    anchor = HeadAnchor(HEAD_KEY, [heads], chain_key=chain_key)
    for run in range(3):
        for i in range(20):
            chain.append("rows_written", {"rows": i}, run_id=f"run-{run}")
        head = chain.head()
        assert head is not None
        anchor.anchor(head)
    return store_path, heads


def test_a_cut_tail_shows_against_the_head_file(tmp_path: Path) -> None:
    chain_key = AuditKey(b"c" * 32)
    store_path, heads = _three_runs(tmp_path, chain_key)
    assert verify(read_jsonl(store_path), key=chain_key, anchors=heads.heads(HEAD_KEY)).ok
    lines = store_path.read_bytes().splitlines(keepends=True)
    store_path.write_bytes(b"".join(lines[:55]))  # the last run's last 5 records are gone
    assert verify(read_jsonl(store_path), key=chain_key).ok  # the chain alone cannot tell
    result = verify(read_jsonl(store_path), key=chain_key, anchors=heads.heads(HEAD_KEY))
    assert result.problem is not None
    assert (result.problem.seq, result.problem.tampering) == (56, Tampering.TRUNCATED)
    assert result.anchors == 2


def test_an_unkeyed_chain_recomputed_whole_shows_against_the_head_file(tmp_path: Path) -> None:
    store_path, heads = _three_runs(tmp_path, None)
    records = list(read_jsonl(store_path))
    records[30] = replace(records[30], payload={"rows": 0})
    forged = resealed(records, 30, Hasher())
    result = verify(forged, anchors=heads.heads(HEAD_KEY))
    assert result.problem is not None
    assert (result.problem.seq, result.problem.tampering) == (40, Tampering.REWRITTEN)
    assert "after seq 20" in result.problem.message
