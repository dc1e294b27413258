"""Health checks of the SQL destinations against a real PostgreSQL and real SQLite files.

Each check must pass or fail for the right reason (no server, no CREATE or INSERT right, a lock
held by a run), never show the password, and leave nothing behind: no probe table, no lock, no
connection, no SQLite file or folder the check created. SQL Server is not reachable here; its
health runs the shared base path these tests cover, plus the permission SQL checked as text.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from tidegate.core.health import HealthChecked
from tidegate.destinations.mssql import MssqlDestination, MssqlSettings
from tidegate.destinations.postgres import PostgresDestination, PostgresSettings
from tidegate.destinations.sqlalchemy import SqlalchemyDestination, SqlalchemySettings
from tidegate.destinations.sqlite import SqliteDestination, SqliteSettings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tidegate.core.context import RunContext
    from tidegate.core.health import Check

NAMES = ["connect", "select 1", "can write", "lock free"]
SECRET = "pw-Never-Sh0wn"  # noqa: S105 - a fake password asserted never to leak

# Only this module's database: other test runs on the same server may hold advisory locks.
ADVISORY_LOCKS = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.fixture(scope="module")
def dbname(postgres_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with postgres_database("tidegate_test_health_") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def url(dbname: str) -> str:
    return f"postgresql://postgres:{SECRET}@127.0.0.1:5432/{dbname}"  # trust: password unused


@pytest.fixture
def table() -> str:
    return "t_" + uuid.uuid4().hex[:10]


@pytest.fixture
def role(dbname: str) -> Iterator[str]:
    """A login role that may neither create in schema public nor write existing tables."""
    name = "tidegate_health_" + uuid.uuid4().hex[:8]
    sql(dbname, f'CREATE ROLE "{name}" LOGIN')
    sql(dbname, f'REVOKE CREATE ON SCHEMA public FROM "{name}", PUBLIC')
    yield name
    sql(dbname, f'DROP OWNED BY "{name}"')
    sql(dbname, f'DROP ROLE "{name}"')


def sql(dbname: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True) as c:
        cur = c.execute(query, params)
        return cur.fetchall() if cur.description else []


def pg(url: str, table: str, **settings: Any) -> PostgresDestination:
    return PostgresDestination(PostgresSettings(url=url, table=table, **settings))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def assert_healthy(checks: list[Check], component: str) -> None:
    assert [c.name for c in checks] == NAMES
    failed = [(c.name, c.detail) for c in checks if not c.ok]
    assert failed == []
    assert all(c.seconds >= 0 and c.component == component for c in checks)
    assert all(SECRET not in c.detail and SECRET not in c.component for c in checks)


def leftovers(dbname: str) -> dict[str, list[tuple[Any, ...]]]:
    """Probe tables, advisory locks and health connections still in the database.

    A closed connection's backend exits just after the client hangs up, so this waits up to
    two seconds for health connections to go before reporting them.
    """
    deadline = time.monotonic() + 2
    while True:
        found = _leftovers(dbname)
        if not found["connections"] or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _leftovers(dbname: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "probe tables": sql(
            dbname, "SELECT relname FROM pg_class WHERE relname LIKE '\\_tidegate\\_probe\\_%%'"
        ),
        "advisory locks": sql(dbname, ADVISORY_LOCKS),
        "connections": sql(
            dbname,
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'tidegate-health:%%' "
            "AND datname = current_database()",
        ),
    }


NOTHING_LEFT = {"probe tables": [], "advisory locks": [], "connections": []}


# -- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_healthy_new_table_creates_a_probe_and_leaves_nothing(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    dest = pg(url, table)
    assert isinstance(dest, HealthChecked)
    checks = list(dest.health(ctx))
    assert_healthy(checks, dest.describe())
    found = by_name(checks)
    assert found["connect"].detail.startswith("PostgreSQL 15.")
    assert found["select 1"].detail == "ok"
    assert "created and wrote probe table _tidegate_probe_" in found["can write"].detail
    assert "schema public (rolled back)" in found["can write"].detail
    assert found["lock free"].detail == "free (advisory lock taken and released)"
    assert leftovers(dbname) == NOTHING_LEFT
    assert sql(dbname, "SELECT to_regclass(%s)", (f"public.{table}",)) == [(None,)]
    # the instance is still usable for a run afterwards, and the lock was not kept
    dest.open(ctx)
    dest.close()


def test_postgres_existing_table_checks_the_insert_privilege(
    url: str, dbname: str, table: str, role: str, ctx: RunContext
) -> None:
    sql(dbname, f'CREATE TABLE public."{table}" (id int)')
    found = by_name(list(pg(url, table).health(ctx)))
    assert found["can write"].ok
    assert (
        found["can write"].detail
        == f"table public.{table} exists; user postgres may INSERT into it"
    )

    sql(dbname, f'GRANT SELECT ON public."{table}" TO "{role}"')
    limited = pg(f"postgresql://{role}@127.0.0.1:5432/{dbname}", table)
    checks = list(limited.health(ctx))
    assert [c.name for c in checks] == NAMES
    found = by_name(checks)
    assert not found["can write"].ok
    assert found["can write"].detail == (
        f"user {role} has no INSERT privilege on table public.{table}"
    )
    assert [c.name for c in checks if not c.ok] == ["can write"]

    sql(dbname, f'GRANT INSERT ON public."{table}" TO "{role}"')
    assert by_name(list(limited.health(ctx)))["can write"].ok
    assert sql(dbname, f'SELECT count(*) FROM public."{table}"') == [(0,)]
    assert leftovers(dbname) == NOTHING_LEFT


def test_postgres_replace_mode_checks_create_even_when_the_table_exists(
    url: str, dbname: str, table: str, role: str, ctx: RunContext
) -> None:
    sql(dbname, f'CREATE TABLE public."{table}" (id int)')
    sql(dbname, f'GRANT SELECT, INSERT ON public."{table}" TO "{role}"')
    limited = f"postgresql://{role}@127.0.0.1:5432/{dbname}"
    assert by_name(list(pg(limited, table).health(ctx)))["can write"].ok
    found = by_name(list(pg(limited, table, mode="replace").health(ctx)))
    assert not found["can write"].ok
    assert found["can write"].detail == (
        "creating a probe table in schema public failed: permission denied for schema public"
    )


def test_postgres_role_without_create_fails_can_write_clearly(
    dbname: str, table: str, role: str, ctx: RunContext
) -> None:
    dest = pg(f"postgresql://{role}:{SECRET}@127.0.0.1:5432/{dbname}", table)
    checks = list(dest.health(ctx))
    assert [c.name for c in checks] == NAMES
    found = by_name(checks)
    assert [c.name for c in checks if not c.ok] == ["can write"]
    assert found["can write"].detail == (
        "creating a probe table in schema public failed: permission denied for schema public"
    )
    assert all(SECRET not in c.detail for c in checks)
    assert leftovers(dbname) == NOTHING_LEFT


@pytest.mark.parametrize(
    "host_port", ["127.0.0.1:1", "no-such-host.invalid:5432"], ids=["refused", "unknown host"]
)
def test_unreachable_server_fails_connect_only_without_the_password(
    host_port: str, ctx: RunContext
) -> None:
    dest = pg(f"postgresql://bob:{SECRET}@{host_port}/db", "t", connect_timeout=3)
    checks = list(dest.health(ctx))
    assert [(c.name, c.ok) for c in checks] == [("connect", False)]
    detail = checks[0].detail
    assert detail.startswith(f"cannot connect to postgresql://bob:***@{host_port}/db: ")
    assert SECRET not in detail
    assert SECRET not in checks[0].component
    assert checks[0].seconds >= 0
    assert dest._conn is None
    assert dest._engine is None


def test_lock_held_by_a_run_fails_lock_free_naming_the_holder(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    holder = pg(url, table)
    holder.open(ctx)
    try:
        checks = list(pg(url, table).health(ctx))
        found = by_name(checks)
        assert [c.name for c in checks if not c.ok] == ["lock free"]
        detail = found["lock free"].detail
        assert detail.startswith(f"table public.{table} is being loaded by tidegate:p:")
        assert f"tidegate:p:{ctx.run_id} (pid " in detail
        assert "user postgres" in detail
        # the holder still holds it: health neither took nor broke the run's lock
        assert len(sql(dbname, ADVISORY_LOCKS)) == 1
    finally:
        holder.close()
    assert by_name(list(pg(url, table).health(ctx)))["lock free"].ok
    assert leftovers(dbname) == NOTHING_LEFT


def test_stopping_early_still_closes_the_connection(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    dest = pg(url, table)
    checks = dest.health(ctx)
    first = next(checks)
    assert first.name == "connect"
    assert first.ok
    assert len(_leftovers(dbname)["connections"]) == 1
    checks.close()
    assert leftovers(dbname) == NOTHING_LEFT
    assert dest._conn is None


def test_an_open_destination_is_not_health_checked_mid_run(
    url: str, table: str, ctx: RunContext
) -> None:
    dest = pg(url, table)
    dest.open(ctx)
    try:
        checks = list(dest.health(ctx))
        assert [(c.name, c.ok) for c in checks] == [("connect", False)]
        assert "open for a run" in checks[0].detail
        assert dest._conn is not None  # the run's connection is untouched
    finally:
        dest.close()


def test_generic_sqlalchemy_destination_on_postgres(
    url: str, dbname: str, table: str, ctx: RunContext
) -> None:
    dest = SqlalchemyDestination(
        SqlalchemySettings(url=url.replace("postgresql:", "postgresql+psycopg:"), table=table)
    )
    checks = list(dest.health(ctx))
    assert_healthy(checks, dest.describe())
    found = by_name(checks)
    assert found["connect"].detail.startswith("PostgreSQL 15.")
    assert "in the default schema (rolled back)" in found["can write"].detail
    assert found["lock free"].detail == "free (no _tidegate_locks table yet)"
    sql(dbname, f'CREATE TABLE "{table}" (id int)')
    found = by_name(list(dest.health(ctx)))
    assert found["can write"].detail == (
        f"table {table} exists; INSERT allowed (zero-row insert, rolled back)"
    )
    assert leftovers(dbname) == NOTHING_LEFT


# -- SQLite -----------------------------------------------------------------------------------


def lite(database: str, table: str = "people", **settings: Any) -> SqliteDestination:
    return SqliteDestination(SqliteSettings(url=f"sqlite:///{database}", table=table, **settings))


def test_sqlite_new_file_is_checked_then_removed_with_its_folders(
    tmp_path: Path, ctx: RunContext
) -> None:
    dest = lite("deep/er/new.db")
    checks = list(dest.health(ctx))
    assert_healthy(checks, dest.describe())
    found = by_name(checks)
    assert found["connect"].detail.startswith("SQLite 3.")
    assert found["connect"].detail.endswith(
        f"{tmp_path / 'deep/er/new.db'} does not exist yet (a run creates it)"
    )
    assert "created and wrote probe table _tidegate_probe_" in found["can write"].detail
    assert "schema main (rolled back)" in found["can write"].detail
    assert found["lock free"].detail == "free (no _tidegate_locks table yet)"
    assert list(tmp_path.iterdir()) == []


def test_sqlite_existing_table_is_checked_with_a_rolled_back_insert(
    tmp_path: Path, ctx: RunContext
) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (id INTEGER, name TEXT)")
        db.execute("INSERT INTO people VALUES (1, 'a')")
    db.close()
    before = path.read_bytes()
    found = by_name(list(lite("shop.db").health(ctx)))
    assert found["can write"].ok
    assert found["can write"].detail == (
        "table main.people exists; INSERT allowed (zero-row insert, rolled back)"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_sqlite_missing_schema_fails_can_write(tmp_path: Path, ctx: RunContext) -> None:
    (tmp_path / "x.db").touch()
    found = by_name(list(lite("x.db", schema="nowhere").health(ctx)))
    assert not found["can write"].ok
    assert found["can write"].detail == (
        'creating a probe table in schema nowhere failed: unknown database "nowhere"'
    )
    assert found["lock free"].ok


def test_sqlite_lock_row_of_a_live_run_fails_lock_free_naming_it(
    tmp_path: Path, ctx: RunContext
) -> None:
    holder = lite("l.db")
    holder.open(ctx)
    try:
        checks = list(lite("l.db").health(ctx))
        found = by_name(checks)
        assert [c.name for c in checks if not c.ok] == ["lock free"]
        assert found["lock free"].detail.startswith(
            f"table main.people is being loaded by run {ctx.run_id} (pid {os.getpid()} on "
            f"host {socket.gethostname()}, since "
        )
    finally:
        holder.close()
    assert by_name(list(lite("l.db").health(ctx)))["lock free"].detail == "free"


def test_sqlite_stale_lock_row_of_a_dead_process_is_reported_free(
    tmp_path: Path, ctx: RunContext
) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    holder = lite("s.db")
    holder.open(ctx)
    holder.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute(
            "INSERT INTO _tidegate_locks VALUES ('main.people', 'old-run', ?, ?, '2024-01-01')",
            (pid, socket.gethostname()),
        )
    db.close()
    found = by_name(list(lite("s.db").health(ctx)))
    assert found["lock free"].ok
    assert found["lock free"].detail == (
        f"free: the lock of run old-run is stale (pid {pid} is gone) and the next run takes it over"
    )
    with sqlite3.connect(tmp_path / "s.db") as db:  # reported, not removed: health writes nothing
        assert db.execute("SELECT run_id FROM _tidegate_locks").fetchall() == [("old-run",)]
    db.close()


# -- SQL Server (text only: no server here) ---------------------------------------------------


def test_mssql_insert_permission_sql_quotes_the_target() -> None:
    dest = MssqlDestination(
        MssqlSettings(url=f"mssql+pyodbc://sa:{SECRET}@db.example:1433/app", table="it's")
    )
    assert dest.insert_permission_sql() == (
        "SELECT HAS_PERMS_BY_NAME(N'[dbo].[it''s]', N'OBJECT', N'INSERT')"
    )
    assert SECRET not in dest.describe()
    assert isinstance(dest, HealthChecked)
