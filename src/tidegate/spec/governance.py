"""The ``governance:`` section of ``pipeline.yaml``: policy, hand-pinned levels and the keyring.

Governance classifies the columns of every run, applies the organization's policy (which PII
type is at which level, which action each level requires per environment profile) and stops a
run before loading when a column lacks its required action. This section says which policy
applies, pins levels by hand where detection cannot know better (a ``notes`` column that is
confidential by contract, a ``product_code`` that merely looks like an id), and holds the
keyring used by ``encrypt`` steps, the quarantine of protected columns and ``tidegate decrypt``.
"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - pydantic resolves annotations at runtime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = ["LEVELS", "GovernanceSpec", "LevelName"]

LevelName = Literal["public", "internal", "confidential", "restricted"]
LEVELS: tuple[LevelName, ...] = ("public", "internal", "confidential", "restricted")
"""Classification levels, from least to most protected."""


class GovernanceSpec(BaseModel):
    """Which policy governs the pipeline, which levels are pinned, and the keys it may use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: Path | None = Field(
        default=None,
        description="Policy file (relative to the pipeline's folder); default: the file named "
        "by TIDEGATE_POLICY, else the policy shipped with Tidegate.",
    )
    classification: dict[str, LevelName] = Field(
        default_factory=dict,
        description="Column -> level, overriding detection (public, internal, confidential, "
        "restricted).",
    )
    keys: dict[str, dict[int, Secret]] | None = Field(
        default=None,
        description="Keyring: key id -> version -> key (env:NAME or file:PATH, base64 of 32 "
        "bytes; `tidegate keys generate`). The newest version encrypts, every version decrypts.",
    )
    key_id: str | None = Field(
        default=None, description="Key id that encrypts when the keyring holds several."
    )
    sample_rows: int = Field(
        default=10_000, gt=0, description="Rows sampled from the first batch to classify columns."
    )

    @model_validator(mode="after")
    def _key_id_in_keyring(self) -> GovernanceSpec:
        if self.key_id is not None and (self.keys is None or self.key_id not in self.keys):
            known = ", ".join(sorted(self.keys or {})) or "none"
            raise ValueError(f"key_id {self.key_id!r} is not in keys (configured: {known})")
        return self
