"""The dashboard's health page over the served pipelines: ``tidegate health`` as a
``HealthChecker``, and the loading of the pipeline files ``tidegate serve`` is given.

Each served pipeline gets exactly the checks ``tidegate health PIPELINE`` runs (source and
destination connections, state store, breakers, freshness against ``sla.max_age``, temp
space), their details and hints masked of the pipeline's secrets like the command's. The
pipelines are checked side by side, so one whose database takes its connect timeout to answer
does not hold the others' results back by as much. Served with ``--state`` alone there is no
spec to check against: the page shows what needs none (the store takes writes, its breakers)
and says how to get the rest.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tidegate.app.bootstrap import build, load, secret_values
from tidegate.app.health_checks import pipeline_checks, store_checks
from tidegate.app.observing import state_url
from tidegate.core.health import Check, timed
from tidegate.errors import ConfigError
from tidegate.observability.logging import SecretRedactor
from tidegate.web.models import CheckView, HealthReport, PipelineChecks

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tidegate.app.bootstrap import Pipeline
    from tidegate.state import StateStore

__all__ = ["STATE_ONLY_NOTE", "DashboardHealth", "served_pipelines"]

STATE_ONLY_NOTE = (
    "Only the state store is checked: the dashboard was started without pipeline files. "
    "Start it with them (tidegate serve pipeline.yaml [other.yaml ...]) to check each "
    "pipeline's source and destination connections, freshness against sla.max_age and temp "
    "space too."
)
"""What the health page says when served with ``--state`` alone."""

MAX_PARALLEL = 8
"""Pipelines checked at the same time: each holds a thread and a connection per check."""


class DashboardHealth:
    """``HealthChecker`` over the served ``pipelines``, or over ``store`` alone without any."""

    def __init__(self, store: StateStore, pipelines: Sequence[Pipeline] = ()) -> None:
        self.store = store
        self.pipelines = list(pipelines)
        store_password = store.url.password
        self._store_secrets = [str(store_password)] if store_password else []
        self._redactors = [
            SecretRedactor([*secret_values(p.spec), *self._store_secrets]) for p in self.pipelines
        ]

    def check(self) -> HealthReport:
        """Run every check now; failed ones are reported, never raised."""
        checked_at = datetime.now(UTC)
        began = time.perf_counter()
        if self.pipelines:
            workers = min(MAX_PARALLEL, len(self.pipelines))
            with ThreadPoolExecutor(workers, thread_name_prefix="health") as pool:
                found = list(pool.map(self._pipeline, self.pipelines, self._redactors))
        else:
            found = [self._store_alone()]
        found.sort(key=lambda p: (p.healthy, p.pipeline or ""))
        return HealthReport(
            checked_at=checked_at,
            seconds=time.perf_counter() - began,
            pipelines=found,
            note=None if self.pipelines else STATE_ONLY_NOTE,
        )

    def _pipeline(self, pipeline: Pipeline, redactor: SecretRedactor) -> PipelineChecks:
        began = time.perf_counter()
        found: list[Check] = []

        def run() -> str:
            found.extend(pipeline_checks(pipeline))
            return "ran"

        # a plugin whose checks break rather than report is one failed check, not a 500
        crashed = timed("health checks", "run", run)
        return PipelineChecks(
            pipeline=pipeline.spec.name,
            checks=_views(found if crashed.ok else [crashed], redactor),
            seconds=time.perf_counter() - began,
        )

    def _store_alone(self) -> PipelineChecks:
        began = time.perf_counter()
        return PipelineChecks(
            pipeline=None,
            checks=_views(store_checks(self.store), SecretRedactor(self._store_secrets)),
            seconds=time.perf_counter() - began,
        )


def served_pipelines(
    paths: Sequence[Path], *, state: str | None, sets: Sequence[str]
) -> tuple[str, list[Pipeline]]:
    """Load and build the pipeline files ``tidegate serve`` is given; their one state store.

    The dashboard reads one store, so the pipelines must keep their history in the same one
    (and in ``state`` when it is given): otherwise a clear ``ConfigError`` naming each file's
    store (passwords hidden). Two files of the same pipeline name are refused too, as their
    runs would be one history.
    """
    if not paths:
        raise ConfigError("no pipeline file to serve", hint="tidegate serve pipeline.yaml")
    pipelines = [build(load(path, overrides=sets)) for path in paths]
    names: dict[str, Path] = {}
    for path, pipeline in zip(paths, pipelines, strict=True):
        first = names.setdefault(pipeline.spec.name, path)
        if first is not path:
            raise ConfigError(
                f"{path} is given twice"
                if first == path
                else f"{first} and {path} are both pipeline {pipeline.spec.name!r}",
                hint="serve each pipeline once; pipeline names must differ",
            )
    urls = [state_url(pipeline.spec) for pipeline in pipelines]
    if any(not _same_store(url, urls[0]) for url in urls[1:]):
        shown = "; ".join(f"{path}: {_shown(url)}" for path, url in zip(paths, urls, strict=True))
        raise ConfigError(
            f"the pipelines keep their run history in different state stores ({shown})",
            hint="the dashboard reads one store: set the same observability.state.url in each "
            "pipeline (or once in tidegate.yaml beside them), or run one tidegate serve per store",
        )
    if state is not None and not _same_store(state, urls[0]):
        raise ConfigError(
            f"--state {_shown(state)} is not the state store of the pipelines ({_shown(urls[0])})",
            hint="leave --state out to serve the pipelines' store, or point the pipelines at "
            "it with --set observability.state.url=URL",
        )
    return urls[0], pipelines


def _views(checks: Sequence[Check], redactor: SecretRedactor) -> list[CheckView]:
    """The checks failed first (otherwise in checking order), secrets masked."""
    views = [
        CheckView(
            component=redactor.redact(check.component),
            check=check.name,
            ok=check.ok,
            ms=round(check.seconds * 1000, 1),
            detail=redactor.redact(check.detail),
            hint=redactor.redact(check.error.hint)
            if not check.ok and check.error is not None and check.error.hint
            else None,
        )
        for check in checks
    ]
    return sorted(views, key=lambda view: view.ok)


def _same_store(first: str, second: str) -> bool:
    """Whether two SQLAlchemy URLs name the same store: same backend, host, port, database
    and user (a SQLite file by its resolved path), whatever the driver or how it is spelled."""
    import sqlalchemy as sa  # noqa: PLC0415 - loaded with the state store

    try:
        a, b = sa.make_url(first), sa.make_url(second)
    except sa.exc.ArgumentError:
        return first == second
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return _file(a.database) == _file(b.database)
    return (a.host, a.port, a.database, a.username) == (b.host, b.port, b.database, b.username)


def _file(database: str | None) -> str:
    return str(Path(database).resolve()) if database and database != ":memory:" else ""


def _shown(url: str) -> str:
    import sqlalchemy as sa  # noqa: PLC0415 - loaded with the state store

    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unparsable URL)"
