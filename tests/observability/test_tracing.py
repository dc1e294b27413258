"""``OpenTelemetryListener`` against real backends on loopback, over real pipeline runs."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import structlog
from structlog.testing import LogCapture, capture_logs

from tests.observability.receivers import (
    AzureIngestion,
    OtlpGrpcReceiver,
    OtlpHttpReceiver,
    attributes,
    closed_port,
    hanging_listener,
    metrics,
    serve,
    spans,
)
from tidegate.app.bootstrap import build, load
from tidegate.observability.logging import LoggingListener
from tidegate.observability.tracing import OpenTelemetryListener, trace_ids
from tidegate.spec.observability import AzureMonitorSpec, OpenTelemetrySpec, OtlpSpec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tidegate.core import RunResult
    from tidegate.events import Listener

PIPELINE = """\
name: orders
batch_rows: 0
source: {type: csv, path: orders.csv, block_size: 4096}
steps:
  - type: derive
    name: doubled
    columns: {twice: "amount * 2"}
quality:
  columns:
    amount: [{between: [0, 1000]}]
destination: {type: duckdb, path: out.duckdb, table: orders, mode: append, commit_min_rows: 1}
"""

ROWS = 2000
HEADER_SECRET = "hdr-sentinel-5f1e9c"  # noqa: S105 - a sentinel, not a credential
DB_SECRET = "pw-sentinel-8a2d71"  # noqa: S105
MASK_SECRET = "mask-sentinel-c3b604"  # noqa: S105
DATA_VALUE = "Zanzibar-4711"


def _write(folder: Path, pipeline: str = PIPELINE) -> Path:
    lines = ["id,amount,name"] + [f"{i},{i % 1000},n{i}" for i in range(ROWS)]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / "pipeline.yaml"
    path.write_text(pipeline, encoding="utf-8")
    return path


def _run(path: Path, *listeners: Listener) -> RunResult:
    pipeline = build(load(path))
    pipeline.listeners = list(listeners)
    return pipeline.run()


def _traced(path: Path, spec: OpenTelemetrySpec) -> tuple[RunResult, OpenTelemetryListener]:
    listener = OpenTelemetryListener(spec)
    try:
        return _run(path, listener), listener
    finally:
        listener.shutdown()


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    """Start from structlog's defaults: a test that ran a pipeline before may have left its
    level filter (``run_pipeline`` configures logging), which would hide the lines asserted on."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def otlp_http() -> Iterator[OtlpHttpReceiver]:
    server = OtlpHttpReceiver()
    yield from serve(server)  # type: ignore[misc]


@pytest.fixture
def azure() -> Iterator[AzureIngestion]:
    server = AzureIngestion()
    yield from serve(server)  # type: ignore[misc]


@pytest.fixture
def otlp_grpc() -> Iterator[OtlpGrpcReceiver]:
    receiver = OtlpGrpcReceiver()
    receiver.server.start()
    yield receiver
    receiver.server.stop(grace=None)


def test_otlp_http_gets_run_step_batch_spans_and_the_metrics(
    tmp_path: Path, otlp_http: OtlpHttpReceiver
) -> None:
    spec = OpenTelemetrySpec(
        service_name="etl", otlp=OtlpSpec(endpoint=otlp_http.url, timeout_seconds=5)
    )
    result, listener = _traced(_write(tmp_path), spec)

    assert result.ok, result.error
    assert result.batches > 1
    assert listener.export_failures == {}
    requests = otlp_http.traces()
    resource = {
        a.key: a.value.string_value for a in requests[0].resource_spans[0].resource.attributes
    }
    assert resource["service.name"] == "etl"
    assert "tidegate.version" in resource
    found = spans(requests)
    assert len({span.trace_id for span in found}) == 1
    (run,) = [span for span in found if span.name == "tidegate.run"]
    assert run.parent_span_id == b""
    assert attributes(run) | {
        "tidegate.pipeline": "orders",
        "tidegate.run_id": result.run_id,
        "tidegate.status": "succeeded",
        "tidegate.rows_read": ROWS,
        "tidegate.rows_written": ROWS,
        "tidegate.rows_rejected": 0,
        "tidegate.batches": result.batches,
    } == attributes(run)
    middle = [span for span in found if span.parent_span_id == run.span_id]
    by_step = {
        (span.name, attributes(span).get("tidegate.step")): span
        for span in middle
        if span.name != "tidegate.preflight"
    }
    assert set(by_step) == {
        ("tidegate.read", None),
        ("tidegate.step", "doubled"),
        ("tidegate.step", "quality"),
        ("tidegate.write", None),
    }
    step = by_step["tidegate.step", "doubled"]
    batches = [span for span in found if span.parent_span_id == step.span_id]
    assert [span.name for span in batches] == ["tidegate.batch"] * result.batches
    assert sorted(attributes(span)["tidegate.batch"] for span in batches) == list(
        range(1, result.batches + 1)
    )
    assert sum(attributes(span)["tidegate.rows_out"] for span in batches) == ROWS
    assert step.start_time_unix_nano == min(span.start_time_unix_nano for span in batches)
    assert step.end_time_unix_nano == max(span.end_time_unix_nano for span in batches)
    assert run.start_time_unix_nano <= step.start_time_unix_nano
    assert step.end_time_unix_nano <= run.end_time_unix_nano
    write = by_step["tidegate.write", None]
    operations = [
        attributes(span)["tidegate.operation"]
        for span in found
        if span.parent_span_id == write.span_id
    ]
    assert sorted(set(operations)) == ["commit", "write"]

    exported = {metric.name: metric for metric in metrics(otlp_http.metrics())}
    assert {
        "tidegate.runs",
        "tidegate.rows",
        "tidegate.batches",
        "tidegate.bytes.read",
        "tidegate.run.duration",
        "tidegate.batch.latency",
        "tidegate.step.duration",
        "tidegate.source.wait",
        "tidegate.quality.score",
    } <= set(exported)
    read = [
        point.as_int
        for point in exported["tidegate.rows"].sum.data_points
        if {a.key: a.value.string_value for a in point.attributes}.get("tidegate.kind") == "read"
    ]
    assert read == [ROWS]
    assert exported["tidegate.batch.latency"].histogram.data_points[0].count == result.batches
    assert exported["tidegate.quality.score"].gauge.data_points[0].as_double == 100.0


