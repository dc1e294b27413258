"""Prometheus export of real runs: a Pushgateway-compatible receiver on loopback, the textfile,
a scraped ``/metrics`` endpoint, and backends that are down or hang without slowing a run."""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from tidegate.app.bootstrap import build, load
from tidegate.events import RunRegressed
from tidegate.observability.prometheus import (
    CONTENT_TYPE,
    LATENCY_BUCKETS,
    PrometheusListener,
    RunMetrics,
    render_metrics,
)
from tidegate.spec.observability import PrometheusSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from prometheus_client.metrics_core import Metric

    from tidegate.core import RunResult

MASK_KEY = "sentinel-mask-key-4b1d"
GATEWAY_PASSWORD = "sentinel-gateway-pw-9f3e"  # noqa: S105 - a sentinel the test looks for
SECRETS = (MASK_KEY, GATEWAY_PASSWORD)

CSV = """id,email,age
1,ann@example.com,34
2,not-an-email,41
3,bob@example.org,29
4,cy@example.net,52
5,dee@example.com,47
"""

PIPELINE = """\
name: people
source:
  type: csv
  path: {csv}
steps:
  - type: mask
    name: hide
    key: env:TIDEGATE_TEST_METRICS_KEY
    columns:
      email: {{strategy: hash}}
destination:
  type: duckdb
  path: out.duckdb
  table: people
quality:
  max_reject_ratio: 0.9
  columns:
    email:
      - regex: '^[^@]+@[^@]+\\.[a-z]+$'
"""


@dataclass(frozen=True)
class Request:
    """One request the receiver got."""

    method: str
    path: str
    body: bytes
    authorization: str | None


class Receiver:
    """A Pushgateway-compatible HTTP receiver on loopback that records what it is sent."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Request] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = Request(self.command, self.path, body, self.headers.get("Authorization"))
                with receiver.arrived:
                    receiver.requests.append(request)
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST = _record  # noqa: N815 - http.server dispatches on these names

            def log_message(self, format: str, *args: object) -> None:
                """Keep the test output clean."""

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The requests once ``count`` have arrived; fails the test after ``timeout``."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A recording receiver, closed after the test."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _unfiltered_logs() -> Iterator[None]:
    """structlog's defaults for each test: an earlier test that ran a pipeline through
    ``run_pipeline`` may have left a level filter dropping the warnings these tests read
    (``capture_logs`` replaces the processors only)."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def _mask_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDEGATE_TEST_METRICS_KEY", MASK_KEY)


def _pipeline_file(tmp_path: Path, csv: str = "people.csv") -> Path:
    (tmp_path / "people.csv").write_text(CSV, encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(csv=csv), encoding="utf-8")
    return path


def _run(path: Path, *listeners: object) -> RunResult:
    """Load, build and run the pipeline file with the given listeners attached."""
    pipeline = build(load(path))
    pipeline.listeners.extend(listeners)  # type: ignore[arg-type]
    return pipeline.run()


