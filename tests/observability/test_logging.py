"""Run events become structured log lines that never carry a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import structlog
from pydantic import SecretStr

from tidegate.app.logs import configure_logging
from tidegate.core import RunContext, Runner
from tidegate.errors import DataError
from tidegate.events import EventBus
from tidegate.observability.logging import REDACTED, LoggingListener, SecretRedactor
from tidegate.testing import FlakySource, MemoryDestination, MemorySource


@pytest.fixture(autouse=True)
def _reset_structlog() -> object:
    yield
    structlog.reset_defaults()


def _run(source: MemorySource) -> None:
    bus = EventBus()
    bus.subscribe(LoggingListener())
    Runner(
        source=source,
        steps=[],
        destination=MemoryDestination(),
        context=RunContext(run_id="run-42", pipeline="orders", bus=bus, base_dir=Path.cwd()),
    ).run()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_json_lines_carry_run_id_pipeline_and_batch(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", "json", SecretRedactor())
    batch = pa.record_batch({"a": [1, 2]})
    _run(MemorySource([batch, batch]))

    lines = _lines(capsys)
    names = [line["event"] for line in lines]
    assert names[0] == "run_started"
    assert names[-1] == "run_finished"
    assert names.count("batch_written") == 2
    assert all(line["run_id"] == "run-42" and line["pipeline"] == "orders" for line in lines)
    written = [line for line in lines if line["event"] == "batch_written"]
    assert [line["batch"] for line in written] == [1, 2]
    assert lines[-1]["rows_written"] == 4
    assert lines[-1]["level"] == "info"


def test_level_filters_detail(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json", SecretRedactor())
    _run(MemorySource([pa.record_batch({"a": [1]})]))
    names = [line["event"] for line in _lines(capsys)]
    assert names == ["run_started", "run_finished"]


def test_failed_run_logs_error_with_secret_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json", SecretRedactor(["hunter2-password"]))
    error = DataError("login as admin:hunter2-password refused", location="db")
    _run(FlakySource([pa.record_batch({"a": [1]})], fail_after=0, error=error))

    text = capsys.readouterr().err
    assert "hunter2-password" not in text
    failed = [json.loads(line) for line in text.splitlines() if "run_failed" in line]
    assert len(failed) == 1
    assert failed[0]["level"] == "error"
    assert REDACTED in failed[0]["error"]
    assert failed[0]["error_kind"] == "data"


def test_redactor_masks_nested_values_and_secretstr() -> None:
    redactor = SecretRedactor(["s3cr3t-token"])
    out = redactor(
        None,
        "info",
        {
            "event": "x",
            "token": SecretStr("anything"),
            "nested": {"url": "https://u:s3cr3t-token@host", "items": ["s3cr3t-token"]},
        },
    )
    assert out["token"] == REDACTED
    assert out["nested"] == {"url": f"https://u:{REDACTED}@host", "items": [REDACTED]}
