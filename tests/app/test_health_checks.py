"""Pipeline health beyond the plugins: state store, breakers, freshness, temp space, watching."""

from __future__ import annotations

import json
import os
import signal
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tidegate.app.bootstrap import build, load
from tidegate.app.health_checks import (
    check_rows,
    parse_interval,
    pipeline_checks,
    state_checks,
    temp_space,
    watch,
)
from tidegate.app.observing import state_url
from tidegate.app.scaffold import scaffold
from tidegate.core.health import timed
from tidegate.errors import ConfigError, DataError, DependencyError
from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.core.health import Check
    from tidegate.spec.models import PipelineSpec

FINISHED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _spec(folder: Path, *overrides: str) -> PipelineSpec:
    if not (folder / "pipeline.yaml").exists():
        scaffold(folder, name="shop")
    return load(folder / "pipeline.yaml", overrides=overrides)


def _by_component(checks: list[Check]) -> dict[str, Check]:
    return {check.component: check for check in checks}


def _record_run(store: StateStore, run_id: str, status: str, finished_at: datetime) -> None:
    store.start_run(
        {
            "run_id": run_id,
            "pipeline": "shop",
            "status": "running",
            "started_at": finished_at - timedelta(minutes=1),
            "spec_hash": "0" * 64,
            "host": "test",
            "user_name": "test",
            "version": "0",
        }
    )
    store.finish_run(run_id, {"status": status, "finished_at": finished_at, "seconds": 60.0})


@pytest.fixture
def spec(tmp_path: Path) -> PipelineSpec:
    return _spec(tmp_path, "sla.max_age=26h")


@pytest.fixture
def store(spec: PipelineSpec) -> Iterator[StateStore]:
    opened = StateStore.open(state_url(spec))
    yield opened
    opened.close()


def test_a_healthy_pipeline_adds_store_breaker_freshness_and_disk_checks(
    spec: PipelineSpec, store: StateStore
) -> None:
    _record_run(store, "r1", "succeeded", FINISHED)

    checks = pipeline_checks(build(spec), now=FINISHED + timedelta(hours=3))

    assert [(c.component.split(":")[0], c.name) for c in checks][-4:] == [
        ("state store", "writable"),
        ("breakers", "closed"),
        ("freshness", "sla"),
        ("temp space", "disk"),
    ]
    assert all(check.ok for check in checks), checks
    found = _by_component(checks)
    assert "rolled back" in found["state store"].detail
    assert found["breakers"].detail == "all closed"
    assert found["freshness"].detail == "last success 3h ago (max 26h)"
    assert "GiB free" in found["temp space"].detail
    assert store.breakers() == [], "the probe write must leave nothing behind"


def test_a_postgresql_store_is_writable(
    tmp_path: Path, postgres_database: Callable[[str], AbstractContextManager[str]]
) -> None:
    with postgres_database("tidegate_health_") as url:
        checks = state_checks(_spec(tmp_path, f"observability.state.url={url}"))
        assert [(c.component, c.name, c.ok) for c in checks] == [
            ("state store", "writable", True),
            ("breakers", "closed", True),
        ]
        assert checks[0].detail.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/")


