"""Fixtures shared by every test package: a throwaway PostgreSQL database on the local server.

Several modules (destinations, sources, chaos) each need a database of their own on
127.0.0.1:5432 (user postgres, trust auth) that no other module or concurrent run touches, and
that is gone afterwards even when a test left a connection open. They used to each carry a copy
of the create/terminate/drop code; ``postgres_database`` is that code, written once.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import pytest
import structlog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


@contextmanager
def _database(prefix: str) -> Iterator[str]:
    import psycopg  # noqa: PLC0415 - only the PostgreSQL tests pay for the import

    name = prefix + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=10) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=10) as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Callable[[str], AbstractContextManager[str]]:
    """A factory: ``with postgres_database("tidegate_x_") as url:`` gives a fresh database.

    The database is named ``<prefix><12 hex digits>``; ``url`` is its SQLAlchemy URL
    (``postgresql+psycopg://postgres@127.0.0.1:5432/<name>``, the name is its last path part).
    On leaving the block, leftover connections are terminated and the database is dropped. A
    factory of context managers rather than a database per fixture, so each caller keeps its
    own lifetime (per module, per test) while the session-scoped factory is usable from any scope.
    """
    return _database


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Every test starts from structlog's defaults: a run configures logging for the whole
    process (level, renderer), which must not leak into the next test's assertions."""
    yield
    structlog.reset_defaults()
