"""The errors of the audit trail, each under the ``tidegate.errors`` kind that says how to react.

    TidegateError
    ├── DependencyError
    │   └── AuditWriteError        a record or an anchored head could not be written: the run
    │                              fails closed (DESIGN §1), never goes on unaudited
    ├── TransientError
    │   └── AuditConflictError     another writer took the seq first; the chain retries
    ├── InternalError
    │   └── AuditPayloadError      a payload value has no canonical JSON form (a caller's bug)
    ├── DataError
    │   └── AuditFormatError       a line of an export or head file cannot be read as a record
    └── SecurityError
        └── HeadSignatureError     an anchored head's signature does not match the head key

None of them ever quotes key material or a payload value: messages name fields and types.
"""

from __future__ import annotations

from tidegate.errors import (
    DataError,
    DependencyError,
    InternalError,
    SecurityError,
    TransientError,
)

__all__ = [
    "AuditConflictError",
    "AuditFormatError",
    "AuditPayloadError",
    "AuditWriteError",
    "HeadSignatureError",
]


class AuditWriteError(DependencyError):
    """The audit trail could not record something; the run must stop (audit fails closed)."""


class AuditConflictError(TransientError):
    """The store's head moved between reading it and appending: another writer appended first.

    Raised by a store's ``append`` when the first record's seq is not the head's seq + 1 or its
    ``prev_hash`` is not the head's hash; ``AuditChain`` then rebuilds the record on the new head.
    """


class AuditPayloadError(InternalError):
    """A value given to the audit trail cannot be written in canonical JSON."""


class AuditFormatError(DataError):
    """A line of an audit export or head file is not a well-formed record."""


class HeadSignatureError(SecurityError):
    """An anchored chain head is not signed by the head key given."""
