"""The audit trail end to end: real runs through the CLI write it, `tidegate audit` checks it.

Each test runs a governed pipeline (a CSV of people, masked and encrypted, quality rules) into
DuckDB with its state store on SQLite or PostgreSQL, then reads the ``tidegate_audit`` table
with SQL, tampers with it the way someone holding the database could, and expects
``tidegate audit verify`` to name the record.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import table_rows
from tidegate.app.audit_store import StateAuditStore
from tidegate.governance.audit import AuditChain, AuditKey, Entry, Hasher, parse_record
from tidegate.governance.keys import generate_key
from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tests.e2e.conftest import Cli

ROWS = 300
KINDS_OF_A_RUN = [
    "run_started",
    *["column_governed"] * 5,
    "quality_outcome",
    "input_read",
    "rows_written",
    "run_finished",
]


def _people(folder: Path) -> bytes:
    first = ["Anna", "John", "Maria", "Peter", "Laura", "James", "Sophie", "Lukas"]
    last = ["Smith", "Miller", "Garcia", "Johnson", "Martin", "Brown", "Schmidt"]
    lines = ["id,first_name,last_name,email,city"]
    for i in range(1, ROWS + 1):
        a, b = first[i % len(first)], last[i % len(last)]
        lines.append(f"{i},{a},{b},{a.lower()}.{b.lower()}{i}@example.com,Berlin")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    (folder / "people.csv").write_bytes(data)
    return data


def _pipeline(folder: Path, state_url: str | None, *, audit: str | None = None) -> None:
    keys = folder / "keys"
    keys.mkdir(exist_ok=True)
    for name in ("mask.key", "cust.v1", "cust.v2", "audit.key", "head.key"):
        if not (keys / name).exists():
            (keys / name).write_text(generate_key() + "\n", encoding="utf-8")
    state = f"observability:\n  state: {{url: '{state_url}'}}\n" if state_url else ""
    section = (
        audit
        if audit is not None
        else "audit:\n  key: file:keys/audit.key\n  head_key: file:keys/head.key\n"
    )
    (folder / "pipeline.yaml").write_text(
        "name: people\n"
        "source: {type: csv, path: people.csv, columns: {id: int64}}\n"
        "steps:\n"
        "  - type: mask\n"
        "    key: file:keys/mask.key\n"
        "    columns:\n"
        "      first_name: {strategy: fake, fake: first_name}\n"
        "      last_name: {strategy: hash}\n"
        "  - type: encrypt\n"
        "    columns: [email]\n"
        "governance:\n"
        "  keys: {cust: {1: file:keys/cust.v1, 2: file:keys/cust.v2}}\n"
        "quality:\n"
        "  columns:\n"
        "    id: [not_null]\n"
        "    city: [{allowed_values: [Paris]}]\n"
        "  on_fail: warn\n"
        "destination: {type: duckdb, path: out.duckdb, table: people, mode: replace}\n"
        + state
        + section,
        encoding="utf-8",
    )


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[str]:
    """The state store: SQLite beside the pipeline (its default) or a fresh PostgreSQL db."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / '.tidegate' / 'state.db'}"
        return
    with postgres_database("tidegate_audit_") as url:
        yield url


def _spec_url(url: str) -> str | None:
    """What the pipeline says: nothing for the default SQLite store."""
    return None if url.startswith("sqlite") else url


