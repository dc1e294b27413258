"""Fault injection: the seeded decisions, each action, the flag grammar, and real runs."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

from tidegate.app.bootstrap import build, load
from tidegate.core import RunContext, Runner, RunResult, new_run_id
from tidegate.core.protocols import Checkpoint, FaultPoints
from tidegate.errors import (
    ConfigError,
    DataError,
    DependencyError,
    ErrorKind,
    InternalError,
    SecurityError,
    TidegateError,
    TransientError,
)
from tidegate.events import EventBus, FaultInjected
from tidegate.resilience.faults import (
    FaultInjector,
    check_allowed,
    drop_destination_connection,
    parse_inject,
)
from tidegate.spec.resilience import FaultSpec, FaultsSpec
from tidegate.testing import RecordingListener

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

Emitted = list[tuple[str, int, str]]


def injector(
    *faults: FaultSpec, seed: int = 0, drop_connection: Callable[[], None] | None = None
) -> tuple[FaultInjector, Emitted]:
    """An injector over ``faults`` that records what it emits."""
    emitted: Emitted = []

    def emit(point: str, batch: int, fault: str) -> None:
        emitted.append((point, batch, fault))

    spec = FaultsSpec(seed=seed, inject=faults)
    return FaultInjector(spec, emit=emit, drop_connection=drop_connection), emitted


def visit(faults: FaultInjector, point: str, batches: range) -> list[int]:
    """The batches at which a raise fault at ``point`` fired."""
    fired = []
    for batch in batches:
        try:
            faults.reached(point, batch=batch)
        except TransientError:
            fired.append(batch)
    return fired


# -- decisions --------------------------------------------------------------------------------


def test_never_fired_lists_the_certain_faults_the_run_did_not_reach() -> None:
    fired = FaultSpec(at="mid_batch", action="delay", seconds=0)
    missed = FaultSpec(at="after_commit", action="raise", kind="transient", batch=3)
    chance = FaultSpec(at="before_commit", action="delay", seconds=0, probability=0.5)
    faults, _ = injector(fired, missed, chance)
    faults.reached("mid_batch", batch=1)
    faults.reached("after_commit", batch=1)
    assert faults.never_fired() == [missed]  # a fault left to chance may rightly not fire


def test_is_a_fault_points() -> None:
    assert isinstance(FaultInjector(FaultsSpec()), FaultPoints)


def test_same_seed_same_injections_other_seed_others() -> None:
    fault = FaultSpec(at="mid_batch", probability=0.3)
    runs = [visit(injector(fault, seed=seed)[0], "mid_batch", range(1, 201)) for seed in (7, 7, 8)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_probability_is_roughly_kept() -> None:
    fired = visit(
        injector(FaultSpec(at="mid_batch", probability=0.25), seed=1)[0],
        "mid_batch",
        range(1, 4001),
    )
    assert 850 < len(fired) < 1150  # 1,000 expected; 5 standard deviations is ±137
    never = visit(injector(FaultSpec(at="mid_batch", probability=0))[0], "mid_batch", range(1, 50))
    assert never == []


def test_times_limits_the_faults_of_a_run() -> None:
    faults, emitted = injector(FaultSpec(at="before_commit", times=2))
    assert visit(faults, "before_commit", range(1, 10)) == [1, 2]
    assert [batch for _, batch, _ in emitted] == [1, 2]


def test_batch_and_point_filters() -> None:
    faults, emitted = injector(FaultSpec(at="after_commit", batch=3))
    assert visit(faults, "before_commit", range(1, 6)) == []
    assert visit(faults, "after_commit", range(1, 6)) == [3]
    assert emitted == [("after_commit", 3, "raise transient")]


def test_step_points_are_their_own() -> None:
    faults, _ = injector(FaultSpec(at="step:clean"))
    assert visit(faults, "step:load", range(1, 3)) == []
    assert visit(faults, "step:clean", range(1, 3)) == [1, 2]


# -- actions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("transient", TransientError),
        ("data", DataError),
        ("config", ConfigError),
        ("dependency", DependencyError),
        ("security", SecurityError),
        ("internal", InternalError),
    ],
)
def test_raise_has_the_kind_and_says_where_it_came_from(
    kind: str, error: type[TidegateError]
) -> None:
    faults, emitted = injector(FaultSpec(at="mid_batch", kind=kind))  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        faults.reached("mid_batch", batch=4)
    assert type(caught.value) is error
    assert caught.value.kind == ErrorKind(kind)
    assert caught.value.message == "fault injected at mid_batch of batch 4"
    assert caught.value.hint is not None
    assert "faults:" in caught.value.hint
    assert emitted == [("mid_batch", 4, f"raise {kind}")]


def test_delay_sleeps() -> None:
    faults, emitted = injector(FaultSpec(at="mid_batch", action="delay", seconds=0.3))
    began = time.perf_counter()
    faults.reached("mid_batch", batch=1)
    assert time.perf_counter() - began >= 0.3
    assert emitted == [("mid_batch", 1, "delay 0.3s")]


def test_drop_connection_calls_the_dropper_or_raises_a_dependency_error() -> None:
    dropped: list[int] = []
    fault = FaultSpec(at="before_commit", action="drop_connection")
    faults, emitted = injector(fault, drop_connection=lambda: dropped.append(1))
    faults.reached("before_commit", batch=2)
    assert dropped == [1]
    assert emitted == [("before_commit", 2, "drop_connection")]
    bare, _ = injector(fault)
    with pytest.raises(DependencyError, match=r"connection dropped \(fault injected\)"):
        bare.reached("before_commit", batch=2)


def test_emit_comes_before_the_fault_acts() -> None:
    order: list[str] = []
    spec = FaultsSpec(inject=(FaultSpec(at="mid_batch", action="drop_connection"),))
    faults = FaultInjector(
        spec,
        emit=lambda point, batch, what: order.append(f"emit {what}"),
        drop_connection=lambda: order.append("drop"),
    )
    faults.reached("mid_batch", batch=1)
    assert order == ["emit drop_connection", "drop"]


def test_kill_sigkills_the_process_after_flushing(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from tidegate.resilience.faults import FaultInjector
        from tidegate.spec.resilience import FaultSpec, FaultsSpec
        spec = FaultsSpec(inject=(FaultSpec(at="after_commit", batch=2, action="kill"),))
        faults = FaultInjector(spec, emit=lambda p, b, f: print("about to", f, "at", p, b))
        for batch in (1, 2, 3):
            faults.reached("after_commit", batch=batch)
            print("survived", batch)
        print("not reached")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == ["survived 1", "about to kill at after_commit 2"]


# -- the flag grammar -------------------------------------------------------------------------


def test_parse_inject_forms() -> None:
    faults = parse_inject(
        [
            "before_commit:raise:transient@2",
            "mid_batch:raise",
            "step:clean:delay:1.5%0.1x3",
            "step:a:b:raise:data",
            "after_commit:kill@3",
            "mid_batch:drop_connection%0.5@4",
        ]
    )
    assert faults == (
        FaultSpec(at="before_commit", action="raise", kind="transient", batch=2),
        FaultSpec(at="mid_batch"),
        FaultSpec(at="step:clean", action="delay", seconds=1.5, probability=0.1, times=3),
        FaultSpec(at="step:a:b", kind="data"),
        FaultSpec(at="after_commit", action="kill", batch=3),
        FaultSpec(at="mid_batch", action="drop_connection", probability=0.5, batch=4),
    )


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("on_commit:raise", "unknown point 'on_commit'"),
        ("mid_batch:explode", "unknown action 'explode'"),
        ("mid_batch:raise:flaky", "unknown error kind 'flaky'"),
        ("mid_batch:delay", "a delay needs its seconds"),
        ("mid_batch:kill:3", "kill takes no argument"),
        ("mid_batch:raise%1.5", "probability"),
        ("mid_batch:raise@0", "batch"),
        ("mid_batch:raise@2@3", "given twice"),
        ("mid_batch:raise@two", "does not have the form"),
    ],
)
def test_parse_inject_refuses_bad_flags_clearly(flag: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_inject([flag])
    assert caught.value.exit_code == 2
    assert says in caught.value.message
    assert repr(flag) in caught.value.message
    assert caught.value.hint is not None
    assert "AT:ACTION" in caught.value.hint


# -- production -------------------------------------------------------------------------------


def test_faults_refused_in_a_production_profile_unless_allowed() -> None:
    spec = FaultsSpec(inject=(FaultSpec(at="mid_batch"),))
    with pytest.raises(ConfigError, match="'prod' is a production profile") as caught:
        check_allowed(spec, profile="prod", allow=False)
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None
    assert "--allow-faults" in caught.value.hint
    with pytest.raises(ConfigError):
        check_allowed(spec, profile="Production", allow=False)
    check_allowed(spec, profile="prod", allow=True)
    check_allowed(spec, profile="staging", allow=False)
    check_allowed(spec, profile=None, allow=False)
    check_allowed(FaultsSpec(), profile="prod", allow=False)
    custom = FaultsSpec(inject=spec.inject, production_profiles=("live",))
    check_allowed(custom, profile="prod", allow=False)
    with pytest.raises(ConfigError):
        check_allowed(custom, profile="live", allow=False)


# -- real runs --------------------------------------------------------------------------------


def write_pipeline(folder: Path, destination: str, rows: int = 2_000) -> Path:
    """A CSV of ``rows`` rows read in ~1 KiB blocks (many batches), a derive step, and
    ``destination`` (an indented YAML block)."""
    lines = ["id,name", *(f"{i},name-{i:06d}" for i in range(rows))]
    (folder / "rows.csv").write_text("\n".join(lines) + "\n")
    (folder / "pipeline.yaml").write_text(
        "name: faulty\n"
        "batch_rows: 0\n"
        "source:\n  type: csv\n  path: rows.csv\n  block_size: 1024\n"
        "steps:\n  - type: derive\n    name: shout\n    columns: {loud: 'upper(name)'}\n"
        f"destination:\n{destination}"
    )
    return folder / "pipeline.yaml"


def run_with_faults(pipeline: Path, faults: FaultsSpec) -> tuple[RunResult, RecordingListener]:
    """Run the pipeline once through a Runner whose context injects ``faults``; the result
    and the recorded events (FaultInjected included, as the app would publish them)."""
    built = build(load(pipeline))
    bus = EventBus()
    recorder = RecordingListener()
    bus.subscribe(recorder)
    run_id = new_run_id()

    def emit(point: str, batch: int, fault: str) -> None:
        bus.publish(
            FaultInjected(run_id=run_id, pipeline="faulty", point=point, batch=batch, fault=fault)
        )

    context = RunContext(
        run_id=run_id,
        pipeline=built.spec.name,
        bus=bus,
        base_dir=built.spec.base_dir,
        faults=FaultInjector(
            faults, emit=emit, drop_connection=drop_destination_connection(built.destination)
        ),
    )
    runner = Runner(
        source=built.source,
        steps=built.all_steps(),
        destination=built.destination,
        context=context,
        min_batch_rows=built.spec.batch_rows,
    )
    return runner.run(), recorder


def sqlite_state(folder: Path) -> tuple[int, list[tuple[int, int]]]:
    """Rows in the table, and (batch, rows) of every checkpoint."""
    with sqlite3.connect(folder / "out.db") as con:
        count = con.execute("SELECT count(*) FROM t").fetchone()[0]
        checkpoints = con.execute(
            "SELECT batch, rows FROM _tidegate_checkpoints ORDER BY batch"
        ).fetchall()
    return int(count), [(int(b), int(r)) for b, r in checkpoints]


def test_transient_fault_before_commit_of_batch_2_fails_the_run_and_commits_nothing_of_it(
    tmp_path: Path,
) -> None:
    pipeline = write_pipeline(tmp_path, "  type: sqlite\n  url: sqlite:///out.db\n  table: t\n")
    faults = FaultsSpec(inject=parse_inject(["before_commit:raise:transient@2"]))
    result, events = run_with_faults(pipeline, faults)
    assert result.status == "failed"
    error = result.error
    assert isinstance(error, TransientError)
    assert error.message == "fault injected at before_commit of batch 2"
    injected = events.of(FaultInjected)
    assert [(e.point, e.batch, e.fault) for e in injected] == [
        ("before_commit", 2, "raise transient")
    ]
    count, checkpoints = sqlite_state(tmp_path)
    assert len(checkpoints) == 1
    assert checkpoints[0][0] == 1
    assert count == checkpoints[0][1] > 0  # batch 1 only: batch 2's rows were rolled back


def test_a_step_fault_names_the_step_and_a_delay_slows_the_run(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path, "  type: sqlite\n  url: sqlite:///out.db\n  table: t\n", rows=200
    )
    faults = FaultsSpec(inject=parse_inject(["mid_batch:delay:0.2@1", "step:shout:raise:data@2"]))
    result, events = run_with_faults(pipeline, faults)
    error = result.error
    assert isinstance(error, DataError)
    assert error.location == "step 'shout', batch 2"
    assert [(e.point, e.fault) for e in events.of(FaultInjected)] == [
        ("mid_batch", "delay 0.2s"),
        ("step:shout", "raise data"),
    ]


def test_drop_connection_makes_the_next_postgres_commit_fail_with_the_driver_error(
    tmp_path: Path, postgres_database: Callable[[str], AbstractContextManager[str]]
) -> None:
    import psycopg  # noqa: PLC0415 - only this test needs the driver

    with postgres_database("tidegate_faults_") as url:
        pipeline = write_pipeline(tmp_path, f"  type: postgres\n  url: {url}\n  table: t\n")
        faults = FaultsSpec(inject=parse_inject(["before_commit:drop_connection@3"]))
        result, events = run_with_faults(pipeline, faults)
        error = result.error
        assert isinstance(error, DependencyError)
        assert "lost the connection" in error.message
        assert "storing checkpoint 3" in error.message
        assert isinstance(error.__cause__.orig, psycopg.OperationalError)  # type: ignore[union-attr]
        assert [(e.point, e.batch) for e in events.of(FaultInjected)] == [("before_commit", 3)]
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=10) as con:
            batches = con.execute("SELECT batch FROM _tidegate_checkpoints ORDER BY batch")
            assert [row[0] for row in batches.fetchall()] == [1, 2]


def test_no_connection_to_drop_for_duckdb_and_before_open(tmp_path: Path) -> None:
    duck = write_pipeline(tmp_path, "  type: duckdb\n  path: out.duckdb\n  table: t\n")
    assert drop_destination_connection(build(load(duck)).destination) is None
    sqlite_pipeline = write_pipeline(
        tmp_path, "  type: sqlite\n  url: sqlite:///out.db\n  table: t\n"
    )
    drop = drop_destination_connection(build(load(sqlite_pipeline)).destination)
    assert drop is not None
    with pytest.raises(InternalError, match="no open destination connection"):
        drop()


def test_dropping_a_sqlite_connection_fails_its_next_statement(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "  type: sqlite\n  url: sqlite:///out.db\n  table: t\n")
    destination = build(load(pipeline)).destination
    drop = drop_destination_connection(destination)
    assert drop is not None
    ctx = RunContext(run_id=new_run_id(), pipeline="faulty", bus=EventBus(), base_dir=tmp_path)
    destination.open(ctx)
    try:
        destination.start(resume=False)
        destination.write(pa.record_batch({"id": [1, 2]}), batch_number=1)
        drop()
        with pytest.raises(TidegateError) as caught:
            destination.commit(
                Checkpoint(pipeline="faulty", run_id=ctx.run_id, batch=1, rows=2, position={})
            )
        assert isinstance(caught.value.__cause__.orig, sqlite3.ProgrammingError)  # type: ignore[union-attr]
    finally:
        destination.rollback()
        destination.close()
