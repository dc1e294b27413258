"""The ``lineage:`` section: where a run's OpenLineage events go.

Every run emits START, throttled RUNNING, and COMPLETE, FAIL or ABORT events carrying the
source and destination datasets, their schemas, the column lineage and the quality figures
(docs/lineage.md). ``transports`` names each destination of the events: a JSONL file, a
Marquez-compatible HTTP endpoint (Marquez, Microsoft Purview's OpenLineage endpoint behind an
Azure Function, DataHub...) or the console. With no transport listed the events go to
``.tidegate/lineage.jsonl`` beside the pipeline.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = [
    "ConsoleTransportSpec",
    "FileTransportSpec",
    "HttpTransportSpec",
    "LineageSpec",
    "TransportSpec",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class FileTransportSpec(BaseModel):
    """Appends each event as one JSON line to a file."""

    model_config = _FROZEN

    type: Literal["file"] = Field(description="file: one JSON event per line.")
    path: str = Field(
        default=".tidegate/lineage.jsonl",
        description="File the events are appended to, relative to the pipeline file's folder.",
    )


class HttpTransportSpec(BaseModel):
    """POSTs each event to an OpenLineage HTTP endpoint (the Marquez API)."""

    model_config = _FROZEN

    type: Literal["http"] = Field(description="http: POST to an OpenLineage endpoint.")
    url: str = Field(description="Base URL of the receiver, e.g. http://localhost:5000.")
    endpoint: str = Field(
        default="api/v1/lineage", description="Path of the lineage API below the URL."
    )
    api_key: Secret | None = Field(
        default=None,
        description="Sent as a bearer token (env:NAME, file:PATH); none when unset.",
    )
    timeout_seconds: float = Field(
        default=5.0, gt=0, description="Seconds to wait for each POST before giving up."
    )
    retries: int = Field(
        default=2, ge=0, le=10, description="Retries of a POST refused with a 5xx or cut off."
    )
    verify: bool = Field(default=True, description="Verify the server's TLS certificate.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(
                f"{url!r} is not an http(s) URL with a host; write one like http://marquez:5000"
            )
        if parts.username or parts.password:
            raise ValueError("put credentials in api_key (env:NAME or file:PATH), not in the URL")
        return url


class ConsoleTransportSpec(BaseModel):
    """Writes each event as one JSON line on standard error."""

    model_config = _FROZEN

    type: Literal["console"] = Field(description="console: one JSON event per line on stderr.")


TransportSpec = Annotated[
    FileTransportSpec | HttpTransportSpec | ConsoleTransportSpec,
    Field(discriminator="type"),
]
"""One destination of the lineage events, chosen by its ``type``."""


class LineageSpec(BaseModel):
    """OpenLineage events of every run: where they go and how often a run reports progress."""

    model_config = _FROZEN

    namespace: str = Field(
        default="tidegate",
        min_length=1,
        description="OpenLineage job namespace: the pipelines of one team or environment.",
    )
    transports: dict[str, TransportSpec] = Field(
        default_factory=dict,
        description="Where the events go, by name; none listed: .tidegate/lineage.jsonl.",
    )
    running_every_seconds: float = Field(
        default=60.0,
        ge=0,
        description="At most one RUNNING event per this many seconds while batches commit; "
        "0 sends none.",
    )
