"""Fixtures of the crash harness: the source CSV, a PostgreSQL database, the targets by kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.chaos.harness import (
    Digests,
    DuckdbTarget,
    PostgresTarget,
    SqliteTarget,
    Target,
    make_source,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Digests]:
    """The 200k-row CSV every trial loads, and the ``(id, md5)`` of its rows in id order."""
    path = tmp_path_factory.mktemp("chaos-source") / "rows.csv"
    return path, make_source(path)


@pytest.fixture(scope="module")
def postgres_url(
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[str]:
    """A uniquely named database on the local server, dropped after the module."""
    with postgres_database("tidegate_chaos_") as url:
        yield url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def make_target(request: pytest.FixtureRequest) -> Callable[[str], Target]:
    """Build the target of a kind; only a postgres target creates the database."""

    def make(kind: str) -> Target:
        if kind == "duckdb":
            return DuckdbTarget()
        if kind == "sqlite":
            return SqliteTarget()
        if kind == "postgres":
            return PostgresTarget(request.getfixturevalue("postgres_url"))
        raise ValueError(kind)

    return make
