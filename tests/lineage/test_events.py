"""OpenLineage events of real runs: schema-valid, with datasets, schemas, column lineage and
quality facets; sent to a JSONL file, a Marquez-compatible HTTP receiver and the console."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tidegate import load_pipeline
from tidegate.app.bootstrap import build
from tidegate.events import BatchCommitted, RunFinished, RunStarted
from tidegate.lineage.listener import OpenLineageListener
from tidegate.lineage.transports import StreamTransport
from tidegate.spec.lineage import HttpTransportSpec, LineageSpec

from .openlineage_schemas import problems
from .test_columns import DEMO

if TYPE_CHECKING:
    from tidegate.app.bootstrap import Pipeline
    from tidegate.spec import PipelineSpec

    from .conftest import Marquez


def listen(pipeline: Pipeline, settings: LineageSpec, **kwargs: Any) -> OpenLineageListener:
    """The listener as the app wires it: schemas probed from the built pipeline."""
    spec = pipeline.spec
    first = spec.steps[0].name if spec.steps else None
    listener = OpenLineageListener(
        spec,
        settings,
        source_schema=lambda: pipeline.schema_at(first),
        output_schema=pipeline.schema_at,
        **kwargs,
    )
    pipeline.listeners.append(listener)
    return listener


def demo_pipeline(demo: Path) -> Pipeline:
    """The demo pipeline without its own ``lineage:`` section, so the listener a test adds
    is the only one writing events."""
    return build(load_pipeline(demo).model_copy(update={"lineage": None}))


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_demo_run_writes_schema_valid_start_and_complete_events_with_column_lineage(
    demo: Path,
) -> None:
    pipeline = demo_pipeline(demo)
    listener = listen(pipeline, LineageSpec())

    result = pipeline.run(on_unfinished="fresh")
    listener.close()

    assert result.ok, result.error
    events = lines(demo.parent / ".tidegate" / "lineage.jsonl")  # the default transport
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert problems(event) == [], event["eventType"]
        assert event["run"]["runId"] == result.run_id
        assert event["job"] == {**event["job"], "namespace": "tidegate", "name": "customers"}
    complete = events[-1]
    inputs = {Path(d["name"]).name: d for d in complete["inputs"]}
    assert set(inputs) == {"customers.csv", "countries.csv"}
    assert inputs["customers.csv"]["inputFacets"]["inputStatistics"]["rowCount"] == 600
    assert [f["name"] for f in inputs["countries.csv"]["facets"]["schema"]["fields"]] == [
        "code", "name", "region",
    ]  # fmt: skip
    source_fields = inputs["customers.csv"]["facets"]["schema"]["fields"]
    assert {"name": "customer_id", "type": "int64"}.items() <= source_fields[0].items()
    (output,) = complete["outputs"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == result.rows_written
    schema = {f["name"]: f["type"] for f in output["facets"]["schema"]["fields"]}
    assert schema["national_id"] == "binary"  # the types of what was loaded: encrypted
    fields = output["facets"]["columnLineage"]["fields"]
    assert set(fields) == set(DEMO)
    for column, (expected, overall) in DEMO.items():
        got = {
            (Path(i["name"]).stem.replace("customers", "source"), i["field"]): (
                i["transformations"][0]["description"]
            )
            for i in fields[column]["inputFields"]
        }
        assert got == expected, column
        assert fields[column]["transformationDescription"] == overall
    joined = output["facets"]["columnLineage"]["dataset"]
    assert sorted((Path(i["name"]).name, i["field"], i["transformations"][0]["type"],
                   i["transformations"][0]["subtype"]) for i in joined) == [
        ("countries.csv", "code", "INDIRECT", "JOIN"),
        ("customers.csv", "country", "INDIRECT", "JOIN"),
    ]  # fmt: skip
    masked = fields["email"]["inputFields"][0]["transformations"][0]
    assert masked == {
        "type": "DIRECT",
        "subtype": "TRANSFORMATION",
        "description": "masked:hash",
        "masking": True,
    }
    quality = output["facets"]["dataQualityAssertions"]["assertions"]
    assert {"assertion": "customer_id.unique", "success": False}.items() <= next(
        a for a in quality if a["assertion"] == "customer_id.unique"
    ).items()
    assert output["facets"]["dataQualityMetrics"]["rowCount"] == 600
    assert "START" in listener.sent
    assert listener.failed == {}


def test_a_failed_run_sends_fail_with_the_error_message(demo: Path) -> None:
    pipeline = demo_pipeline(demo)
    pipeline.inject = ("mid_batch:raise:data@1",)
    out = demo.parent / "events.jsonl"
    listener = listen(pipeline, LineageSpec(transports={"f": {"type": "file", "path": str(out)}}))

    result = pipeline.run(on_unfinished="fresh")
    assert listener.flush(timeout=30)
    for thread in threading.enumerate():  # the worker stops once the run's events are sent
        if thread.name == "tidegate-lineage":
            thread.join(timeout=10)
            assert not thread.is_alive()

    assert not result.ok
    events = lines(out)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert all(problems(e) == [] for e in events)
    error = events[-1]["run"]["facets"]["errorMessage"]
    assert error["programmingLanguage"] == "python"
    assert error["message"].startswith("data: ")


def spec_of(tmp_path: Path) -> PipelineSpec:
    (tmp_path / "in.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "name: tiny\nsource: {type: csv, path: in.csv}\n"
        "destination: {type: files, path: out.csv}\n",
        encoding="utf-8",
    )
    return load_pipeline(path)


def test_running_events_are_throttled_and_abort_covers_an_unfinished_run(
    tmp_path: Path,
) -> None:
    spec = spec_of(tmp_path)
    buffer = _Lines()
    now = [0.0]
    listener = OpenLineageListener(
        spec,
        LineageSpec(running_every_seconds=10),
        transports={"mem": StreamTransport(buffer)},
        clock=lambda: now[0],
    )
    run = "0192f0c4-7d2e-7a6c-8f00-3b1f2d4c5e6f"
    listener.handle(RunStarted(run_id=run, pipeline="tiny", source="csv", destination="files"))
    for batch in range(1, 101):  # a batch a second for 100 s
        now[0] = float(batch)
        listener.handle(
            BatchCommitted(run_id=run, pipeline="tiny", batch=batch, rows=batch, position={})
        )
    listener.abort()
    listener.handle(  # a finish after the abort sends nothing more
        RunFinished(
            run_id=run, pipeline="tiny", status="succeeded", rows_read=1, rows_written=1,
            rows_rejected=0, batches=1, seconds=1.0,
        )
    )  # fmt: skip
    listener.close()

    kinds = [event["eventType"] for event in buffer.events()]
    assert kinds == ["START", *["RUNNING"] * 10, "ABORT"]
    assert all(problems(event) == [] for event in buffer.events())
    running = buffer.events()[1]
    assert "inputs" not in running or running["inputs"] == []
    abort = buffer.events()[-1]
    assert "interrupted" in abort["run"]["facets"]["errorMessage"]["message"]


def test_a_run_interrupted_by_ctrl_c_is_sent_as_abort_at_exit(tmp_path: Path) -> None:
    """The runner lets KeyboardInterrupt through without RunFinished; the listener's exit
    hook sends ABORT for the run it saw start."""
    (tmp_path / "stop.py").write_text(
        "def f(batch):\n    raise KeyboardInterrupt\n", encoding="utf-8"
    )
    (tmp_path / "in.csv").write_text("a\n1\n", encoding="utf-8")
    (tmp_path / "pipeline.yaml").write_text(
        "name: stopped\nsource: {type: csv, path: in.csv}\n"
        "steps: [{type: python, function: 'stop:f', pythonpath: .}]\n"
        "destination: {type: files, path: out.csv}\n",
        encoding="utf-8",
    )
    script = textwrap.dedent(
        """
        import sys
        from tidegate import load_pipeline
        from tidegate.app.bootstrap import build
        from tidegate.lineage.listener import OpenLineageListener
        from tidegate.spec.lineage import LineageSpec

        pipeline = build(load_pipeline(sys.argv[1]))
        pipeline.listeners.append(OpenLineageListener(pipeline.spec, LineageSpec()))
        pipeline.run()
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "pipeline.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert "KeyboardInterrupt" in done.stderr
    events = lines(tmp_path / ".tidegate" / "lineage.jsonl")
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    assert all(problems(e) == [] for e in events)


