"""The governance policy: loading with located errors, the action ladder, profiles, exceptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tidegate.errors import ConfigError
from tidegate.governance.classify import ColumnClassification, Evidence, Level, PiiType
from tidegate.governance.policy import POLICY_ENV, decide, load_policy, satisfies

if TYPE_CHECKING:
    from pathlib import Path


def _verdict(column: str, pii_type: PiiType) -> ColumnClassification:
    evidence = Evidence(matched=str(pii_type), ratio=1.0, sampled=100, header_hint=None)
    return ColumnClassification(
        column=column, pii_type=pii_type, confidence=1.0, evidence=evidence, level=Level.PUBLIC
    )


@pytest.mark.parametrize(
    ("required", "applied", "expected"),
    [
        ("allow", "none", True),
        ("mask", "none", False),
        ("mask", "mask:partial", True),
        ("mask", "mask:hash", True),
        ("mask", "encrypt", True),
        ("mask", "removed", True),
        ("encrypt", "mask:hash", False),
        ("encrypt", "mask:partial", False),
        ("encrypt", "mask:null", True),
        ("encrypt", "mask:redact", True),
        ("encrypt", "encrypt", True),
        ("encrypt", "removed", True),
        ("encrypt", "none", False),
    ],
)
def test_the_action_ladder(required: str, applied: str, expected: bool) -> None:
    assert satisfies(required, applied) is expected  # type: ignore[arg-type]


def test_the_shipped_policy_maps_types_and_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICY_ENV, raising=False)
    policy = load_policy()
    assert policy.source == "built-in"
    assert policy.level_of(PiiType.CREDIT_CARD) == Level.RESTRICTED
    assert policy.level_of(PiiType.EMAIL) == Level.CONFIDENTIAL
    assert policy.level_of(PiiType.NONE) == Level.PUBLIC
    assert policy.required(Level.RESTRICTED, None) == "encrypt"
    assert policy.required(Level.RESTRICTED, "prod") == "encrypt"  # not listed: default
    assert policy.required(Level.RESTRICTED, "dev") == "mask"
    assert policy.required(Level.CONFIDENTIAL, "dev") == "mask"  # dev changes only restricted
    assert policy.required(Level.INTERNAL, None) == "allow"


def test_a_policy_file_overrides_levels_and_lists_exceptions(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "levels: {postal_code: confidential}\n"
        "actions:\n"
        "  default: {public: allow, internal: allow, confidential: encrypt, restricted: encrypt}\n"
        "exceptions:\n"
        "  - {pipeline: 'crm_*', column: 'last_*', reason: mailing}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.source == str(path)
    assert policy.level_of(PiiType.POSTAL_CODE) == Level.CONFIDENTIAL
    assert policy.level_of(PiiType.PHONE) == Level.CONFIDENTIAL  # left out: default level
    assert policy.exception_for("crm_daily", "last_name") is not None
    assert policy.exception_for("billing", "last_name") is None
    assert policy.exception_for("crm_daily", "first_name") is None


def test_policy_env_names_the_file_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "actions: {default: {public: allow, internal: mask, confidential: mask, "
        "restricted: encrypt}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(POLICY_ENV, str(path))
    assert load_policy().required(Level.INTERNAL, None) == "mask"


def test_policy_mistakes_are_all_reported_at_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\n"
        "levels:\n"
        "  emial: confidential\n"
        "actions:\n"
        "  default: {public: allow, internal: allow, confidential: shred, restricted: encrypt}\n"
        "unprotectd: warn\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "policy file has 3 problems" in message
    assert f"{path}:3" in message
    assert "emial" in message
    assert f"{path}:5" in message
    assert "shred" in message
    assert f"{path}:6" in message
    assert "did you mean 'unprotected'" in message


def test_actions_default_must_cover_every_level(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("actions: {default: {public: allow}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing: internal, confidential, restricted"):
        load_policy(path)


def test_a_missing_policy_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_policy(tmp_path / "nope.yaml")


def test_decide_combines_detection_pins_protections_and_output() -> None:
    policy = load_policy()
    decisions = decide(
        [
            _verdict("email", PiiType.EMAIL),
            _verdict("card", PiiType.CREDIT_CARD),
            _verdict("phone", PiiType.PHONE),
            _verdict("notes", PiiType.NONE),
            _verdict("city", PiiType.NONE),
        ],
        policy=policy,
        pipeline="crm",
        profile=None,
        pins={"notes": "confidential", "email": "internal"},
        protections={"card": "mask:partial"},
        output_columns=["email", "card", "notes", "city", "full_name"],
        output_verdicts=[_verdict("full_name", PiiType.PERSON_NAME)],
    )
    by_column = {d.column: d for d in decisions}
    assert by_column["email"].origin == "pinned"
    assert (by_column["email"].level, by_column["email"].status) == (Level.INTERNAL, "ok")
    assert (by_column["card"].required, by_column["card"].status) == ("encrypt", "blocked")
    assert (by_column["phone"].applied, by_column["phone"].status) == ("removed", "ok")
    assert (by_column["notes"].level, by_column["notes"].status) == (Level.CONFIDENTIAL, "blocked")
    assert by_column["city"].status == "ok"
    assert by_column["full_name"].origin == "output"
    assert by_column["full_name"].status == "blocked"
    assert "column 'card' (detected as credit_card, level restricted) needs encrypt" in (
        by_column["card"].problem()
    )
