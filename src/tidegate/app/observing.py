"""The observers of a run, built from the ``observability:`` section: the performance meter,
the run history recorder, Prometheus and OpenTelemetry exporters.

Order matters: the meter comes first, so its figures are complete when the recorder and the
exporters handle ``RunFinished``.

The recorder gets what only this layer can make: the effective spec with its secrets redacted
(``effective_spec``), the fingerprints of the values redacted (``redacted_fingerprints``), the
spec file's git state (``app.git_info``) for the change log, and a reader of sample rejected
rows that reads the run's quarantine back through a fresh destination and masks the values as
the governance policy requires (``reject_samples``), the way ``tidegate quarantine show`` reads
it.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import math
import re
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, SecretStr

from tidegate.errors import TidegateError, values_shown
from tidegate.observability.performance import RunMeter
from tidegate.state import StateStore, default_state_url
from tidegate.state.changes import dotted

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import pyarrow as pa

    from tidegate.events import EventBus, Listener
    from tidegate.spec import PipelineSpec

__all__ = [
    "effective_spec",
    "exporters",
    "observers",
    "redacted_fingerprints",
    "reject_samples",
    "spec_hash",
    "state_url",
]

_log = structlog.get_logger(__name__)


def state_url(spec: PipelineSpec) -> str:
    """The state store's URL: the spec's, else SQLite beside the pipeline."""
    url = spec.observability.state.url
    return url.get_secret_value() if url is not None else default_state_url(spec.base_dir)


def spec_hash(spec: PipelineSpec) -> str:
    """SHA-256 of the validated spec, secrets masked: which configuration a run used."""
    document = spec.model_dump_json(exclude={"file", "base_dir"})
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


_SECRET_KEY = re.compile(
    r"password|passwd|pwd|token|secret|key|dsn|url|auth|credential|cookie|private", re.IGNORECASE
)
"""Keys whose value, when it came from ``${VAR}``, is taken for a secret: the words the spec
loader never echoes in an error either (a REST header ``Authorization: ${TOKEN}``)."""

_REDACTED = "**********"


def effective_spec(spec: PipelineSpec) -> dict[str, Any]:
    """The validated spec as a JSON document with sorted keys and no secret, for the state store.

    Secret settings (``env:NAME``, ``file:PATH`` or literal) show as ``**********``, like
    pydantic shows them; a known secret value found in any other text is replaced the same
    way, as in log lines; and a value that came from ``${VAR}`` under a key that sounds secret
    is replaced whole. Keys are the YAML's (``schema``, not ``db_schema``).
    """
    return _effective(spec)[0]


def redacted_fingerprints(spec: PipelineSpec) -> dict[str, str]:
    """Per dotted path (``source.settings.headers.Authorization``) of a value that
    ``effective_spec`` redacts, an HMAC of the value before redaction, keyed by the pipeline
    and the path: the change log tells a rotated secret by it without storing the secret.

    Only values the spec hash covers are fingerprinted (those from ``${VAR}``, and text holding
    a secret's value); a ``SecretStr`` setting is ``**********`` to the hash and here alike.
    """
    return _effective(spec)[1]


def _effective(spec: PipelineSpec) -> tuple[dict[str, Any], dict[str, str]]:
    """``effective_spec`` and ``redacted_fingerprints`` from one dump of the spec."""
    from tidegate.app.bootstrap import secret_values  # noqa: PLC0415 - bootstrap imports us
    from tidegate.observability.logging import SecretRedactor  # noqa: PLC0415

    document = spec.model_dump(mode="json", by_alias=True, exclude={"file", "base_dir"})
    redactor = SecretRedactor(secret_values(spec))
    hidden = {_dumped_path(path) for path in _env_paths(spec) if _sounds_secret(path)}
    cleaned = _redacted(document, redactor, hidden, ())
    canonical: dict[str, Any] = json.loads(json.dumps(cleaned, sort_keys=True))
    prints: dict[str, str] = {}
    _fingerprint(document, cleaned, (), spec.name, prints)
    return canonical, prints


def _fingerprint(
    value: Any, shown: Any, path: tuple[str | int, ...], pipeline: str, prints: dict[str, str]
) -> None:
    """Fingerprint the values of ``value`` that ``shown`` (its redacted copy) replaced."""
    if isinstance(value, dict) and isinstance(shown, dict):
        for key, item in value.items():
            _fingerprint(item, shown[key], (*path, key), pipeline, prints)
    elif isinstance(value, list) and isinstance(shown, list):
        for index, item in enumerate(value):
            _fingerprint(item, shown[index], (*path, index), pipeline, prints)
    elif value != shown:
        where = dotted(path)
        prints[where] = hmac.new(
            f"tidegate:{pipeline}:{where}".encode(),
            json.dumps(value, sort_keys=True).encode(),
            hashlib.sha256,
        ).hexdigest()


def _recorded_spec(spec: PipelineSpec) -> dict[str, Any] | None:
    """``effective_spec`` for the recorder, or None (logged) when a plugin's settings cannot
    be written as JSON: the history then lacks the spec, the run goes on."""
    return _recorded(spec)[0]


def _recorded(spec: PipelineSpec) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """``_recorded_spec`` with the ``redacted_fingerprints`` (none without a spec)."""
    try:
        return _effective(spec)
    except (ValueError, TypeError) as exc:  # pydantic's serialization errors are ValueErrors
        _log.warning("spec_not_recorded", error=str(exc).splitlines()[0])
        return None, {}


def _env_paths(spec: PipelineSpec) -> set[tuple[str | int, ...]]:
    """Key paths whose value the loader took from the environment (``${VAR}``)."""
    where = getattr(spec, "_where", None)  # the loader's Locator; None for a spec built in code
    return set(getattr(where, "from_env", ()) or ())


def _sounds_secret(path: tuple[str | int, ...]) -> bool:
    return any(isinstance(key, str) and _SECRET_KEY.search(key) for key in path)


def _dumped_path(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A path of the YAML as a path of the dumped spec: a plugin's settings sit under
    ``settings`` there (``source.url`` is ``source.settings.url``)."""
    if len(path) > 1 and path[0] in {"source", "destination"} and path[1] != "type":
        return (path[0], "settings", *path[1:])
    if len(path) > 2 and path[0] == "steps" and path[2] not in {"type", "name"}:
        return (path[0], path[1], "settings", *path[2:])
    return path


def _redacted(
    value: Any, redactor: Any, hidden: set[tuple[str | int, ...]], path: tuple[str | int, ...]
) -> Any:
    if path in hidden and value is not None:
        return _REDACTED
    if isinstance(value, dict):
        return {k: _redacted(v, redactor, hidden, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, redactor, hidden, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str):
        return redactor.redact(value)
    return value


def reject_samples(
    table: pa.Table, levels: Mapping[str, str], *, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of a quarantine ``table`` as a person may see them.

    The first row of each (step, failed rules) comes first, so every rule that rejected rows
    has an example, then the next rows in order. Encrypted columns show as ``[encrypted]``
    (``displayable``); a column whose ``levels`` entry is confidential or restricted is masked
    by ``mask_for_display``; other values are shown as they are, as ``tidegate quarantine
    show`` shows them.
    """
    import pyarrow as pa  # noqa: PLC0415 - with the quarantine only
    import pyarrow.compute as pc  # noqa: PLC0415

    from tidegate.app.quarantine import displayable  # noqa: PLC0415 - bootstrap imports us
    from tidegate.core.protocols import REASON_COLUMN, ROW_COLUMN, RULES_COLUMN  # noqa: PLC0415
    from tidegate.governance.classify import Level  # noqa: PLC0415 - only with rejects
    from tidegate.governance.display import SENSITIVE_LEVELS, mask_for_display  # noqa: PLC0415

    if table.num_rows == 0 or limit <= 0:
        return []
    keys = pc.binary_join_element_wise(
        table["_tidegate_step"].cast(pa.string()),
        pc.fill_null(table[RULES_COLUMN].cast(pa.string()), ""),
        "\x1f",
    )
    picked = [pc.index(keys, key).as_py() for key in pc.unique(keys).to_pylist()[:limit]]
    chosen = set(picked)
    for index in range(min(table.num_rows, limit + len(picked))):
        if len(picked) >= limit:
            break
        if index not in chosen:
            picked.append(index)
    rows = table.take(pa.array(sorted(picked), pa.int64()))
    shown = displayable(rows)
    for index, column in enumerate(shown.schema):
        name = column.name
        sealed = column.type != rows.schema.field(name).type  # displayable made it [encrypted]
        level = levels.get(name)
        if name.startswith("_tidegate_") or sealed or level not in SENSITIVE_LEVELS:
            continue
        masked = mask_for_display(shown.column(index), Level(level))
        shown = shown.set_column(index, pa.field(name, masked.type), masked)
    own = [name for name in shown.column_names if not name.startswith("_tidegate_")]
    return [
        {
            "step": row["_tidegate_step"],
            "batch": row.get("_tidegate_batch"),
            "source_row": row.get(ROW_COLUMN),
            "rules": row.get(RULES_COLUMN),
            "reason": row.get(REASON_COLUMN) or "",
            "row": {name: _jsonable(row.get(name)) for name in own},
        }
        for row in shown.to_pylist()
    ]


def _jsonable(value: Any) -> Any:
    """A value JSON (and PostgreSQL's json type, which refuses NaN) can hold, for display."""
    shown: Any = str(value)
    if value is None or isinstance(value, str | int | bool):
        shown = value
    elif isinstance(value, float):
        shown = value if math.isfinite(value) else str(value)
    elif isinstance(value, bytes):
        shown = f"<{len(value):,} bytes>"
    elif isinstance(value, datetime | date | time):
        shown = value.isoformat()
    elif isinstance(value, dict):
        shown = {str(k): _jsonable(v) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        shown = [_jsonable(v) for v in value]
    return shown


MAX_REJECTS_READ = 100_000
"""A run's quarantine is read back for samples only up to this many rejected rows: the
quarantine is read whole for a run, and a run that rejected millions needs
``tidegate quarantine show`` rather than a sample taken at the price of its memory."""


def _sampler(spec: PipelineSpec, profile: str | None) -> Callable[..., list[dict[str, Any]]]:
    """The recorder's ``rejects``: reads the run's quarantine through a fresh destination
    (the run's own is closed by then) and returns masked samples.

    A governed run that classified nothing before it stopped gives no sample: without the
    levels nothing says which values to mask.
    """
    from tidegate.state.recorder import MAX_REJECT_SAMPLES  # noqa: PLC0415 - with the recorder

    def sample(
        run_id: str, rejected: int, levels: Mapping[str, str] | None
    ) -> list[dict[str, Any]]:
        if rejected > MAX_REJECTS_READ or (levels is None and not values_shown()):
            return []
        from tidegate.app.bootstrap import build  # noqa: PLC0415 - bootstrap imports us
        from tidegate.app.quarantine import read_rows, readable  # noqa: PLC0415

        # the destination logs its open and rollback: say these lines are this read, not a load
        with structlog.contextvars.bound_contextvars(reading="reject samples"):
            table = read_rows(build(readable(spec), profile=profile), run_id=run_id)
        return reject_samples(table, levels or {}, limit=MAX_REJECT_SAMPLES)

    return sample


_SHARED: dict[str, Listener] = {}
"""Exporters live as long as the process: their failures are logged once, their retries go on
in the background after a run, and they are closed (bounded by their timeouts) at exit."""


def _shared(key: str, make: Callable[[], Listener], close: Callable[[Listener], None]) -> Listener:
    if key not in _SHARED:
        listener = _SHARED[key] = make()
        atexit.register(close, listener)
    return _SHARED[key]


def _key(kind: str, settings: BaseModel) -> str:
    """The identity of an exporter's settings, secrets included (hashed, never kept)."""
    secrets = "".join(_secret_values(settings))
    digest = hashlib.sha256((settings.model_dump_json() + secrets).encode("utf-8")).hexdigest()
    return f"{kind}:{digest}"


def _secret_values(value: object) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secret_values(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secret_values(item)


def exporters(spec: PipelineSpec) -> list[Listener]:
    """The Prometheus and OpenTelemetry listeners the spec asks for, one per process each."""
    settings = spec.observability
    found: list[Listener] = []
    if settings.prometheus is not None:
        prometheus = settings.prometheus
        from tidegate.observability.prometheus import PrometheusListener  # noqa: PLC0415

        found.append(
            _shared(
                _key(f"prometheus:{spec.base_dir}", prometheus),
                lambda: PrometheusListener(prometheus, base_dir=spec.base_dir),
                lambda listener: listener.close(),  # type: ignore[attr-defined]
            )
        )
    if settings.opentelemetry is not None:
        telemetry = settings.opentelemetry
        from tidegate.observability.tracing import OpenTelemetryListener  # noqa: PLC0415

        found.append(
            _shared(
                _key("opentelemetry", telemetry),
                lambda: OpenTelemetryListener(telemetry),
                lambda listener: listener.shutdown(),  # type: ignore[attr-defined]
            )
        )
    return found


def observers(spec: PipelineSpec, *, bus: EventBus, profile: str | None) -> list[Listener]:
    """The listeners the spec's observability section asks for: the meter first, then the
    recorder (its regressions reach the exporters before they push), then the exporters."""
    settings = spec.observability
    meter = RunMeter(settings.energy)
    found: list[Listener] = [meter]
    if settings.state.enabled:
        from tidegate.state import StateRecorder  # noqa: PLC0415 - only when recording

        def figures() -> dict[str, object] | None:
            measured = meter.figures()
            return None if measured is None else measured.to_dict()

        try:
            store = StateStore.open(state_url(spec))
        except TidegateError as exc:  # history is observation: the run goes on without it
            _log.warning("state_store_unavailable", error=exc.message, hint=exc.hint)
        else:
            from tidegate.app.git_info import git_info  # noqa: PLC0415 - with the recorder

            recorded, fingerprints = _recorded(spec)
            found.append(
                StateRecorder(
                    store,
                    bus=bus,
                    baseline=settings.baseline,
                    spec_hash=spec_hash(spec),
                    profile=profile,
                    figures=figures,
                    spec=recorded,
                    rejects=_sampler(spec, profile),
                    spec_file=_spec_file(spec),
                    fingerprints=fingerprints,
                    git=lambda: git_info(spec.file),
                )
            )
    return [*found, *exporters(spec), *alerting(spec)]


_SPEC_FILE_LENGTH = 1000
"""The change log's ``spec_file`` column."""


def _spec_file(spec: PipelineSpec) -> str | None:
    """The pipeline file's path for the change log; None when longer than its column."""
    shown = str(spec.file)
    return shown if len(shown) <= _SPEC_FILE_LENGTH else None


def alerting(spec: PipelineSpec) -> list[Listener]:
    """The alert engine of the spec's ``observability.alerts`` and its dispatcher, per run.

    The engine reads and writes the alert history in the state store, so deduplication spans
    runs (each ``tidegate run`` is a process of its own). The dispatcher keeps retrying failed
    deliveries in the background after the run and is closed at exit within its timeout. A
    state store that is down does not silence alerts: the engine then sends without history.
    """
    alerts = spec.observability.alerts
    if alerts is None:
        return []
    from tidegate.app.alert_history import StateAlertHistory  # noqa: PLC0415
    from tidegate.observability.alerting import AlertEngine  # noqa: PLC0415
    from tidegate.observability.channels import Dispatcher, build_channel  # noqa: PLC0415

    url = state_url(spec)
    try:
        store = StateStore.open(url)
    except TidegateError as exc:
        _log.warning("alert_history_unavailable", error=exc.message)
        store = StateStore(url)  # its calls fail; the engine alerts without deduplication
    engine: list[AlertEngine] = []
    timeouts = [getattr(channel, "timeout_seconds", 1.0) for channel in alerts.channels.values()]
    dispatcher = Dispatcher(
        [build_channel(name, channel) for name, channel in alerts.channels.items()],
        timeout=max(timeouts, default=1.0),
        on_result=lambda channel, alert, ok, error: engine[0].delivered(channel, alert, ok, error),  # noqa: PLW0108 - the engine is made after its dispatcher
    )
    atexit.register(dispatcher.close)
    engine.append(
        AlertEngine(
            alerts,
            pipeline=spec.name,
            owner=spec.owner,
            criticality=spec.criticality,
            consumers=spec.consumers,
            sla_max_duration=spec.sla.max_duration if spec.sla is not None else None,
            dispatcher=dispatcher,
            history=StateAlertHistory(store),
        )
    )
    return list(engine)
