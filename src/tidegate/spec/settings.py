"""Base model for plugin settings and the ``Secret`` field type.

Every plugin owns a ``Settings`` model derived from ``PluginSettings``: frozen, unknown keys
refused, one description per field (the configuration reference is generated from them).
A ``Secret`` field accepts a literal, ``env:NAME`` or ``file:PATH`` and holds a ``SecretStr``, so
its value never reaches a log line, an error message or an event.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationInfo

__all__ = ["PluginSettings", "Secret", "resolve_secret_ref"]


def resolve_secret_ref(value: Any, base_dir: Path | None = None) -> Any:
    """Turn ``env:NAME`` / ``file:PATH`` into the secret's value; leave anything else as is.

    A relative ``file:`` path resolves against ``base_dir`` (the pipeline's folder) when given.
    The error messages name the variable or file, never a value.
    """
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        return value
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise ValueError(
                f"environment variable {name!r} is not set; export it or use file:PATH"
            )
        return os.environ[name]
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(
                f"secret file {str(path)!r} cannot be read ({exc.strerror}); check the path"
            ) from None
    return value


def _resolve_secret_field(value: Any, info: ValidationInfo) -> Any:
    # The spec loader passes the pipeline's folder as validation context, so relative
    # ``file:`` secrets resolve like every other path in the settings.
    context = info.context if isinstance(info.context, dict) else {}
    base_dir = context.get("base_dir")
    return resolve_secret_ref(value, base_dir if isinstance(base_dir, Path) else None)


Secret = Annotated[SecretStr, BeforeValidator(_resolve_secret_field)]
"""A secret setting: a literal, ``env:NAME`` or ``file:PATH``; shown as ``**********``."""


class PluginSettings(BaseModel):
    """Base of every plugin's settings: frozen, and unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
