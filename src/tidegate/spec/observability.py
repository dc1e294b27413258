"""The ``observability:`` section: run history, regression baseline, metrics, tracing, energy.

Usually set once for a project in ``tidegate.yaml`` (merged under every pipeline). Everything
here observes a run; none of it may fail or slow one: exporters have timeouts, and a backend
that is down is logged once, counted and retried in the background.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - pydantic resolves annotations at runtime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tidegate.spec.alerting import AlertsSpec  # noqa: TC001 - needed at runtime by pydantic
from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = [
    "AzureMonitorSpec",
    "BaselineSpec",
    "EnergySpec",
    "ObservabilitySpec",
    "OpenTelemetrySpec",
    "OtlpSpec",
    "PrometheusSpec",
    "StateSpec",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class StateSpec(BaseModel):
    """Where run history is kept."""

    model_config = _FROZEN

    enabled: bool = Field(default=True, description="Record runs in the state store.")
    url: Secret | None = Field(
        default=None,
        description="SQLAlchemy URL of the state store (env:NAME or file:PATH for one holding a "
        "password); default: SQLite at .tidegate/state.db beside the pipeline.",
    )


class BaselineSpec(BaseModel):
    """How a run is compared with the pipeline's recent successful runs."""

    model_config = _FROZEN

    runs: int = Field(default=10, ge=2, description="Successful runs forming the baseline.")
    min_runs: int = Field(
        default=5, ge=2, description="Fewest earlier runs before a regression can be flagged."
    )
    sigma: float = Field(
        default=2.0, gt=0, description="Standard deviations from the baseline mean that flag it."
    )


class PrometheusSpec(BaseModel):
    """Prometheus exposition for batch jobs: a Pushgateway and/or a node-exporter textfile."""

    model_config = _FROZEN

    pushgateway: str | None = Field(
        default=None, description="Pushgateway URL, e.g. http://pushgateway:9091."
    )
    textfile_dir: Path | None = Field(
        default=None,
        description="node-exporter textfile collector folder; <job>_<pipeline>.prom is written "
        "atomically at the end of each run.",
    )
    job: str = Field(default="tidegate", description="Job label of pushed metrics.")
    timeout_seconds: float = Field(default=2.0, gt=0, description="Push timeout.")


class OtlpSpec(BaseModel):
    """An OTLP exporter (OpenTelemetry collector, Grafana Agent, Jaeger, ...)."""

    model_config = _FROZEN

    endpoint: str = Field(description="Collector endpoint, e.g. http://127.0.0.1:4318.")
    protocol: Literal["http/protobuf", "grpc"] = Field(
        default="http/protobuf", description="OTLP transport."
    )
    headers: dict[str, Secret] = Field(
        default_factory=dict, description="Headers sent with each export (auth tokens: secrets)."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Export timeout.")


class AzureMonitorSpec(BaseModel):
    """Azure Monitor (Application Insights) through the OpenTelemetry exporter."""

    model_config = _FROZEN

    connection_string: Secret = Field(
        description="Application Insights connection string (env:NAME or file:PATH)."
    )
    timeout_seconds: float = Field(default=5.0, gt=0, description="Export timeout.")


class OpenTelemetrySpec(BaseModel):
    """Traces (run -> step -> batch spans), metrics and trace ids in log lines."""

    model_config = _FROZEN

    service_name: str = Field(default="tidegate", description="service.name resource attribute.")
    traces: bool = Field(default=True, description="Export spans.")
    metrics: bool = Field(default=True, description="Export metrics.")
    otlp: OtlpSpec | None = Field(default=None, description="Export over OTLP.")
    azure_monitor: AzureMonitorSpec | None = Field(
        default=None, description="Export to Azure Monitor."
    )


class EnergySpec(BaseModel):
    """The machine power model and the grid that turn CPU time into energy and emissions."""

    model_config = _FROZEN

    country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 country of the machine's grid (e.g. DE); default: the "
        "world average carbon intensity.",
    )
    watts_per_core: float | None = Field(
        default=None, gt=0, description="CPU power per busy core in watts (default in the model)."
    )
    carbon_intensity: float | None = Field(
        default=None,
        gt=0,
        description="Grid carbon intensity in gCO2e/kWh, overriding the country's figure.",
    )


class ObservabilitySpec(BaseModel):
    """Run history, baseline, Prometheus, OpenTelemetry and energy settings."""

    model_config = _FROZEN

    state: StateSpec = Field(default_factory=StateSpec, description="The run history store.")
    baseline: BaselineSpec = Field(
        default_factory=BaselineSpec, description="Regression detection against recent runs."
    )
    prometheus: PrometheusSpec | None = Field(default=None, description="Prometheus export.")
    opentelemetry: OpenTelemetrySpec | None = Field(
        default=None, description="OpenTelemetry export (OTLP, Azure Monitor)."
    )
    energy: EnergySpec = Field(
        default_factory=EnergySpec, description="Energy and carbon estimate per run."
    )
    alerts: AlertsSpec | None = Field(
        default=None, description="Email, webhook, Teams and Slack alerts on failures and misses."
    )
