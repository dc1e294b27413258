"""What a run leaves for its detail page, on SQLite and on PostgreSQL: the effective spec once
per hash (secrets redacted), the bounded timeline, sample rejected rows masked as the policy
requires, and the migration of a store at 0003 holding runs to the newest revision."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
import structlog
from alembic import command
from alembic.config import Config
from uuid6 import uuid7

from tidegate.app.bootstrap import load, run_pipeline
from tidegate.app.observing import effective_spec, reject_samples
from tidegate.core.taxonomy import KIND_POLICIES
from tidegate.errors import ErrorKind
from tidegate.events import (
    BatchCommitted,
    BreakerChanged,
    ColumnsClassified,
    EventBus,
    FaultInjected,
    RetryAttempted,
    RowsRejected,
    RunFinished,
    RunResumed,
    RunStarted,
)
from tidegate.governance.keys import generate_key
from tidegate.spec.observability import BaselineSpec
from tidegate.state import StateRecorder, StateStore
from tidegate.state.recorder import EDGE_ENTRIES, MAX_EVENTS, MAX_REJECT_SAMPLES
from tidegate.state.tables import ALERTS, HEAD, METADATA, RUNS, VERSION_TABLE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPEC = {"name": "orders", "source": {"type": "csv", "settings": {"path": "in.csv"}}}


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    opened = StateStore.open(url)
    yield opened
    opened.close()


def _recorder(
    store: StateStore,
    *,
    spec: Mapping[str, Any] | None = None,
    spec_hash: str = "a" * 64,
    rejects: Any = None,
) -> StateRecorder:
    return StateRecorder(
        store,
        bus=EventBus(),
        baseline=BaselineSpec(runs=10, min_runs=5, sigma=2.0),
        spec_hash=spec_hash,
        spec=spec,
        rejects=rejects,
    )


def _started(run_id: str, at: datetime = T0) -> RunStarted:
    return RunStarted(
        run_id=run_id,
        pipeline="orders",
        at=at,
        source="csv:in.csv",
        destination="duckdb:out.duckdb/main.t",
        steps=("clean", "quality"),
    )


def _finished(run_id: str, at: datetime, **values: Any) -> RunFinished:
    fields: dict[str, Any] = {
        "status": "succeeded",
        "rows_read": 10,
        "rows_written": 10,
        "rows_rejected": 0,
        "batches": 1,
        "seconds": (at - T0).total_seconds(),
    }
    return RunFinished(run_id=run_id, pipeline="orders", at=at, **{**fields, **values})


def _every_value(store: StateStore) -> str:
    """Every row of every table of the store, as one text to search."""
    with store.engine.connect() as connection:
        return "\n".join(
            repr(row)
            for table in METADATA.sorted_tables
            for row in connection.execute(sa.select(table))
        )


# -- specs ---------------------------------------------------------------------------------


def test_the_spec_is_stored_once_per_hash_with_sorted_keys(store: StateStore) -> None:
    recorder = _recorder(store, spec={"source": {"type": "csv"}, "name": "orders"})
    first, second = str(uuid7()), str(uuid7())
    for run_id, at in ((first, T0), (second, T0 + timedelta(hours=1))):
        recorder.handle(_started(run_id, at))
        recorder.handle(_finished(run_id, at + timedelta(seconds=1)))
    with store.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT spec_hash, first_seen FROM tidegate_specs"))
        assert [row[0] for row in rows] == ["a" * 64]
    stored = store.spec("a" * 64)
    assert stored is not None
    assert stored["pipeline"] == "orders"
    assert stored["first_seen"] == T0  # the first run of the hash stored it
    assert list(stored["spec"]) == ["name", "source"]
    assert store.spec("b" * 64) is None


def test_two_processes_storing_the_same_spec_at_once_both_record_their_run(url: str) -> None:
    stores = [StateStore.open(url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def start(store: StateStore) -> None:
        barrier.wait()
        try:
            _recorder(store, spec=SPEC).handle(_started(str(uuid7())))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(stores[0].runs()) == len(stores)
        with stores[0].engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM tidegate_specs")).scalar()
        assert count == 1
    finally:
        for store in stores:
            store.close()


# -- timeline ------------------------------------------------------------------------------


def test_the_timeline_tells_the_run_with_offsets_kinds_and_next_action(store: StateStore) -> None:
    run_id = str(uuid7())
    recorder = _recorder(store)
    at = [T0 + timedelta(seconds=s) for s in range(10)]
    for event in (
        _started(run_id, at[0]),
        RunResumed(run_id=run_id, pipeline="orders", at=at[1], from_run="r0", batch=2, rows=200),
        BatchCommitted(run_id=run_id, pipeline="orders", at=at[2], batch=3, rows=300, position={}),
        RetryAttempted(
            run_id=run_id,
            pipeline="orders",
            at=at[3],
            operation="rest",
            target="api.example.com",
            attempt=1,
            delay=0.5,
            error_kind="transient",
        ),
        BreakerChanged(
            run_id=run_id,
            pipeline="orders",
            at=at[4],
            target="api.example.com",
            state="open",
            previous="closed",
            failure_rate=0.8,
        ),
        FaultInjected(
            run_id=run_id,
            pipeline="orders",
            at=at[5],
            point="mid_batch",
            batch=4,
            fault="raise:dependency",
        ),
        RowsRejected(
            run_id=run_id,
            pipeline="orders",
            at=at[6],
            step="quality",
            batch=4,
            rows=3,
            reasons={"amount.between: amount is outside [0, 900]": 3},
        ),
        _finished(
            run_id,
            at[7],
            status="failed",
            error="api.example.com refused",
            error_kind="dependency",
            rows_written=0,
        ),
    ):
        recorder.handle(event)
    timeline = store.find(run_id).timeline
    assert [(e["seq"], e["offset_seconds"], e["kind"]) for e in timeline] == [
        (0, 0.0, "start"),
        (1, 1.0, "resume"),
        (2, 2.0, "batch"),
        (3, 3.0, "retry"),
        (4, 4.0, "breaker"),
        (5, 5.0, "fault"),
        (6, 6.0, "rejected"),
        (7, 7.0, "error"),
        (8, 7.0, "finish"),
    ]
    texts = [e["text"] for e in timeline]
    assert texts[0] == "run started: csv:in.csv → clean → quality → duckdb:out.duckdb/main.t"
    assert texts[2] == "batch 3 committed: 100 rows (300 so far), commit 0.000 s"
    assert "attempt 1: trying again in 0.5 s" in texts[3]
    assert timeline[3]["error_kind"] == "transient"
    assert "closed → open (failure rate 80%)" in texts[4]
    assert texts[6].startswith("3 rows rejected by quality in batch 4: amount.between")
    error = timeline[7]
    policy = KIND_POLICIES[ErrorKind.DEPENDENCY]
    assert error["error_kind"] == "dependency"
    assert error["text"] == "dependency error: api.example.com refused"
    assert error["detail"]["next_action"] == policy.next_step(run_id=run_id)
    assert error["detail"]["escalation"] == policy.escalation
    assert error["detail"]["retried"] == policy.retried
    assert texts[8].startswith("run failed: 10 rows read, 0 written")


def test_a_long_run_keeps_its_first_and_last_batches_and_sums_up_the_rest(
    store: StateStore,
) -> None:
    run_id = str(uuid7())
    recorder = _recorder(store)
    recorder.handle(_started(run_id))
    batches = 10_000
    for number in range(1, batches + 1):
        at = T0 + timedelta(milliseconds=number)
        recorder.handle(
            BatchCommitted(
                run_id=run_id,
                pipeline="orders",
                at=at,
                batch=number,
                rows=number * 1000,
                position={},
            )
        )
        recorder.handle(
            RowsRejected(
                run_id=run_id,
                pipeline="orders",
                at=at,
                step="quality",
                batch=number,
                rows=2,
                reasons={"bad": 2},
            )
        )
    recorder.handle(
        RetryAttempted(
            run_id=run_id,
            pipeline="orders",
            at=T0 + timedelta(seconds=11),
            operation="load",
            target="duckdb",
            attempt=1,
            delay=1.0,
            error_kind="transient",
        )
    )
    recorder.handle(_finished(run_id, T0 + timedelta(seconds=12), batches=batches))
    timeline = store.find(run_id).timeline
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("batch") == kinds.count("rejected") == 2 * EDGE_ENTRIES
    assert len(timeline) == 4 * EDGE_ENTRIES + 2 + 3  # two summaries; start, retry, finish
    numbers = [e["detail"]["batch"] for e in timeline if e["kind"] == "batch"]
    assert numbers == [*range(1, EDGE_ENTRIES + 1), *range(batches - EDGE_ENTRIES + 1, batches + 1)]
    summaries = [e for e in timeline if e["kind"] == "summary"]
    skipped = batches - 2 * EDGE_ENTRIES
    assert summaries[0]["text"] == (
        f"{skipped:,} more batches committed ({skipped * 1000:,} rows) from +0.10 s to +9.90 s"
    )
    assert summaries[1]["text"].startswith(f"{skipped:,} more rejections ({skipped * 2:,} rows)")
    # in time order: the summary sits where the batches it stands for were
    assert timeline.index(summaries[0]) == kinds.index("batch") + 2 * EDGE_ENTRIES
    assert kinds[-2:] == ["retry", "finish"]
    assert [e["seq"] for e in timeline] == list(range(len(timeline)))


def test_retries_beyond_the_bound_are_counted_not_kept(store: StateStore) -> None:
    run_id = str(uuid7())
    recorder = _recorder(store)
    recorder.handle(_started(run_id))
    for attempt in range(1, MAX_EVENTS + 51):
        recorder.handle(
            RetryAttempted(
                run_id=run_id,
                pipeline="orders",
                at=T0 + timedelta(seconds=attempt),
                operation="rest",
                target="api.example.com",
                attempt=attempt,
                delay=0.1,
                error_kind="transient",
            )
        )
    recorder.handle(
        _finished(
            run_id,
            T0 + timedelta(hours=1),
            status="failed",
            error="retries ran out",
            error_kind="transient",
        )
    )
    timeline = store.find(run_id).timeline
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("retry") == MAX_EVENTS - 1  # the start is one of the kept
    assert kinds[-3:] == ["error", "summary", "finish"]
    assert timeline[-2]["text"] == ("51 more events not kept (retries, breaker changes, faults)")


# -- sample rejects ------------------------------------------------------------------------


def test_samples_are_asked_for_only_after_quarantined_rejects_and_bounded(
    store: StateStore,
) -> None:
    asked: list[tuple[str, int, Mapping[str, str] | None]] = []

    def sample(run_id: str, rejected: int, levels: Mapping[str, str] | None) -> Sequence[Any]:
        asked.append((run_id, rejected, levels))
        return [
            {
                "step": "quality",
                "batch": 1,
                "source_row": i,
                "rules": "r",
                "reason": "bad",
                "row": {"id": i},
            }
            for i in range(MAX_REJECT_SAMPLES + 5)
        ]

    recorder = _recorder(store, rejects=sample)
    clean = str(uuid7())
    recorder.handle(_started(clean))
    recorder.handle(_finished(clean, T0 + timedelta(seconds=1)))
    rejecting = str(uuid7())
    recorder.handle(_started(rejecting))
    recorder.handle(
        ColumnsClassified(
            run_id=rejecting,
            pipeline="orders",
            policy="built-in",
            profile=None,
            columns=(
                {
                    "column": "email",
                    "pii_type": "email",
                    "level": "confidential",
                    "origin": "detected",
                    "required": "mask",
                    "applied": "mask:email_domain",
                    "status": "ok",
                },
            ),
        )
    )
    recorder.handle(
        RowsRejected(
            run_id=rejecting,
            pipeline="orders",
            step="quality",
            batch=1,
            rows=30,
            reasons={"bad": 30},
            quarantine="t__quarantine",
        )
    )
    recorder.handle(_finished(rejecting, T0 + timedelta(seconds=1), rows_rejected=30))
    assert asked == [(rejecting, 30, {"email": "confidential"})]
    rejects = store.find(rejecting).rejects
    assert len(rejects) == MAX_REJECT_SAMPLES
    assert rejects[0] == {
        "seq": 0,
        "step": "quality",
        "batch": 1,
        "source_row": 0,
        "rules": "r",
        "reason": "bad",
        "row": {"id": 0},
    }
    assert store.find(clean).rejects == []
    unreachable = str(uuid7())  # the destination went down: it is not asked again
    recorder.handle(_started(unreachable))
    recorder.handle(
        RowsRejected(
            run_id=unreachable,
            pipeline="orders",
            step="quality",
            batch=1,
            rows=2,
            reasons={"bad": 2},
            quarantine="t__quarantine",
        )
    )
    recorder.handle(
        _finished(
            unreachable,
            T0 + timedelta(seconds=1),
            status="failed",
            error="connection refused",
            error_kind="dependency",
            rows_rejected=2,
        )
    )
    assert len(asked) == 1
    assert store.find(unreachable).rejects == []


def test_a_failing_sampler_costs_the_samples_not_the_record(store: StateStore) -> None:
    def broken(run_id: str, rejected: int, levels: Mapping[str, str] | None) -> Sequence[Any]:
        raise OSError("quarantine file vanished")

    recorder = _recorder(store, rejects=broken)
    run_id = str(uuid7())
    recorder.handle(_started(run_id))
    recorder.handle(
        RowsRejected(
            run_id=run_id,
            pipeline="orders",
            step="quality",
            batch=1,
            rows=1,
            reasons={"bad": 1},
            quarantine="t__quarantine",
        )
    )
    with structlog.testing.capture_logs() as logs:
        recorder.handle(_finished(run_id, T0 + timedelta(seconds=1), rows_rejected=1))
    detail = store.find(run_id)
    assert detail.run["status"] == "succeeded"
    assert detail.rejects == []
    assert [line["event"] for line in logs] == ["reject_samples_unavailable"]
    assert recorder.failures == 0


def test_samples_show_each_rule_and_mask_what_the_policy_masks() -> None:
    emails = [f"ana.lopez{i}@mail.example" for i in range(30)]
    table = pa.table(
        {
            "id": list(range(30)),
            "email": emails,
            "iban": [f"DE8937040044053201300{i}" for i in range(30)],
            "city": ["Lyon"] * 30,
            "_tidegate_qid": [f"q{i}" for i in range(30)],
            "_tidegate_step": ["quality"] * 30,
            "_tidegate_batch": [1] * 30,
            "_tidegate_row": list(range(1, 31)),
            "_tidegate_rules": ["a"] * 25 + ["b"] * 5,
            "_tidegate_reason": ["a: bad"] * 25 + ["b: worse"] * 5,
        }
    )
    levels = {"email": "confidential", "iban": "restricted", "city": "internal", "id": "public"}
    shown = reject_samples(table, levels, limit=4)
    assert [row["source_row"] for row in shown] == [1, 2, 3, 26]  # rule b has its example
    assert shown[0]["row"] == {
        "id": 0,
        "email": "***.******@****.*******",
        "iban": "[restricted]",
        "city": "Lyon",
    }
    assert shown[3]["reason"] == "b: worse"
    text = json.dumps(shown)
    assert "ana" not in text
    assert "DE89" not in text


# -- real runs -----------------------------------------------------------------------------


GOVERNED = """\
name: people
source: {type: csv, path: people.csv, columns: {id: int64}}
steps:
  - type: mask
    key: env:TG_TEST_MASK_KEY
    columns:
      email: {strategy: email_domain}
