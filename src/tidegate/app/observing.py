"""The observers of a run, built from the ``observability:`` section: the performance meter,
the run history recorder, Prometheus and OpenTelemetry exporters.

Order matters: the meter comes first, so its figures are complete when the recorder and the
exporters handle ``RunFinished``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import structlog

from tidegate.errors import TidegateError
from tidegate.observability.performance import RunMeter
from tidegate.state import StateStore, default_state_url

if TYPE_CHECKING:
    from tidegate.events import EventBus, Listener
    from tidegate.spec import PipelineSpec

__all__ = ["observers", "spec_hash", "state_url"]

_log = structlog.get_logger(__name__)


def state_url(spec: PipelineSpec) -> str:
    """The state store's URL: the spec's, else SQLite beside the pipeline."""
    url = spec.observability.state.url
    return url.get_secret_value() if url is not None else default_state_url(spec.base_dir)


def spec_hash(spec: PipelineSpec) -> str:
    """SHA-256 of the validated spec, secrets masked: which configuration a run used."""
    document = spec.model_dump_json(exclude={"file", "base_dir"})
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def observers(spec: PipelineSpec, *, bus: EventBus, profile: str | None) -> list[Listener]:
    """The listeners the spec's observability section asks for, meter first."""
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
    return found