def _families(body: bytes) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def _value(families: dict[str, Metric], name: str, **labels: str) -> float:
    """The one sample named ``name`` (``_total``, ``_count`` included) having ``labels``."""
    values = [
        s.value
        for family in families.values()
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(values) == 1, (name, labels, values)
    return values[0]


def _spec(**fields: object) -> PrometheusSpec:
    return PrometheusSpec.model_validate({"timeout_seconds": 2.0, **fields})


def _assert_run_metrics(families: dict[str, Metric], result: RunResult) -> None:
    """Names, types, labels and values of a successful run's metrics match its result."""
    expected_types = {
        "tidegate_rows": "counter",
        "tidegate_batches": "counter",
        "tidegate_bytes_read": "counter",
        "tidegate_step_seconds": "counter",
        "tidegate_batch_latency_seconds": "histogram",
        "tidegate_run_duration_seconds": "gauge",
        "tidegate_last_run_success": "gauge",
        "tidegate_last_run_timestamp_seconds": "gauge",
        "tidegate_last_success_timestamp_seconds": "gauge",
        "tidegate_quality_score": "gauge",
        "tidegate_export_failures": "counter",
    }
    assert {name: families[name].type for name in expected_types} == expected_types
    rows = {
        (s.labels["step"], s.labels["outcome"]): s.value for s in families["tidegate_rows"].samples
    }
    assert rows == {
        ("source", "read"): 5,
        ("source", "rejected"): 0,
        ("hide", "in"): 4,  # the rules run first, on the data as read
        ("hide", "out"): 4,
        ("hide", "rejected"): 0,
        ("quality", "in"): 5,
        ("quality", "out"): 4,
        ("quality", "rejected"): 1,
        ("destination", "written"): 4,
    }
    assert rows["source", "read"] == result.rows_read
    assert rows["destination", "written"] == result.rows_written
    assert rows["quality", "rejected"] == result.rows_rejected
    assert _value(families, "tidegate_batches_total", pipeline="people") == result.batches
    assert _value(families, "tidegate_bytes_read_total", pipeline="people") > 0
    steps = {s.labels["step"] for s in families["tidegate_step_seconds"].samples}
    assert steps == {"source", "hide", "quality", "destination"}
    latency = families["tidegate_batch_latency_seconds"]
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert _value(families, "tidegate_batch_latency_seconds_count") == result.batches
    assert _value(families, "tidegate_run_duration_seconds") == pytest.approx(result.seconds)
    assert _value(families, "tidegate_last_run_success") == 1
    finished = _value(families, "tidegate_last_run_timestamp_seconds")
    assert abs(finished - time.time()) < 60
    assert _value(families, "tidegate_last_success_timestamp_seconds") == finished
    assert 0 <= _value(families, "tidegate_quality_score") <= 100
    labels = {key for family in families.values() for s in family.samples for key in s.labels}
    assert labels <= {"pipeline", "step", "outcome", "exporter", "le", "metric"}


def test_a_run_is_pushed_to_the_pushgateway_with_credentials_kept_out_of_urls(
    tmp_path: Path, receiver: Receiver
) -> None:
    gateway = receiver.url.replace("://", f"://metrics:{GATEWAY_PASSWORD}@")
    listener = PrometheusListener(_spec(pushgateway=gateway), base_dir=tmp_path)
    with capture_logs() as logs:
        result = _run(_pipeline_file(tmp_path), listener)
    assert result.ok, result.error
    (pushed,) = receiver.wait_for(1)
    assert pushed.method == "PUT"
    assert pushed.path == "/metrics/job/tidegate/pipeline/people"
    token = base64.b64encode(f"metrics:{GATEWAY_PASSWORD}".encode()).decode()
    assert pushed.authorization == f"Basic {token}"
    families = _families(pushed.body)
    _assert_run_metrics(families, result)
    assert _value(families, "tidegate_export_failures_total", exporter="pushgateway") == 0
    for secret in SECRETS:
        assert secret.encode() not in pushed.body
        assert secret not in pushed.path
        assert secret not in repr(logs)
    assert listener.failures.total() == 0


def test_the_textfile_is_written_atomically_and_parses(tmp_path: Path) -> None:
    listener = PrometheusListener(_spec(textfile_dir="metrics"), base_dir=tmp_path)
    (tmp_path / "metrics").mkdir()
    result = _run(_pipeline_file(tmp_path), listener)
    assert result.ok, result.error
    assert [p.name for p in (tmp_path / "metrics").iterdir()] == ["tidegate_people.prom"]
    body = (tmp_path / "metrics" / "tidegate_people.prom").read_bytes()
    families = _families(body)
    _assert_run_metrics(families, result)
    assert _value(families, "tidegate_export_failures_total", exporter="textfile") == 0
    for secret in SECRETS:
        assert secret.encode() not in body


def test_a_failed_run_keeps_the_last_success_in_the_textfile_and_the_pushgateway(
    tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "metrics").mkdir()
    spec = _spec(pushgateway=receiver.url, textfile_dir="metrics")
    good = _pipeline_file(tmp_path)
    assert _run(good, PrometheusListener(spec, base_dir=tmp_path)).ok
    succeeded = _families(receiver.wait_for(1)[0].body)
    last_success = _value(succeeded, "tidegate_last_success_timestamp_seconds")

    # a new process (a new listener) whose run fails: the CSV is gone
    bad = _pipeline_file(tmp_path, csv="missing.csv")
    failed = _run(bad, PrometheusListener(spec, base_dir=tmp_path))
    assert not failed.ok
    pushed = receiver.wait_for(2)[1]
    assert pushed.method == "POST"  # replaces only the names it carries
    families = _families(pushed.body)
    assert "tidegate_last_success_timestamp_seconds" not in families
    assert "tidegate_quality_score" not in families
    assert _value(families, "tidegate_last_run_success") == 0
    assert _value(families, "tidegate_rows_total", step="destination", outcome="written") == 0
    textfile = _families((tmp_path / "metrics" / "tidegate_people.prom").read_bytes())
    assert _value(textfile, "tidegate_last_run_success") == 0
    assert _value(textfile, "tidegate_last_success_timestamp_seconds") == last_success
    assert _value(textfile, "tidegate_last_run_timestamp_seconds") > last_success


def _closed_port() -> tuple[str, Callable[[], None]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}", lambda: None


def _hanging_port() -> tuple[str, Callable[[], None]]:
    """A socket that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", sock.close


@pytest.mark.parametrize("backend", [_closed_port, _hanging_port], ids=["refused", "hanging"])
def test_a_backend_that_is_down_costs_a_run_at_most_its_timeout_and_warns_once(
    tmp_path: Path, backend: Callable[[], tuple[str, Callable[[], None]]]
) -> None:
    timeout = 0.5
    url, stop = backend()
    path = _pipeline_file(tmp_path)
    _run(path)  # warm up imports and caches, so the timed runs compare like with like
    began = time.perf_counter()
    assert _run(path).ok
    baseline = time.perf_counter() - began
    spec = _spec(pushgateway=url, timeout_seconds=timeout)
    listener = PrometheusListener(spec, base_dir=tmp_path, retry_delays=(60.0,))
    try:
        with capture_logs() as logs:
            for _ in range(2):
                began = time.perf_counter()
                result = _run(path, listener)
                elapsed = time.perf_counter() - began
                assert result.ok, result.error
                assert elapsed < baseline + timeout + 0.5, (elapsed, baseline)
            deadline = time.monotonic() + 5
            while listener.failures["people", "pushgateway"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            began = time.perf_counter()
            listener.close(timeout=0.2)
            assert time.perf_counter() - began < 0.5
    finally:
        stop()
    assert listener.failures["people", "pushgateway"] >= 2
    warnings = [log for log in logs if log["event"] == "metrics_export_failed"]
    assert len(warnings) == 1
    (warning,) = warnings
    assert warning["log_level"] == "warning"
    assert warning["exporter"] == "pushgateway"
    assert warning["url"] == url
    assert warning["error"]


def test_a_failed_push_is_retried_in_the_background_and_counted_in_it(tmp_path: Path) -> None:
    url, _ = _closed_port()
    spec = _spec(pushgateway=url, timeout_seconds=0.5)
    listener = PrometheusListener(spec, base_dir=tmp_path, retry_delays=(0.5, 0.5))
    with capture_logs() as logs:
        assert _run(_pipeline_file(tmp_path), listener).ok
        assert listener.failures["people", "pushgateway"] == 1
        receiver = Receiver(port=int(url.rsplit(":", 1)[1]))  # the backend comes back
        try:
            (pushed,) = receiver.wait_for(1)
        finally:
            receiver.close()
        listener.close()
    families = _families(pushed.body)
    assert _value(families, "tidegate_export_failures_total", exporter="pushgateway") == 1
    assert _value(families, "tidegate_rows_total", step="source", outcome="read") == 5
    assert [log["event"] for log in logs if log["event"].startswith("metrics_export")] == [
        "metrics_export_failed",
        "metrics_export_recovered",
    ]


def test_a_regression_published_after_the_run_is_pushed_with_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    listener = PrometheusListener(_spec(pushgateway=receiver.url), base_dir=tmp_path)
    result = _run(_pipeline_file(tmp_path), listener)
    receiver.wait_for(1)
    listener.handle(
        RunRegressed(
            run_id=result.run_id,
            pipeline="people",
            metric="seconds",
            value=9.0,
            mean=1.0,
            stddev=0.5,
            sigmas=16.0,
            runs=5,
        )
    )
    pushed = receiver.wait_for(2)[1]
    assert pushed.method == "PUT"
    families = _families(pushed.body)
    assert families["tidegate_run_regressions"].type == "counter"
    assert _value(families, "tidegate_run_regressions_total", metric="seconds") == 1
    assert _value(families, "tidegate_rows_total", step="source", outcome="read") == 5


def test_render_metrics_serves_a_scrapable_metrics_endpoint(tmp_path: Path) -> None:
    metrics = RunMetrics("people")
    result = _run(_pipeline_file(tmp_path), metrics)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = render_metrics(metrics)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output clean."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE
            scraped = response.read()
    finally:
        server.shutdown()
        server.server_close()
    families = _families(scraped)
    assert _value(families, "tidegate_rows_total", step="destination", outcome="written") == 4
    assert _value(families, "tidegate_run_duration_seconds") == pytest.approx(result.seconds)
    assert MASK_KEY.encode() not in scraped


def test_a_textfile_folder_that_is_missing_is_warned_about_once_and_counted(
    tmp_path: Path,
) -> None:
    listener = PrometheusListener(
        _spec(textfile_dir="no-such-folder"), base_dir=tmp_path, retry_delays=()
    )
    path = _pipeline_file(tmp_path)
    with capture_logs() as logs:
        assert _run(path, listener).ok
        assert _run(path, listener).ok
    assert listener.failures["people", "textfile"] == 2
    (warning,) = [log for log in logs if log["event"] == "metrics_export_failed"]
    assert warning["exporter"] == "textfile"
    assert warning["url"] == (tmp_path / "no-such-folder" / "tidegate_people.prom").as_uri()
    assert "FileNotFoundError" in warning["error"]
    assert not (tmp_path / "no-such-folder").exists()
