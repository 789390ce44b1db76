"""Write-side phases: ingest with validation and the hash chain, and raw ``executemany`` of the same bytes.

Ingest goes the way a JSON Lines file goes through :func:`ledger.ingest.ingest_stream`:
the generated events are first written to a JSON Lines file (not timed), then
its lines are streamed, timed, through worker processes that parse and
validate them (pydantic, the dump to JSON-ready data, canonical bytes) while
this process runs the reference and duplicate checks and appends each batch
(eventsourcing recorder plus the SHA-256 chain), one transaction per batch, in
a thread of its own while the next batch's chunks are received.
Starting the workers is not timed either (``workers_start_seconds``): it is
paid once per process, whatever the size of the ledger.

``validate_seconds`` is the part of the timed run this process spent waiting
for validation (what the pipeline did not hide), ``store_seconds`` the rest
(receiving and checking chunks, and waiting for the batch before to be appended);
``validation_cpu_seconds`` is the CPU time validation took in the workers,
``main_cpu_seconds`` the CPU time of this process over the timed run (checks, appends, handing out tasks).

The raw baseline then copies the very rows the store wrote (the same
serialised bytes: stored events, hash chain, the Merkle log's leaves) into
tables of the same shape, with plain ``sqlite3`` ``executemany``, one
transaction per append of the store: what the machine allows for those rows.

``python -m benchmarks.write EVENTS [FOLDER]`` runs these two phases alone and
prints the CPU time per event of each side of the pipeline (:func:`cpu_per_event`).
"""

from __future__ import annotations

import resource
import sqlite3
import time
from collections.abc import Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from benchmarks.generate import LedgerSpec, generate_events, generate_registry
from benchmarks.measure import Stopwatch, copy_db, disk_usage, rate
from ledger.ingest import ChunkTask, IngestError, IngestReport, check_chunk, ingest_stream, start_workers
from ledger.store import open_reader, open_store
from ledger.store.reader import APPENDED_TABLES
from ledger.store.recorder import WRITER_CACHE_KIB


def validate(events: Sequence[dict[str, Any]], where: str = "bench") -> list[dict[str, Any]]:
    """Validate event dicts as ``ledger ingest`` validates each event of a file (JSON-ready again); raise if any is invalid."""
    (checked,) = check_chunk(ChunkTask("items", where, events, whole=len(events)))
    if checked.problems:
        raise IngestError(checked.problems)
    return [orjson.loads(canonical) for canonical in checked.canonical]


def write_events(spec: LedgerSpec, path: str | Path) -> None:
    """Write the generated events to a JSON Lines file, one event a line."""
    with open(path, "wb") as out:
        for event in generate_events(spec):
            out.write(orjson.dumps(event) + b"\n")


