"""Tampering with a 10,000-record chain, each way there is, is found and the record named.

Each test changes a copy of a chain built through ``AuditChain`` the way someone with write
access to the store would, then checks that ``verify`` stops at the record changed, with the
right explanation. The same chain untouched verifies (the control for every case).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.governance.audit.chains import (
    CHAIN_LENGTH,
    build_chain,
    renumbered,
    resealed,
    resealed_one,
)
from tidegate.governance.audit import (
    GENESIS_HASH,
    AuditKey,
    ChainHead,
    Hasher,
    Tampering,
    VerifyResult,
    verify,
)

if TYPE_CHECKING:
    from tidegate.governance.audit import AuditRecord, ChainBreak

N = 4321
"""The record tampered with in the middle of the chain (seq; its index is N - 1)."""


def _broken(
    result: VerifyResult, seq: int | None, tampering: Tampering, checked: int | None = None
) -> ChainBreak:
    """Assert ``result`` names ``seq`` and ``tampering``, having verified the records before it
    (``checked``, by default ``seq - 1``); the break, for its message."""
    assert not result.ok, "the tampering went unnoticed"
    problem = result.problem
    assert problem is not None
    assert (problem.seq, problem.tampering) == (seq, tampering), str(problem)
    assert problem.hint
    verified = seq - 1 if checked is None and seq is not None else checked
    assert result.checked == verified
    assert (result.head.seq if result.head else 0) == verified
    return problem


def test_intact_chains_verify(
    keyed_chain: list[AuditRecord], plain_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    keyed = verify(keyed_chain, key=chain_key)
    assert keyed.ok, keyed.problem
    assert (keyed.checked, keyed.keyed, keyed.head) == (CHAIN_LENGTH, True, keyed_chain[-1].head)
    plain = verify(plain_chain)
    assert plain.ok, plain.problem
    assert plain.checked == CHAIN_LENGTH
    assert keyed_chain[0].prev_hash == GENESIS_HASH
    assert [r.seq for r in keyed_chain] == list(range(1, CHAIN_LENGTH + 1))


@pytest.mark.parametrize(
    "field",
    ["payload", "payload_nested", "at", "kind", "run_id", "pipeline", "prev_hash", "hash"],
)
def test_editing_any_field_is_found_at_that_record(
    keyed_chain: list[AuditRecord], chain_key: AuditKey, field: str
) -> None:
    record = keyed_chain[N - 1]
    edits = {
        "payload": {"payload": {**record.payload, "rows": 0}},
        "payload_nested": {"payload": {**record.payload, "tags": ["gdpr", "pii"]}},
        "at": {"at": record.at + timedelta(microseconds=1)},
        "kind": {"kind": "erasure_done"},
        "run_id": {"run_id": "run-9999"},
        "pipeline": {"pipeline": None},
        "prev_hash": {"prev_hash": keyed_chain[N - 3].hash},
        "hash": {"hash": "f" * 64},
    }
    tampered = list(keyed_chain)
    tampered[N - 1] = replace(record, **edits[field])  # type: ignore[arg-type]
    assert _broken(verify(tampered, key=chain_key), N, Tampering.EDITED).position == N


def test_editing_the_seq_field_is_found_as_an_edit(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    tampered = list(keyed_chain)
    tampered[N - 1] = replace(keyed_chain[N - 1], seq=N + 1)
    problem = _broken(verify(tampered, key=chain_key), N, Tampering.EDITED)
    assert "seq field was changed" in problem.message


@pytest.mark.parametrize(("where", "seq"), [("first", 1), ("middle", N), ("range", N)])
def test_deleting_a_record_leaves_a_gap_that_is_named(
    keyed_chain: list[AuditRecord], chain_key: AuditKey, where: str, seq: int
) -> None:
    cut = 5 if where == "range" else 1
    tampered = keyed_chain[: seq - 1] + keyed_chain[seq - 1 + cut :]
    problem = _broken(verify(tampered, key=chain_key), seq, Tampering.DELETED)
    gap = f"seq {seq} is missing" if cut == 1 else f"seqs {seq}-{seq + cut - 1} are missing"
    assert gap in problem.message


def test_deleting_the_last_record_needs_an_anchor_and_is_then_named(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    tampered = keyed_chain[:-1]
    # A bare chain cannot tell: its last record is as valid as any (why heads are anchored).
    assert verify(tampered, key=chain_key).ok
    result = verify(tampered, key=chain_key, anchors=[keyed_chain[-1].head])
    _broken(result, CHAIN_LENGTH, Tampering.TRUNCATED, checked=CHAIN_LENGTH - 1)


def test_deleting_and_renumbering_is_named_at_the_deleted_seq(
    plain_chain: list[AuditRecord],
) -> None:
    tampered = renumbered(plain_chain[: N - 1] + plain_chain[N:], N - 1, -1)
    _broken(verify(tampered), N, Tampering.DELETED)


@pytest.mark.parametrize("other", [N + 1, N + 2000])
def test_swapping_two_records_is_found_where_the_first_one_belongs(
    keyed_chain: list[AuditRecord], chain_key: AuditKey, other: int
) -> None:
    tampered = list(keyed_chain)
    tampered[N - 1], tampered[other - 1] = tampered[other - 1], tampered[N - 1]
    problem = _broken(verify(tampered, key=chain_key), N, Tampering.REORDERED)
    assert f"record {other} is where record {N} belongs" in problem.message
    assert f"at position {other}" in problem.message


def test_a_forged_record_inserted_before_or_after_its_seq_is_named(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    # The forger has no chain key: plain SHA-256, correctly linked to the record before.
    forged = Hasher().seal(
        seq=N,
        at=keyed_chain[N - 1].at,
        kind="erasure_done",
        run_id="run-forged",
        pipeline="customers",
        payload={"request_id": "r-1", "rows_erased": {"warehouse": 0}},
        prev_hash=keyed_chain[N - 2].hash,
    )
    before = [*keyed_chain[: N - 1], forged, *keyed_chain[N - 1 :]]
    _broken(verify(before, key=chain_key), N, Tampering.INSERTED)
    after = [*keyed_chain[:N], forged, *keyed_chain[N:]]
    _broken(verify(after, key=chain_key), N, Tampering.INSERTED, checked=N)


def test_a_copy_inserted_in_an_unkeyed_chain_is_named(plain_chain: list[AuditRecord]) -> None:
    copied = [*plain_chain[: N - 1], plain_chain[N - 1], *plain_chain[N - 1 :]]
    _broken(verify(copied), N, Tampering.INSERTED, checked=N)


def test_inserting_and_renumbering_is_named_at_the_inserted_seq(
    plain_chain: list[AuditRecord],
) -> None:
    # A valid record (the chain is unkeyed) at seq N, the rest moved up by one, hashes kept.
    forged = Hasher().seal(
        seq=N,
        at=plain_chain[N - 1].at,
        kind="rows_written",
        run_id="run-forged",
        pipeline="customers",
        payload={"destination": "warehouse", "rows": 1},
        prev_hash=plain_chain[N - 2].hash,
    )
    tampered = [*plain_chain[: N - 1], forged, *renumbered(plain_chain, N - 1, 1)[N - 1 :]]
    # The forgery itself is valid (anyone can hash an unkeyed chain); the shifted record after
    # it still hashes as seq N, which names the insertion.
    problem = _broken(verify(tampered), N, Tampering.INSERTED, checked=N)
    assert f"inserted at {N}" in problem.message


def test_recomputing_the_tail_without_the_chain_key_is_named_at_the_first_forgery(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    edited = list(keyed_chain)
    edited[N - 1] = replace(edited[N - 1], payload={"rows": 0})
    tampered = resealed(edited, N - 1, Hasher())
    problem = _broken(verify(tampered, key=chain_key), N, Tampering.FORGED)
    assert "without the key" in problem.message


def test_recomputing_with_another_key_is_an_edit(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    tampered = resealed(keyed_chain, N - 1, Hasher(AuditKey(b"x" * 32)))
    _broken(verify(tampered, key=chain_key), N, Tampering.EDITED)


def test_a_missing_or_wrong_key_fails_at_the_first_record_and_says_why(
    keyed_chain: list[AuditRecord], plain_chain: list[AuditRecord]
) -> None:
    for result in (verify(keyed_chain), verify(keyed_chain, key=AuditKey(b"w" * 32))):
        assert "key is wrong or missing" in _broken(result, 1, Tampering.EDITED).message
    # An unkeyed chain checked with a key: its records are plain SHA-256.
    _broken(verify(plain_chain, key=AuditKey(b"w" * 32)), 1, Tampering.FORGED)


def test_rewriting_and_rehashing_one_record_breaks_the_next_link(
    plain_chain: list[AuditRecord],
) -> None:
    edited = list(plain_chain)
    edited[N - 1] = replace(edited[N - 1], payload={"rows": 0})
    tampered = resealed(edited, N - 1, Hasher())[:N] + plain_chain[N:]
    problem = _broken(verify(tampered), N, Tampering.EDITED, checked=N)
    assert f"record {N} was rewritten and re-hashed" in problem.message


def test_a_rewritten_first_record_is_named(plain_chain: list[AuditRecord]) -> None:
    tampered = [resealed_one(plain_chain[0], prev_hash="a" * 64), *plain_chain[1:]]
    assert "genesis" in _broken(verify(tampered), 1, Tampering.EDITED).message


def test_a_recomputed_unkeyed_tail_shows_only_against_anchors(
    plain_chain: list[AuditRecord],
) -> None:
    edited = list(plain_chain)
    edited[N - 1] = replace(edited[N - 1], payload={"rows": 0})
    tampered = resealed(edited, N - 1, Hasher())
    assert verify(tampered).ok  # anyone can recompute SHA-256: the chain alone cannot tell
    heads = [plain_chain[seq - 1].head for seq in range(50, CHAIN_LENGTH + 1, 50)]
    result = verify(tampered, anchors=heads)
    # The first anchored head past the edit is seq 4350; 4300 is the last that still holds.
    problem = _broken(result, 4350, Tampering.REWRITTEN, checked=4349)
    assert "after seq 4300" in problem.message
    assert result.anchors == 4300 // 50


def test_a_truncated_tail_is_named_at_the_first_missing_record(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    tampered = keyed_chain[:9_990]
    result = verify(tampered, key=chain_key, anchors=[keyed_chain[-1].head])
    problem = _broken(result, 9_991, Tampering.TRUNCATED, checked=9_990)
    assert "records 9991-10000" in problem.message


def test_a_truncated_and_regrown_tail_is_rewritten_at_the_anchor(
    plain_chain: list[AuditRecord],
) -> None:
    tampered = [*plain_chain[:-1], resealed_one(plain_chain[-1], payload={"status": "ok"})]
    result = verify(tampered, anchors=[plain_chain[-1].head])
    _broken(result, CHAIN_LENGTH, Tampering.REWRITTEN, checked=CHAIN_LENGTH - 1)


def test_an_anchor_given_by_hash_alone_must_be_in_the_chain(
    keyed_chain: list[AuditRecord], chain_key: AuditKey
) -> None:
    assert verify(keyed_chain, key=chain_key, anchors=[keyed_chain[N].hash]).ok
    result = verify(keyed_chain[:N], key=chain_key, anchors=[keyed_chain[N].hash])
    assert f"ends at seq {N}" in _broken(result, None, Tampering.HEAD_MISSING, checked=N).message


def test_anchors_that_hold_are_counted(keyed_chain: list[AuditRecord], chain_key: AuditKey) -> None:
    heads = [ChainHead(seq, keyed_chain[seq - 1].hash) for seq in (1, 50, N, CHAIN_LENGTH)]
    result = verify(keyed_chain, key=chain_key, anchors=heads)
    assert result.ok
    assert result.anchors == 4


_SHORT = 300


@pytest.fixture(scope="module")
def short_chain(chain_key: AuditKey) -> list[AuditRecord]:
    return build_chain(_SHORT, chain_key)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operation=st.sampled_from(["edit", "delete", "swap", "duplicate", "reseal"]),
    first=st.integers(min_value=0, max_value=_SHORT - 1),
    second=st.integers(min_value=0, max_value=_SHORT - 1),
)
def test_any_single_tampering_is_found_at_the_record_it_touched(
    short_chain: list[AuditRecord], chain_key: AuditKey, operation: str, first: int, second: int
) -> None:
    chain = list(short_chain)
    anchors = [chain[-1].head]
    seq = first + 1
    if operation == "edit":
        chain[first] = replace(chain[first], payload={**chain[first].payload, "rows": -1})
        expected = Tampering.EDITED
    elif operation == "delete":
        del chain[first]
        expected = Tampering.TRUNCATED if seq == _SHORT else Tampering.DELETED
    elif operation == "swap":
        low, high = sorted((first, second))
        assume(low != high)
        chain[low], chain[high] = chain[high], chain[low]
        seq, expected = low + 1, Tampering.REORDERED
    elif operation == "duplicate":
        chain.insert(first, chain[first])
        expected = Tampering.INSERTED
    else:  # every hash from here on recomputed without the key
        chain = resealed(chain, first, Hasher())
        expected = Tampering.FORGED
    result = verify(chain, key=chain_key, anchors=anchors)
    assert result.problem is not None
    assert (result.problem.seq, result.problem.tampering) == (seq, expected), result.problem


@pytest.mark.parametrize(
    "change",
    [
        {"at": datetime(2026, 3, 1, 6, 0)},
        {"payload": {"score": math.nan}},
        {"seq": "4321"},
    ],
)
def test_a_record_a_store_cannot_give_back_faithfully_is_malformed(
    keyed_chain: list[AuditRecord], chain_key: AuditKey, change: dict[str, object]
) -> None:
    tampered = list(keyed_chain)
    tampered[N - 1] = replace(tampered[N - 1], **change)  # type: ignore[arg-type]
    problem = _broken(verify(tampered, key=chain_key), N, Tampering.MALFORMED)
    assert "no canonical form" in problem.message
