"""What the CLI prints itself passes through the same redactor as the log lines."""

from __future__ import annotations

import structlog

from tidegate.app.logs import configure_logging, redact
from tidegate.observability.logging import REDACTED, SecretRedactor


def test_redact_masks_the_configured_secrets_and_forgets_them_after() -> None:
    try:
        configure_logging("warning", "json", SecretRedactor(["s3cr3t-value"]))
        assert redact("login failed for admin:s3cr3t-value@db") == (
            f"login failed for admin:{REDACTED}@db"
        )
        configure_logging("warning", "json")
        assert redact("s3cr3t-value") == "s3cr3t-value"
    finally:
        structlog.reset_defaults()
