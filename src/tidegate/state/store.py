"""``StateStore``: the run history in a SQL database, migrated on open.

SQLite gets WAL journaling and a busy timeout, so a dashboard can read while a run writes and
two runs of different pipelines can record at once. Every write is one short transaction: a
``running`` row (and the spec, the first time its hash is seen) when a run starts, everything
else (timeline and sample rejects included) when it ends; nothing is written per batch,
so recording costs the data path nothing measurable. Circuit breakers are one row per target,
written when a breaker changes; alerts one row each, with a row per channel outcome.
"""

from __future__ import annotations

import json
import statistics
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog

from tidegate.errors import ConfigError, DependencyError, TransientError
from tidegate.state.changes import schema_diff, spec_diff
from tidegate.state.tables import (
    ALERT_DELIVERIES,
    ALERTS,
    AUDIT,
    BREAKERS,
    CLASSIFICATIONS,
    HEAD,
    QUALITY,
    REGRESSIONS,
    REJECTS,
    RUN_EVENTS,
    RUNS,
    SPECS,
    STEPS,
    VERSION_TABLE,
)
from tidegate.state.versions import fingerprints, previous_run, record_version, versions

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from tidegate.state.changes import SpecOrigin

__all__ = [
    "REGRESSION_METRICS",
    "AuditRowConflictError",
    "PipelineSummary",
    "RunDetail",
    "RunRow",
    "StateStore",
    "default_state_url",
    "regressions",
]

_log = structlog.get_logger(__name__)

REGRESSION_METRICS = ("seconds", "rows_read", "rows_per_s")
"""What a run is compared on with its baseline: duration, size and throughput."""

_STDDEV_FLOOR = 0.05
"""A flat baseline's spread is taken as at least 5 % of its mean, so noise is not a regression."""


def default_state_url(base_dir: Path) -> str:
    """SQLite at ``.tidegate/state.db`` in ``base_dir`` (the pipeline's folder)."""
    return f"sqlite:///{base_dir / '.tidegate' / 'state.db'}"


@dataclass(frozen=True, kw_only=True)
class RunRow:
    """One line of ``tidegate runs``."""

    run_id: str
    pipeline: str
    status: str
    started_at: datetime
    seconds: float | None
    rows_read: int | None
    rows_written: int | None
    rows_rejected: int | None
    quality_score: float | None
    error_kind: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "seconds": self.seconds,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "rows_rejected": self.rows_rejected,
            "quality_score": self.quality_score,
            "error_kind": self.error_kind,
        }


@dataclass(frozen=True, kw_only=True)
class RunDetail:
    """Everything recorded of one run, for ``tidegate show`` and the dashboard.

    ``timeline`` holds the run's events in order (``seq``, ``offset_seconds``, ``kind``,
    ``text``, ``error_kind``, ``detail``); ``rejects`` a few rejected rows, masked as the
    policy requires (``seq``, ``step``, ``batch``, ``source_row``, ``rules``, ``reason``,
    ``row``). Both are empty for runs recorded before they were kept.
    """

    run: dict[str, Any]
    steps: list[dict[str, Any]]
    quality: dict[str, Any] | None
    columns: list[dict[str, Any]]
    regressions: list[dict[str, Any]]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "run": self.run,
            "steps": self.steps,
            "quality": self.quality,
            "columns": self.columns,
            "regressions": self.regressions,
            "timeline": self.timeline,
            "rejects": self.rejects,
        }


@dataclass(frozen=True, kw_only=True)
class PipelineSummary:
    """A pipeline as its history tells it, for ``/metrics`` and the dashboard."""

    pipeline: str
    last_status: str
    last_started_at: datetime
    last_seconds: float | None
    last_rows_read: int | None
    last_rows_written: int | None
    last_rows_rejected: int | None
    last_quality_score: float | None
    last_success_at: datetime | None
    last_run_id: str
    last_error_kind: str | None
    last_spec_hash: str
    runs: dict[str, int]


class AuditRowConflictError(TransientError):
    """Audit rows were not appended: their seq is taken, or the row before them is not the one
    they were chained to. Another writer appended first; the caller rebuilds them and retries."""


