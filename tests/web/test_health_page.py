"""The dashboard's health page and ``/api/health`` over real pipelines: one loading into a real
PostgreSQL whose checks pass, one whose database port is closed; both keep their history in
one PostgreSQL state store. Checks run live, failed first, secrets masked, a round shared by
concurrent requests and reused a few seconds; with ``--state`` alone, the store's own checks."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from tidegate.app.bootstrap import run_pipeline
from tidegate.app.dashboard import dashboard_app
from tidegate.app.dashboard_health import STATE_ONLY_NOTE, served_pipelines
from tidegate.errors import ConfigError
from tidegate.state import StateStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    from fastapi import FastAPI

SECRET = "SENTINEL-pw-9f3"  # noqa: S105 - a fake password asserted never to be shown

PIPELINE = """\
name: {name}
source: {{type: csv, path: data.csv}}
destination:
  type: postgres
  url: '{url}'
  table: t
  mode: replace
  connect_timeout: {timeout}
sla: {{max_age: 1h}}
observability: {{state: {{url: '{state}'}}}}
"""


def _with_password(url: str) -> str:
    """The server trusts loopback: a password in the URL is carried but never checked."""
    return url.replace("postgres@", f"postgres:{SECRET}@")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[dict[str, Any]]:
    """Two pipeline files sharing a PostgreSQL state store: ``warehouse`` (healthy, ran once)
    and ``broken`` (its database on a closed port)."""
    folder = tmp_path_factory.mktemp("health_page")
    (folder / "data.csv").write_text("id,amount\n1,10\n2,20\n", encoding="utf-8")
    with (
        postgres_database("tidegate_health_page_dest_") as destination,
        postgres_database("tidegate_health_page_state_") as state,
    ):
        closed = _closed_port()
        files = {
            "warehouse": (_with_password(destination), 10),
            "broken": (f"postgresql://tg:{SECRET}@127.0.0.1:{closed}/nowhere", 2),
        }
        for name, (url, timeout) in files.items():
            (folder / f"{name}.yaml").write_text(
                PIPELINE.format(name=name, url=url, timeout=timeout, state=_with_password(state)),
                encoding="utf-8",
            )
        result = run_pipeline(folder / "warehouse.yaml", log_level="error")
        assert result.error is None
        url, pipelines = served_pipelines(
            [folder / "broken.yaml", folder / "warehouse.yaml"], state=None, sets=[]
        )
        store = StateStore.open(url)
        yield {"folder": folder, "store": store, "pipelines": pipelines, "state": state}
        store.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def client(served: dict[str, Any]) -> Iterator[TestClient]:
    app = dashboard_app(served["store"], pipelines=served["pipelines"], health_ttl=60)
    with TestClient(app) as client:
        yield client


def test_api_reports_every_check_of_each_pipeline_failed_first(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert SECRET not in response.text
    report = response.json()
    assert report["healthy"] is False
    assert [p["pipeline"] for p in report["pipelines"]] == ["broken", "warehouse"]
    broken, warehouse = report["pipelines"]
    assert broken["healthy"] is False
    first = broken["checks"][0]
    assert (first["component"].split(":")[0], first["check"], first["ok"]) == (
        "postgres",
        "connect",
        False,
    )
    assert first["hint"]
    assert [c["ok"] for c in broken["checks"]] == sorted(c["ok"] for c in broken["checks"])
    assert ("state store", "writable", True) in [
        (c["component"], c["check"], c["ok"]) for c in broken["checks"]
    ]
    assert warehouse["healthy"] is True
    assert [(c["component"].split(":")[0], c["check"]) for c in warehouse["checks"]] == [
        ("csv", "readable"),
        ("postgres", "connect"),
        ("postgres", "select 1"),
        ("postgres", "can write"),
        ("postgres", "lock free"),
        ("state store", "writable"),
        ("breakers", "closed"),
        ("freshness", "sla"),
        ("temp space", "disk"),
    ]
    assert all(c["ms"] >= 0 and c["hint"] is None for c in warehouse["checks"])
    assert report["seconds"] >= max(p["seconds"] for p in report["pipelines"])
    checked = datetime.fromisoformat(report["checked_at"])
    assert abs(datetime.now(UTC) - checked) < timedelta(minutes=1)
    assert report["note"] is None


def test_api_is_documented_with_its_response_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    answer = spec["paths"]["/api/health"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthReport"
    }
    schemas = spec["components"]["schemas"]
    assert {"HealthReport", "PipelineChecks", "CheckView"} <= set(schemas)
    assert "healthy" in schemas["HealthReport"]["properties"]


def test_page_shows_failures_first_by_symbol_and_word_not_colour_alone(
    client: TestClient,
) -> None:
    report = client.get("/api/health").json()
    total = sum(len(p["checks"]) for p in report["pipelines"])
    failed = sum(not c["ok"] for p in report["pipelines"] for c in p["checks"])
    page = client.get("/health")
    assert page.status_code == 200
    body = page.text
    assert SECRET not in body
    assert f"✖</span> {failed} of {total} checks failed." in body
    assert body.index(">broken<") < body.index(">warehouse<")
    broken = body[body.index(">broken<") : body.index(">warehouse<")]
    assert broken.index("✖</span> failed") < broken.index("✔</span> ok")
    assert "hint: " in broken
    assert "✖</span> unhealthy" in broken
    assert "Checked at <time" in body
    assert " ms<" in body
    assert 'src="/static/refresh.js"' in body
    assert 'data-fragment="/fragments/health" data-target="health-report"' in body
    assert '<div id="health-report">' in body
    assert "<script>" not in body
    assert " style=" not in body


def test_every_page_links_to_the_health_page(client: TestClient) -> None:
    for path in ("/", "/health", "/pipelines/warehouse"):
        assert '<a href="/health">Health</a>' in client.get(path).text, path


def test_the_fragment_is_the_report_the_script_swaps_in(client: TestClient) -> None:
    fragment = client.get("/fragments/health")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "checks failed." in fragment.text
    assert client.get("/static/health.js").status_code == 404  # one script serves both pages


def test_a_round_is_reused_within_the_ttl_and_run_again_after(served: dict[str, Any]) -> None:
    with TestClient(dashboard_app(served["store"], pipelines=served["pipelines"])) as client:
        first = client.get("/api/health").json()["checked_at"]
        assert client.get("/api/health").json()["checked_at"] == first
    fresh = dashboard_app(served["store"], pipelines=served["pipelines"], health_ttl=0)
    with TestClient(fresh) as client:
        first = client.get("/api/health").json()["checked_at"]
        assert client.get("/api/health").json()["checked_at"] != first


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port; yields its base URL."""
    port = _closed_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on loopback that accepts connections and never answers: a database that
    hangs, so a connect waits for its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


