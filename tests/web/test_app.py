"""The dashboard app against a state store filled by real runs: a clean run, a run with
rejects (its rule on a column named like an XSS payload), a failed run, an open circuit
breaker and an open SLA alert. Pages, JSON API, headers, escaping, the token and readiness."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import yaml
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


def test_the_fragment_is_the_live_part_the_script_swaps_in(client: TestClient) -> None:
    fragment = client.get("/fragments/overview")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    # each table's header row: 3 pipelines, 1 breaker, 1 alert
    assert fragment.text.count("<tr") == 3 + 3 * 1 + 1 + 1
    assert "2 of 3 pipelines need a look" in fragment.text
    assert "api.example.com" in fragment.text
    page = client.get("/").text
    assert 'data-fragment="/fragments/overview" data-target="overview-live"' in page
    assert '<div id="overview-live">' in page
    script = client.get("/static/refresh.js")
    assert script.status_code == 200
    assert "/fragments/overview" not in script.text  # the page tells it where to fetch
    assert "data-target" in script.text


def test_pipeline_page_draws_history_and_data_flow(client: TestClient) -> None:
    page = client.get("/pipelines/orders")
    assert page.status_code == 200
    body = page.text
    for title in ("Duration", "Rows read", "Rows rejected", "Quality score"):
        assert f"<figcaption>{title} " in body
    flow = body[body.index('<svg class="flow"') : body.index("</svg>", body.index('class="flow"'))]
    labels = re.findall(r"<text[^>]*>([^<]*)", flow)
    assert labels[:3] == ["1,200 rows", "1,200 rows", "1,101 rows"]
    # the ends named from the run's spec, each step with its type (quality rules have none)
    assert labels[3:12] == [
        "source",
        "csv: orders.csv",
        "1,200 read",
        "doubled",
        "derive",
        "0 rejected",
        "quality",
        "rules",
        "⚠ 99 rejected",
    ]
    assert labels[-3:] == ["destination", "duckdb: t", "1,101 written"]
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


# -- a governed run: timeline, masked samples, spec and columns ------------------------------

GOVERNED = """\
name: people
source: {type: csv, path: people.csv, columns: {id: int64}}
steps:
  - type: mask
    key: env:TG_WEB_TEST_MASK_KEY
    columns:
      email: {strategy: email_domain}
governance:
  keys: {main: {1: file:main.key}}
quality:
  columns:
    score: [{between: [1, 90]}]
resilience:
  retry:
    commit: {attempts: 3, initial_delay: 0.01, max_delay: 0.01}
faults:
  inject:
    - {at: before_commit, batch: 1, kind: transient, times: 1}