def test_a_store_that_is_down_fails_writable_and_hides_its_password(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres:pw-s3cret@127.0.0.1:{port}/tidegate"

    checks = state_checks(_spec(tmp_path, f"observability.state.url={url}"))

    assert [(c.component, c.name, c.ok) for c in checks] == [("state store", "writable", False)]
    assert isinstance(checks[0].error, DependencyError)
    assert f"127.0.0.1:{port}" in checks[0].detail
    assert "pw-s3cret" not in checks[0].detail
    assert "***" in checks[0].detail


def test_a_disk_with_less_room_than_the_threshold_fails(tmp_path: Path) -> None:
    missing = tmp_path / "not" / "yet"

    roomy = temp_space([tmp_path, missing], min_free_bytes=0, min_free_share=0.0)
    full = temp_space([missing], min_free_bytes=2**62)

    assert roomy.ok
    assert roomy.detail.count("GiB free") == 1, "one disk is reported once"
    assert str(missing) in roomy.detail
    assert not full.ok
    assert isinstance(full.error, DependencyError)
    assert full.detail.startswith("only ")
    assert "need 4294967296.0 GiB and 5%" in full.detail


def test_an_open_breaker_fails_with_since_and_next_probe(
    spec: PipelineSpec, store: StateStore
) -> None:
    since = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    for target, state in (
        ("api.example.com", "open"),
        ("slow.example.com", "half_open"),
        ("fine.example.com", "closed"),
    ):
        store.save_breaker(
            {
                "target": target,
                "state": state,
                "failing_since": since if state != "closed" else None,
                "next_probe_at": since + timedelta(minutes=5) if state != "closed" else None,
                "failures": 10,
                "calls": 20,
                "outcomes": "0" * 10 + "1" * 10,
                "updated_at": since,
            }
        )

    checks = _by_component(state_checks(spec))

    assert "breakers" not in checks
    opened = checks["breakers:api.example.com"]
    assert not opened.ok
    assert isinstance(opened.error, DependencyError)
    assert opened.detail == (
        "API api.example.com open: failing since 2025-03-01 09:30:00 UTC, "
        "next probe at 2025-03-01 09:35:00 UTC"
    )
    assert "tidegate breaker reset api.example.com" in str(opened.error)
    assert checks["breakers:slow.example.com"].detail.startswith("API slow.example.com half-open")
    assert "breakers:fine.example.com" not in checks


def test_freshness_follows_the_last_successful_run(spec: PipelineSpec, store: StateStore) -> None:
    _record_run(store, "r1", "succeeded", FINISHED)
    _record_run(store, "r2", "failed", FINISHED + timedelta(hours=20))

    recent = _by_component(state_checks(spec, now=FINISHED + timedelta(hours=25, minutes=59)))
    old = _by_component(state_checks(spec, now=FINISHED + timedelta(hours=27, minutes=5)))

    assert recent["freshness"].ok
    assert recent["freshness"].detail == "last success 1d 1h ago (max 26h)"
    assert not old["freshness"].ok
    assert isinstance(old["freshness"].error, DataError)
    assert old["freshness"].detail == "last success 1d 3h ago (max 26h)"


def test_freshness_fails_when_no_run_succeeded(spec: PipelineSpec, store: StateStore) -> None:
    _record_run(store, "r1", "failed", FINISHED)

    fresh = _by_component(state_checks(spec, now=FINISHED))["freshness"]

    assert not fresh.ok
    assert fresh.detail.startswith("no successful run of shop in sqlite:///")
    assert fresh.detail.endswith("(max 26h)")


def test_without_an_sla_freshness_is_not_checked(tmp_path: Path) -> None:
    checks = state_checks(_spec(tmp_path))

    assert [c.component for c in checks] == ["state store", "breakers"]


def test_watch_prints_failures_and_changes_and_returns_the_last_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = iter([True, False, False, True, False])

    def rounds() -> list[dict[str, Any]]:
        ok = next(results)
        return [
            {"component": "db", "check": "connect", "ok": True, "ms": 1.0, "detail": "up"},
            {"component": "api", "check": "request", "ok": ok, "ms": 2.0, "detail": str(ok)},
        ]

    healthy = watch(rounds, 0.001, as_json=True, rounds=5)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert healthy is False
    assert [line["round"] for line in lines] == [1, 2, 3, 4, 5]
    assert [(line["healthy"], line["ok"], line["total"]) for line in lines] == [
        (True, 2, 2),
        (False, 1, 2),
        (False, 1, 2),
        (True, 2, 2),
        (False, 1, 2),
    ]
    assert [[row["detail"] for row in line["failed"]] for line in lines] == [
        [],
        ["False"],
        ["False"],
        [],
        ["False"],
    ]
    assert [[row["ok"] for row in line["changed"]] for line in lines] == [
        [],
        [False],
        [],
        [True],
        [False],
    ]
    assert all(line["at"].endswith("Z") for line in lines)


def test_watch_lines_name_what_failed_or_recovered(capsys: pytest.CaptureFixture[str]) -> None:
    results = iter([False, True, True])

    def rounds() -> list[dict[str, Any]]:
        ok = next(results)
        return [{"component": "api", "check": "request", "ok": ok, "ms": 1.0, "detail": "503"}]

    assert watch(rounds, 0.001, as_json=False, rounds=3) is True

    first, second, third = capsys.readouterr().out.splitlines()
    assert first.endswith("unhealthy 0/1 ok · FAILED api request: 503")
    assert second.endswith("healthy 1/1 ok · now ok api request: 503")
    assert third.endswith("healthy 1/1 ok")


def test_an_interval_is_seconds_or_a_duration() -> None:
    assert parse_interval("0.2") == 0.2
    assert parse_interval("5m") == 300.0
    for bad in ("0", "-1", "soon"):
        with pytest.raises(ConfigError, match="--watch"):
            parse_interval(bad)


def test_sigterm_during_a_check_stops_the_watch_instead_of_failing_the_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = 0

    def terminate_on_round_two() -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return "up"

    def rounds() -> list[dict[str, Any]]:
        return check_rows([timed("api", "request", terminate_on_round_two)], str)

    before = signal.getsignal(signal.SIGTERM)

    assert watch(rounds, 0.001, as_json=True, rounds=5) is True

    assert calls == 2
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert signal.getsignal(signal.SIGTERM) is before
