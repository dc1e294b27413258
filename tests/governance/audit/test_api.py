"""The audit package's surface is deliberate: the state store, runner and CLI build on it."""

from __future__ import annotations

from tidegate.governance import audit


def test_public_api_is_pinned() -> None:
    assert sorted(audit.__all__) == [
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
        "GENESIS_HASH",
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
    assert all(hasattr(audit, name) for name in audit.__all__)


def test_the_error_kinds_say_how_to_react() -> None:
    from tidegate.errors import ErrorKind  # noqa: PLC0415

    kinds = {
        audit.AuditWriteError: ErrorKind.DEPENDENCY,
        audit.AuditConflictError: ErrorKind.TRANSIENT,
        audit.AuditPayloadError: ErrorKind.INTERNAL,
        audit.AuditFormatError: ErrorKind.DATA,
        audit.HeadSignatureError: ErrorKind.SECURITY,
    }
    assert {error: error.kind for error in kinds} == kinds
