"""The ``_tidegate_locks`` lock row: one run at a time per target, on any SQL database.

Split out of ``_relational`` because it is a protocol of its own (a row committed in its own
transaction, stale rows of dead local processes taken over) that dialects with advisory locks
(PostgreSQL, SQL Server) replace; the rest use it through ``RelationalDestination``'s lock hooks
and its health check.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from tidegate.errors import DataError, DependencyError

if TYPE_CHECKING:
    from tidegate.core.context import RunContext
    from tidegate.destinations._relational import RelationalDestination

__all__ = ["LOCK_TABLE", "LockRow"]

log = structlog.get_logger(__name__)

LOCK_TABLE = "_tidegate_locks"


class LockRow:
    """A ``_tidegate_locks`` row per target, committed on its own, deleted at close.

    A row left by a process that died on this host (its pid is gone) is stale and taken over; a
    row from another host is reported with its host and pid, to be deleted by hand if stale.
    """

    def __init__(self, owner: RelationalDestination) -> None:
        self.owner = owner
        self.run_id: str | None = None

    def _table(self) -> Any:
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.sql.elements import quoted_name as q  # noqa: PLC0415

        return sa.Table(
            q(LOCK_TABLE, quote=True),
            sa.MetaData(),
            sa.Column(q("target", quote=True), sa.Unicode(400), primary_key=True, key="target"),
            sa.Column(q("run_id", quote=True), sa.Unicode(400), nullable=False, key="run_id"),
            sa.Column(q("pid", quote=True), sa.Integer(), nullable=False, key="pid"),
            sa.Column(q("host", quote=True), sa.Unicode(400), nullable=False, key="host"),
            sa.Column(
                q("acquired_at", quote=True), sa.Unicode(64), nullable=False, key="acquired_at"
            ),
        )

    def acquire(self, ctx: RunContext) -> None:
        """Insert the lock row, or fail naming the live holder."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use
        from sqlalchemy.exc import DBAPIError, IntegrityError  # noqa: PLC0415

        owner = self.owner
        t = self._table()
        try:
            t.create(owner.conn, checkfirst=True)
        except DBAPIError as exc:
            raise owner._classify(exc, f"creating the {LOCK_TABLE} table") from None
        owner._commit_now("creating the lock table")
        held = owner._run(
            sa.select(t).where(t.c.target == owner.target), action="reading the lock"
        ).first()
        host = socket.gethostname()
        if held is not None:
            if held.host == host and not _alive(int(held.pid)):
                log.warning("destination_stale_lock_taken", target=owner.target, run=held.run_id)
                owner._run(
                    t.delete().where(t.c.target == owner.target, t.c.run_id == held.run_id),
                    action="removing a stale lock",
                )
            else:
                owner.conn.rollback()
                raise self._held(held)
        try:
            owner._run(
                t.insert().values(
                    target=owner.target,
                    run_id=ctx.run_id,
                    pid=os.getpid(),
                    host=host,
                    acquired_at=datetime.now(UTC).isoformat(timespec="seconds"),
                ),
                action="taking the lock",
            )
            owner._commit_now("taking the lock")
        except (IntegrityError, DataError):
            owner.conn.rollback()
            held = owner._run(
                sa.select(t).where(t.c.target == owner.target), action="reading the lock"
            ).first()
            owner.conn.rollback()
            if held is None:
                raise
            raise self._held(held) from None
        self.run_id = ctx.run_id

    def check(self) -> str:
        """Whether a run could take the lock now, without taking it; fails naming a live holder."""
        import sqlalchemy as sa  # noqa: PLC0415 - heavy, imported on first use

        owner = self.owner
        if not owner._has_table(LOCK_TABLE, None):
            return f"free (no {LOCK_TABLE} table yet)"
        t = self._table()
        held = owner._run(
            sa.select(t).where(t.c.target == owner.target), action="reading the lock"
        ).first()
        if held is None:
            return "free"
        if held.host == socket.gethostname() and not _alive(int(held.pid)):
            return (
                f"free: the lock of run {held.run_id} is stale (pid {held.pid} is gone) and "
                "the next run takes it over"
            )
        raise self._held(held)

    def _held(self, held: Any) -> DependencyError:
        owner = self.owner
        return DependencyError(
            f"table {owner.target} is being loaded by run {held.run_id} (pid {held.pid} on "
            f"host {held.host}, since {held.acquired_at})",
            location=owner._location(),
            hint="wait for that run to finish; if it is dead on another host, delete its row "
            f"from {LOCK_TABLE}",
        )

    def release(self) -> None:
        """Delete our lock row in its own transaction."""
        if self.run_id is None:
            return
        owner = self.owner
        t = self._table()
        owner.conn.rollback()
        owner._run(
            t.delete().where(t.c.target == owner.target, t.c.run_id == self.run_id),
            action="releasing the lock",
        )
        owner._commit_now("releasing the lock")
        self.run_id = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
