"""The ``observability.alerts`` section: when to tell whom, through which channels.

Channels are usually shared by every pipeline in ``tidegate.yaml``; rules say which events
alert (a failed run by error kind, a quality breach, rejects above a ratio, an SLA miss, an
open circuit breaker) and a recovery sends a "resolved". The pipeline's ``owner``,
``criticality`` (tier 1 to 3) and ``consumers`` say who is affected; ``routing`` sends each tier
to its channels.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tidegate.spec.quality import parse_duration
from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = [
    "AlertRuleSpec",
    "AlertsSpec",
    "ChannelSpec",
    "ConsoleChannelSpec",
    "EmailChannelSpec",
    "RuleEvent",
    "SlackChannelSpec",
    "TeamsChannelSpec",
    "WebhookChannelSpec",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)

RuleEvent = Literal[
    "run_failed",
    "quality_breach",
    "score_drop",
    "reject_ratio",
    "sla_duration",
    "sla_age",
    "breaker_open",
]
AlertSeverity = Literal["critical", "warning", "info"]


class EmailChannelSpec(BaseModel):
    """SMTP email: STARTTLS (port 587), implicit TLS (465) or none (a local relay)."""

    model_config = _FROZEN

    type: Literal["email"] = "email"
    host: str = Field(description="SMTP server host.")
    port: int = Field(default=587, gt=0, lt=65536, description="SMTP port.")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls, tls (implicit) or none."
    )
    username: str | None = Field(default=None, description="Login, when the server wants one.")
    password: Secret | None = Field(default=None, description="Password (env:NAME, file:PATH).")
    sender: str = Field(description="From address.")
    to: tuple[str, ...] = Field(min_length=1, description="Recipients.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Connect and send timeout.")


class WebhookChannelSpec(BaseModel):
    """A generic JSON webhook, optionally signed with HMAC-SHA256."""

    model_config = _FROZEN

    type: Literal["webhook"] = "webhook"
    url: Secret = Field(description="Endpoint URL (a secret: URLs often carry tokens).")
    signing_secret: Secret | None = Field(
        default=None, description="Signs the body: X-Tidegate-Signature: sha256=<hex HMAC>."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Request timeout.")


class TeamsChannelSpec(BaseModel):
    """Microsoft Teams incoming webhook (or Workflows URL)."""

    model_config = _FROZEN

    type: Literal["teams"] = "teams"
    url: Secret = Field(description="Incoming webhook URL.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Request timeout.")


class SlackChannelSpec(BaseModel):
    """Slack incoming webhook."""

    model_config = _FROZEN

    type: Literal["slack"] = "slack"
    url: Secret = Field(description="Incoming webhook URL.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Request timeout.")


class ConsoleChannelSpec(BaseModel):
    """The terminal (stderr): for the demo and for trying rules out."""

    model_config = _FROZEN

    type: Literal["console"] = "console"


ChannelSpec = Annotated[
    EmailChannelSpec
    | WebhookChannelSpec
    | TeamsChannelSpec
    | SlackChannelSpec
    | ConsoleChannelSpec,
    Field(discriminator="type"),
]


class AlertRuleSpec(BaseModel):
    """One alert rule."""

    model_config = _FROZEN

    on: RuleEvent = Field(description="The event that alerts.")
    kinds: tuple[str, ...] | None = Field(
        default=None, description="run_failed: only these error kinds (default every kind)."
    )
    threshold: float | None = Field(
        default=None,
        description="reject_ratio: the share of rows; score_drop: points below the last run.",
    )
    severity: AlertSeverity | None = Field(
        default=None, description="Override the severity (default from the error kind / rule)."
    )
    channels: tuple[str, ...] | None = Field(
        default=None, description="Send to these channels (default: routing by criticality)."
    )


def _default_rules() -> tuple[AlertRuleSpec, ...]:
    return (
        AlertRuleSpec(on="run_failed"),
        AlertRuleSpec(on="reject_ratio"),
        AlertRuleSpec(on="breaker_open"),
        AlertRuleSpec(on="sla_duration"),
        AlertRuleSpec(on="sla_age"),
    )


class AlertsSpec(BaseModel):
    """Channels, rules, routing and noise control."""

    model_config = _FROZEN

    channels: dict[str, ChannelSpec] = Field(
        default_factory=dict, description="Named channels (usually in tidegate.yaml)."
    )
    rules: tuple[AlertRuleSpec, ...] = Field(
        default_factory=_default_rules,
        description="What alerts (default: failures, quality breaches, open breakers, SLA misses).",
    )
    routing: dict[int, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Criticality tier (1..3) -> channels; a tier left out goes to every channel.",
    )
    cooldown: str = Field(
        default="1h", description="The same alert is not sent again within this duration."
    )
    recovery: bool = Field(default=True, description="Send 'resolved' on the first success.")
    dashboard_url: str | None = Field(
        default=None, description="Base URL of the dashboard; alerts link to the run there."
    )

    @field_validator("cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value
