"""Audit trail benchmark: appending records, and verifying a 10,000-record chain.

    python bench/audit.py [--records 10000] [--repeat 5] [--keep]

Builds a keyed chain (HMAC-SHA-256) of N records with realistic payloads (the facts of a run:
column decisions, inputs, quality, rows written), then times, best of ``--repeat``:

- **append, memory**: ``AuditChain.append`` one record at a time into a ``MemoryAuditStore``:
  the chain's own cost per record (canonical JSON, HMAC, the follows-the-head check);
- **append, file**: the same into a ``JsonlAuditStore``, one ``fsync`` per record (durable);
- **append, file, batched**: 50 records per ``append_all`` (one fsync each), as a run records
  its column decisions;
- **a run's audit**: what one run writes, durably: run started, input read + 16 column
  decisions in one batch, quality outcome + rows written, run finished, then its head signed
  and appended to a head file (4 appends and 1 anchor, 5 fsyncs);
- **verify, export**: ``verify(read_jsonl(export), key=..., anchors=heads)`` over the N-record
  JSONL export, with the head file's 200 anchors checked (signatures included): what
  ``tidegate audit verify`` does offline, parsing included;
- **verify, memory**: ``verify`` over records already in memory (the store's rows parsed).

Then, untimed, ``tracemalloc`` reports the peak memory of verifying the export at N and at
N/10 records: verifying streams, so the two peaks are alike.

The last line is JSON: ``records``, ``verify_seconds`` (the export, the figure the < 1 s target
applies to), ``records_per_s`` (append, memory), ``durable_records_per_s``,
``batched_records_per_s``, ``run_audit_ms``, ``verify_memory_seconds``,
``verify_peak_kib``, ``verify_peak_kib_tenth``. The exit code is 1 when verifying takes 1 s or
more.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import _harness
from tidegate.governance.audit import (
    AuditChain,
    AuditKey,
    AuditKind,
    Entry,
    HeadAnchor,
    HeadFile,
    JsonlAuditStore,
    MemoryAuditStore,
    export_jsonl,
    read_jsonl,
    sign_head,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tidegate.governance.audit import AuditRecord

TARGET_VERIFY_SECONDS = 1.0
CHAIN_KEY = AuditKey(b"bench chain key, never a real one")
HEAD_KEY = AuditKey(b"bench head key, never a real one!")
_KINDS = list(AuditKind)


def entry(i: int) -> Entry:
    """One fact of the kind a run records, varied like the real ones."""
    return Entry(
        kind=_KINDS[i % len(_KINDS)],
        payload={
            "column": f"column_{i % 16}",
            "classified_as": ("email", "person_name", "iban", "phone")[i % 4],
            "level": "confidential",
            "action": "mask:hash" if i % 2 else "encrypt",
            "key_id": None if i % 2 else "customers.v2",
            "dataset": "examples/customers/data/customers.csv",
            "rows": 98_975 + i,
            "digest": f"{i:064x}",
            "score": 99.8,
        },
        run_id=f"01a21b59-2339-7510-b072-{i // 50:012d}",
        pipeline="customers",
    )


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of ``repeat`` timed calls of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def append_memory(records: int) -> None:
    chain = AuditChain(MemoryAuditStore(), key=CHAIN_KEY)
    for i in range(records):
        e = entry(i)
        chain.append(e.kind, e.payload, run_id=e.run_id, pipeline=e.pipeline)


def append_file(path: Path, records: int, *, batch: int) -> None:
    path.unlink(missing_ok=True)
    chain = AuditChain(JsonlAuditStore(path), key=CHAIN_KEY)
    for start in range(0, records, batch):
        chain.append_all([entry(i) for i in range(start, min(start + batch, records))])


def run_audit(folder: Path) -> None:
    """What one run records durably: 4 appends (21 records) and its anchored head."""
    chain = AuditChain(JsonlAuditStore(folder / "run.jsonl"), key=CHAIN_KEY)
    anchor = HeadAnchor(HEAD_KEY, [HeadFile(folder / "run-heads.jsonl")], chain_key=CHAIN_KEY)
    chain.append("run_started", {"spec_hash": "ab" * 32, "tidegate_version": "0.1.0"})
    chain.append_all([entry(1), *(entry(2 * i) for i in range(16))])
    chain.append_all([entry(3), entry(4)])
    chain.append("run_finished", {"status": "succeeded", "rows_written": 98_975})
    head = chain.head()
    if head is None:
        _harness.fail("the run recorded nothing")
    anchor.anchor(head)


def build_export(folder: Path, records: int) -> tuple[Path, HeadFile, list[AuditRecord]]:
    """A chain of ``records`` in memory, exported, with a head anchored every 50 records."""
    store = MemoryAuditStore()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    tick = iter(range(10**9))
    chain = AuditChain(store, key=CHAIN_KEY, clock=lambda: start + timedelta(seconds=next(tick)))
    heads = HeadFile(folder / "heads.jsonl", fsync=False)
    (folder / "heads.jsonl").unlink(missing_ok=True)
    for begin in range(0, records, 50):
        chain.append_all([entry(i) for i in range(begin, min(begin + 50, records))])
        head = chain.head()
        if head is not None:
            heads.publish(sign_head(head, HEAD_KEY))
    export = folder / "audit.jsonl"
    export_jsonl(store.records(), export)
    return export, heads, list(store.records())


def verify_export(export: Path, heads: HeadFile) -> None:
    result = verify(read_jsonl(export), key=CHAIN_KEY, anchors=heads.heads(HEAD_KEY))
    if not result.ok:
        _harness.fail(f"the intact chain did not verify: {result.problem}")


def peak_kib(work: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def main() -> int:
    """Build, time appends and verification, print the report."""
    parser = argparse.ArgumentParser(description="Audit trail: appends and verification")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n, repeat = args.records, args.repeat
    durable_n = min(n, 500)  # fsync per record: a few hundred tell the rate

    with _harness.work_folder(keep=args.keep) as folder:
        memory_s = best_of(repeat, lambda: append_memory(n))
        durable_s = best_of(repeat, lambda: append_file(folder / "d.jsonl", durable_n, batch=1))
        batched_s = best_of(repeat, lambda: append_file(folder / "b.jsonl", n, batch=50))
        run_s = best_of(repeat, lambda: run_audit(folder))
        export, heads, records = build_export(folder, n)
        verify_s = best_of(repeat, lambda: verify_export(export, heads))
        verify_memory_s = best_of(repeat, lambda: verify(records, key=CHAIN_KEY))
        (folder / "tenth").mkdir()
        tenth, tenth_heads, _ = build_export(folder / "tenth", n // 10)
        peak = peak_kib(lambda: verify_export(export, heads))
        peak_tenth = peak_kib(lambda: verify_export(tenth, tenth_heads))
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)

    print(f"\naudit trail, keyed chain (HMAC-SHA-256), best of {repeat}")
    print(f"{'':38}{'seconds':>10}{'records/s':>14}")
    rows = [
        (f"append, memory ({n:,})", memory_s, n),
        (f"append, file, fsync each ({durable_n:,})", durable_s, durable_n),
        (f"append, file, 50 per fsync ({n:,})", batched_s, n),
        ("a run's audit (21 records + head)", run_s, 21),
        (f"verify export + 200 heads ({n:,})", verify_s, n),
        (f"verify, in memory ({n:,})", verify_memory_s, n),
    ]
    for name, seconds, count in rows:
        print(f"{name:38}{seconds:>10.3f}{count / seconds:>14,.0f}")
    print(f"verify peak memory: {peak:,.0f} KiB at {n:,} records, {peak_tenth:,.0f} at {n // 10:,}")
    met = verify_s < TARGET_VERIFY_SECONDS
    print(f"  {'met   ' if met else 'MISSED'} verify {n:,} records in < {TARGET_VERIFY_SECONDS} s")
    summary = {
        "records": n,
        "verify_seconds": round(verify_s, 3),
        "records_per_s": round(n / memory_s),
        "durable_records_per_s": round(durable_n / durable_s),
        "batched_records_per_s": round(n / batched_s),
        "run_audit_ms": round(run_s * 1000, 1),
        "verify_memory_seconds": round(verify_memory_s, 3),
        "verify_peak_kib": round(peak),
        "verify_peak_kib_tenth": round(peak_tenth),
    }
    print(json.dumps(summary), flush=True)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
