"""What the Merkle log costs: the store's append with and without it, then checkpoint, verify --checkpoint, prove, verify-proof.

Usage (see docs/proofs.md, "What it costs")::

    python -m benchmarks.merkle_log 30000

Appends the same generated events 1,000 at a time into fresh stores, three
times each way, alternating (the machine is shared: CPU time of this process
is reported beside wall time). "Without" replaces the leaf insert with nothing
and drops the append-only insert triggers, which is the store as it was
before the log.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from unittest import mock

from benchmarks.generate import LedgerSpec, generate_events, generate_registry
from ledger import proofs
from ledger.store import log, open_store
from ledger.store.codec import prepare_event
from ledger.store.interface import PreparedEvent


def append_all(events: list[PreparedEvent], spec: LedgerSpec, with_log: bool) -> tuple[float, float, str]:
    db = os.path.join(tempfile.mkdtemp(), "ledger.db")
    with open_store(db) as store, mock.patch.object(log, "append_leaves", log.append_leaves if with_log else lambda *args: None):
        if not with_log:
            for statement in log.APPEND_ONLY_TRIGGERS:
                if "BEFORE INSERT" in statement:
                    store.backend.conn.execute(f"DROP TRIGGER {statement.split()[5]}")  # type: ignore[attr-defined]  # SQLite backend
        store.put_registry(generate_registry(spec))
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(events), 1000):
            store.append_prepared(events[start : start + 1000])
        return time.perf_counter() - wall, time.process_time() - cpu, db


def main(count: int) -> None:
    spec = LedgerSpec(events=count, seed=7)
    events = [prepare_event(event) for event in generate_events(spec)]
    db = ""
    for _ in range(3):
        for with_log in (False, True):
            wall, cpu, db = append_all(events, spec, with_log)
            label = "with the log   " if with_log else "without the log"
            print(f"{label}: {count:,} events in {wall:.2f} s wall, {cpu:.2f} s CPU; {os.path.getsize(db) / count:.0f} B/event")
    folder = os.path.dirname(db)
    key = os.path.join(folder, "key")
    proofs.generate_key(key)
    with open_store(db) as store:
        started = time.perf_counter()
        checkpoint = proofs.make_checkpoint(store, key)
        made = time.perf_counter() - started
        path = os.path.join(folder, "checkpoint.json")
        proofs.write_file(path, checkpoint.file_bytes())
        started = time.perf_counter()
        assert proofs.check_checkpoints(store, [path], key + ".pub").ok
        checked = time.perf_counter() - started
        middle = store.events_at([count // 2])[count // 2]["id"]
        started = time.perf_counter()
        proof = proofs.dump_document(proofs.prove(store, middle))
        proved = time.perf_counter() - started
    started = time.perf_counter()
    assert proofs.verify_proof_bytes(proof, proofs.load_public_key(key + ".pub")).ok
    verified = time.perf_counter() - started
    print(
        f"checkpoint of {checkpoint.size:,} leaves {made:.2f} s; verify --checkpoint {checked:.2f} s; "
        f"prove {proved:.2f} s; verify-proof {verified * 1000:.1f} ms; proof {len(proof):,} bytes"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30_000)
