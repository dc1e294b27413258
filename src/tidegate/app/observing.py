"""The observers of a run, built from the ``observability:`` section: the performance meter,
the run history recorder, Prometheus and OpenTelemetry exporters.

Order matters: the meter comes first, so its figures are complete when the recorder and the
exporters handle ``RunFinished``.
"""

from __future__ import annotations

import atexit
import hashlib
from typing import TYPE_CHECKING

import structlog
from pydantic import BaseModel, SecretStr

from tidegate.errors import TidegateError
from tidegate.observability.performance import RunMeter
from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tidegate.events import EventBus, Listener
    from tidegate.spec import PipelineSpec

__all__ = ["exporters", "observers", "spec_hash", "state_url"]

_log = structlog.get_logger(__name__)


def state_url(spec: PipelineSpec) -> str:
    """The state store's URL: the spec's, else SQLite beside the pipeline."""
    url = spec.observability.state.url
    return url.get_secret_value() if url is not None else default_state_url(spec.base_dir)


def spec_hash(spec: PipelineSpec) -> str:
    """SHA-256 of the validated spec, secrets masked: which configuration a run used."""
    document = spec.model_dump_json(exclude={"file", "base_dir"})
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


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
            found.append(
                StateRecorder(
                    store,
                    bus=bus,
                    baseline=settings.baseline,
                    spec_hash=spec_hash(spec),
                    profile=profile,
                    figures=figures,
                )
            )
    return [*found, *exporters(spec), *alerting(spec)]


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