def _summary(stdout: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return summary


def _rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            found = con.execute(sa.text("SELECT * FROM tidegate_audit ORDER BY seq"))
            return [dict(row) for row in found.mappings()]
    finally:
        engine.dispose()


def _sql(url: str, *statements: tuple[str, dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as con:
            for statement, values in statements:
                con.execute(sa.text(statement), values)
    finally:
        engine.dispose()


def _restore(url: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as con:
            con.execute(sa.text("DELETE FROM tidegate_audit"))
            con.execute(
                sa.text(
                    "INSERT INTO tidegate_audit (seq, at, kind, run_id, pipeline, hash, record) "
                    "VALUES (:seq, :at, :kind, :run_id, :pipeline, :hash, :record)"
                ),
                rows,
            )
    finally:
        engine.dispose()


def _verify(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    done = cli("audit", "verify", *args, "--json")
    assert done.returncode in {0, 1}, done.stderr
    verdict: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, verdict


def _broken(cli: Cli, *args: str) -> tuple[int | None, str]:
    code, verdict = _verify(cli, "pipeline.yaml", *args)
    assert code == 1
    assert not verdict["ok"]
    return verdict["problem"]["seq"], verdict["problem"]["tampering"]


def _key(folder: Path, name: str) -> AuditKey:
    return AuditKey.from_base64((folder / "keys" / name).read_text(encoding="utf-8"))


def test_a_run_records_what_it_did_in_order(tmp_path: Path, cli: Cli, state_url: str) -> None:
    data = _people(tmp_path)
    _pipeline(tmp_path, _spec_url(state_url))
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 0, done.stderr
    summary = _summary(done.stdout)
    records = [parse_record(row["record"]) for row in _rows(state_url)]
    assert [r.kind for r in records] == KINDS_OF_A_RUN
    assert {r.run_id for r in records} == {summary["run_id"]}
    assert summary["audit_head"] == str(records[-1].head)
    started, *columns = records[:6]
    assert len(str(started.payload["spec_hash"])) == 64
    assert started.payload["tidegate_version"]
    assert started.payload["git_commit"] is None  # tmp_path is no git repository
    assert started.payload["git_dirty"] is None
    assert started.payload["user"]
    assert started.payload["host"]
    assert started.payload["source"] == "csv:people.csv"
    assert started.payload["steps"] == [
        "governance:classify",
        "governance:inspect",
        "quality",
        "mask",
        "encrypt",
        "governance:check",
    ]
    governed = {r.payload["column"]: r.payload for r in columns}
    assert governed["email"]["action"] == "encrypt"
    assert (governed["email"]["key_id"], governed["email"]["key_version"]) == ("cust", 2)
    assert governed["first_name"]["action"] == "mask:fake"
    assert governed["first_name"]["classified_as"] == "person_name"
    assert governed["last_name"]["action"] == "mask:hash"
    assert governed["city"]["key_id"] is None
    quality, read, written, finished = (r.payload for r in records[6:])
    assert quality["failed_rules"] == {"city.allowed_values": ROWS}
    assert read["rows"] == ROWS
    assert read["content_digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert written == {"destination": "duckdb:out.duckdb/main.people", "rows": ROWS}
    assert finished["status"] == "succeeded"
    assert finished["rows_written"] == ROWS
    # no key material anywhere in the records
    text = "".join(row["record"] for row in _rows(state_url))
    for name in ("mask.key", "cust.v1", "cust.v2", "audit.key", "head.key"):
        assert (tmp_path / "keys" / name).read_text(encoding="utf-8").strip() not in text
    # the head is signed into the head file, with the head key only
    heads = (tmp_path / ".tidegate" / "audit-heads.jsonl").read_text(encoding="utf-8")
    assert json.loads(heads)["seq"] == len(KINDS_OF_A_RUN)
    code, verdict = _verify(cli, "pipeline.yaml")
    assert code == 0
    assert verdict["ok"]
    assert verdict["keyed"]
    assert (verdict["checked"], verdict["anchors"]) == (len(KINDS_OF_A_RUN), 1)
    assert verdict["head"] == summary["audit_head"]
    other = base64.b64encode(b"another head key, not the one!!!").decode()
    wrong = cli("audit", "verify", "pipeline.yaml", "--set", f"audit.head_key={other}")
    assert wrong.returncode == 1
    assert "is not signed by the head key" in wrong.stderr
    assert "audit-heads.jsonl:1" in wrong.stderr
    assert other not in wrong.stderr + wrong.stdout
    shown = cli("audit", "show", "--run", summary["run_id"], "pipeline.yaml", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["kind"] for line in shown.stdout.splitlines()] == KINDS_OF_A_RUN


def test_tampering_with_the_store_is_named(tmp_path: Path, cli: Cli, state_url: str) -> None:
    _people(tmp_path)
    _pipeline(tmp_path, _spec_url(state_url))
    heads = []
    for _ in range(3):
        done = cli("run", "pipeline.yaml")
        assert done.returncode == 0, done.stderr
        heads.append(_summary(done.stdout)["audit_head"])
    original = _rows(state_url)
    per_run = len(KINDS_OF_A_RUN)
    assert len(original) == 3 * per_run
    assert _verify(cli, "pipeline.yaml")[1]["anchors"] == 3
    key = _key(tmp_path, "audit.key")

    edited = json.loads(original[4]["record"])
    edited["payload"]["action"] = "none"
    _sql(
        state_url,
        ("UPDATE tidegate_audit SET record = :r WHERE seq = 5", {"r": json.dumps(edited)}),
    )
    assert _broken(cli) == (5, "edited")
    _restore(state_url, original)

    _sql(state_url, ("DELETE FROM tidegate_audit WHERE seq = 7", {}))
    assert _broken(cli) == (7, "deleted")
    _restore(state_url, original)

    _sql(
        state_url,
        ("UPDATE tidegate_audit SET seq = -1 WHERE seq = 8", {}),
        ("UPDATE tidegate_audit SET seq = 8 WHERE seq = 9", {}),
        ("UPDATE tidegate_audit SET seq = 9 WHERE seq = -1", {}),
    )
    assert _broken(cli) == (8, "reordered")
    _restore(state_url, original)

    # a record forged in the middle (hashed without the chain key), the later ones moved up
    nine = parse_record(original[8]["record"])
    forged = Hasher().seal(
        seq=10,
        at=nine.at,
        kind="column_governed",
        run_id=nine.run_id,
        pipeline=nine.pipeline,
        payload={"column": "email", "action": "encrypt"},
        prev_hash=nine.hash,
    )
    _sql(
        state_url,
        ("UPDATE tidegate_audit SET seq = -seq WHERE seq >= 10", {}),
        ("UPDATE tidegate_audit SET seq = 1 - seq WHERE seq < 0", {}),
        (
            "INSERT INTO tidegate_audit (seq, at, kind, run_id, pipeline, hash, record) "
            "VALUES (10, :at, 'column_governed', :run, 'people', :hash, :record)",
            {
                "at": forged.at,
                "run": forged.run_id,
                "hash": forged.hash,
                "record": forged.line().decode(),
            },
        ),
    )
    assert _broken(cli) == (10, "inserted")
    _restore(state_url, original)

    # the last run cut off: the chain alone still holds, its anchors do not
    _sql(state_url, ("DELETE FROM tidegate_audit WHERE seq > :n", {"n": 2 * per_run}))
    (tmp_path / "none.jsonl").write_text("", encoding="utf-8")
    assert _verify(cli, "pipeline.yaml", "--head-file", "none.jsonl")[0] == 0
    assert _broken(cli, "--head-file", "none.jsonl", "--head", heads[2]) == (
        2 * per_run + 1,
        "truncated",
    )
    assert _broken(cli) == (2 * per_run + 1, "truncated")  # the head file holds its head
    _restore(state_url, original)

    # the last run's records rewritten and re-hashed by someone holding the chain key
    hasher = Hasher(key)
    prev = parse_record(original[2 * per_run - 1]["record"]).hash
    rewritten = []
    for row in original[2 * per_run :]:
        record = parse_record(row["record"])
        payload = dict(record.payload)
        if record.kind == "rows_written":
            payload["rows"] = 1
        sealed = hasher.seal(
            seq=record.seq,
            at=record.at,
            kind=record.kind,
            run_id=record.run_id,
            pipeline=record.pipeline,
            payload=payload,
            prev_hash=prev,
        )
        prev = sealed.hash
        rewritten.append(
            (
                "UPDATE tidegate_audit SET record = :r, hash = :h WHERE seq = :s",
                {"r": sealed.line().decode(), "h": sealed.hash, "s": sealed.seq},
            )
        )
    _sql(state_url, *rewritten)
    assert _verify(cli, "pipeline.yaml", "--head-file", "none.jsonl")[0] == 0
    assert _broken(cli) == (3 * per_run, "rewritten")
    _restore(state_url, original)
    assert _verify(cli, "pipeline.yaml")[0] == 0


def test_an_export_verifies_offline_and_shows_its_edits(tmp_path: Path, cli: Cli) -> None:
    _people(tmp_path)
    _pipeline(tmp_path, None)
    assert cli("run", "pipeline.yaml").returncode == 0
    assert cli("run", "pipeline.yaml").returncode == 0
    exported = cli("audit", "export", "chain.jsonl", "pipeline.yaml")
    assert exported.returncode == 0, exported.stderr
    assert f"wrote {2 * len(KINDS_OF_A_RUN)} audit records" in exported.stderr
    (tmp_path / ".tidegate" / "state.db").unlink()  # the auditor has the export alone
    code, verdict = _verify(cli, "pipeline.yaml", "--export", "chain.jsonl")
    assert (code, verdict["checked"], verdict["anchors"]) == (0, 2 * len(KINDS_OF_A_RUN), 2)
    lines = (tmp_path / "chain.jsonl").read_text(encoding="utf-8").splitlines()
    assert '"kind":"input_read"' in lines[17]
    lines[17] = lines[17].replace('"rows":300', '"rows":299')
    (tmp_path / "chain.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, verdict = _verify(cli, "pipeline.yaml", "--export", "chain.jsonl")
    assert code == 1
    assert (verdict["problem"]["seq"], verdict["problem"]["tampering"]) == (18, "edited")
    text = cli("audit", "verify", "pipeline.yaml", "--export", "chain.jsonl")
    assert "broken at record 18: edited" in text.stdout
    assert cli("audit", "verify", "pipeline.yaml", "--head", "18:nothex").returncode == 2


def test_a_store_that_refuses_the_start_stops_the_run_before_it_reads(
    tmp_path: Path, cli: Cli
) -> None:
    _people(tmp_path)
    _pipeline(tmp_path, None)
    url = f"sqlite:///{tmp_path / '.tidegate' / 'state.db'}"
    StateStore.open(url).close()
    _sql(url, ("DROP TABLE tidegate_audit", {}))
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert "stopped before reading anything" in done.stderr
    assert "tidegate_audit" in done.stderr
    assert _summary(done.stdout)["rows_read"] == 0
    assert not (tmp_path / "out.duckdb").exists()  # the destination was not even opened


def test_a_store_that_refuses_the_end_fails_the_run_after_loading(
    tmp_path: Path, cli: Cli, state_url: str
) -> None:
    _people(tmp_path)
    _pipeline(tmp_path, _spec_url(state_url))
    StateStore.open(state_url).close()
    if state_url.startswith("sqlite"):
        _sql(
            state_url,
            (
                "CREATE TRIGGER read_only BEFORE INSERT ON tidegate_audit "
                "WHEN NEW.kind = 'run_finished' BEGIN SELECT RAISE(ABORT, 'read only'); END",
                {},
            ),
        )
    else:
        _sql(
            state_url,
            (
                "CREATE FUNCTION read_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.kind = 'run_finished' THEN RAISE EXCEPTION 'read only' USING "
                "ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$",
                {},
            ),
            (
                "CREATE TRIGGER read_only BEFORE INSERT ON tidegate_audit FOR EACH ROW "
                "EXECUTE FUNCTION read_only()",
                {},
            ),
        )
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert f"loaded {ROWS} rows into duckdb:out.duckdb/main.people" in done.stderr
    assert "closing audit records could not be written" in done.stderr
    assert "read only" in done.stderr
    assert "tidegate audit verify" in done.stderr
    assert len(table_rows(tmp_path / "out.duckdb", "people")) == ROWS
    kinds = [parse_record(row["record"]).kind for row in _rows(state_url)]
    assert kinds == KINDS_OF_A_RUN[:6]  # the start and the column decisions, all or none
    assert not (tmp_path / ".tidegate" / "audit-heads.jsonl").exists()


def test_ten_thousand_records_verify_within_a_second(
    tmp_path: Path, cli: Cli, state_url: str
) -> None:
    _pipeline(tmp_path, _spec_url(state_url), audit="audit:\n  key: file:keys/audit.key\n")
    store = StateStore.open(state_url)
    chain = AuditChain(StateAuditStore(store), key=_key(tmp_path, "audit.key"))
    for batch in range(100):
        chain.append_all(
            [
                Entry(
                    kind="column_governed",
                    payload={"column": f"c{i}", "action": "mask:hash", "rows": batch * i},
                    run_id=f"run-{batch}",
                    pipeline="people",
                )
                for i in range(100)
            ]
        )
    store.close()
    code, verdict = _verify(cli, "pipeline.yaml")
    assert (code, verdict["checked"]) == (0, 10_000)
    assert verdict["seconds"] < 1.0, verdict
    _sql(state_url, ("DELETE FROM tidegate_audit WHERE seq = 5000", {}))
    assert _broken(cli) == (5000, "deleted")


def test_a_state_store_that_is_down_stops_the_run_before_it_reads(tmp_path: Path, cli: Cli) -> None:
    _people(tmp_path)
    url = "postgresql+psycopg://tidegate:SENTINEL-pw@127.0.0.1:1/history"
    _pipeline(tmp_path, url)
    done = cli("run", "pipeline.yaml")
    assert done.returncode == 1
    assert "stopped before reading anything" in done.stderr
    assert "audit.enabled: false" in done.stderr  # the way out, when audit is not wanted
    assert "SENTINEL-pw" not in done.stdout + done.stderr
    assert not (tmp_path / "out.duckdb").exists()