destination: {type: duckdb, path: people.duckdb, table: people, mode: append}
"""

MASK_KEY = "hunter2-web-mask-key"


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A client over a store holding one governed run: 30 rows rejected (their e-mails
    encrypted in the quarantine), one commit retried after an injected transient fault, a
    mask key read from the environment."""
    from tidegate.governance.keys import generate_key  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("governed")
    (folder / "main.key").write_text(generate_key() + "\n", encoding="utf-8")
    rows = "\n".join(f"{i},ana.lopez{i}@mail.example,{i % 100}" for i in range(1, 301))
    (folder / "people.csv").write_text(f"id,email,score\n{rows}\n", encoding="utf-8")
    (folder / "people.yaml").write_text(GOVERNED, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TG_WEB_TEST_MASK_KEY", MASK_KEY)
        result = run_pipeline(
            folder / "people.yaml", log_level="error", profile="dev", allow_faults=True
        )
    assert result.error is None
    store = StateStore.open(default_state_url(folder))
    with TestClient(dashboard_app(store)) as client:
        yield client, result.run_id
    store.close()


def test_run_page_shows_the_timeline_with_retries_marked(
    governed: tuple[TestClient, str],
) -> None:
    client, run_id = governed
    body = client.get(f"/runs/{run_id}").text
    timeline = body[body.index("<h2>Timeline</h2>") : body.index("<h2>Steps</h2>")]
    rows = re.findall(r'<tr class="entry-([a-z]+)[^"]*">', timeline)
    assert rows == ["start", "rejected", "fault", "retry", "rejected", "finish"]
    assert re.search(
        r'<tr class="entry-retry warn">.*?<span class="kind">transient</span>', timeline
    )
    assert re.search(r"failed \(transient\), attempt 1: trying again in [0-9.e-]+ s", timeline)
    assert "transient errors are retried: yes, with backoff" in timeline
    assert re.findall(r'<td class="num offset">\+(\d+\.\d{3}) s</td>', timeline)[0] == "0.000"
    assert "run succeeded: 300 rows read, 270 written, 30 rejected" in timeline


def test_run_page_shows_masked_sample_rejects(governed: tuple[TestClient, str]) -> None:
    client, run_id = governed
    body = client.get(f"/runs/{run_id}").text
    section = body[
        body.index('<h2 id="rejects">Sample rejected rows</h2>') : body.index("<h2>Energy</h2>")
    ]
    assert "20 of 30 rejected rows" in section
    headers = re.findall(r"<th>([^<]*)</th>", section)
    assert headers == ["Source row", "Step", "Reason", "id", "email", "score"]
    assert section.count("<td>[encrypted]</td>") == 20
    quality = body[body.index("<h2>Quality</h2>") : body.index('<h2 id="rejects">')]
    assert '<td class="num"><a href="#rejects">20 below</a></td>' in quality  # per rule
    assert "score.between: score is outside [1, 90]" in section
    api = client.get(f"/api/runs/{run_id}").json()
    assert len(api["rejects"]) == 20
    assert api["rejects"][0]["row"] == {"id": 91, "email": "[encrypted]", "score": 91}
    for text in (body, json.dumps(api)):
        assert "ana.lopez" not in text
        assert MASK_KEY not in text


def test_pipeline_page_shows_the_spec_redacted_and_the_columns(
    governed: tuple[TestClient, str],
) -> None:
    client, _ = governed
    body = client.get("/pipelines/people").text
    columns = body[body.index("<h2>Personal data (last run)</h2>") : body.index("<h2>Spec</h2>")]
    assert "<td>email</td><td>email</td><td>confidential</td>" in columns
    assert "<td>mask:email_domain</td>" in columns
    spec = body[body.index("<h2>Spec</h2>") : body.index("<h2>Alerts</h2>")]
    text = html.unescape(re.findall(r'<pre class="spec">(.*?)</pre>', spec, re.DOTALL)[0])
    document = yaml.safe_load(text)
    assert document["steps"][0]["settings"]["key"] == "**********"
    assert document["governance"]["keys"] == {"main": {"1": "**********"}}
    assert (
        document["destination"]
        == client.get("/api/pipelines/people").json()["spec"]["document"]["destination"]
    )
    assert MASK_KEY not in body
    flow = body[body.index('<svg class="flow"') : body.index("</svg>", body.index('class="flow"'))]
    labels = re.findall(r"<text[^>]*>([^<]*)", flow)
    assert "csv: people.csv" in labels
    assert "duckdb: people" in labels
    assert labels[labels.index("mask") + 1] == "mask"  # the step's type under its name


def test_a_failed_run_says_its_next_action(client: TestClient, history: dict[str, str]) -> None:
    from tidegate.core.taxonomy import KIND_POLICIES  # noqa: PLC0415
    from tidegate.errors import ErrorKind  # noqa: PLC0415

    body = client.get(f"/runs/{history['broken']}").text
    action = html.escape(KIND_POLICIES[ErrorKind.DATA].next_step(run_id=history["broken"]))
    assert f"<strong>Next action</strong> (data errors): {action}" in body
    timeline = body[body.index("<h2>Timeline</h2>") : body.index("<h2>Steps</h2>")]
    error = re.search(r'<tr class="entry-error problem">(.*?)</tr>', timeline, re.DOTALL)
    assert error is not None
    assert '<span class="kind">data</span>' in error.group(1)
    assert f"Next action: {action}" in error.group(1)
    assert "fault injected at mid_batch of batch 1" in error.group(1)


def test_the_payload_in_a_sample_and_the_spec_stays_text(
    client: TestClient, history: dict[str, str]
) -> None:
    run = client.get(f"/runs/{history['orders']}").text
    section = run[
        run.index('<h2 id="rejects">Sample rejected rows</h2>') : run.index("<h2>Energy</h2>")
    ]
    assert "<th>&lt;script&gt;alert(1)&lt;/script&gt;</th>" in section
    pipeline = client.get("/pipelines/orders").text
    spec = pipeline[pipeline.index('<pre class="spec">') : pipeline.index("</pre>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in spec  # the rule's column, as text
    assert XSS not in run + pipeline
