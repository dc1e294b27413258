"""The ``audit:`` section: the hash-chained audit trail every run writes (docs/audit.md).

Audit is on unless switched off: a compliance trail that has to be turned on is missing the
day it is needed. Records go to the state store; ``key`` makes their hashes HMAC-SHA-256, so
whoever can write the store cannot recompute them; ``head_key`` signs the chain head each run
anchors in ``head_file``, outside the store. Keys are checked here (base64 of at least 32
bytes, two different keys) so a bad one stops the pipeline at load, named, never shown.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tidegate.spec.settings import Secret  # noqa: TC001 - needed at runtime by pydantic

__all__ = ["DEFAULT_HEAD_FILE", "MIN_AUDIT_KEY_BYTES", "AuditSpec"]

MIN_AUDIT_KEY_BYTES = 32
"""HMAC-SHA-256 keys shorter than its output give away strength for nothing."""

DEFAULT_HEAD_FILE = ".tidegate/audit-heads.jsonl"
"""Where signed heads go when ``head_key`` is set and ``head_file`` is not."""

_HOW = "make one with `tidegate keys generate` and store it as env:NAME or file:PATH"


class AuditSpec(BaseModel):
    """Whether runs are audited, the chain key, and where signed chain heads are anchored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description="Write the audit trail (run, inputs, column decisions, quality, rows "
        "written) to the state store; a run whose record cannot be written fails.",
    )
    key: Secret | None = Field(
        default=None,
        description="Chain key (env:NAME or file:PATH, base64 of at least 32 bytes; `tidegate "
        "keys generate`): record hashes become HMAC-SHA-256, which nobody without it can "
        "recompute. Keep it out of the state store.",
    )
    head_key: Secret | None = Field(
        default=None,
        description="Head key (like key, and different from it): signs the chain head each run "
        "appends to head_file. Never kept in the state store.",
    )
    head_file: str | None = Field(
        default=None,
        description="Append-only file of signed chain heads, relative to the pipeline's folder; "
        f"default {DEFAULT_HEAD_FILE} when head_key is set.",
    )

    @field_validator("key", "head_key")
    @classmethod
    def _key_material(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        name = info.field_name or "key"
        try:
            material = base64.b64decode(value.get_secret_value().strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"audit {name} is not valid base64; {_HOW}") from None
        if len(material) < MIN_AUDIT_KEY_BYTES:
            raise ValueError(
                f"audit {name} decodes to {len(material)} bytes, at least "
                f"{MIN_AUDIT_KEY_BYTES} are needed; {_HOW}"
            )
        return value

    @model_validator(mode="after")
    def _separate_keys(self) -> AuditSpec:
        if self.head_file is not None and self.head_key is None:
            raise ValueError(
                "audit head_file is set but head_key is not: heads are anchored signed; "
                f"add head_key ({_HOW})"
            )
        if (
            self.key is not None
            and self.head_key is not None
            and hmac.compare_digest(
                _material(self.key.get_secret_value()), _material(self.head_key.get_secret_value())
            )
        ):
            raise ValueError(
                "audit head_key is the same key as audit key: one stolen key would forge both "
                f"the chain and its anchors; give head_key a key of its own ({_HOW})"
            )
        return self


def _material(text: str) -> bytes:
    return base64.b64decode(text.strip(), validate=True)