class StateStore:
    """The run history at ``url``; create with :meth:`open`, which applies the migrations."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.shown_url = self.url.render_as_string(hide_password=True)
        if self.url.get_backend_name() == "sqlite" and self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(self.url, connect_args={"timeout": 30})
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True)

    @classmethod
    def open(cls, url: str) -> StateStore:
        """Connect to the store at ``url`` and bring its schema up to date."""
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> None:
        """Apply every migration not applied yet (Alembic ``upgrade head``).

        A store already at ``HEAD`` is left alone without loading Alembic, which would cost
        every run a tenth of a second for nothing.
        """
        if self._revision() == HEAD:
            return
        from alembic import command  # noqa: PLC0415 - only when the schema must change
        from alembic.config import Config  # noqa: PLC0415

        config = Config()
        config.set_main_option(
            "script_location", str(files("tidegate.state").joinpath("migrations"))
        )
        with self._connection("migrating") as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _revision(self) -> str | None:
        """The schema revision the store is at; None for a new (or foreign) database."""
        with self._connection("reading the schema version") as connection:
            if not sa.inspect(connection).has_table(VERSION_TABLE):
                return None
            found = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return found.scalar_one_or_none()

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    def start_run(
        self,
        values: Mapping[str, Any],
        *,
        spec: Mapping[str, Any] | None = None,
        origin: SpecOrigin | None = None,
    ) -> None:
        """Record a run that just started (status ``running``), and ``spec``, its effective
        spec, unless a run of the same ``spec_hash`` stored it already. The spec is kept with
        its keys sorted, so two versions compare as text. With ``origin``, a run whose spec
        hash differs from its previous run's is recorded as a new version of the spec, in the
        same transaction (``tidegate.state.versions``)."""
        with self._connection("recording a run start") as connection:
            connection.execute(RUNS.insert().values(**values))
            if spec is not None:
                _insert_absent(
                    connection,
                    SPECS,
                    {
                        "spec_hash": values["spec_hash"],
                        "pipeline": values["pipeline"],
                        "first_seen": values["started_at"],
                        "spec": json.loads(json.dumps(spec, sort_keys=True)),
                    },
                )
            if origin is not None:
                record_version(connection, values, spec, origin)

    def finish_run(
        self,
        run_id: str,
        values: Mapping[str, Any],
        *,
        steps: Sequence[Mapping[str, Any]] = (),
        quality: Mapping[str, Any] | None = None,
        columns: Sequence[Mapping[str, Any]] = (),
        regressions: Sequence[Mapping[str, Any]] = (),
        timeline: Sequence[Mapping[str, Any]] = (),
        rejects: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Record how a run ended, with its steps, quality, columns, regressions, timeline and
        sample rejects, at once."""
        with self._connection("recording a run") as connection:
            connection.execute(RUNS.update().where(RUNS.c.run_id == run_id).values(**values))
            for table, rows in (
                (STEPS, steps),
                (CLASSIFICATIONS, columns),
                (REGRESSIONS, regressions),
                (RUN_EVENTS, timeline),
                (REJECTS, rejects),
            ):
                if rows:
                    connection.execute(table.insert(), [{"run_id": run_id, **r} for r in rows])
            if quality is not None:
                connection.execute(QUALITY.insert().values(run_id=run_id, **quality))

    # -- reading ---------------------------------------------------------------------------

    def runs(self, *, pipeline: str | None = None, limit: int = 20) -> list[RunRow]:
        """The latest ``limit`` runs (of ``pipeline``), newest first."""
        query = sa.select(*_RUN_ROW_COLUMNS).order_by(
            RUNS.c.started_at.desc(), RUNS.c.run_id.desc()
        )
        if pipeline is not None:
            query = query.where(RUNS.c.pipeline == pipeline)
        with self._connection("reading runs") as connection:
            rows = connection.execute(query.limit(limit)).mappings().all()
        return [_run_row(row) for row in rows]

    def find(self, run_id: str) -> RunDetail:
        """The run whose id is or starts with ``run_id``; a clear error when none or several."""
        with self._connection("reading a run") as connection:
            found = (
                connection.execute(
                    sa.select(RUNS)
                    .where(RUNS.c.run_id.startswith(run_id, autoescape=True))
                    .limit(2)
                )
                .mappings()
                .all()
            )
            if not found:
                raise ConfigError(
                    f"no run {run_id!r} in the state store {self.shown_url}",
                    hint="`tidegate runs` lists the recorded runs",
                )
            if len(found) > 1:
                raise ConfigError(
                    f"several runs start with {run_id!r}", hint="give more of the run id"
                )
            run = dict(found[0])
            key = run["run_id"]
            steps = _rows(connection, STEPS, key, STEPS.c.position)
            quality = _rows(connection, QUALITY, key)
            columns = _rows(connection, CLASSIFICATIONS, key)
            regressions = _rows(connection, REGRESSIONS, key)
            timeline = _rows(connection, RUN_EVENTS, key, RUN_EVENTS.c.seq)
            rejects = _rows(connection, REJECTS, key, REJECTS.c.seq)
        return RunDetail(
            run={k: _plain(v) for k, v in run.items()},
            steps=steps,
            quality=quality[0] if quality else None,
            columns=columns,
            regressions=regressions,
            timeline=timeline,
            rejects=rejects,
        )

    def spec(self, spec_hash: str) -> dict[str, Any] | None:
        """The stored spec of ``spec_hash`` (``spec_hash``, ``pipeline``, ``first_seen``,
        ``spec``), or None when no run stored it (runs recorded before specs were kept)."""
        query = sa.select(SPECS).where(SPECS.c.spec_hash == spec_hash)
        with self._connection("reading a spec") as connection:
            row = connection.execute(query).mappings().one_or_none()
        if row is None:
            return None
        return {**row, "first_seen": _utc(row["first_seen"])}

    def previous_spec_hash(self, pipeline: str, *, run_id: str, started_at: datetime) -> str | None:
        """The spec hash of ``pipeline``'s run that started last before ``started_at`` (not
        run ``run_id``), or None: whether a starting run is about to be a new version."""
        with self._connection("reading the previous run") as connection:
            found = previous_run(connection, pipeline, run_id=run_id, started_at=started_at)
        return None if found is None else str(found.spec_hash)

    def spec_versions(self, pipeline: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The change log of ``pipeline``: its latest ``limit`` spec versions, newest first
        (see ``tidegate.state.versions.versions`` for the keys)."""
        with self._connection("reading the change log") as connection:
            return versions(connection, pipeline, limit)

    def run_diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        """What differs from run ``run_a`` to run ``run_b`` (ids or unique prefixes): each run's
        outcome (``runs``), the spec diff (``spec``: ``same``, ``diff``, None when a spec was
        not stored), the tidegate ``version``s and the ``source_schema`` diff (None when a run
        has no recorded schema). Unknown ids raise ``ConfigError`` as ``find`` does."""
        first, second = self.find(run_a).run, self.find(run_b).run
        hashes = (str(first["spec_hash"]), str(second["spec_hash"]))
        with self._connection("reading two runs' specs") as connection:
            specs = dict(
                connection.execute(
                    sa.select(SPECS.c.spec_hash, SPECS.c.spec).where(SPECS.c.spec_hash.in_(hashes))
                ).all()
            )
            prints = [fingerprints(connection, spec_hash) for spec_hash in hashes]
        diff: list[dict[str, Any]] | None = []
        if hashes[0] != hashes[1]:
            old, new = specs.get(hashes[0]), specs.get(hashes[1])
            diff = (
                None
                if old is None or new is None
                else spec_diff(old, new, old_fingerprints=prints[0], new_fingerprints=prints[1])
            )
        schemas = (first.get("source_schema"), second.get("source_schema"))
        return {
            "runs": [{key: run.get(key) for key in _COMPARED} for run in (first, second)],
            "spec": {"same": hashes[0] == hashes[1], "hashes": list(hashes), "diff": diff},
            "version": {
                "same": first["version"] == second["version"],
                "versions": [first["version"], second["version"]],
            },
            "source_schema": (None if None in schemas else schema_diff(schemas[0], schemas[1])),
        }

    def spec_sections(self, spec_hashes: Iterable[str], section: str) -> dict[str, Any]:
        """Per stored spec hash of ``spec_hashes``, the top-level ``section`` of its spec (None
        when the spec has none); hashes without a stored spec are left out. One query, so the
        dashboard reads a thousand pipelines' SLAs at once."""
        wanted = sorted(set(spec_hashes))
        if not wanted:
            return {}
        query = sa.select(SPECS.c.spec_hash, SPECS.c.spec).where(SPECS.c.spec_hash.in_(wanted))
        with self._connection("reading specs") as connection:
            rows = connection.execute(query).all()
        return {spec_hash: (spec or {}).get(section) for spec_hash, spec in rows}

    def pipelines(self, *, pipeline: str | None = None) -> list[PipelineSummary]:
        """Per pipeline (or of ``pipeline`` alone): its latest run, when it last succeeded,
        and its runs by status."""
        only = _only(pipeline)
        latest = (
            sa.select(RUNS.c.pipeline, sa.func.max(RUNS.c.run_id).label("run_id"))
            .where(only)
            .group_by(RUNS.c.pipeline)
            .subquery()
        )
        last_runs = sa.select(RUNS).join(latest, RUNS.c.run_id == latest.c.run_id)
        successes = (
            sa.select(RUNS.c.pipeline, sa.func.max(RUNS.c.finished_at).label("finished_at"))
            .where(RUNS.c.status == "succeeded", only)
            .group_by(RUNS.c.pipeline)
        )
        counts = (
            sa.select(RUNS.c.pipeline, RUNS.c.status, sa.func.count())
            .where(only)
            .group_by(RUNS.c.pipeline, RUNS.c.status)
        )
        with self._connection("reading the pipelines") as connection:
            last = {row["pipeline"]: row for row in connection.execute(last_runs).mappings()}
            succeeded = {row[0]: row[1] for row in connection.execute(successes)}
            by_status: dict[str, dict[str, int]] = {}
            for name, status, count in connection.execute(counts):
                by_status.setdefault(name, {})[status] = count
        return [
            PipelineSummary(
                pipeline=name,
                last_status=row["status"],
                last_started_at=_utc(row["started_at"]),
                last_seconds=row["seconds"],
                last_rows_read=row["rows_read"],
                last_rows_written=row["rows_written"],
                last_rows_rejected=row["rows_rejected"],
                last_quality_score=row["quality_score"],
                last_success_at=_utc(succeeded[name]) if succeeded.get(name) else None,
                last_run_id=row["run_id"],
                last_error_kind=row["error_kind"],
                last_spec_hash=row["spec_hash"],
                runs=by_status.get(name, {}),
            )
            for name, row in sorted(last.items())
        ]

    def recent_seconds(
        self, *, per_pipeline: int, pipeline: str | None = None
    ) -> dict[str, list[float]]:
        """Per pipeline (or of ``pipeline`` alone) the durations of its latest ``per_pipeline``
        finished runs, newest first: one query (a window function) reading two columns, so the
        dashboard's p95 over a thousand pipelines costs one pass over the index, not a query
        each."""
        rank = (
            sa.func.row_number()
            .over(
                partition_by=RUNS.c.pipeline,
                order_by=(RUNS.c.started_at.desc(), RUNS.c.run_id.desc()),
            )
            .label("rank")
        )
        ranked = (
            sa.select(RUNS.c.pipeline, RUNS.c.seconds, rank)
            .where(RUNS.c.seconds.is_not(None), _only(pipeline))
            .subquery()
        )
        query = (
            sa.select(ranked.c.pipeline, ranked.c.seconds)
            .where(ranked.c.rank <= per_pipeline)
            .order_by(ranked.c.pipeline, ranked.c.rank)
        )
        found: dict[str, list[float]] = {}
        with self._connection("reading the latest durations") as connection:
            for name, seconds in connection.execute(query):
                found.setdefault(name, []).append(float(seconds))
        return found

    def window_counts(
        self, starts: Sequence[datetime], *, pipeline: str | None = None
    ) -> dict[str, list[tuple[int, int]]]:
        """Per pipeline (or of ``pipeline`` alone) and per moment of ``starts``: (runs,
        succeeded runs) started since it.

        One aggregated query over the runs since the earliest moment, for success rates.
        """
        if not starts:
            return {}
        columns: list[Any] = []
        for start in starts:
            since = RUNS.c.started_at >= start
            succeeded = sa.and_(since, RUNS.c.status == "succeeded")
            columns.append(sa.func.sum(sa.case((since, 1), else_=0)))
            columns.append(sa.func.sum(sa.case((succeeded, 1), else_=0)))
        query = (
            sa.select(RUNS.c.pipeline, *columns)
            .where(RUNS.c.started_at >= min(starts), _only(pipeline))
            .group_by(RUNS.c.pipeline)
        )
        with self._connection("counting runs") as connection:
            rows = connection.execute(query).all()
        return {
            row[0]: [
                (int(row[i] or 0), int(row[i + 1] or 0)) for i in range(1, len(columns) + 1, 2)
            ]
            for row in rows
        }

    def open_alert_rules(self) -> dict[str, list[str]]:
        """Per pipeline the rules of its alerts sent and not resolved yet, oldest first."""
        query = (
            sa.select(ALERTS.c.pipeline, ALERTS.c.rule)
            .where(ALERTS.c.status == "firing", ALERTS.c.resolved_at.is_(None))
            .order_by(ALERTS.c.id)
        )
        found: dict[str, list[str]] = {}
        with self._connection("reading the open alerts") as connection:
            for pipeline, rule in connection.execute(query):
                found.setdefault(pipeline, []).append(rule)
        return found

    def baseline(self, pipeline: str, *, runs: int, before: str) -> list[dict[str, float]]:
        """Duration, rows and throughput of the last ``runs`` successful runs before run
        ``before`` (its id sorts after theirs)."""
        query = (
            sa.select(RUNS.c.seconds, RUNS.c.rows_read)
            .where(
                RUNS.c.pipeline == pipeline,
                RUNS.c.status == "succeeded",
                RUNS.c.run_id < before,
                RUNS.c.seconds.is_not(None),
            )
            .order_by(RUNS.c.run_id.desc())
            .limit(runs)
        )
        with self._connection("reading the baseline") as connection:
            rows = connection.execute(query).all()
        return [
            {
                "seconds": float(seconds),
                "rows_read": float(rows_read or 0),
                "rows_per_s": float(rows_read or 0) / seconds if seconds else 0.0,
            }
            for seconds, rows_read in rows
        ]

    # -- circuit breakers ------------------------------------------------------------------

    def load_breaker(self, target: str) -> dict[str, Any] | None:
        """The stored breaker of ``target`` as a row of ``tidegate_breakers``, or None."""
        query = sa.select(BREAKERS).where(BREAKERS.c.target == target)
        with self._connection("reading a circuit breaker") as connection:
            row = connection.execute(query).mappings().one_or_none()
        return _breaker(row) if row is not None else None

    def save_breaker(self, values: Mapping[str, Any]) -> None:
        """Insert or replace the breaker of ``values["target"]`` (a ``tidegate_breakers`` row).

        An upsert where the database has one (SQLite, PostgreSQL), so two processes saving the
        same target at once cannot collide; elsewhere a delete and an insert in one transaction.
        """
        row = dict(values)
        with self._connection("saving a circuit breaker") as connection:
            upsert = _upsert(connection.dialect.name, row)
            if upsert is not None:
                connection.execute(upsert)
                return
            connection.execute(BREAKERS.delete().where(BREAKERS.c.target == row["target"]))
            connection.execute(BREAKERS.insert().values(**row))

    def breakers(self) -> list[dict[str, Any]]:
        """Every stored breaker, by target."""
        with self._connection("reading the circuit breakers") as connection:
            rows = connection.execute(sa.select(BREAKERS).order_by(BREAKERS.c.target))
            return [_breaker(row) for row in rows.mappings()]

    def reset_breaker(self, target: str) -> bool:
        """Forget the breaker of ``target``, so it starts closed; False when there was none."""
        with self._connection("resetting a circuit breaker") as connection:
            deleted = connection.execute(BREAKERS.delete().where(BREAKERS.c.target == target))
        return deleted.rowcount > 0

    # -- alerts ----------------------------------------------------------------------------

    def record_alert(self, values: Mapping[str, Any]) -> int:
        """Record an alert (a ``tidegate_alerts`` row without its id); return its id."""
        with self._connection("recording an alert") as connection:
            inserted = connection.execute(ALERTS.insert().values(**values))
        return int(inserted.inserted_primary_key[0])  # type: ignore[index] # one row: one key

    def last_alert(self, pipeline: str, rule: str, fingerprint: str) -> dict[str, Any] | None:
        """The newest alert of this key that was sent (status ``firing``), or None.

        Suppressed repeats are left out, so the cooldown runs from the last alert sent and a
        pipeline failing every ten minutes is still reminded once per cooldown.
        """
        query = (
            sa.select(ALERTS)
            .where(
                ALERTS.c.pipeline == pipeline,
                ALERTS.c.rule == rule,
                ALERTS.c.fingerprint == fingerprint,
                ALERTS.c.status == "firing",
            )
            .order_by(ALERTS.c.sent_at.desc(), ALERTS.c.id.desc())
            .limit(1)
        )
        with self._connection("reading the last alert") as connection:
            row = connection.execute(query).mappings().one_or_none()
        return _alert(row) if row is not None else None

    def open_alerts(self, pipeline: str) -> list[dict[str, Any]]:
        """The alerts of ``pipeline`` sent and not resolved yet, oldest first."""
        query = (
            sa.select(ALERTS)
            .where(
                ALERTS.c.pipeline == pipeline,
                ALERTS.c.status == "firing",
                ALERTS.c.resolved_at.is_(None),
            )
            .order_by(ALERTS.c.id)
        )
        with self._connection("reading the open alerts") as connection:
            return [_alert(row) for row in connection.execute(query).mappings()]

    def resolve_alerts(self, pipeline: str, at: datetime) -> int:
        """Mark the open alerts of ``pipeline`` resolved at ``at``; return how many there were."""
        query = (
            ALERTS.update()
            .where(
                ALERTS.c.pipeline == pipeline,
                ALERTS.c.status == "firing",
                ALERTS.c.resolved_at.is_(None),
            )
            .values(resolved_at=at)
        )
        with self._connection("resolving alerts") as connection:
            return int(connection.execute(query).rowcount)

    def record_delivery(
        self,
        alert_id: int,
        channel: str,
        ok: bool,
        error: str | None,
        *,
        at: datetime | None = None,
    ) -> None:
        """Record what ``channel`` reported for alert ``alert_id`` (one attempt's outcome)."""
        values = {
            "alert_id": alert_id,
            "channel": channel,
            "ok": ok,
            "error": error,
            "at": at or datetime.now(UTC),
        }
        with self._connection("recording an alert delivery") as connection:
            connection.execute(ALERT_DELIVERIES.insert().values(**values))

    def alerts(self, *, pipeline: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The latest ``limit`` alerts (of ``pipeline``), newest first, each with ``delivered``:
        the newest outcome per channel (``{channel: {ok, error, at}}``)."""
        query = sa.select(ALERTS).order_by(ALERTS.c.sent_at.desc(), ALERTS.c.id.desc())
        if pipeline is not None:
            query = query.where(ALERTS.c.pipeline == pipeline)
        with self._connection("reading alerts") as connection:
            rows = [_alert(row) for row in connection.execute(query.limit(limit)).mappings()]
            ids = [row["id"] for row in rows]
            outcomes: Sequence[sa.RowMapping] = (
                connection.execute(
                    sa.select(ALERT_DELIVERIES)
                    .where(ALERT_DELIVERIES.c.alert_id.in_(ids))
                    .order_by(ALERT_DELIVERIES.c.id)
                )
                .mappings()
                .all()
                if ids
                else []
            )
            delivered: dict[int, dict[str, dict[str, Any]]] = {}
            for outcome in outcomes:
                delivered.setdefault(outcome["alert_id"], {})[outcome["channel"]] = {
                    "ok": bool(outcome["ok"]),
                    "error": outcome["error"],
                    "at": _utc(outcome["at"]),
                }
        return [{**row, "delivered": delivered.get(row["id"], {})} for row in rows]

    # -- audit trail -----------------------------------------------------------------------

    def append_audit(self, rows: Sequence[Mapping[str, Any]], *, prev_hash: str) -> None:
        """Insert consecutive ``tidegate_audit`` rows in one transaction, all or none.

        They are appended only if they follow the last row: their seqs must be free (the
        primary key refuses a taken one) and the row before the first must have the hash
        ``prev_hash`` (no row at all before seq 1). Otherwise ``AuditRowConflictError``. Rows are
        never updated: the table only grows.
        """
        if not rows:
            return
        first = int(rows[0]["seq"])
        try:
            with self.engine.begin() as connection:
                connection.execute(AUDIT.insert(), [dict(row) for row in rows])
                # The inserts hold the write lock (SQLite) or the new keys (PostgreSQL), so the
                # row before cannot change under this check.
                before = connection.execute(
                    sa.select(AUDIT.c.hash).where(AUDIT.c.seq == first - 1)
                ).scalar_one_or_none()
                if (before is None and first != 1) or (before is not None and before != prev_hash):
                    raise AuditRowConflictError(
                        f"audit row {first} does not follow the last row of the audit table",
                        hint="another process appended to the audit trail at the same time; retry",
                    )
        except sa.exc.IntegrityError as exc:
            if not self._audit_seq_taken(first):  # a trigger or a constraint refused the rows
                raise self._audit_failed("appending audit records", exc) from exc
            raise AuditRowConflictError(
                f"audit row {first} is taken in the audit table",
                hint="another process appended to the audit trail at the same time; retry",
            ) from exc
        except sa.exc.DBAPIError as exc:
            raise self._audit_failed("appending audit records", exc) from exc

    def audit_rows(self, *, run_id: str | None = None, chunk: int = 2_000) -> Iterator[str]:
        """The ``record`` text of every audit row (of ``run_id``) in ascending seq, streamed.

        Rows are fetched ``chunk`` at a time through a server-side cursor where the database
        has one, so a chain of millions of records reads in bounded memory.
        """
        query = sa.select(AUDIT.c.record).order_by(AUDIT.c.seq)
        if run_id is not None:
            query = query.where(AUDIT.c.run_id == run_id)
        try:
            with self.engine.connect() as connection:
                result = connection.execution_options(stream_results=True, yield_per=chunk).execute(
                    query
                )
                for (record,) in result:
                    yield record
        except sa.exc.DBAPIError as exc:
            raise self._audit_failed("reading the audit trail", exc) from exc

    def audit_last_row(self) -> str | None:
        """The ``record`` text of the audit row with the highest seq; None when there is none."""
        query = sa.select(AUDIT.c.record).order_by(AUDIT.c.seq.desc()).limit(1)
        try:
            with self.engine.connect() as connection:
                found: str | None = connection.execute(query).scalar_one_or_none()
        except sa.exc.DBAPIError as exc:
            raise self._audit_failed("reading the audit head", exc) from exc
        return found

    def _audit_seq_taken(self, seq: int) -> bool:
        query = sa.select(AUDIT.c.seq).where(AUDIT.c.seq == seq)
        try:
            with self.engine.connect() as connection:
                return connection.execute(query).first() is not None
        except sa.exc.DBAPIError as exc:
            raise self._audit_failed("reading the audit trail", exc) from exc

    def _audit_failed(self, action: str, exc: sa.exc.DBAPIError) -> DependencyError:
        return DependencyError(
            f"state store {self.shown_url}: {action} failed: {_first_line(exc.orig)}",
            location="tidegate_audit",
            hint="check that the state store is reachable, migrated (any `tidegate run` "
            "migrates it) and that this user may read and insert into tidegate_audit",
        )

    @contextmanager
    def _connection(self, action: str) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.OperationalError as exc:
            raise DependencyError(
                f"state store {self.shown_url}: {action} failed: {_first_line(exc.orig)}",
                hint="check that the database is reachable and writable",
            ) from exc


def regressions(
    figures: Mapping[str, float], baseline: Sequence[Mapping[str, float]], *, sigma: float
) -> list[dict[str, Any]]:
    """The figures more than ``sigma`` standard deviations from the baseline's mean.

    A flat baseline's spread counts as at least 5 % of its mean: ten runs of exactly 100,000
    rows do not make a run of 100,001 rows a regression.
    """
    flagged: list[dict[str, Any]] = []
    for metric in REGRESSION_METRICS:
        values = [run[metric] for run in baseline]
        mean = statistics.fmean(values)
        spread = max(statistics.pstdev(values), abs(mean) * _STDDEV_FLOOR)
        if spread == 0:
            continue
        sigmas = (figures[metric] - mean) / spread
        if abs(sigmas) > sigma:
            flagged.append(
                {
                    "metric": metric,
                    "value": figures[metric],
                    "mean": mean,
                    "stddev": statistics.pstdev(values),
                    "sigmas": sigmas,
                    "runs": len(values),
                }
            )
    return flagged


_COMPARED = (
    "run_id",
    "pipeline",
    "status",
    "error_kind",
    "started_at",
    "seconds",
    "rows_read",
    "rows_written",
    "rows_rejected",
    "batches",
    "version",
    "spec_hash",
    "source_schema",
)
"""What ``run_diff`` shows of each run."""

_RUN_ROW_COLUMNS = (
    RUNS.c.run_id,
    RUNS.c.pipeline,
    RUNS.c.status,
    RUNS.c.started_at,
    RUNS.c.seconds,
    RUNS.c.rows_read,
    RUNS.c.rows_written,
    RUNS.c.rows_rejected,
    RUNS.c.quality_score,
    RUNS.c.error_kind,
)
"""The columns a ``RunRow`` holds."""


def _only(pipeline: str | None) -> sa.ColumnElement[bool]:
    """The runs of ``pipeline``, or of every pipeline when None."""
    return sa.true() if pipeline is None else RUNS.c.pipeline == pipeline


def _run_row(row: sa.RowMapping) -> RunRow:
    return RunRow(
        run_id=row["run_id"],
        pipeline=row["pipeline"],
        status=row["status"],
        started_at=_utc(row["started_at"]),
        seconds=row["seconds"],
        rows_read=row["rows_read"],
        rows_written=row["rows_written"],
        rows_rejected=row["rows_rejected"],
        quality_score=row["quality_score"],
        error_kind=row["error_kind"],
    )


def _rows(
    connection: sa.Connection, table: sa.Table, run_id: str, order: Any = None
) -> list[dict[str, Any]]:
    query = sa.select(table).where(table.c.run_id == run_id)
    if order is not None:
        query = query.order_by(order)
    return [
        {k: _plain(v) for k, v in row.items() if k != "run_id"}
        for row in connection.execute(query).mappings()
    ]


def _breaker(row: sa.RowMapping) -> dict[str, Any]:
    return {k: _utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _alert(row: sa.RowMapping) -> dict[str, Any]:
    alert: dict[str, Any] = {k: _utc(v) if isinstance(v, datetime) else v for k, v in row.items()}
    alert["channels"] = tuple(row["channels"] or ())
    return alert


def _upsert(dialect: str, row: Mapping[str, Any]) -> sa.Executable | None:
    """An insert that replaces the row of the same target, on the dialects that have one."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415 - loaded

        lite = sqlite_insert(BREAKERS).values(**row)
        return lite.on_conflict_do_update(
            index_elements=[BREAKERS.c.target],
            set_={k: lite.excluded[k] for k in row if k != "target"},
        )
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415 - loaded

        pg = pg_insert(BREAKERS).values(**row)
        return pg.on_conflict_do_update(
            index_elements=[BREAKERS.c.target],
            set_={k: pg.excluded[k] for k in row if k != "target"},
        )
    return None


def _insert_absent(connection: sa.Connection, table: sa.Table, row: Mapping[str, Any]) -> None:
    """Insert ``row`` unless its primary key is there already; two processes doing so at once
    both succeed (one inserts). ``ON CONFLICT DO NOTHING`` where the database has it, else an
    insert in a savepoint whose duplicate-key failure is ignored."""
    keys = [column.name for column in table.primary_key.columns]
    dialect = connection.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415 - loaded

        connection.execute(
            sqlite_insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
        )
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415 - loaded

        connection.execute(
            pg_insert(table).values(**row).on_conflict_do_nothing(index_elements=keys)
        )
        return
    try:
        with connection.begin_nested():
            connection.execute(table.insert().values(**row))
    except sa.exc.IntegrityError:
        return


def _plain(value: Any) -> Any:
    return _utc(value).isoformat() if isinstance(value, datetime) else value


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
