"""The keyring that field-level encryption draws its AES-256 keys from.

A key is named by an *id* (``customers``, ``main``) and a *version* (1, 2, ...). Rotating a key
means adding a new version: encryption always uses the newest version of a key id, while
decryption finds whichever version a ciphertext names, so data written before a rotation still
decrypts as long as its version stays in the keyring.

Keys come from the same secret references as every other secret (``env:NAME``, ``file:PATH``
or a literal), each holding 32 random bytes in base64 (:func:`generate_key` makes one). Key
material never appears in a repr, a log line, an error or an event: a :class:`Key` shows only
its id, version and a short *key check value* (a truncated HMAC of the key, the banking
convention for telling two keys apart without revealing either).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from typing import TYPE_CHECKING, Any

from tidegate.errors import ConfigError, SecurityError
from tidegate.spec.settings import resolve_secret_ref

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from pydantic import SecretStr

__all__ = ["KEY_BYTES", "Key", "Keyring", "generate_key"]

KEY_BYTES = 32
"""AES-256 takes 32-byte keys; nothing shorter is accepted."""

MAX_VERSION = 2**32 - 1
"""Versions travel as a 4-byte unsigned integer in every ciphertext."""

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CHECK_LABEL = b"tidegate key check v1"


def generate_key() -> str:
    """Return a fresh random AES-256 key as base64 text, ready to store as a secret.

    This is what ``tidegate keys generate`` prints; the key is drawn from the operating
    system's CSPRNG and is never logged.
    """
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class Key:
    """One version of one key: an id, a version and 32 bytes of material that never print.

    The material sits in a slot with no public accessor beyond :meth:`material`, so it cannot
    leak through ``repr``, ``str``, f-strings or structured logs that render objects.
    """

    __slots__ = ("_material", "check", "key_id", "version")

    def __init__(self, key_id: str, version: int, material: bytes) -> None:
        if not _KEY_ID.fullmatch(key_id):
            raise ConfigError(
                f"key id {key_id!r} is not valid",
                hint="use 1 to 64 characters among letters, digits, '_', '.' and '-'",
            )
        if not 1 <= version <= MAX_VERSION:
            raise ConfigError(
                f"key {key_id!r} has version {version}, outside 1..{MAX_VERSION}",
                hint="number key versions 1, 2, 3... in the order they were created",
            )
        if len(material) != KEY_BYTES:
            raise ConfigError(
                f"key {key_id!r} v{version} is {len(material)} bytes, AES-256 needs {KEY_BYTES}",
                hint="create one with `tidegate keys generate`",
            )
        self.key_id = key_id
        self.version = version
        self._material = bytes(material)
        self.check = key_check_value(self._material)

    def material(self) -> bytes:
        """The raw key bytes, for the cipher only; never log or store them."""
        return self._material

    def __repr__(self) -> str:
        return f"Key(key_id={self.key_id!r}, version={self.version}, check={self.check.hex()})"

    __str__ = __repr__


def key_check_value(material: bytes) -> bytes:
    """Four bytes that tell keys apart without revealing them (HMAC-SHA-256 of a fixed label).

    Stored in every ciphertext so a wrong key under the right id and version is reported as
    such, instead of as a generic authentication failure.
    """
    return hmac.new(material, _CHECK_LABEL, hashlib.sha256).digest()[:4]


def decode_key(text: str, *, key_id: str, version: int, source: str) -> bytes:
    """Decode a base64 key; errors name the key and where it came from, never its content."""
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        # Not chained: the decoder's message may quote part of the secret text.
        raise ConfigError(
            f"key {key_id!r} v{version} from {source} is not valid base64",
            hint="store the output of `tidegate keys generate` as is",
        ) from None
    if len(material) != KEY_BYTES:
        raise ConfigError(
            f"key {key_id!r} v{version} from {source} decodes to {len(material)} bytes, "
            f"AES-256 needs {KEY_BYTES}",
            hint="create one with `tidegate keys generate`",
        )
    return material


class Keyring:
    """The set of keys a run may use: newest version of a key id encrypts, any version decrypts.

    ``default_key_id`` names the key used when the caller does not pick one; with a single key
    id in the ring it is that id. Cipher objects are built once per key and reused, since
    setting up AES-GCM costs more than encrypting one short value.
    """

    __slots__ = ("_ciphers", "_keys", "default_key_id")

    def __init__(self, keys: Iterable[Key], *, default_key_id: str | None = None) -> None:
        self._keys: dict[tuple[str, int], Key] = {}
        for key in keys:
            where = (key.key_id, key.version)
            if where in self._keys:
                raise ConfigError(
                    f"key {key.key_id!r} v{key.version} is given twice",
                    hint="give each version of a key id exactly once",
                )
            self._keys[where] = key
        if not self._keys:
            raise ConfigError(
                "the keyring is empty",
                hint="configure at least one key; create one with `tidegate keys generate`",
            )
        ids = sorted({key_id for key_id, _ in self._keys})
        if default_key_id is None:
            if len(ids) > 1:
                raise ConfigError(
                    f"the keyring holds several key ids ({', '.join(ids)}) and no default",
                    hint="name the key id to encrypt with as default_key_id",
                )
            default_key_id = ids[0]
        elif default_key_id not in ids:
            raise ConfigError(
                f"default key id {default_key_id!r} is not in the keyring ({', '.join(ids)})",
                hint="add that key or pick one of the configured ids",
            )
        self.default_key_id = default_key_id
        self._ciphers: dict[tuple[str, int], AESGCM] = {}

    @classmethod
    def load(
        cls,
        refs: Mapping[str, Mapping[int, str | SecretStr]],
        *,
        default_key_id: str | None = None,
        base_dir: Path | None = None,
    ) -> Keyring:
        """Build a keyring from ``{key_id: {version: "env:NAME" | "file:PATH" | base64}}``.

        Each reference resolves through the spec's secret resolver (relative ``file:`` paths
        against ``base_dir``); errors name the key id, version and the reference, never a key.
        """
        keys = []
        for key_id, versions in refs.items():
            for version, ref in versions.items():
                raw = ref if isinstance(ref, str) else ref.get_secret_value()
                source = _describe_ref(raw)
                try:
                    text: Any = resolve_secret_ref(raw, base_dir)
                except ValueError as exc:
                    raise ConfigError(
                        f"key {key_id!r} v{version}: {exc}",
                        hint="point the key at an environment variable or a readable file",
                    ) from exc
                material = decode_key(str(text), key_id=key_id, version=version, source=source)
                keys.append(Key(key_id, version, material))
        return cls(keys, default_key_id=default_key_id)

    def newest(self, key_id: str | None = None) -> Key:
        """The key that encrypts new data: the highest version of ``key_id`` (or the default)."""
        wanted = key_id or self.default_key_id
        versions = [key for (kid, _), key in self._keys.items() if kid == wanted]
        if not versions:
            raise SecurityError(
                f"key id {wanted!r} is not in the keyring ({', '.join(self.key_ids())})",
                hint="add the key to the keyring or pick a configured key id",
            )
        return max(versions, key=lambda key: key.version)

    def get(self, key_id: str, version: int) -> Key:
        """The exact key a ciphertext names; a clear :class:`SecurityError` if it is missing."""
        key = self._keys.get((key_id, version))
        if key is None:
            held = sorted(v for kid, v in self._keys if kid == key_id)
            have = (
                f"it holds versions {', '.join(map(str, held))} of that id"
                if held
                else f"it holds key ids {', '.join(self.key_ids())}"
            )
            raise SecurityError(
                f"key {key_id!r} v{version} is not in the keyring; {have}",
                hint="keep retired key versions in the keyring while data encrypted with them "
                "remains",
            )
        return key

    def cipher(self, key: Key) -> AESGCM:
        """The AES-GCM object for ``key``, built once and reused for every value."""
        where = (key.key_id, key.version)
        cipher = self._ciphers.get(where)
        if cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import (  # noqa: PLC0415 - heavy cryptography back-end imported on first use (DESIGN §2)
                AESGCM,
            )

            cipher = AESGCM(self._keys[where].material())
            self._ciphers[where] = cipher
        return cipher

    def key_ids(self) -> list[str]:
        """The key ids held, sorted."""
        return sorted({key_id for key_id, _ in self._keys})

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        keys = ", ".join(f"{kid} v{version}" for kid, version in sorted(self._keys))
        return f"Keyring(keys=[{keys}], default_key_id={self.default_key_id!r})"

    __str__ = __repr__


def _describe_ref(ref: str) -> str:
    """Say where a key came from without quoting a literal key."""
    if ref.startswith(("env:", "file:")):
        return ref
    return "a literal value"
