"""Circuit breakers kept in the state store, on SQLite and PostgreSQL: the next run sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.resources import files

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tidegate.app.breakers import StateBreakerStore
from tidegate.errors import DependencyError
from tidegate.resilience.breaker import Breakers
from tidegate.spec.resilience import BreakerSpec
from tidegate.state import StateStore
from tidegate.state.tables import HEAD, RUNS, VERSION_TABLE

API = "api.example.com"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SPEC = BreakerSpec(window=4, min_calls=4, failure_rate=0.5, cool_down=60.0)


class Run:
    """One process's breakers over its own connection to the store, at a time it chooses."""

    def __init__(self, url: str, now: datetime) -> None:
        self.now = now
        self.store = StateStore.open(url)
        self.breakers = Breakers(SPEC, store=StateBreakerStore(self.store), clock=lambda: self.now)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *_: object) -> None:
        self.store.close()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("tidegate.state").joinpath("migrations")))
    return config


def test_head_names_the_newest_migration(url: str) -> None:
    assert ScriptDirectory.from_config(_config()).get_current_head() == HEAD
    store = StateStore.open(url)
    try:
        with store.engine.connect() as con:
            versions = con.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    finally:
        store.close()
    assert versions == [(HEAD,)]


def test_the_next_run_sees_an_open_breaker_and_fails_fast(url: str) -> None:
    with Run(url, T0) as first:
        for ok in (True, False, False, False):
            first.breakers.record(API, ok=ok)
        with pytest.raises(DependencyError) as opened:
            first.breakers.check(API)
    with Run(url, T0 + timedelta(seconds=30)) as second:
        assert second.breakers.state(API) == "open"
        with pytest.raises(DependencyError) as caught:
            second.breakers.check(API)
    assert (
        caught.value.message
        == opened.value.message
        == (
            "API api.example.com has been failing since 2026-03-01 12:00:00 UTC "
            "(75% of the last 4 calls failed); next probe at 2026-03-01 12:01:00 UTC"
        )
    )
    with Run(url, T0 + timedelta(seconds=60)) as third:
        third.breakers.check(API)  # the probe
        third.breakers.record(API, ok=True)
    with Run(url, T0 + timedelta(seconds=61)) as fourth:
        assert fourth.breakers.state(API) == "closed"
        row = fourth.store.load_breaker(API)
    assert row is not None
    assert (row["state"], row["outcomes"], row["failures"], row["calls"]) == ("closed", "", 0, 0)
    assert (row["failing_since"], row["next_probe_at"]) == (None, None)
    assert row["updated_at"] == T0 + timedelta(seconds=60)


def test_the_window_carries_over_between_runs(url: str) -> None:
    with Run(url, T0) as first:
        for ok in (False, False, True):
            first.breakers.record(API, ok=ok)
    with Run(url, T0 + timedelta(minutes=5)) as second:
        second.breakers.record(API, ok=True)  # two failures in four: 50 %
        assert second.breakers.state(API) == "open"


def test_a_healthy_api_costs_no_writes_once_its_window_is_full(url: str) -> None:
    with Run(url, T0) as run:
        for _ in range(4):
            run.breakers.record(API, ok=True)
            run.now += timedelta(seconds=1)
        for _ in range(10):
            run.breakers.record(API, ok=True)
            run.now += timedelta(seconds=1)
        row = run.store.load_breaker(API)
    assert row is not None
    assert (row["outcomes"], row["updated_at"]) == ("1111", T0 + timedelta(seconds=3))


def test_reset_closes_a_breaker_for_the_next_run(url: str) -> None:
    with Run(url, T0) as first:
        for _ in range(4):
            first.breakers.record(API, ok=False)
        first.breakers.record("other.example.com", ok=False)
        assert [record.target for record in StateBreakerStore(first.store).all()] == [
            API,
            "other.example.com",
        ]
        assert StateBreakerStore(first.store).reset(API) is True
        assert first.store.reset_breaker(API) is False
    with Run(url, T0 + timedelta(seconds=1)) as second:
        second.breakers.check(API)
        assert second.breakers.state(API) == "closed"
        assert [row["target"] for row in second.store.breakers()] == ["other.example.com"]


def test_migrating_a_store_from_0001_keeps_its_runs(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")
            connection.execute(
                RUNS.insert().values(
                    run_id="0190b1a0-0000-7000-8000-000000000001",
                    pipeline="orders",
                    status="succeeded",
                    started_at=T0,
                    spec_hash="0" * 64,
                    host="host",
                    user_name="user",
                    version="0.1.0",
                )
            )
        assert not sa.inspect(engine).has_table("tidegate_breakers")
    finally:
        engine.dispose()
    with Run(url, T0) as run:
        assert [row.run_id for row in run.store.runs()] == ["0190b1a0-0000-7000-8000-000000000001"]
        assert run.store.breakers() == []
        with run.store.engine.connect() as con:
            versions = con.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    assert versions == [(HEAD,)]
