"""The change log in the store, on SQLite and on PostgreSQL: a version per spec hash change
(with its diff, git state and file), none for an unchanged spec, a rotated secret shown as
changed yet redacted, concurrent starts, the source schema of a run and the diff of two runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from uuid6 import uuid7

from tidegate.errors import ConfigError
from tidegate.events import BatchRead, EventBus, RunFinished, RunStarted
from tidegate.spec.observability import BaselineSpec
from tidegate.state import StateRecorder, StateStore
from tidegate.state.changes import GitInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REDACTED = "**********"


def _spec(table: str = "orders", token: str = REDACTED, **extra: Any) -> dict[str, Any]:
    return {
        "name": "orders",
        "source": {"type": "rest", "settings": {"headers": {"Authorization": token}}},
        "destination": {"type": "duckdb", "settings": {"table": table, "key": ["id"]}},
        **extra,
    }


@pytest.fixture
def store(url: str) -> Iterator[StateStore]:
    opened = StateStore.open(url)
    yield opened
    opened.close()


class _Git:
    """A git state to hand the recorder, counting how often it was asked."""

    def __init__(self, info: GitInfo | None) -> None:
        self.info = info
        self.calls = 0

    def __call__(self) -> GitInfo | None:
        self.calls += 1
        return self.info


def _run(
    store: StateStore,
    spec_hash: str,
    spec: Mapping[str, Any] | None,
    at: datetime,
    *,
    fingerprints: Mapping[str, str] | None = None,
    git: Callable[[], GitInfo | None] | None = None,
    schema: tuple[tuple[str, str], ...] | None = None,
    rows: int = 10,
) -> str:
    """Record one run of pipeline ``orders`` with this spec, started at ``at``."""
    run_id = str(uuid7())
    recorder = StateRecorder(
        store,
        bus=EventBus(),
        baseline=BaselineSpec(runs=10, min_runs=5, sigma=2.0),
        spec_hash=spec_hash,
        spec=spec,
        spec_file="/srv/pipelines/orders.yaml",
        fingerprints=fingerprints,
        git=git,
    )
    recorder.handle(
        RunStarted(run_id=run_id, pipeline="orders", at=at, source="rest", destination="duckdb")
    )
    for batch in (1, 2):
        recorder.handle(
            BatchRead(
                run_id=run_id,
                pipeline="orders",
                batch=batch,
                rows=rows // 2,
                nbytes=100,
                position={},
                schema=schema if batch == 1 else None,
            )
        )
    recorder.handle(
        RunFinished(
            run_id=run_id,
            pipeline="orders",
            at=at + timedelta(seconds=2),
            status="succeeded",
            rows_read=rows,
            rows_written=rows - 1,
            rows_rejected=1,
            batches=2,
            seconds=2.0,
        )
    )
    return run_id


def test_the_first_run_is_the_first_version_and_an_unchanged_spec_adds_none(
    store: StateStore,
) -> None:
    git = _Git(GitInfo(commit="c" * 40, author="Ann Lee <ann@example.com>", dirty=False))
    first = _run(store, "a" * 64, _spec(), T0, git=git)
    _run(store, "a" * 64, _spec(), T0 + timedelta(hours=1), git=git)
    versions = store.spec_versions("orders")
    assert len(versions) == 1
    version = versions[0]
    assert (version["run_id"], version["spec_hash"], version["previous_hash"]) == (
        first,
        "a" * 64,
        None,
    )
    assert (version["first"], version["diff"], version["summary"]) == (
        True,
        None,
        "first version",
    )
    assert version["changed_at"] == T0
    assert (version["git_commit"], version["git_author"], version["git_dirty"]) == (
        "c" * 40,
        "Ann Lee <ann@example.com>",
        False,
    )
    assert version["spec_file"] == "/srv/pipelines/orders.yaml"
    assert git.calls == 1  # not asked for the run of an unchanged spec


def test_a_changed_spec_is_a_version_with_its_structured_diff(store: StateStore) -> None:
    _run(store, "a" * 64, _spec(), T0)
    second = _run(
        store,
        "b" * 64,
        {**_spec(table="orders_v2"), "steps": [{"type": "derive", "settings": {"x": "1"}}]},
        T0 + timedelta(hours=1),
    )
    newest = store.spec_versions("orders")[0]
    assert (newest["run_id"], newest["previous_hash"], newest["first"]) == (
        second,
        "a" * 64,
        False,
    )
    assert newest["diff"] == [
        {"change": "changed", "path": "destination.table", "old": "orders", "new": "orders_v2"},
        {
            "change": "added",
            "path": "steps",
            "old": None,
            "new": [{"type": "derive", "settings": {"x": "1"}}],
        },
    ]
    assert newest["summary"] == "1 changed, 1 added"
    assert newest["git_commit"] is None  # no git given: the columns stay empty


def test_a_rotated_secret_shows_as_changed_with_both_sides_redacted(store: StateStore) -> None:
    path = "source.settings.headers.Authorization"
    _run(store, "a" * 64, _spec(), T0, fingerprints={path: "1" * 64})
    _run(store, "b" * 64, _spec(), T0 + timedelta(hours=1), fingerprints={path: "2" * 64})
    _run(store, "c" * 64, _spec(table="x"), T0 + timedelta(hours=2), fingerprints={path: "2" * 64})
    rotated, changed = store.spec_versions("orders")[1], store.spec_versions("orders")[0]
    assert rotated["diff"] == [
        {
            "change": "changed",
            "path": "source.headers.Authorization",
            "old": REDACTED,
            "new": REDACTED,
        }
    ]
    assert [entry["path"] for entry in changed["diff"]] == ["destination.table"]


def test_a_spec_going_back_is_a_version_again(store: StateStore) -> None:
    for hours, spec_hash in enumerate(("a", "b", "a", "a", "b")):
        table = "orders" if spec_hash == "a" else "other"
        _run(store, spec_hash * 64, _spec(table=table), T0 + timedelta(hours=hours))
    versions = store.spec_versions("orders")
    assert [(v["spec_hash"][0], (v["previous_hash"] or "-")[0]) for v in versions] == [
        ("b", "a"),
        ("a", "b"),
        ("b", "a"),
        ("a", "-"),
    ]
    assert [v["summary"] for v in versions] == ["1 changed"] * 3 + ["first version"]
    assert len(store.spec_versions("orders", limit=2)) == 2


def test_a_previous_spec_not_stored_is_a_version_without_diff(store: StateStore) -> None:
    _run(store, "a" * 64, None, T0)
    _run(store, "b" * 64, _spec(), T0 + timedelta(hours=1))
    newest = store.spec_versions("orders")[0]
    assert (newest["first"], newest["diff"]) == (False, None)
    assert "not recorded" in newest["summary"]


def test_runs_started_at_once_with_a_new_spec_record_it_once(url: str) -> None:
    seed = StateStore.open(url)
    _run(seed, "a" * 64, _spec(), T0)
    stores = [StateStore.open(url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(store: StateStore, minutes: int) -> None:
        barrier.wait()
        try:
            _run(store, "b" * 64, _spec(table="v2"), T0 + timedelta(minutes=minutes))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=start, args=(store, 10 + i)) for i, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert errors == []
        assert len(seed.runs()) == 5
        versions = seed.spec_versions("orders")
        assert [(v["spec_hash"][0], (v["previous_hash"] or "-")[0]) for v in versions] == [
            ("b", "a"),
            ("a", "-"),
        ]
    finally:
        for store in (seed, *stores):
            store.close()


def test_a_failing_git_costs_the_git_columns_not_the_version(store: StateStore) -> None:
    def broken() -> GitInfo | None:
        raise OSError("git exploded")

    _run(store, "a" * 64, _spec(), T0, git=broken)
    version = store.spec_versions("orders")[0]
    assert (version["first"], version["git_commit"], version["git_dirty"]) == (True, None, None)


def test_the_source_schema_is_recorded_with_the_run_end(store: StateStore) -> None:
    schema = (("id", "int64"), ("amount", "double"), ("at", "timestamp[us, tz=UTC]"))
    run_id = _run(store, "a" * 64, _spec(), T0, schema=schema)
    assert store.find(run_id).run["source_schema"] == [
        {"name": "id", "type": "int64"},
        {"name": "amount", "type": "double"},
        {"name": "at", "type": "timestamp[us, tz=UTC]"},
    ]
    no_batch = _run(store, "a" * 64, _spec(), T0 + timedelta(hours=1), schema=None)
    assert store.find(no_batch).run["source_schema"] is None


def test_two_runs_compare_on_spec_version_schema_and_counts(store: StateStore) -> None:
    path = "source.settings.headers.Authorization"
    first = _run(
        store,
        "a" * 64,
        _spec(),
        T0,
        fingerprints={path: "1" * 64},
        schema=(("id", "int64"), ("amount", "int64"), ("gone", "string")),
        rows=10,
    )
    second = _run(
        store,
        "b" * 64,
        _spec(table="v2"),
        T0 + timedelta(hours=1),
        fingerprints={path: "2" * 64},
        schema=(("id", "int64"), ("amount", "double"), ("new", "string")),
        rows=20,
    )
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tidegate_runs SET version = '0.0.9' WHERE run_id = :r"),
            {"r": first},
        )
    compared = store.run_diff(first[:13], second)
    assert [run["run_id"] for run in compared["runs"]] == [first, second]
    assert [run["rows_read"] for run in compared["runs"]] == [10, 20]
    assert compared["spec"]["same"] is False
    assert [(e["path"], e["old"], e["new"]) for e in compared["spec"]["diff"]] == [
        ("destination.table", "orders", "v2"),
        ("source.headers.Authorization", REDACTED, REDACTED),
    ]
    assert compared["version"]["same"] is False
    assert compared["version"]["versions"][0] == "0.0.9"
    assert compared["source_schema"] == [
        {"change": "changed", "column": "amount", "old": "int64", "new": "double"},
        {"change": "added", "column": "new", "old": None, "new": "string"},
        {"change": "removed", "column": "gone", "old": "string", "new": None},
    ]
    same = store.run_diff(second, second)
    assert (same["spec"], same["source_schema"]) == (
        {"same": True, "hashes": ["b" * 64] * 2, "diff": []},
        [],
    )


def test_an_unknown_run_says_where_to_look(store: StateStore) -> None:
    known = _run(store, "a" * 64, _spec(), T0)
    with pytest.raises(ConfigError) as raised:
        store.run_diff(known, "nope")
    assert "no run 'nope'" in raised.value.message
    assert raised.value.hint is not None
    assert "tidegate runs" in raised.value.hint
