"""The ``audit:`` section: on by default, keys checked at load, never shown in an error."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

from tidegate.errors import SpecError
from tidegate.spec import load_pipeline

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.core import Registry

BASE = """
name: p
source: {type: csv, path: in.csv}
destination: {type: duckdb, table: t}
"""
KEY = base64.b64encode(b"k" * 32).decode()
OTHER = base64.b64encode(b"h" * 32).decode()


def test_audit_is_on_without_keys_by_default(
    write: Callable[..., Path], registry: Registry
) -> None:
    spec = load_pipeline(write(BASE), registry=registry)
    assert spec.audit.enabled
    assert (spec.audit.key, spec.audit.head_key, spec.audit.head_file) == (None, None, None)


def test_keys_resolve_from_files_and_stay_secret(
    write: Callable[..., Path], registry: Registry, tmp_path: Path
) -> None:
    (tmp_path / "chain.key").write_text(KEY + "\n", encoding="utf-8")
    spec = load_pipeline(
        write(BASE + f"audit:\n  key: file:chain.key\n  head_key: {OTHER}\n"), registry=registry
    )
    assert spec.audit.key is not None
    assert spec.audit.key.get_secret_value() == KEY
    assert KEY not in repr(spec.audit)
    assert OTHER not in spec.model_dump_json()


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (f"  key: {base64.b64encode(b'short').decode()}\n", "audit key decodes to 5 bytes"),
        ("  key: not*base64!\n", "audit key is not valid base64"),
        (f"  key: {KEY}\n  head_key: {OTHER}\n", ""),
        (f"  key: {KEY}\n  head_key: {KEY}\n", "audit head_key is the same key as audit key"),
        ("  head_file: heads.jsonl\n", "head_file is set but head_key is not"),
    ],
)
def test_bad_keys_are_named_with_how_to_make_one(
    write: Callable[..., Path], registry: Registry, section: str, expected: str
) -> None:
    path = write(BASE + "audit:\n" + section)
    if not expected:  # a different key of the same length is fine
        assert load_pipeline(path, registry=registry).audit.head_key is not None
        return
    with pytest.raises(SpecError) as caught:
        load_pipeline(path, registry=registry)
    text = str(caught.value)
    assert expected in text
    assert "pipeline.yaml:" in text
    assert "audit" in text
    if "head_file" not in expected:
        assert "tidegate keys generate" in text
    assert KEY not in text
