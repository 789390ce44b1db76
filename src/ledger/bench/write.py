"""Write-side phases: ingest with validation and the hash chain, and raw ``executemany`` of the same bytes.

Ingest goes the whole way an event file goes, minus reading the file (what
:func:`ledger.ingest.ingest_dicts` does, in its two timed halves): pydantic
validation of each event dict and the dump to JSON-ready data
(``validate_items``), the reference and duplicate checks of
:func:`ledger.ingest.ingest_events`,
and :meth:`ledger.store.LedgerStore.append` (eventsourcing recorder plus the
SHA-256 chain), one transaction per batch. Generating the events is not timed.

The raw baseline then copies the very rows the store wrote (the same
serialised bytes) into a table of the same shape, with plain ``sqlite3``
``executemany``, one transaction per batch of the same size: what the
machine allows for those bytes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from ledger.bench.generate import LedgerSpec, generate_events, generate_registry
from ledger.bench.measure import Stopwatch, copy_db, disk_usage, rate
from ledger.ingest import IngestError, _Candidate, ingest_events, validate_items
from ledger.store import LedgerStore, open_store


def validate(events: Sequence[dict[str, Any]], where: str = "bench") -> list[_Candidate]:
    """Validate event dicts as ``ledger ingest`` validates each event of a file; raise if any is invalid."""
    candidates: list[_Candidate] = []
    problems: list = []
    validate_items(where, events, candidates, problems)
    if problems:
        raise IngestError(problems)
    return candidates


def ingest_stream(
    store: LedgerStore,
    events: Iterator[dict[str, Any]],
    count: int,
    batch: int,
    validate_watch: Stopwatch,
    store_watch: Stopwatch,
) -> int:
    """Ingest ``count`` events from the stream in batches; return how many were appended."""
    appended = 0
    while appended < count:
        chunk = list(islice(events, min(batch, count - appended)))
        if not chunk:
            break
        with validate_watch:
            candidates = validate(chunk)
        with store_watch:
            report = ingest_events(store, candidates)
        appended += len(report.appended)
    return appended


def ingest_phase(db: str, spec: LedgerSpec, batch: int, snapshots: Sequence[int] = ()) -> dict[str, Any]:
    """Ingest the whole generated ledger into ``db``; after ``n`` events, for each snapshot, copy it aside (:func:`snapshot_path`)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    validate_watch, store_watch = Stopwatch(), Stopwatch()
    tenth = max(batch, spec.events // 10 // batch * batch)  # the rate as the store grows, every tenth or so
    stops = sorted({n for n in (*snapshots, *range(tenth, spec.events, tenth)) if 0 < n < spec.events} | {spec.events})
    progress = []
    events = generate_events(spec)
    with open_store(db) as store:
        store.put_registry(generate_registry(spec))
        done = 0
        for stop in stops:
            done += ingest_stream(store, events, stop - done, batch, validate_watch, store_watch)
            seconds = validate_watch.seconds + store_watch.seconds
            last = progress[-1] if progress else {"events": 0, "seconds": 0.0}
            progress.append({
                "events": done,
                "seconds": seconds,
                "events_per_s": rate(done, seconds),
                "since_previous_events_per_s": rate(done - last["events"], seconds - last["seconds"]),
            })
            if stop in snapshots and stop != spec.events:
                copy_db(db, snapshot_path(db, stop))
    seconds = validate_watch.seconds + store_watch.seconds
    disk = disk_usage(db)
    return {
        "events": done,
        "batch": batch,
        "seconds": seconds,
        "events_per_s": rate(done, seconds),
        "validate_seconds": validate_watch.seconds,
        "store_seconds": store_watch.seconds,
        "at": progress,
        "disk_bytes": disk["bytes"],
        "disk_bytes_per_event": disk["bytes"] / done if done else 0.0,
        "disk_tables": disk["tables"],
    }


def snapshot_path(db: str, events: int) -> str:
    """Where the ingest phase keeps its copy of the store after ``events`` events: ``ledger.db`` → ``ledger-100000.db``."""
    stem = db[: -len(".db")] if db.endswith(".db") else db
    return f"{stem}-{events}.db"


def _batches(cursor: sqlite3.Cursor, size: int) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(size):
        yield rows


def raw_phase(source_db: str, target_db: str, batch: int) -> dict[str, Any]:
    """Copy the store's rows with raw ``executemany`` into same-shaped tables; time only the inserts.

    Two figures: ``stored_events`` alone (the issue's baseline: the same
    serialised event bytes into a same-shaped table) and ``stored_events`` plus
    ``ledger_chain`` (every row an append writes).
    """
    source = sqlite3.connect(source_db)
    shapes = dict(source.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
    results = {}
    for label, tables in (("events_only", ["stored_events"]), ("events_and_chain", ["stored_events", "ledger_chain"])):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target_db}{suffix}").unlink(missing_ok=True)
        target = sqlite3.connect(target_db, isolation_level=None)
        target.execute("PRAGMA journal_mode=WAL")  # as the eventsourcing recorder does
        for table in tables:
            target.execute(shapes[table])
        readers = [source.execute(f"SELECT * FROM {table} ORDER BY rowid") for table in tables]
        inserts = [f"INSERT INTO {table} VALUES ({','.join('?' * len(reader.description))})" for table, reader in zip(tables, readers)]
        watch, count = Stopwatch(), 0
        for chunks in zip(*(_batches(reader, batch) for reader in readers)):
            with watch:
                target.execute("BEGIN")
                for insert, rows in zip(inserts, chunks):
                    target.executemany(insert, rows)
                target.execute("COMMIT")
            count += len(chunks[0])
        target.close()
        results[label] = {"events": count, "seconds": watch.seconds, "events_per_s": rate(count, watch.seconds)}
    source.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target_db}{suffix}").unlink(missing_ok=True)
    return {"batch": batch, **results, "events_per_s": results["events_only"]["events_per_s"]}