def test_a_failed_run_carries_the_error_kind_never_the_message(
    tmp_path: Path, otlp_http: OtlpHttpReceiver
) -> None:
    failing = PIPELINE.replace('{twice: "amount * 2"}', "{n: 'CAST(name AS INTEGER)'}")
    path = _write(tmp_path, failing)
    path.with_name("orders.csv").write_text(f"id,amount,name\n1,2,{DATA_VALUE}\n", "utf-8")
    spec = OpenTelemetrySpec(otlp=OtlpSpec(endpoint=otlp_http.url))
    result, _ = _traced(path, spec)

    assert not result.ok
    assert result.error is not None
    assert DATA_VALUE in str(result.error)  # the message quotes the value: it must stay home
    (run,) = [span for span in spans(otlp_http.traces()) if span.name == "tidegate.run"]
    kind = str(result.error.kind)
    assert attributes(run)["error.type"] == kind
    assert attributes(run)["tidegate.status"] == "failed"
    assert run.status.code == run.status.STATUS_CODE_ERROR
    assert run.status.message == f"run failed: {kind} error"
    assert DATA_VALUE.encode() not in b"".join(body for _, body in otlp_http.received.bodies)


def test_otlp_grpc_gets_the_spans_metrics_and_headers(
    tmp_path: Path, otlp_grpc: OtlpGrpcReceiver
) -> None:
    spec = OpenTelemetrySpec(
        otlp=OtlpSpec(
            endpoint=otlp_grpc.url,
            protocol="grpc",
            headers={"X-Tenant": HEADER_SECRET},  # type: ignore[dict-item]
            timeout_seconds=5,
        )
    )
    result, listener = _traced(_write(tmp_path), spec)

    assert result.ok, result.error
    assert listener.export_failures == {}
    names = {span.name for span in spans(otlp_grpc.traces)}
    assert names >= {"tidegate.run", "tidegate.read", "tidegate.step", "tidegate.write"}
    assert {"tidegate.rows", "tidegate.run.duration"} <= {
        m.name for m in metrics(otlp_grpc.metrics)
    }
    assert all(headers["x-tenant"] == HEADER_SECRET for headers in otlp_grpc.received.headers)


