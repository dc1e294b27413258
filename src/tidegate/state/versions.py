"""The change log in the store: a ``tidegate_spec_versions`` row each time a pipeline runs with
a spec hash other than its previous run's (by start time), written in the run start's
transaction, and read back newest first.

The ``diff`` column holds ``{"changes": [...] | null, "redacted_fingerprints": {path: hmac}}``:
the structured diff against the previous version's stored spec (null for a first version, or
when the previous spec was not stored), and the fingerprints of the values this version's
stored spec shows redacted, which the next version's diff compares. A fingerprint is an HMAC
of a value the spec hash covers already (it is keyed by pipeline and path), so it tells no
more about a secret than the hash runs have always carried.

Two runs of a pipeline starting at once: on PostgreSQL a transaction-scoped advisory lock per
pipeline orders them, on SQLite the write lock the run row takes does; either way the second
reads the first's rows. A run whose change a concurrent run recorded already (same previous
and new hash, recorded since the previous run started) adds no row. Elsewhere the two may
both record the change: one duplicate row, never a lost one.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from tidegate.state.changes import spec_diff, summary
from tidegate.state.tables import RUNS, SPEC_VERSIONS, SPECS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tidegate.state.changes import SpecOrigin

__all__ = ["fingerprints", "previous_run", "record_version", "versions"]


def previous_run(
    connection: sa.Connection, pipeline: str, *, run_id: str, started_at: datetime
) -> sa.Row[Any, Any] | None:
    """The spec hash and start of the run of ``pipeline`` that started last before the run
    ``run_id`` started at ``started_at`` (ties broken by run id), or None."""
    query = (
        sa.select(RUNS.c.spec_hash, RUNS.c.started_at)
        .where(
            RUNS.c.pipeline == pipeline,
            RUNS.c.run_id != run_id,
            sa.or_(
                RUNS.c.started_at < started_at,
                sa.and_(RUNS.c.started_at == started_at, RUNS.c.run_id < run_id),
            ),
        )
        .order_by(RUNS.c.started_at.desc(), RUNS.c.run_id.desc())
        .limit(1)
    )
    return connection.execute(query).first()


def record_version(
    connection: sa.Connection,
    values: Mapping[str, Any],
    spec: Mapping[str, Any] | None,
    origin: SpecOrigin,
) -> bool:
    """Record the run of ``values`` (a ``tidegate_runs`` row) as a new version of its
    pipeline's spec when its previous run had another hash, or none; True when it did."""
    pipeline, spec_hash = values["pipeline"], values["spec_hash"]
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(pipeline))))
    previous = previous_run(
        connection, pipeline, run_id=values["run_id"], started_at=values["started_at"]
    )
    previous_hash = None if previous is None else previous.spec_hash
    if previous_hash == spec_hash or _recorded(connection, pipeline, spec_hash, previous):
        return False
    changes: list[dict[str, Any]] | None = None
    if previous_hash is not None:
        old = connection.execute(
            sa.select(SPECS.c.spec).where(SPECS.c.spec_hash == previous_hash)
        ).scalar_one_or_none()
        new = spec if spec is not None else _stored_spec(connection, spec_hash)
        if old is not None and new is not None:
            changes = spec_diff(
                old,
                json.loads(json.dumps(new, sort_keys=True)),
                old_fingerprints=fingerprints(connection, previous_hash),
                new_fingerprints=origin.fingerprints,
            )
    git = origin.git
    connection.execute(
        SPEC_VERSIONS.insert().values(
            pipeline=pipeline,
            spec_hash=spec_hash,
            previous_hash=previous_hash,
            run_id=values["run_id"],
            changed_at=values["started_at"],
            diff={"changes": changes, "redacted_fingerprints": dict(origin.fingerprints)},
            git_commit=None if git is None else git.commit,
            git_author=None if git is None else git.author,
            git_dirty=None if git is None else git.dirty,
            spec_file=origin.spec_file,
        )
    )
    return True


def _recorded(
    connection: sa.Connection, pipeline: str, spec_hash: str, previous: sa.Row[Any, Any] | None
) -> bool:
    """Whether a run that started since ``previous`` recorded this very change already."""
    query = sa.select(SPEC_VERSIONS.c.id).where(
        SPEC_VERSIONS.c.pipeline == pipeline, SPEC_VERSIONS.c.spec_hash == spec_hash
    )
    if previous is None:
        query = query.where(SPEC_VERSIONS.c.previous_hash.is_(None))
    else:
        query = query.where(
            SPEC_VERSIONS.c.previous_hash == previous.spec_hash,
            SPEC_VERSIONS.c.changed_at >= previous.started_at,
        )
    return connection.execute(query.limit(1)).first() is not None


def _stored_spec(connection: sa.Connection, spec_hash: str) -> Any:
    query = sa.select(SPECS.c.spec).where(SPECS.c.spec_hash == spec_hash)
    return connection.execute(query).scalar_one_or_none()


def fingerprints(connection: sa.Connection, spec_hash: str) -> dict[str, str] | None:
    """The redacted values' fingerprints of ``spec_hash`` (a function of the hash, so any of
    its version rows has them), or None when no version of it was recorded."""
    query = (
        sa.select(SPEC_VERSIONS.c.diff)
        .where(SPEC_VERSIONS.c.spec_hash == spec_hash)
        .order_by(SPEC_VERSIONS.c.id.desc())
        .limit(1)
    )
    row = connection.execute(query).first()
    if row is None:
        return None
    return dict((row.diff or {}).get("redacted_fingerprints") or {})


def versions(connection: sa.Connection, pipeline: str, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` versions of ``pipeline``'s spec, newest first, each a
    ``tidegate_spec_versions`` row with ``diff`` the list of changes (None for a first version
    or an unknown previous spec), ``first`` and a ``summary`` (``3 changed, 1 added``)."""
    query = (
        sa.select(SPEC_VERSIONS)
        .where(SPEC_VERSIONS.c.pipeline == pipeline)
        .order_by(SPEC_VERSIONS.c.changed_at.desc(), SPEC_VERSIONS.c.id.desc())
        .limit(limit)
    )
    found: list[dict[str, Any]] = []
    for row in connection.execute(query).mappings():
        changes = (row["diff"] or {}).get("changes")
        first = row["previous_hash"] is None
        said = summary(changes)
        if changes is None and not first:
            said = "not compared: the previous version's spec was not recorded"
        found.append(
            {
                "id": row["id"],
                "pipeline": row["pipeline"],
                "spec_hash": row["spec_hash"],
                "previous_hash": row["previous_hash"],
                "run_id": row["run_id"],
                "changed_at": _utc(row["changed_at"]),
                "first": first,
                "summary": said,
                "diff": changes,
                "git_commit": row["git_commit"],
                "git_author": row["git_author"],
                "git_dirty": row["git_dirty"],
                "spec_file": row["spec_file"],
            }
        )
    return found


def _lock_key(pipeline: str) -> int:
    """A signed 64-bit advisory lock key for ``pipeline``'s change log."""
    digest = hashlib.sha256(f"tidegate.spec_versions:{pipeline}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
