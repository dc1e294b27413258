"""The audit chain in the state store, and what the listener records beyond the CLI tests:
racing writers, the git commit of the spec, content digests of file sources."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tidegate.app.audit_store import StateAuditStore
from tidegate.app.auditing import ContentDigest
from tidegate.app.bootstrap import build, load, secret_values
from tidegate.governance.audit import (
    AuditChain,
    AuditConflictError,
    AuditKey,
    Entry,
    MemoryAuditStore,
    parse_record,
    verify,
)
from tidegate.governance.keys import generate_key
from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

KEY = AuditKey(b"a chain key for tests, 32 bytes!")


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[StateStore]:
    if request.param == "sqlite":
        opened = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
        yield opened
        opened.close()
        return
    with postgres_database("tidegate_auditstore_") as url:
        opened = StateStore.open(url)
        yield opened
        opened.close()


def test_records_come_back_exactly_as_hashed(store: StateStore) -> None:
    chain = AuditChain(StateAuditStore(store), key=KEY)
    first = chain.append_all(
        [Entry(kind="run_started", payload={"user": "é ü"}, run_id="r1", pipeline="p")]
    )
    second = chain.append("run_finished", {"seconds": 0.5, "rows": 10**12}, run_id="r2")
    audit = StateAuditStore(store)
    assert list(audit.records()) == [*first, second]
    assert audit.head() == second.head
    assert [r.seq for r in audit.records_of_run("r2")] == [2]
    assert verify(audit.records(), key=KEY).ok


def test_an_append_that_does_not_follow_the_head_is_a_conflict(store: StateStore) -> None:
    audit = StateAuditStore(store)
    made = AuditChain(MemoryAuditStore(), key=KEY)
    records = made.append_all([Entry(kind="x", payload={"n": n}) for n in range(3)])
    audit.append(records[:2])
    with pytest.raises(AuditConflictError):
        audit.append(records[1:2])  # seq 2 is taken
    other = AuditChain(MemoryAuditStore(), key=KEY).append_all(
        [Entry(kind="y"), Entry(kind="y"), Entry(kind="y")]
    )
    with pytest.raises(AuditConflictError):
        audit.append(other[2:])  # seq 3 is free, but it was chained to another record 2
    assert [r.seq for r in audit.records()] == [1, 2]


def test_racing_writers_make_one_chain(store: StateStore) -> None:
    errors: list[BaseException] = []

    def write(name: str) -> None:
        chain = AuditChain(StateAuditStore(store), key=KEY)
        try:
            for n in range(15):
                chain.append_all([Entry(kind="rows_written", payload={"w": name, "n": n})] * 2)
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(name,)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify(StateAuditStore(store).records(), key=KEY)
    assert result.ok
    assert result.checked == 90


def test_a_governed_run_records_the_commit_and_redacts_the_keys(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,v\n1,a\n2,b\n", encoding="utf-8")
    chain_key, head_key = generate_key(), generate_key()
    (tmp_path / "pipeline.yaml").write_text(
        "name: p\nsource: {type: csv, path: in.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: t}\n"
        f"audit: {{key: '{chain_key}', head_key: '{head_key}', head_file: heads/h.jsonl}}\n",
        encoding="utf-8",
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "pipeline.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "p"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    spec = load(tmp_path / "pipeline.yaml")
    assert {chain_key, head_key} <= set(secret_values(spec))
    result = build(spec).run()
    assert result.ok, result.error
    store = StateStore.open(f"sqlite:///{tmp_path / '.tidegate' / 'state.db'}")
    records = list(StateAuditStore(store).records())
    store.close()
    assert records[0].payload["git_commit"] == head
    assert records[0].payload["git_dirty"] is False
    assert records[0].payload["chain_keyed"] is True
    assert (tmp_path / "heads" / "h.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert all(chain_key not in r.line().decode() for r in records)


def test_a_failing_start_stops_the_run_before_the_source_is_read(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        "name: p\nsource: {type: csv, path: in.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: t}\n"
        f"observability: {{state: {{url: 'sqlite:///{tmp_path}/state/x.db', enabled: false}}}}\n",
        encoding="utf-8",
    )
    (tmp_path / "state").write_text("a file where the store's folder should be", encoding="utf-8")
    result = build(load(tmp_path / "pipeline.yaml")).run()
    assert not result.ok
    assert result.rows_read == 0
    assert result.error is not None
    assert "stopped before reading anything" in result.error.message
    assert not (tmp_path / "out.duckdb").exists()


def test_file_sources_get_a_digest_of_their_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    for n in range(3):
        pq.write_table(pa.table({"n": [n] * 10}), folder / f"part-{n}.parquet")
    settings = type("S", (), {"path": "parts"})()
    digest = ContentDigest("parquet", settings, tmp_path)
    digest.start()
    found = digest.result()
    joined = b"".join((folder / f"part-{n}.parquet").read_bytes() for n in range(3))
    assert found["content_digest"] == "sha256:" + hashlib.sha256(joined).hexdigest()
    assert (found["files"], found["bytes"]) == (3, len(joined))
    globbed = ContentDigest("parquet", type("S", (), {"path": "parts/*-1.parquet"})(), tmp_path)
    one = (folder / "part-1.parquet").read_bytes()
    assert globbed.result()["content_digest"] == "sha256:" + hashlib.sha256(one).hexdigest()
    missing = ContentDigest("csv", type("S", (), {"path": "nope.csv"})(), tmp_path).result()
    assert missing["content_digest"] is None
    assert missing["digest"].startswith("not computed")
    assert ContentDigest("sql", object(), tmp_path).result() == {
        "content_digest": None,
        "digest": "not computed for sql sources",
    }


def test_records_parse_back_from_their_lines(store: StateStore) -> None:
    record = AuditChain(StateAuditStore(store)).append("erasure_requested", {"request_id": "q"})
    assert parse_record(record.line()) == record