def test_concurrent_requests_share_one_round_while_other_pages_keep_answering(
    served: dict[str, Any], silent_server: int, tmp_path: Path
) -> None:
    (tmp_path / "data.csv").write_text("id\n1\n", encoding="utf-8")
    (tmp_path / "hanging.yaml").write_text(
        PIPELINE.format(
            name="hanging",
            url=f"postgresql://tg:{SECRET}@127.0.0.1:{silent_server}/db",
            timeout=2,
            state=_with_password(served["state"]),
        ),
        encoding="utf-8",
    )
    _, pipelines = served_pipelines([tmp_path / "hanging.yaml"], state=None, sets=[])
    app = dashboard_app(served["store"], pipelines=pipelines, health_ttl=0)
    answers: list[dict[str, Any]] = []
    with serving(app) as base:

        def ask() -> None:
            answers.append(httpx.get(base + "/api/health", timeout=30).json())

        askers = [threading.Thread(target=ask) for _ in range(6)]
        began = time.monotonic()
        for asker in askers:
            asker.start()
        time.sleep(0.3)
        liveness = httpx.get(base + "/healthz", timeout=5)
        answered_in = time.monotonic() - began
        for asker in askers:
            asker.join(30)
        took = time.monotonic() - began
    assert liveness.status_code == 200
    assert answered_in < 1.5, "the event loop waited for the health checks"
    assert len(answers) == 6
    assert len({answer["checked_at"] for answer in answers}) == 1  # one round for all six
    assert took >= 1.5  # the connect waited its timeout: the round was a slow one
    (hanging,) = answers[0]["pipelines"]
    assert hanging["checks"][0]["ok"] is False
    assert SECRET not in str(answers[0])


def test_with_the_state_store_alone_the_page_says_how_to_get_the_rest(
    served: dict[str, Any],
) -> None:
    store: StateStore = served["store"]
    now = datetime.now(UTC)
    store.save_breaker(
        {
            "target": "api.example.com",
            "state": "open",
            "failing_since": now - timedelta(minutes=5),
            "next_probe_at": now + timedelta(minutes=1),
            "failures": 5,
            "calls": 5,
            "outcomes": "00000",
            "updated_at": now,
        }
    )
    try:
        with TestClient(dashboard_app(store)) as client:
            report = client.get("/api/health").json()
            page = client.get("/health").text
    finally:
        store.reset_breaker("api.example.com")
    assert report["note"] == STATE_ONLY_NOTE
    (alone,) = report["pipelines"]
    assert alone["pipeline"] is None
    assert [(c["component"], c["check"], c["ok"]) for c in alone["checks"]] == [
        ("breakers:api.example.com", "closed", False),
        ("state store", "writable", True),
    ]
    assert "tidegate breaker reset api.example.com" in alone["checks"][0]["hint"]
    assert SECRET not in str(report)
    assert SECRET not in page
    assert "tidegate serve pipeline.yaml" in page
    assert "<h2>State store" in page


def test_pipelines_with_different_state_stores_are_refused(served: dict[str, Any]) -> None:
    folder: Path = served["folder"]
    text = (folder / "warehouse.yaml").read_text(encoding="utf-8")
    elsewhere = folder / "elsewhere.yaml"
    elsewhere.write_text(
        text.replace("name: warehouse", "name: elsewhere").replace(
            _with_password(served["state"]), "sqlite:///elsewhere.db"
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        served_pipelines([folder / "warehouse.yaml", elsewhere], state=None, sets=[])
    assert "different state stores" in refused.value.message
    assert "elsewhere.db" in refused.value.message
    assert SECRET not in refused.value.message
    assert "observability.state.url" in (refused.value.hint or "")
    with pytest.raises(ConfigError, match="is not the state store of the pipelines"):
        served_pipelines([folder / "warehouse.yaml"], state="sqlite:///other.db", sets=[])
    twin = folder / "twin.yaml"
    twin.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"twin\.yaml are both pipeline 'warehouse'"):
        served_pipelines([folder / "warehouse.yaml", twin], state=None, sets=[])
    with pytest.raises(ConfigError, match=r"warehouse\.yaml is given twice"):
        served_pipelines(
            [folder / "warehouse.yaml", folder / "warehouse.yaml"], state=None, sets=[]
        )
    # the same store spelled with another driver and with --state is accepted
    same = served["state"].replace("postgresql+psycopg://", "postgresql://")
    url, _ = served_pipelines([folder / "warehouse.yaml"], state=same, sets=[])
    assert url == _with_password(served["state"])
