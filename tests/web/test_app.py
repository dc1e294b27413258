"""The dashboard app against a state store filled by real runs: a clean run, a run with
rejects (its rule on a column named like an XSS payload), a failed run, an open circuit
breaker and an open SLA alert. Pages, JSON API, headers, escaping, the token and readiness."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.dashboard import dashboard_app
from tidegate.state import StateStore, default_state_url
from tidegate.web import SECURITY_HEADERS, TOKEN_COOKIE

if TYPE_CHECKING:
    from collections.abc import Iterator

XSS = "<script>alert(1)</script>"

PIPELINE = """\
name: {name}
source: {{type: csv, path: {name}.csv}}
steps:
  - type: derive
    name: doubled
    columns: {{twice: "amount * 2"}}
{quality}
destination: {{type: duckdb, path: {name}.duckdb, table: t, mode: replace}}
"""

REJECTING = f"""\
quality:
  columns:
    "{XSS}": [{{between: [0, 900]}}]
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run ids of real runs recorded in a SQLite state store, keyed by what they show."""
    folder = tmp_path_factory.mktemp("dashboard")
    rows = "\n".join(f"{i},{i % 1000},{i % 1000}" for i in range(1200))
    runs: dict[str, str] = {}
    for name, quality, inject in (
        ("clean", "", ()),
        ("orders", REJECTING, ()),
        ("broken", "", ("mid_batch:raise:data",)),
    ):
        (folder / f"{name}.csv").write_text(f"id,amount,{XSS}\n{rows}\n", encoding="utf-8")
        spec = folder / f"{name}.yaml"
        spec.write_text(PIPELINE.format(name=name, quality=quality), encoding="utf-8")
        result = run_pipeline(spec, log_level="error", inject=inject, allow_faults=bool(inject))
        runs[name] = result.run_id
        assert (result.error is None) == (name != "broken")
    store = StateStore.open(default_state_url(folder))
    now = datetime.now(UTC)
    store.save_breaker(
        {
            "target": "api.example.com",
            "state": "open",
            "failing_since": now - timedelta(minutes=5),
            "next_probe_at": now + timedelta(minutes=1),
            "failures": 5,
            "calls": 6,
            "outcomes": "100000",
            "updated_at": now,
        }
    )
    store.record_alert(
        {
            "pipeline": "clean",
            "rule": "sla_age",
            "fingerprint": "stale",
            "severity": "warning",
            "status": "firing",
            "title": "clean: no success within 1h",
            "channels": ["log"],
            "sent_at": now,
        }
    )
    store.close()
    runs["url"] = default_state_url(folder)
    return runs


@pytest.fixture
def client(history: dict[str, str]) -> Iterator[TestClient]:
    store = StateStore.open(history["url"])
    with TestClient(dashboard_app(store)) as client:
        yield client
    store.close()


def test_overview_answers_is_anything_wrong_problems_first(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    body = page.text
    assert "2 of 3 pipelines need a look" in body
    assert "1 circuit breaker(s) open" in body
    # failing before late before fine; status told by word and icon, not colour alone
    assert body.index(">broken<") < body.index(">clean<") < body.index(">orders<")
    assert "✖</span> failed" in body
    assert "◷</span> late" in body
    assert "api.example.com" in body
    assert "clean: no success within 1h" in body
    assert 'src="/static/refresh.js"' in body
    assert 'data-refresh="15"' in body


def test_pages_carry_no_inline_script_or_style(client: TestClient, history: dict[str, str]) -> None:
    for path in ("/", "/pipelines/orders", f"/runs/{history['orders']}"):
        body = client.get(path).text
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", body) == [], path
        assert "<style" not in body, path
        assert " style=" not in body, path
        assert re.search(r"\son[a-z]+=", body) is None, path


def test_the_fragment_is_the_table_body_the_script_swaps_in(client: TestClient) -> None:
    fragment = client.get("/fragments/overview")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert fragment.text.count("<tr") == 3
    script = client.get("/static/refresh.js")
    assert script.status_code == 200
    assert "/fragments/overview" not in script.text  # the page tells it where to fetch
    assert "overview-rows" in script.text


def test_pipeline_page_draws_history_and_data_flow(client: TestClient) -> None:
    page = client.get("/pipelines/orders")
    assert page.status_code == 200
    body = page.text
    for title in ("Duration", "Rows read", "Rows rejected", "Quality score"):
        assert f"<figcaption>{title} " in body
    flow = body[body.index('<svg class="flow"') : body.index("</svg>", body.index('class="flow"'))]
    labels = re.findall(r"<text[^>]*>([^<]*)", flow)
    assert labels[:3] == ["1,200 rows", "1,200 rows", "1,101 rows"]
    assert labels[3:9] == [
        "source",
        "1,200 read",
        "doubled",
        "0 rejected",
        "quality",
        "⚠ 99 rejected",
    ]
    assert labels[-2:] == ["destination", "1,101 written"]
    assert "node-rejecting" in flow


def test_run_page_of_a_success(client: TestClient, history: dict[str, str]) -> None:
    body = client.get(f"/runs/{history['orders']}").text
    assert "✔</span> succeeded" in body
    assert "step doubled" in body  # where the time went
    assert "kWh" in body
    assert ">99<" in body.replace("⚠ ", "")
    assert "91.8" in body  # the quality score


def test_run_page_of_a_failure_says_kind_and_message(
    client: TestClient, history: dict[str, str]
) -> None:
    page = client.get(f"/runs/{history['broken'][:13]}")
    assert page.status_code == 200
    assert '<span class="kind">data</span>' in page.text
    assert "fault injected at mid_batch of batch 1" in page.text


def test_values_from_data_render_as_text(client: TestClient, history: dict[str, str]) -> None:
    body = client.get(f"/runs/{history['orders']}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert XSS not in body
    rules = client.get(f"/api/runs/{history['orders']}").json()["quality"]["rules"]
    assert rules[0]["column"] == XSS  # the API gives the value; JSON is not HTML


def test_security_headers_on_every_response(client: TestClient) -> None:
    for response in (
        client.get("/"),
        client.get("/static/style.css"),
        client.get("/api/overview"),
        client.get("/metrics"),
        client.get("/pipelines/nothing-here"),
        client.get("/no/such/page"),
        client.post("/api/overview"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.url, name)


def test_read_only(client: TestClient) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, "/")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"
    head = client.head("/")
    assert (head.status_code, head.content) == (200, b"")


def test_json_api(client: TestClient, history: dict[str, str]) -> None:
    overview = client.get("/api/overview").json()
    assert [p["pipeline"] for p in overview["pipelines"]] == ["broken", "clean", "orders"]
    broken, clean, orders = overview["pipelines"]
    assert (broken["sla"], broken["problem"], broken["error_kind"]) == ("failing", True, "data")
    assert (clean["sla"], clean["open_alerts"]) == ("late", ["sla_age"])
    assert orders["sla"] == "ok"
    assert (orders["rows_read"], orders["rows_rejected"], orders["success_rate_7d"]) == (
        1200,
        99,
        1.0,
    )
    assert orders["p95_seconds"] == orders["last_seconds"]
    assert orders["last_run_id"] == history["orders"]
    assert [b["target"] for b in overview["breakers"]] == ["api.example.com"]
    detail = client.get("/api/pipelines/orders").json()
    assert [run["run_id"] for run in detail["runs"]] == [history["orders"]]
    assert [step["step"] for step in detail["steps"]] == ["doubled", "quality"]
    run = client.get(f"/api/runs/{history['broken']}").json()
    assert (run["status"], run["error_kind"]) == ("failed", "data")
    assert client.get("/api/runs/ffffffff").status_code == 404
    assert client.get("/api/pipelines/nothing-here").status_code == 404
    assert client.get("/api/pipelines/orders?runs=0").status_code == 422
    spec = client.get("/openapi.json").json()
    assert {"/api/overview", "/api/pipelines/{name}", "/api/runs/{run_id}"} <= set(spec["paths"])
    assert {"Overview", "PipelineHealth", "RunView"} <= set(spec["components"]["schemas"])


def test_metrics_parse_as_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("tidegate_pipeline_last_run_success", (("pipeline", "broken"),))] == 0.0
    assert samples[("tidegate_pipeline_last_run_success", (("pipeline", "orders"),))] == 1.0
    rejected = (("outcome", "rejected"), ("pipeline", "orders"))
    assert samples[("tidegate_pipeline_last_run_rows", rejected)] == 99.0


def test_token_required_when_set(history: dict[str, str]) -> None:
    store = StateStore.open(history["url"])
    token = "s3cret token/with;odd=chars"  # noqa: S105 - the test's own token
    with TestClient(dashboard_app(store, token=token)) as client:
        assert client.get("/healthz").status_code == 200
        refused = client.get("/api/overview")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert token not in refused.text
        assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        bearer = client.get("/api/overview", headers={"Authorization": f"Bearer {token}"})
        assert bearer.status_code == 200
        first = client.get("/pipelines/orders", params={"token": token}, follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/pipelines/orders"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{TOKEN_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert client.get("/pipelines/orders").status_code == 200  # the cookie now
        client.cookies.clear()
        assert client.get("/pipelines/orders").status_code == 401
    store.close()


def test_store_down_is_503_not_500() -> None:
    store = StateStore("postgresql+psycopg://nobody:SENTINEL-pw@127.0.0.1:1/history")
    with TestClient(dashboard_app(store)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert "SENTINEL-pw" not in ready.text
        page = client.get("/")
        assert page.status_code == 503
        assert "History unavailable" in page.text
        api = client.get("/api/overview")
        assert api.status_code == 503
        assert api.json()["hint"]
        assert client.get("/metrics").status_code == 503
    store.close()


def test_readyz_is_200_when_the_store_answers(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}
