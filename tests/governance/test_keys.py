"""The keyring: loading keys from secret references, rotation order, and never showing a key."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

from tidegate.errors import ConfigError, SecurityError
from tidegate.governance.keys import KEY_BYTES, Key, Keyring, generate_key

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _material(text: str) -> bytes:
    return base64.b64decode(text)


def test_generate_key_gives_distinct_32_byte_base64_keys() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(_material(key)) == KEY_BYTES for key in keys)


def test_load_resolves_env_file_and_literal_refs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = generate_key(), generate_key(), generate_key()
    monkeypatch.setenv("TG_TEST_KEY_V1", first)
    (tmp_path / "main.v2").write_text(second + "\n", encoding="utf-8")
    keyring = Keyring.load(
        {"main": {1: "env:TG_TEST_KEY_V1", 2: "file:main.v2"}, "hr": {1: third}},
        default_key_id="main",
        base_dir=tmp_path,
    )
    assert len(keyring) == 3
    assert keyring.get("main", 1).material() == _material(first)
    assert keyring.get("main", 2).material() == _material(second)
    assert keyring.get("hr", 1).material() == _material(third)


def test_newest_version_encrypts_and_default_applies() -> None:
    keyring = Keyring(
        [
            Key("main", 1, _material(generate_key())),
            Key("main", 3, _material(generate_key())),
            Key("main", 2, _material(generate_key())),
            Key("hr", 7, _material(generate_key())),
        ],
        default_key_id="main",
    )
    assert keyring.newest().version == 3
    assert keyring.newest("hr").version == 7


def test_single_key_id_is_the_default_and_several_need_one() -> None:
    assert Keyring([Key("only", 1, _material(generate_key()))]).default_key_id == "only"
    with pytest.raises(ConfigError, match="several key ids"):
        Keyring([Key("a", 1, _material(generate_key())), Key("b", 1, _material(generate_key()))])


def test_unknown_key_says_which_versions_exist() -> None:
    keyring = Keyring([Key("main", 1, _material(generate_key()))])
    with pytest.raises(SecurityError, match=r"'main' v2 is not in the keyring; .*versions 1"):
        keyring.get("main", 2)
    with pytest.raises(SecurityError, match=r"'other' v1 is not in the keyring; .*key ids main"):
        keyring.get("other", 1)
    with pytest.raises(SecurityError, match="key id 'other' is not in the keyring"):
        keyring.newest("other")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Key("bad id!", 1, bytes(32)), "key id 'bad id!' is not valid"),
        (lambda: Key("k", 0, bytes(32)), "version 0"),
        (lambda: Key("k", 1, bytes(16)), "16 bytes, AES-256 needs 32"),
        (lambda: Keyring([]), "keyring is empty"),
        (
            lambda: Keyring([Key("k", 1, bytes(32)), Key("k", 1, bytes(32))]),
            "given twice",
        ),
    ],
)
def test_invalid_keys_are_config_errors(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_load_errors_name_the_ref_not_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = base64.b64encode(b"s3cr3t-but-short").decode()
    monkeypatch.setenv("TG_TEST_SHORT", short)
    with pytest.raises(ConfigError) as short_error:
        Keyring.load({"main": {1: "env:TG_TEST_SHORT"}})
    assert "env:TG_TEST_SHORT" in str(short_error.value)
    assert short not in str(short_error.value)

    garbage = "not*base64*at*all-but-secret"
    with pytest.raises(ConfigError) as garbage_error:
        Keyring.load({"main": {1: garbage}})
    assert "a literal value" in str(garbage_error.value)
    assert garbage not in str(garbage_error.value)
    assert garbage_error.value.__cause__ is None

    with pytest.raises(ConfigError, match="'TG_TEST_UNSET_KEY' is not set"):
        Keyring.load({"main": {1: "env:TG_TEST_UNSET_KEY"}})
    with pytest.raises(ConfigError, match="cannot be read"):
        Keyring.load({"main": {1: "file:missing.key"}}, base_dir=tmp_path)


def test_repr_and_str_hold_no_key_material() -> None:
    text = generate_key()
    material = _material(text)
    key = Key("main", 1, material)
    keyring = Keyring([key])
    for shown in (repr(key), str(key), repr(keyring), str(keyring), f"{keyring} {key}"):
        assert text not in shown
        assert material.hex() not in shown
        assert repr(material) not in shown
    assert repr(keyring) == "Keyring(keys=[main v1], default_key_id='main')"
