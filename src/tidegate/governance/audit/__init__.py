"""The audit trail: an append-only, hash-chained log of what each run did, and its checks.

Storage-agnostic: records go through the three-method ``AuditStore`` protocol (``store.py``),
which the state store implements with a table; ``MemoryAuditStore`` and ``JsonlAuditStore``
serve tests, exports and offline verification. Where each piece lives:

    canonical.py  RFC 8785 canonical JSON, the bytes hashes and signatures cover
    record.py     AuditRecord, AuditKind, ChainHead, the genesis hash, Hasher
    key.py        AuditKey: the chain key and the head key, never printed
    store.py      the AuditStore protocol, MemoryAuditStore
    jsonl.py      JSONL export/import, JsonlAuditStore
    chain.py      AuditChain: appending, fail closed
    verify.py     verify(): the first break, named and explained
    anchor.py     signed heads, HeadFile, HeadAnchor: the tail pinned outside the store
    errors.py     the audit errors under tidegate.errors
"""

from tidegate.governance.audit.anchor import (
    HeadAnchor,
    HeadFile,
    HeadSink,
    SignedHead,
    check_head,
    parse_head,
    parse_signed_head,
    sign_head,
)
from tidegate.governance.audit.canonical import JsonValue, canonical, to_json, to_json_object
from tidegate.governance.audit.chain import AuditChain, Entry
from tidegate.governance.audit.errors import (
    AuditConflictError,
    AuditFormatError,
    AuditPayloadError,
    AuditWriteError,
    HeadSignatureError,
)
from tidegate.governance.audit.jsonl import (
    JsonlAuditStore,
    export_jsonl,
    parse_record,
    read_jsonl,
)
from tidegate.governance.audit.key import AuditKey, require_separate_keys
from tidegate.governance.audit.record import (
    GENESIS_HASH,
    AuditKind,
    AuditRecord,
    ChainHead,
    Hasher,
)
from tidegate.governance.audit.store import (
    AuditStore,
    MemoryAuditStore,
    check_follows,
    records_of_run,
)
from tidegate.governance.audit.verify import ChainBreak, Tampering, VerifyResult, verify

__all__ = [
    "GENESIS_HASH",
    "AuditChain",
    "AuditConflictError",
    "AuditFormatError",
    "AuditKey",
    "AuditKind",
    "AuditPayloadError",
    "AuditRecord",
    "AuditStore",
    "AuditWriteError",
    "ChainBreak",
    "ChainHead",
    "Entry",
    "Hasher",
    "HeadAnchor",
    "HeadFile",
    "HeadSignatureError",
    "HeadSink",
    "JsonValue",
    "JsonlAuditStore",
    "MemoryAuditStore",
    "SignedHead",
    "Tampering",
    "VerifyResult",
    "canonical",
    "check_follows",
    "check_head",
    "export_jsonl",
    "parse_head",
    "parse_record",
    "parse_signed_head",
    "read_jsonl",
    "records_of_run",
    "require_separate_keys",
    "sign_head",
    "to_json",
    "to_json_object",
    "verify",
]