def test_azure_monitor_gets_envelopes_with_our_spans_and_metrics(
    tmp_path: Path, azure: AzureIngestion, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no SDK usage statistics or remote configuration: those would go to Microsoft
    for name in (
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL",
        "APPLICATIONINSIGHTS_SDKSTATS_DISABLED",
        "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED",
    ):
        monkeypatch.setenv(name, "true")
    key = "00000000-0000-0000-0000-000000000000"
    connection = f"InstrumentationKey={key};IngestionEndpoint={azure.url}/"
    spec = OpenTelemetrySpec(
        azure_monitor=AzureMonitorSpec(connection_string=connection, timeout_seconds=5)  # type: ignore[arg-type]
    )
    result, listener = _traced(_write(tmp_path), spec)

    assert result.ok, result.error
    assert listener.export_failures == {}
    assert {path for path, _ in azure.received.bodies} == {"/v2.1/track"}
    envelopes = azure.envelopes()
    assert all(envelope["iKey"] == key for envelope in envelopes)
    spans_sent = [e["data"]["baseData"] for e in envelopes if "RemoteDependency" in e["name"]]
    by_name = {data["name"]: data for data in spans_sent}
    assert {"tidegate.run", "tidegate.read", "tidegate.step", "tidegate.write"} <= set(by_name)
    properties = by_name["tidegate.run"]["properties"]
    assert properties["tidegate.run_id"] == result.run_id
    assert properties["tidegate.pipeline"] == "orders"
    assert properties["tidegate.rows_read"] == str(ROWS)
    metric_names = {
        metric["name"]
        for e in envelopes
        if e["name"].endswith("Metric")
        for metric in e["data"]["baseData"]["metrics"]
    }
    assert {"tidegate.rows", "tidegate.run.duration", "tidegate.batch.latency"} <= metric_names


@pytest.mark.parametrize("backend", ["closed", "hanging"])
def test_a_down_backend_costs_at_most_its_timeout_and_is_logged_once(
    tmp_path: Path, backend: str
) -> None:
    path = _write(tmp_path)
    _run(path)  # warm caches and imports, so the timing below is the listener's
    began = time.perf_counter()
    assert _run(path).ok
    baseline = time.perf_counter() - began
    hanging = hanging_listener()
    port = hanging.getsockname()[1] if backend == "hanging" else closed_port()
    timeout = 1.0
    spec = OpenTelemetrySpec(
        otlp=OtlpSpec(endpoint=f"http://user:pw@127.0.0.1:{port}", timeout_seconds=timeout)
    )
    listener = OpenTelemetryListener(spec)
    try:
        with capture_logs() as logs:
            began = time.perf_counter()
            first = _run(path, listener)
            traced = time.perf_counter() - began
            second = _run(path, listener)
            began = time.perf_counter()
            listener.shutdown()
            stopping = time.perf_counter() - began
    finally:
        hanging.close()

    assert first.ok
    assert second.ok
    assert traced - baseline <= timeout + 0.5, (traced, baseline)
    assert stopping <= timeout + 0.5
    assert sum(listener.export_failures.values()) >= 1
    warnings = [line for line in logs if line["event"] == "telemetry_export_failed"]
    assert len(warnings) == 1
    assert warnings[0]["endpoint"] == f"http://127.0.0.1:{port}"
    assert "pw" not in str(warnings[0])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"tg_otel_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(
        "postgresql://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres:{DB_SECRET}@127.0.0.1:5432/{name}"  # trust: password unused
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_no_secret_reaches_an_exported_byte(
    tmp_path: Path, otlp_http: OtlpHttpReceiver, postgres_url: str
) -> None:
    pipeline = f"""\
name: secret_orders
batch_rows: 0
source: {{type: csv, path: orders.csv, block_size: 4096}}
steps:
  - type: mask
    key: {MASK_SECRET}
    columns:
      name: {{strategy: hash}}
destination: {{type: postgres, url: "{postgres_url}", table: orders}}
"""
    spec = OpenTelemetrySpec(
        otlp=OtlpSpec(endpoint=otlp_http.url, headers={"Authorization": f"Bearer {HEADER_SECRET}"})  # type: ignore[dict-item]
    )
    with capture_logs() as logs:
        result, _ = _traced(_write(tmp_path, pipeline), spec)

    assert result.ok, result.error
    bodies = b"".join(body for _, body in otlp_http.received.bodies)
    assert spans(otlp_http.traces())
    for secret in (HEADER_SECRET, DB_SECRET, MASK_SECRET):
        assert secret.encode() not in bodies
        assert secret not in str(logs)
    assert all(h["authorization"] == f"Bearer {HEADER_SECRET}" for h in otlp_http.received.headers)


def test_log_lines_of_a_run_carry_its_trace_id(tmp_path: Path, otlp_http: OtlpHttpReceiver) -> None:
    capture = LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, trace_ids, capture],
        cache_logger_on_first_use=False,
    )
    listener = OpenTelemetryListener(OpenTelemetrySpec(otlp=OtlpSpec(endpoint=otlp_http.url)))
    try:
        result = _run(_write(tmp_path), listener, LoggingListener())
        structlog.get_logger("test").info("after_the_run")
    finally:
        listener.shutdown()

    assert result.ok, result.error
    (run,) = [span for span in spans(otlp_http.traces()) if span.name == "tidegate.run"]
    lines = capture.entries
    during = [line for line in lines if line.get("run_id") == result.run_id]
    assert {"run_started", "batch_read", "run_finished"} <= {line["event"] for line in during}
    assert {line["trace_id"] for line in during} == {run.trace_id.hex()}
    after = [line for line in lines if line["event"] == "after_the_run"]
    assert "trace_id" not in after[0]
