"""`tidegate changes` and `tidegate diff` after real runs of a pipeline whose spec changes
between runs, in a real git repository (committed, then edited without a commit) and outside
one; a secret from the environment rotated between runs shows as changed, never in clear."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tests.e2e.conftest import Cli

PIPELINE = """\
name: orders
source: {type: csv, path: orders.csv}
steps:
  - type: derive
    name: stamped
    columns: {api_key: "'${TOKEN}'"}
destination: {type: duckdb, path: out.duckdb, table: orders, mode: replace}
"""
REDACTED = "**********"


def _git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _data(folder: Path, header: str = "id,amount") -> None:
    extra = ",x" if header.count(",") == 2 else ""
    rows = [f"{i},{i % 100}{extra}" for i in range(50)]
    (folder / "orders.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def _run(cli: Cli, token: str) -> str:
    done = cli("run", "pipeline.yaml", env={"TOKEN": token})
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["run_id"])


def _changes(cli: Cli, *args: str) -> list[dict[str, Any]]:
    done = cli("changes", *args, "--json", env={"TOKEN": "SENTINEL-any"})
    assert done.returncode == 0, done.stderr
    assert "SENTINEL" not in done.stdout
    return list(json.loads(done.stdout)["versions"])


def test_a_spec_changed_between_runs_is_told_with_its_commit(tmp_path: Path, cli: Cli) -> None:
    spec = tmp_path / "pipeline.yaml"
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.name", "Ann Lee")
    _git(tmp_path, "config", "user.email", "ann@example.com")
    _git(tmp_path, "config", "commit.gpgsign", "false")
    (tmp_path / ".gitignore").write_text(".tidegate/\n*.duckdb\n*.csv\n", encoding="utf-8")
    _data(tmp_path)
    spec.write_text(PIPELINE, encoding="utf-8")
    _git(tmp_path, "add", ".gitignore", "pipeline.yaml")
    _git(tmp_path, "commit", "-q", "-m", "orders")
    first_commit = _git(tmp_path, "rev-parse", "HEAD")
    first = _run(cli, "SENTINEL-one")
    assert _run(cli, "SENTINEL-one") != first  # the same spec again: no new version

    spec.write_text(PIPELINE.replace("table: orders", "table: orders_v2"), encoding="utf-8")
    _git(tmp_path, "commit", "-q", "-am", "orders_v2", "--author", "Bob Ray <bob@example.com>")
    second_commit = _git(tmp_path, "rev-parse", "HEAD")
    _data(tmp_path, header="id,amount,region")
    second = _run(cli, "SENTINEL-two")  # the table changed, the secret rotated, a new column

    spec.write_text(spec.read_text(encoding="utf-8") + "owner: data-team\n", encoding="utf-8")
    third = _run(cli, "SENTINEL-two")  # edited, not committed

    versions = _changes(cli, "pipeline.yaml")
    assert [v["run_id"] for v in versions] == [third, second, first]
    assert [v["summary"] for v in versions] == ["1 changed", "2 changed", "first version"]
    assert [(v["git_commit"], v["git_author"], v["git_dirty"]) for v in versions] == [
        (second_commit, "Bob Ray <bob@example.com>", True),
        (second_commit, "Bob Ray <bob@example.com>", False),
        (first_commit, "Ann Lee <ann@example.com>", False),
    ]
    assert versions[0]["spec_file"] == str(spec)
    assert versions[0]["diff"] == [
        {"change": "changed", "path": "owner", "old": None, "new": "data-team"}
    ]
    assert versions[1]["diff"] == [
        {"change": "changed", "path": "destination.table", "old": "orders", "new": "orders_v2"},
        {
            "change": "changed",
            "path": "steps[0].columns.api_key",
            "old": REDACTED,
            "new": REDACTED,
        },
    ]
    assert versions[2]["diff"] is None
    assert [v["run_id"] for v in _changes(cli, "orders", "--limit", "1")] == [third]

    text = cli("changes", "pipeline.yaml", env={"TOKEN": "SENTINEL-two"})
    assert text.returncode == 0, text.stderr
    assert "SENTINEL" not in text.stdout
    assert f"git: {second_commit[:12]} by Bob Ray <bob@example.com> (uncommitted changes)" in (
        text.stdout
    )
    assert '~ destination.table: "orders" → "orders_v2"' in text.stdout
    assert f'~ steps[0].columns.api_key: "{REDACTED}" → "{REDACTED}"' in text.stdout
    assert "first version" in text.stdout

    compared = cli("diff", first, second[:13], "pipeline.yaml", "--json", env={"TOKEN": "x"})
    assert compared.returncode == 0, compared.stderr
    assert "SENTINEL" not in compared.stdout
    found = json.loads(compared.stdout)
    assert [run["run_id"] for run in found["runs"]] == [first, second]
    assert [run["rows_read"] for run in found["runs"]] == [50, 50]
    assert [e["path"] for e in found["spec"]["diff"]] == [
        "destination.table",
        "steps[0].columns.api_key",
    ]
    assert found["version"]["same"] is True
    assert found["source_schema"] == [
        {"change": "added", "column": "region", "old": None, "new": "string"}
    ]
    shown = cli("diff", first, second, "pipeline.yaml", env={"TOKEN": "x"})
    assert shown.returncode == 0, shown.stderr
    assert "spec: 2 difference(s)" in shown.stdout
    assert "+ region (string)" in shown.stdout
    assert f"A: run {first} of orders" in shown.stdout


def test_outside_git_the_versions_have_no_commit(tmp_path: Path, cli: Cli) -> None:
    _data(tmp_path)
    spec = tmp_path / "pipeline.yaml"
    spec.write_text(PIPELINE, encoding="utf-8")
    _run(cli, "t")
    spec.write_text(PIPELINE.replace("mode: replace", "mode: append"), encoding="utf-8")
    _run(cli, "t")
    versions = _changes(cli, "pipeline.yaml")
    assert [v["summary"] for v in versions] == ["1 changed", "first version"]
    assert {(v["git_commit"], v["git_author"], v["git_dirty"]) for v in versions} == {
        (None, None, None)
    }
    text = cli("changes", "orders")  # by name, in the working folder's store
    assert text.returncode == 0, text.stderr
    assert "git:" not in text.stdout
    assert '~ destination.mode: "replace" → "append"' in text.stdout


def test_unknown_runs_and_pipelines_say_where_to_look(tmp_path: Path, cli: Cli) -> None:
    _data(tmp_path)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    known = _run(cli, "t")
    unknown = cli("diff", known, "0000dead", "pipeline.yaml", env={"TOKEN": "t"})
    assert unknown.returncode == 2
    assert "no run '0000dead'" in unknown.stderr
    assert "tidegate runs" in unknown.stderr
    nothing = cli("changes", "nope")
    assert nothing.returncode == 2
    assert "no run of pipeline 'nope'" in nothing.stderr
    assert "tidegate runs" in nothing.stderr


def test_the_change_log_lives_in_a_postgres_store_too(
    tmp_path: Path,
    cli: Cli,
    postgres_database: Callable[[str], AbstractContextManager[str]],
) -> None:
    _data(tmp_path)
    spec = tmp_path / "pipeline.yaml"
    with postgres_database("tidegate_changes_") as url:
        state = f"observability:\n  state: {{url: '{url}'}}\n"
        spec.write_text(PIPELINE + state, encoding="utf-8")
        first = _run(cli, "SENTINEL-one")
        spec.write_text(PIPELINE.replace("orders, mode", "v2, mode") + state, encoding="utf-8")
        second = _run(cli, "SENTINEL-two")
        versions = _changes(cli, "orders", "--state", url)
        assert [(v["run_id"], v["summary"]) for v in versions] == [
            (second, "2 changed"),
            (first, "first version"),
        ]
        compared = cli("diff", first, second, "--state", url, "--json")
        assert compared.returncode == 0, compared.stderr
        assert "SENTINEL" not in compared.stdout
        assert json.loads(compared.stdout)["spec"]["diff"][0]["path"] == "destination.table"
    assert not (tmp_path / ".tidegate" / "state.db").exists()
