"""A run with every observer on, through the CLI: history, Pushgateway, textfile, OTLP, logs.

The run's secrets are sentinel strings; every channel it writes to is searched for them.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

from tests.observability.receivers import OtlpHttpReceiver, spans
from tests.observability.test_prometheus import Receiver

if TYPE_CHECKING:
    from pathlib import Path

    from tests.e2e.conftest import Cli

MASK_KEY = "SENTINEL-mask-key-4f1c"
OTLP_TOKEN = "SENTINEL-otlp-token-9d2e"  # noqa: S105 - a sentinel to search for, not a secret

ENV = {"TEST_MASK_KEY": MASK_KEY, "TEST_OTLP_TOKEN": OTLP_TOKEN}

PIPELINE = """\
name: orders
source: {{type: csv, path: orders.csv}}
steps:
  - type: mask
    key: env:TEST_MASK_KEY
    columns: {{email: {{strategy: hash}}}}
quality:
  columns:
    amount: [{{between: [0, 900]}}]
destination: {{type: duckdb, path: out.duckdb, table: orders, commit_min_rows: 1}}
logging: {{level: debug, format: json}}
observability:
  prometheus: {{pushgateway: '{push}', textfile_dir: metrics, timeout_seconds: 2}}
  opentelemetry:
    otlp:
      endpoint: '{otlp}'
      headers: {{authorization: env:TEST_OTLP_TOKEN}}
      timeout_seconds: 2
  energy: {{country: DE}}
"""


def test_every_observer_sees_the_run_and_no_secret_leaks(tmp_path: Path, cli: Cli) -> None:
    lines = ["id,email,amount"] + [f"{i},user{i}@example.com,{i % 1000}" for i in range(3000)]
    (tmp_path / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "metrics").mkdir()
    push = Receiver()
    otlp = OtlpHttpReceiver()
    thread = threading.Thread(target=otlp.serve_forever, daemon=True)
    thread.start()
    try:
        (tmp_path / "pipeline.yaml").write_text(
            PIPELINE.format(push=push.url, otlp=otlp.url), encoding="utf-8"
        )
        done = cli("run", "pipeline.yaml", env=ENV)
        assert done.returncode == 0, done.stderr
        pushed = push.wait_for(1)
        traces = otlp.traces()
        headers = otlp.received.headers
        otlp_bodies = b"".join(body for _, body in otlp.received.bodies)
    finally:
        push.close()
        otlp.shutdown()
        otlp.server_close()
    run_id = json.loads(done.stdout)["run_id"]

    # history
    shown = cli("show", run_id, "pipeline.yaml", "--json", env=ENV)
    detail = json.loads(shown.stdout)
    assert detail["run"]["rows_read"] == 3000
    assert "grid DE" in detail["run"]["figures"]["energy_model"]
    # Pushgateway and textfile
    families = {f.name: f for f in text_string_to_metric_families(pushed[0].body.decode())}
    rows = {
        (s.labels["step"], s.labels["outcome"]): s.value
        for s in families["tidegate_rows"].samples
        if s.name == "tidegate_rows_total"
    }
    assert rows[("source", "read")] == 3000
    textfile = (tmp_path / "metrics" / "tidegate_orders.prom").read_text(encoding="utf-8")
    assert "tidegate_last_success_timestamp_seconds" in textfile
    # OTLP traces, correlated with the log lines
    names = {span.name for span in spans(traces)}
    assert {"tidegate.run", "tidegate.step", "tidegate.batch"} <= names
    assert any(h.get("authorization") == OTLP_TOKEN for h in headers)  # sent as auth only
    run_span = next(span for span in spans(traces) if span.name == "tidegate.run")
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    started = next(line for line in log_lines if line["event"] == "run_started")
    assert started["trace_id"] == run_span.trace_id.hex()

    channels = {
        "stdout": done.stdout.encode(),
        "stderr (logs)": done.stderr.encode(),
        "state store": (tmp_path / ".tidegate" / "state.db").read_bytes(),
        "textfile": textfile.encode(),
        "pushgateway": b"".join(r.body + r.path.encode() for r in pushed),
        "otlp bodies": otlp_bodies,
        "show": shown.stdout.encode(),
    }
    for channel, data in channels.items():
        for secret in (MASK_KEY, OTLP_TOKEN):
            assert secret.encode() not in data, f"{secret} leaked into {channel}"
