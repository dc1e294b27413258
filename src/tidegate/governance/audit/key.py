"""The HMAC keys of the audit trail: one keys the chain, another signs anchored heads.

Without a key, anyone who can write the state store can edit a record and recompute every hash
after it; with a *chain key* the hashes are HMAC-SHA-256 and cannot be recomputed without it.
The *head key* signs the chain head each run anchors outside the store. The two must differ and
be kept apart from the store and from each other (a secret manager, a file only the runner
reads): an attacker holding the chain key can rewrite the chain, but not re-sign the heads
that pin it, unless they also hold the head key.

Key material never appears in a repr, a log line or an error: an :class:`AuditKey` shows only a
short *check value* (a truncated HMAC of a fixed label, as banks tell keys apart).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from tidegate.errors import ConfigError

__all__ = ["MIN_KEY_BYTES", "AuditKey", "require_separate_keys"]

MIN_KEY_BYTES = 32
"""HMAC-SHA-256 keys shorter than its 256-bit output give away strength for nothing."""

_CHECK_LABEL = b"tidegate audit key check v1"


class AuditKey:
    """An HMAC-SHA-256 key whose bytes never print; ``check`` tells two keys apart."""

    __slots__ = ("_material", "check")

    def __init__(self, material: bytes) -> None:
        if len(material) < MIN_KEY_BYTES:
            raise ConfigError(
                f"an audit key is {len(material)} bytes, at least {MIN_KEY_BYTES} are needed",
                hint="create one with AuditKey.generate() or `tidegate keys generate`",
            )
        self._material = bytes(material)
        self.check = hmac.new(self._material, _CHECK_LABEL, hashlib.sha256).hexdigest()[:8]

    @classmethod
    def from_base64(cls, text: str) -> AuditKey:
        """A key stored as base64 text (what ``tidegate keys generate`` prints)."""
        try:
            material = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError(
                "an audit key is not valid base64",
                hint="store the key as printed by `tidegate keys generate`",
            ) from exc
        return cls(material)

    @classmethod
    def generate(cls) -> AuditKey:
        """A fresh random key from the operating system's CSPRNG."""
        return cls(os.urandom(MIN_KEY_BYTES))

    def material(self) -> bytes:
        """The raw key bytes, for the HMAC computations only."""
        return self._material

    def __repr__(self) -> str:
        return f"AuditKey(check={self.check!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AuditKey):
            return NotImplemented
        return hmac.compare_digest(self._material, other._material)

    def __hash__(self) -> int:
        return hash(self.check)

    def __reduce__(self) -> str:
        """Refuse pickling: a pickle would carry the material in clear to wherever it goes."""
        raise TypeError("an AuditKey cannot be pickled")


def require_separate_keys(chain_key: AuditKey | None, head_key: AuditKey) -> None:
    """Refuse a head key that is the chain key: one stolen key would then forge both."""
    if chain_key is not None and chain_key == head_key:
        raise ConfigError(
            f"the audit head key is the chain key (check {head_key.check})",
            hint="give audit heads a key of their own, stored apart from the chain key",
        )