def test_events_reach_a_marquez_compatible_api_with_the_bearer_token(
    demo: Path, marquez: Marquez
) -> None:
    pipeline = demo_pipeline(demo)
    settings = LineageSpec(
        namespace="shop",
        transports={
            "marquez": HttpTransportSpec(type="http", url=marquez.url, api_key="k3y-for-marquez")
        },
    )
    listener = listen(pipeline, settings)

    result = pipeline.run(on_unfinished="fresh")
    listener.close()

    assert result.ok, result.error
    assert [r.path for r in marquez.requests] == ["/api/v1/lineage", "/api/v1/lineage"]
    request = marquez.requests[0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer k3y-for-marquez"
    events = marquez.events()
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert all(problems(e) == [] for e in events)
    assert events[0]["job"]["namespace"] == "shop"
    assert "columnLineage" in events[1]["outputs"][0]["facets"]


def test_a_receiver_that_refuses_does_not_stop_the_run_or_the_other_transports(
    tmp_path: Path, marquez: Marquez
) -> None:
    marquez.status = 500
    spec = spec_of(tmp_path)
    pipeline = build(spec)
    out = tmp_path / "events.jsonl"
    listener = listen(
        pipeline,
        LineageSpec(
            transports={
                "down": HttpTransportSpec(
                    type="http", url=marquez.url, retries=0, timeout_seconds=2
                ),
                "file": {"type": "file", "path": str(out)},  # type: ignore[dict-item]
            }
        ),
    )

    result = pipeline.run()
    listener.close()

    assert result.ok
    assert listener.failed == {"down": 2}
    assert [e["eventType"] for e in lines(out)] == ["START", "COMPLETE"]


def test_a_slow_receiver_does_not_slow_the_run(tmp_path: Path, marquez: Marquez) -> None:
    marquez.delay = 1.5
    pipeline = build(spec_of(tmp_path))
    listener = listen(
        pipeline,
        LineageSpec(transports={"slow": HttpTransportSpec(type="http", url=marquez.url)}),
    )

    result = pipeline.run()
    listener.close()

    assert result.ok
    assert result.seconds < 1.0  # START was still being delivered when the run ended
    assert [e["eventType"] for e in marquez.events()] == ["START", "COMPLETE"]


def test_the_console_transport_writes_one_json_event_per_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = build(spec_of(tmp_path))
    listener = listen(pipeline, LineageSpec(transports={"c": {"type": "console"}}))  # type: ignore[dict-item]

    assert pipeline.run().ok
    listener.close()

    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    kinds = [json.loads(line)["eventType"] for line in err]
    assert kinds == ["START", "COMPLETE"]


class _Lines:
    """A text stream keeping the lines written to it."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]


def test_event_times_are_the_events_own(tmp_path: Path) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    buffer = _Lines()
    listener = OpenLineageListener(
        spec_of(tmp_path), LineageSpec(), transports={"mem": StreamTransport(buffer)}
    )
    listener.handle(
        RunStarted(
            run_id="0192f0c4-7d2e-7a6c-8f00-3b1f2d4c5e6f",
            pipeline="tiny",
            source="csv",
            destination="files",
            at=at,
        )
    )
    listener.close()

    assert buffer.events()[0]["eventTime"] == "2026-01-02T03:04:05+00:00"


def test_the_schema_check_catches_broken_events(tmp_path: Path) -> None:
    """The validation the tests rely on fails where the spec says an event is wrong."""
    buffer = _Lines()
    pipeline = build(spec_of(tmp_path))
    listener = OpenLineageListener(
        pipeline.spec,
        LineageSpec(),
        source_schema=pipeline.schema_at,
        transports={"mem": StreamTransport(buffer)},
    )
    listener.handle(
        RunStarted(
            run_id="0192f0c4-7d2e-7a6c-8f00-3b1f2d4c5e6f",
            pipeline="tiny",
            source="csv",
            destination="files",
        )
    )
    listener.close()
    good = buffer.events()[0]
    assert problems(good) == []

    def broken(change: Any) -> list[str]:
        event = json.loads(json.dumps(good))
        change(event)
        return problems(event)

    assert broken(lambda e: e["run"].update(runId="run-1"))  # not a UUID
    assert broken(lambda e: e.update(eventType="DONE"))
    assert broken(lambda e: e.update(eventTime="yesterday"))
    assert broken(lambda e: e["job"]["facets"]["jobType"].pop("_producer"))
    assert broken(lambda e: e["job"]["facets"]["jobType"].update(processingType="NIGHTLY"))
    lineage = "columnLineage"
    assert broken(
        lambda e: e["outputs"][0]["facets"][lineage]["fields"]["a"]["inputFields"][0].pop("field")
    )
    assert broken(
        lambda e: e["outputs"][0]["facets"]["schema"].update(
            _schemaURL="https://openlineage.io/spec/facets/9-9-9/SchemaDatasetFacet.json"
        )
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("marquez:5000", r"is not an http\(s\) URL with a host"),
        ("ftp://host/x", r"is not an http\(s\) URL with a host"),
        ("https://user:pw@host", "put credentials in api_key"),
    ],
)
def test_http_transport_urls_are_checked_when_the_pipeline_loads(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HttpTransportSpec(type="http", url=url)


def test_prepare_does_starts_work_before_the_run_and_serves_one_run(tmp_path: Path) -> None:
    pipeline = build(spec_of(tmp_path))
    probes: list[str] = []

    def probe() -> Any:
        probes.append("source")
        return pipeline.schema_at()

    buffer = _Lines()
    listener = OpenLineageListener(
        pipeline.spec, LineageSpec(), source_schema=probe, transports={"m": StreamTransport(buffer)}
    )
    pipeline.listeners.append(listener)

    lineage, source, _ = listener.prepare()
    assert [c.column for c in lineage.columns] == ["a", "b"]
    assert source == [("a", "int64"), ("b", "int64")]
    assert pipeline.run().ok
    assert listener.flush(timeout=30)
    assert probes == ["source"]  # the run's START used what prepare computed
    assert pipeline.run().ok
    listener.close()

    assert probes == ["source", "source"]  # the next run probed afresh
    assert [e["eventType"] for e in buffer.events()] == ["START", "COMPLETE"] * 2


def test_the_demo_as_the_cli_runs_it_writes_schema_valid_events(demo: Path) -> None:
    """The example pipeline's own ``lineage:`` section, wired by the app, in a real process:
    its events reach the default file (the process waits for them at exit) and validate."""
    tidegate = str(Path(sys.executable).with_name("tidegate"))
    done = subprocess.run(
        [tidegate, "run", str(demo), "--fresh", "--log-level", "error"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events = lines(demo.parent / ".tidegate" / "lineage.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert problems(event) == [], event["eventType"]
        assert event["job"]["namespace"] == "tidegate-demo"
    fields = events[-1]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert set(fields) == set(DEMO)
