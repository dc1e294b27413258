"""Appending: records as documented, batches all or none, racing writers, and failing closed.

The store here is a real SQLite table with seq as primary key, the shape the state store
gives the chain, so the protocol is exercised the way a database implements it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import pickle
import sqlite3
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from tests.governance.audit.chains import ticking_clock
from tidegate.errors import ConfigError
from tidegate.governance.audit import (
    GENESIS_HASH,
    AuditChain,
    AuditConflictError,
    AuditKey,
    AuditKind,
    AuditPayloadError,
    AuditRecord,
    AuditWriteError,
    ChainHead,
    Entry,
    Hasher,
    JsonlAuditStore,
    MemoryAuditStore,
    canonical,
    records_of_run,
    require_separate_keys,
    verify,
)
from tidegate.governance.audit.jsonl import parse_record

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path


class SqliteAuditStore:
    """The chain in one SQLite table, seq the primary key: what the state store will do."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL,"
            " hash TEXT NOT NULL, line BLOB NOT NULL)"
        )

    def append(self, records: Sequence[AuditRecord]) -> None:
        try:
            self.con.execute("BEGIN IMMEDIATE")
            head = self.head()
            expected = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
            if (records[0].seq - 1, records[0].prev_hash) != expected:
                raise AuditConflictError("the head moved")
            self.con.executemany(
                "INSERT INTO audit VALUES (?, ?, ?, ?)",
                [(r.seq, r.prev_hash, r.hash, r.line()) for r in records],
            )
            self.con.execute("COMMIT")
        except BaseException:
            if self.con.in_transaction:
                self.con.execute("ROLLBACK")
            raise

    def records(self) -> Iterator[AuditRecord]:
        for (line,) in self.con.execute("SELECT line FROM audit ORDER BY seq"):
            yield parse_record(line)

    def head(self) -> ChainHead | None:
        row = self.con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else ChainHead(row[0], row[1])


def test_records_are_hashed_as_documented(tmp_path: Path) -> None:
    key = AuditKey(b"c" * 32)
    chain = AuditChain(SqliteAuditStore(tmp_path / "state.db"), key=key, clock=ticking_clock())
    first = chain.append(
        AuditKind.RUN_STARTED, {"spec_hash": "ab12", "user": "ci"}, run_id="r1", pipeline="p"
    )
    second = chain.append("quality_outcome", {"score": 99.5}, run_id="r1", pipeline="p")
    assert (first.seq, first.prev_hash, second.seq, second.prev_hash) == (
        1,
        GENESIS_HASH,
        2,
        first.hash,
    )
    assert type(first.kind) is str
    # Anyone can recompute it from the docs: HMAC-SHA-256 over RFC 8785 of the other fields.
    body = canonical(
        {
            "seq": 1,
            "at": "2026-03-01T06:00:01.000000Z",
            "kind": "run_started",
            "run_id": "r1",
            "pipeline": "p",
            "payload": {"spec_hash": "ab12", "user": "ci"},
            "prev_hash": GENESIS_HASH,
        }
    )
    assert first.hash == hmac.new(b"c" * 32, body, hashlib.sha256).hexdigest()
    assert first.body() == body
    assert chain.head() == ChainHead(2, second.hash)
    assert str(chain.head()) == f"2:{second.hash}"
    assert verify(chain.store.records(), key=key).ok


def test_an_unkeyed_record_is_plain_sha256() -> None:
    record = AuditChain(MemoryAuditStore()).append("erasure_requested", {"request_id": "q"})
    assert record.hash == hashlib.sha256(record.body()).hexdigest()


def test_the_records_of_one_run_are_found_in_order() -> None:
    chain = AuditChain(MemoryAuditStore())
    for run in ("a", "b", "a", "c", "a"):
        chain.append("rows_written", {"run": run}, run_id=run)
    shown = list(records_of_run(chain.store.records(), "a"))
    assert [r.seq for r in shown] == [1, 3, 5]