governance:
  keys: {main: {1: file:main.key}}
quality:
  columns:
    score: [{between: [1, 90]}]
observability:
  state: {url: env:TG_TEST_STATE_URL}
destination: {type: duckdb, path: out.duckdb, table: people, mode: replace}
"""

MASK_KEY = "hunter2-mask-key-value"


def test_a_governed_run_stores_no_secret_and_no_email_in_clear(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "main.key").write_text(generate_key() + "\n", encoding="utf-8")
    rows = "\n".join(f"{i},ana.lopez{i}@mail.example,{i % 100}" for i in range(1, 301))
    (tmp_path / "people.csv").write_text(f"id,email,score\n{rows}\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(GOVERNED, encoding="utf-8")
    # PostgreSQL trusts loopback, so a password in the URL is accepted and must stay secret
    state_url = url.replace("postgres@", "postgres:pg-url-secret-pw@")
    monkeypatch.setenv("TG_TEST_MASK_KEY", MASK_KEY)
    monkeypatch.setenv("TG_TEST_STATE_URL", state_url)
    result = run_pipeline(tmp_path / "pipeline.yaml", log_level="error", profile="dev")
    assert result.error is None
    assert result.rows_rejected == 30
    store = StateStore.open(url)
    try:
        detail = store.find(result.run_id)
        stored = store.spec(detail.run["spec_hash"])
        everything = _every_value(store)
    finally:
        store.close()
    assert stored is not None
    spec = stored["spec"]
    assert spec["steps"][0]["settings"]["key"] == "**********"
    assert spec["observability"]["state"]["url"] == "**********"
    assert spec["governance"]["keys"] == {"main": {"1": "**********"}}
    assert spec["source"]["settings"]["path"] == "people.csv"
    for secret in (MASK_KEY, "pg-url-secret-pw", (tmp_path / "main.key").read_text().strip()):
        assert secret not in everything
    assert "ana.lopez" not in everything
    assert len(detail.rejects) == MAX_REJECT_SAMPLES
    assert {r["row"]["email"] for r in detail.rejects} == {"[encrypted]"}
    assert detail.rejects[0]["row"]["score"] == 91
    assert detail.rejects[0]["reason"] == "score.between: score is outside [1, 90]"
    kinds = [e["kind"] for e in detail.timeline]
    assert kinds == ["start", "rejected", "finish"]


def test_a_secret_from_the_environment_under_a_secret_key_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipeline.yaml").write_text(
        "name: api\n"
        "source:\n"
        "  type: rest\n"
        "  url: https://api.example.com/v1/orders\n"
        "  headers: {X-Api-Token: '${TG_TEST_TOKEN}', Accept: application/json}\n"
        "  auth_token: env:TG_TEST_BEARER\n"
        "destination: {type: duckdb, path: out.duckdb, table: orders}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("TG_TEST_TOKEN", "tok-from-env-123")
    monkeypatch.setenv("TG_TEST_BEARER", "bearer-secret-456")
    document = effective_spec(load(tmp_path / "pipeline.yaml"))
    settings = document["source"]["settings"]
    assert settings["headers"] == {"X-Api-Token": "**********", "Accept": "application/json"}
    assert settings["auth_token"] == "**********"  # noqa: S105 - the redaction mark
    assert settings["url"] == "https://api.example.com/v1/orders"
    text = json.dumps(document)
    assert "tok-from-env-123" not in text
    assert "bearer-secret-456" not in text
    assert text == json.dumps(document, sort_keys=True)


# -- migration -----------------------------------------------------------------------------


def test_a_store_at_0003_with_runs_migrates_to_head_and_keeps_them(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(files("tidegate.state").joinpath("migrations")))
    engine = sa.create_engine(url)
    old = "0190b1a0-0000-7000-8000-000000000001"
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
            connection.execute(
                RUNS.insert().values(
                    run_id=old,
                    pipeline="orders",
                    status="failed",
                    error_kind="data",
                    error="bad row",
                    started_at=T0,
                    spec_hash="c" * 64,
                    host="host",
                    user_name="user",
                    version="0.1.0",
                )
            )
            connection.execute(
                ALERTS.insert().values(
                    pipeline="orders",
                    rule="run_failed",
                    fingerprint="f",
                    severity="warning",
                    status="firing",
                    title="orders failed",
                    channels=["log"],
                    sent_at=T0,
                )
            )
        assert not sa.inspect(engine).has_table("tidegate_run_events")
    finally:
        engine.dispose()
    store = StateStore.open(url)
    try:
        detail = store.find(old)
        assert (detail.run["status"], detail.timeline, detail.rejects) == ("failed", [], [])
        assert store.spec("c" * 64) is None
        assert [alert["title"] for alert in store.alerts()] == ["orders failed"]
        recorder = _recorder(store, spec=SPEC)
        fresh = str(uuid7())
        recorder.handle(_started(fresh, T0 + timedelta(days=1)))
        recorder.handle(_finished(fresh, T0 + timedelta(days=1, seconds=2)))
        assert [e["kind"] for e in store.find(fresh).timeline] == ["start", "finish"]
        with store.engine.connect() as connection:
            versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            assert versions.all() == [(HEAD,)]
        tables = set(sa.inspect(store.engine).get_table_names())
        assert {"tidegate_audit", "tidegate_spec_versions"} <= tables
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("tidegate_runs")}
        assert "source_schema" in columns
    finally:
        store.close()


def test_a_spec_that_cannot_be_written_as_json_is_left_out_not_the_run(tmp_path: Path) -> None:
    from tidegate.app.observing import _recorded_spec  # noqa: PLC0415 - the guard under test

    (tmp_path / "pipeline.yaml").write_text(
        "name: odd\nsource: {type: csv, path: in.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: t}\n",
        encoding="utf-8",
    )
    spec = load(tmp_path / "pipeline.yaml")
    odd = spec.model_copy(update={"description": object()})  # what a plugin might hold
    with structlog.testing.capture_logs() as logs:
        assert _recorded_spec(odd) is None
    assert [line["event"] for line in logs] == ["spec_not_recorded"]
    assert _recorded_spec(spec) == effective_spec(spec)


def test_no_sample_is_read_without_levels_in_a_governed_run_nor_from_a_huge_reject(
    tmp_path: Path,
) -> None:
    from tidegate.app.observing import MAX_REJECTS_READ, _sampler  # noqa: PLC0415
    from tidegate.errors import values_hidden  # noqa: PLC0415

    (tmp_path / "pipeline.yaml").write_text(
        "name: odd\nsource: {type: csv, path: in.csv}\n"
        "destination: {type: duckdb, path: out.duckdb, table: t}\n",
        encoding="utf-8",
    )
    sample = _sampler(load(tmp_path / "pipeline.yaml"), None)
    with values_hidden():  # a governed run that stopped before classifying: nothing says
        assert sample("r1", 5, None) == []  # which values to mask
    assert sample("r1", MAX_REJECTS_READ + 1, {}) == []
    assert not (tmp_path / "out.duckdb").exists()  # the destination was not even opened
    assert sample("r1", 5, None) == []  # ungoverned: read, and this run quarantined nothing
    assert (tmp_path / "out.duckdb").exists()