def ingest_phase(db: str, spec: LedgerSpec, batch: int, snapshots: Sequence[int] = ()) -> dict[str, Any]:
    """Ingest the whole generated ledger into ``db``; after ``n`` events, for each snapshot, copy it aside (:func:`snapshot_path`).

    The stream is cut only at snapshots, so the pipeline fills and drains once per
    segment; the rate as the store grows is read after the batch that reaches each
    tenth or so.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    source = Path(f"{db}.events.jsonl")
    write_events(spec, source)
    started = time.perf_counter()
    workers = start_workers()
    workers_start = time.perf_counter() - started
    tenth = max(batch, spec.events // 10 // batch * batch)
    marks = list(range(tenth, spec.events, tenth))
    segments = sorted({n for n in snapshots if 0 < n < spec.events} | {spec.events})
    progress: list[dict[str, Any]] = []
    seconds = waited = validation_cpu = main_cpu = 0.0  # over finished segments
    done = 0

    def record(events: int, elapsed: float) -> None:
        last = progress[-1] if progress else {"events": 0, "seconds": 0.0}
        if events == last["events"]:
            return
        progress.append(
            {
                "events": events,
                "seconds": elapsed,
                "events_per_s": rate(events, elapsed),
                "since_previous_events_per_s": rate(events - last["events"], elapsed - last["seconds"]),
            }
        )

    try:
        with open_store(db) as store, source.open("rb") as lines:
            store.put_registry(generate_registry(spec))
            for stop in segments:
                segment_start, segment_cpu = time.perf_counter(), time.process_time()

                def on_batch(report: IngestReport) -> None:
                    reached = done + len(report.appended)
                    if marks and reached >= marks[0]:
                        while marks and reached >= marks[0]:
                            marks.pop(0)
                        record(reached, seconds + time.perf_counter() - segment_start)

                report = ingest_stream(store, islice(lines, stop - done), batch, name="bench", on_batch=on_batch)
                seconds += time.perf_counter() - segment_start
                main_cpu += time.process_time() - segment_cpu
                waited += report.validation_wait
                validation_cpu += report.validation_cpu
                done += len(report.appended)
                record(done, seconds)
                if stop != spec.events:
                    copy_db(db, snapshot_path(db, stop))
    finally:
        source.unlink(missing_ok=True)
    disk = disk_usage(db)
    return {
        "events": done,
        "batch": batch,
        "seconds": seconds,
        "events_per_s": rate(done, seconds),
        "validate_seconds": waited,
        "store_seconds": seconds - waited,
        "validation_cpu_seconds": validation_cpu,
        "main_cpu_seconds": main_cpu,
        "workers": workers,
        "workers_start_seconds": workers_start,
        "at": progress,
        "disk_bytes": disk["bytes"],
        "disk_bytes_per_event": disk["bytes"] / done if done else 0.0,
        "disk_tables": disk["tables"],
    }


def snapshot_path(db: str, events: int) -> str:
    """Where the ingest phase keeps its copy of the store after ``events`` events: ``ledger.db`` → ``ledger-100000.db``."""
    stem = db[: -len(".db")] if db.endswith(".db") else db
    return f"{stem}-{events}.db"


def raw_phase(source_db: str, target_db: str, batch: int) -> dict[str, Any]:
    """Copy the rows each append of the store wrote with raw ``executemany`` into same-shaped tables; time only the inserts.

    One transaction per append of the store (``batch`` events each, as ingest
    made them). Two figures: every row an append writes (the stored events,
    the hash chain with its per-append row, the Merkle log's leaves: what
    ingest's rate is compared with, ``events_per_s``), and the stored events
    alone (``events_only``: the same serialised event bytes into a same-shaped table).
    """
    results = {}
    for label, tables in (("events_only", APPENDED_TABLES[:1]), ("appended_rows", APPENDED_TABLES)):
        copied = copy_appends(source_db, target_db, tables)
        results[label] = {key: copied[key] for key in ("events", "seconds", "events_per_s")}
    return {"batch": batch, **results, "tables": list(APPENDED_TABLES), "events_per_s": results["appended_rows"]["events_per_s"]}


def copy_appends(
    source_db: str, target_db: str, tables: Sequence[str] = APPENDED_TABLES, triggers: Sequence[str] = (), events: int | None = None
) -> dict[str, Any]:
    """Copy the rows each append of the store wrote to ``tables`` into same-shaped tables with ``executemany``; time only the inserts.

    One transaction per append, into ``target_db`` (replaced, and removed
    after), on a connection set up as the store's writer is: WAL, and the same
    page cache. With ``triggers`` (the store's own, as its reader's
    ``raw_triggers`` gives them), made once every table is, the Merkle log's
    rows come with the registry's leaves written among them, in order, as those
    triggers take them. Stops after the append that reaches ``events``. Gives
    the wall time of the inserts and their user CPU per event (the kernel's
    time for the file's writes varies from copy to copy with the page cache).
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target_db}{suffix}").unlink(missing_ok=True)
    target = sqlite3.connect(target_db, isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")  # as the store does
    target.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")  # the store's writer keeps as many pages in memory
    watch, cpu, count = Stopwatch(), 0.0, 0
    made: set[str] = set()
    try:
        with open_reader(source_db) as source:
            for append in source.batches():
                copies = []
                for table in tables:
                    shape, rows = source.raw_rows(table, append.start, append.end, registry_leaves=bool(triggers))  # type: ignore[attr-defined]  # a SQLite store's reader
                    if table not in made:
                        target.execute(shape)
                        made.add(table)
                        if made == set(tables):
                            for trigger in triggers:
                                target.execute(trigger)
                    if rows:
                        copies.append((f"INSERT INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows))
                started_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
                with watch:
                    target.execute("BEGIN")
                    for insert, rows in copies:
                        target.executemany(insert, rows)
                    target.execute("COMMIT")
                cpu += resource.getrusage(resource.RUSAGE_SELF).ru_utime - started_cpu
                count += append.size
                if events is not None and count >= events:
                    break
    finally:
        target.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target_db}{suffix}").unlink(missing_ok=True)
    return {
        "events": count,
        "seconds": watch.seconds,
        "events_per_s": rate(count, watch.seconds),
        "cpu_us": cpu / count * 1e6 if count else 0.0,
    }


def cpu_per_event(events: int, folder: str | Path, batch: int = 10_000) -> dict[str, Any]:
    """The ingest phase and its raw baseline alone, with the CPU each side of the pipeline spent per event.

    On a shared machine wall time varies by half from run to run; CPU time per
    event (this process's appends and checks, the workers' validation) is what
    a change to either side moves, and their sum is what two cores divide.
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    db = str(Path(folder, "ledger.db"))
    ingest = ingest_phase(db, LedgerSpec(events=events), batch)
    raw = raw_phase(db, str(Path(folder, "raw.db")), batch)
    done = ingest["events"]
    return {
        "events": done,
        "events_per_s": ingest["events_per_s"],
        "raw_events_per_s": raw["events_per_s"],
        "ratio": ingest["events_per_s"] / raw["events_per_s"],
        "main_cpu_us": ingest["main_cpu_seconds"] / done * 1e6,
        "workers_cpu_us": ingest["validation_cpu_seconds"] / done * 1e6,
        "raw_us": 1e6 / raw["events_per_s"],
    }


if __name__ == "__main__":
    import sys
    import tempfile

    found = cpu_per_event(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp())
    print(
        f"ingest {found['events_per_s']:,.0f} events/s, raw {found['raw_events_per_s']:,.0f} rows/s: {found['ratio']:.2f}x; "
        f"CPU per event: appending process {found['main_cpu_us']:.0f} µs, workers {found['workers_cpu_us']:.0f} µs, "
        f"raw {found['raw_us']:.0f} µs"
    )