def test_a_batch_is_appended_whole_and_consecutive() -> None:
    store = MemoryAuditStore()
    chain = AuditChain(store)
    assert chain.append_all([]) == []
    records = chain.append_all(
        [Entry(kind="column_governed", payload={"column": f"c{i}"}) for i in range(16)]
    )
    assert [r.seq for r in records] == list(range(1, 17))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    with pytest.raises(AuditPayloadError, match=r"payload\.bad is a set"):
        chain.append_all([Entry(kind="rows_written"), Entry(kind="x", payload={"bad": {1}})])
    assert len(store) == 16  # the good entry before the bad one was not written either


def test_racing_writers_each_append_on_the_head_they_lost_to(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        chain = AuditChain(JsonlAuditStore(path, fsync=False))
        try:
            for i in range(40):
                chain.append("rows_written", {"writer": name, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify(JsonlAuditStore(path).records())
    assert result.ok, result.problem
    assert result.checked == 160


class _Crowded(MemoryAuditStore):
    """A store where another writer always appends just before us."""

    def append(self, records: Sequence[AuditRecord]) -> None:
        head = self.head()
        rival = Hasher().seal(
            seq=1 if head is None else head.seq + 1,
            at=datetime.now(UTC),
            kind="rows_written",
            run_id="rival",
            pipeline=None,
            payload={},
            prev_hash=GENESIS_HASH if head is None else head.hash,
        )
        super().append([rival])
        super().append(records)


def test_a_writer_that_always_loses_the_race_gives_up_with_a_conflict() -> None:
    store = _Crowded()
    with pytest.raises(AuditConflictError, match="does not follow the chain head"):
        AuditChain(store).append("run_started")
    assert {r.run_id for r in store.records()} == {"rival"}
    assert verify(store.records()).ok


def test_a_store_that_fails_fails_the_append_closed(tmp_path: Path) -> None:
    store = SqliteAuditStore(tmp_path / "state.db")
    chain = AuditChain(store, key=AuditKey(b"k" * 32))
    chain.append("run_started")
    store.con.close()
    with pytest.raises(AuditWriteError) as caught:
        chain.append("run_finished", {"status": "succeeded"})
    assert "ProgrammingError" in str(caught.value)
    assert "run stopped because audit records must be written" in str(caught.value)
    assert isinstance(caught.value.__cause__, sqlite3.ProgrammingError)


def test_a_file_store_that_cannot_write_says_where_and_why(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    store = JsonlAuditStore(tmp_path / "not-a-folder" / "audit.jsonl")
    with pytest.raises(AuditWriteError) as caught:
        AuditChain(store).append("run_started")
    assert str(tmp_path / "not-a-folder" / "audit.jsonl") in str(caught.value)
    assert "cannot open it (Not a directory)" in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "what"),
    [
        (Entry(kind=""), "needs a kind"),
        (Entry(kind="x", run_id=7), "run_id is a int"),  # type: ignore[arg-type]
        (Entry(kind="x", payload={"at": datetime(2026, 1, 1)}), "naive"),
    ],
)
def test_an_entry_that_cannot_be_recorded_is_refused_before_writing(
    entry: Entry, what: str
) -> None:
    store = MemoryAuditStore()
    with pytest.raises(AuditPayloadError, match=what):
        AuditChain(store).append_all([entry])
    assert len(store) == 0


def test_keys_never_show_their_material() -> None:
    material = bytes(range(32))
    key = AuditKey(material)
    chain = AuditChain(MemoryAuditStore(), key=key)
    for text in (repr(key), str(key), repr(chain), f"{key}"):
        assert material.hex() not in text
        assert "\\x00\\x01" not in text
    assert repr(key) == f"AuditKey(check={key.check!r})"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)
    assert AuditKey.from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=") == key


def test_weak_or_shared_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="16 bytes, at least 32"):
        AuditKey(b"x" * 16)
    with pytest.raises(ConfigError, match="not valid base64"):
        AuditKey.from_base64("not base64!")
    chain_key = AuditKey.generate()
    require_separate_keys(chain_key, AuditKey.generate())
    require_separate_keys(None, chain_key)
    with pytest.raises(ConfigError, match="head key is the chain key") as caught:
        require_separate_keys(chain_key, AuditKey(chain_key.material()))
    assert chain_key.material().hex() not in str(caught.value)
