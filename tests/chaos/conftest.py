"""Fixtures of the crash harness: the source CSV, a PostgreSQL database, the targets by kind."""

from __future__ import annotations

import secrets
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
    from pathlib import Path

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Digests]:
    """The 200k-row CSV every trial loads, and the ``(id, md5)`` of its rows in id order."""
    path = tmp_path_factory.mktemp("chaos-source") / "rows.csv"
    return path, make_source(path)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A uniquely named database on the local server, dropped after the module."""
    import psycopg  # noqa: PLC0415 - only the postgres trials need it

    name = f"tidegate_chaos_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=10) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')


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
