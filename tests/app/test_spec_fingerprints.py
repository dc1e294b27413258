"""``redacted_fingerprints``: a value the stored spec redacts gets a fingerprint that changes
with the value and never holds it; a spec without such values has none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tidegate.app.bootstrap import load
from tidegate.app.observing import effective_spec, redacted_fingerprints

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from tidegate.spec import PipelineSpec

PIPELINE = """\
name: orders
source: {type: csv, path: in.csv}
steps:
  - type: derive
    name: stamped
    columns: {api_key: "'${TOKEN}'", plain: "'${LABEL}'"}
destination: {type: duckdb, path: out.duckdb, table: t}
"""


def _spec(folder: Path, monkeypatch: pytest.MonkeyPatch, token: str) -> PipelineSpec:
    (folder / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    monkeypatch.setenv("TOKEN", token)
    monkeypatch.setenv("LABEL", "visible")
    return load(folder / "pipeline.yaml")


def test_a_rotated_secret_changes_its_fingerprint_not_the_stored_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _spec(tmp_path, monkeypatch, "SENTINEL-old-token")
    new = _spec(tmp_path, monkeypatch, "SENTINEL-new-token")
    assert effective_spec(old) == effective_spec(new)
    before = redacted_fingerprints(old)
    after = redacted_fingerprints(new)
    assert list(before) == list(after) == ["steps[0].settings.columns.api_key"]
    assert before != after
    assert redacted_fingerprints(old) == before  # stable
    assert "SENTINEL" not in repr(before) + repr(after)


def test_a_spec_without_redacted_values_has_no_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.replace("api_key", "label"), encoding="utf-8")
    monkeypatch.setenv("TOKEN", "x")
    monkeypatch.setenv("LABEL", "y")
    assert redacted_fingerprints(load(tmp_path / "pipeline.yaml")) == {}
