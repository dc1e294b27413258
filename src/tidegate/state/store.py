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

from tidegate.errors import ConfigError, DependencyError
from tidegate.state.tables import (
    ALERT_DELIVERIES,
    ALERTS,
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

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = [
    "REGRESSION_METRICS",
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
        self, values: Mapping[str, Any], *, spec: Mapping[str, Any] | None = None
    ) -> None:
        """Record a run that just started (status ``running``), and ``spec``, its effective
        spec, unless a run of the same ``spec_hash`` stored it already. The spec is kept with
        its keys sorted, so two versions compare as text."""
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
