"""PostgreSQL store benchmark: ingest beside plain COPY and executemany of the same rows, the append lock, read-model catch-up.

Run from the root of a checkout (about 14 minutes at 100k events on two busy cores)::

    python -m benchmarks.postgres_store --events 100000 --json benchmarks/results/postgres-100k.json
    python -m benchmarks.postgres_store --url postgresql://me@db.example.org/scratch   # an existing, empty database

Without ``--url`` it starts a throwaway PostgreSQL 15 server with the test
suite's helper (tests/postgres.py), with PostgreSQL's default durability
(fsync on). Everything is measured in the same run, on the same generated
ledger (the seeded generator ``python -m benchmarks`` uses):

- ``ingest``: ``ledger.ingest.ingest_stream`` into SQLite and into PostgreSQL,
  batches of ``--batch`` events (validation, the chain, compression, one
  transaction per batch);
- ``append``: the store's own cost on each backend: the same events,
  validated and reduced to canonical bytes beforehand (not timed), appended
  in batches (the chain, compression, the Merkle log, one transaction each);
- ``executemany`` / ``copy``: the very rows the PostgreSQL store wrote
  (events with their compressed states, and chain entries) inserted again into
  tables of the same shape with plain psycopg, one transaction per batch: what
  the server allows for those bytes;
- ``append lock``: many small appends (``--small`` events each) with the
  advisory lock the store takes, with the library's ``LOCK TABLE ... IN
  EXCLUSIVE MODE`` instead, and with no lock (``SELECT 1``, unsafe with more
  than one writer): the cost of serialising writers; then four processes
  appending at once;
- ``catch-up``: a new SQLite read model caught up from each store
  (``ledger.readmodel.project``), then a second catch-up after one more batch;
- ``verify`` on each store.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.generate import LedgerSpec, generate_events, generate_registry
from ledger.events import parse_event
from ledger.ingest import ingest_stream, start_workers, stop_workers
from ledger.store import open_reader, open_store, prepare_event
from ledger.store import postgres_recorder as recorder_module
from ledger.store.postgres import EVENTS_TABLE

REPO = Path(__file__).resolve().parents[1]
SAME_SHAPE = """
DROP TABLE IF EXISTS bench_events, bench_chain;
CREATE TABLE bench_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
    notification_id bigint NOT NULL, PRIMARY KEY (originator_id, originator_version));
CREATE UNIQUE INDEX ON bench_events (notification_id);
CREATE TABLE bench_chain (position bigint PRIMARY KEY, event_id text COLLATE "C" NOT NULL UNIQUE, content_hash text NOT NULL,
    chain_hash text NOT NULL, recorded_at text COLLATE "C" NOT NULL, batch bigint NOT NULL);
CREATE INDEX ON bench_chain (recorded_at);
"""

WRITER = """
import sys, time
from ledger.store import open_store
url, writer, appends, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
template = {template!r}
with open_store(url) as store:
    for n in range(appends):
        store.append([dict(template, id=f"writer-{{writer}}-{{n}}-{{i}}") for i in range(size)])
"""


def rate(events: int, seconds: float) -> float:
    return round(events / seconds, 1) if seconds else 0.0


def timed(function: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def ingest(location: str, spec: LedgerSpec, batch: int) -> dict[str, Any]:
    events = [json.dumps(event) for event in generate_events(spec)]  # JSON lines, as a file gives them (not timed)
    with open_store(location) as store:
        store.put_registry(generate_registry(spec))
        seconds, report = timed(lambda: ingest_stream(store, iter(events), batch, name="bench"))
    return {"events": len(report.appended), "seconds": round(seconds, 2), "events_per_s": rate(len(report.appended), seconds)}


def append_only(location: str, spec: LedgerSpec, batch: int) -> dict[str, Any]:
    """The store's own cost: the same events, validated and reduced to canonical bytes beforehand (not timed), appended in batches."""
    prepared = [prepare_event(parse_event(event).to_dict()) for event in generate_events(spec)]
    with open_store(location) as store:
        store.put_registry(generate_registry(spec))
        started = time.perf_counter()
        for start in range(0, len(prepared), batch):
            store.backend.append(prepared[start : start + batch])
        seconds = time.perf_counter() - started
    return {"events": len(prepared), "seconds": round(seconds, 2), "events_per_s": rate(len(prepared), seconds)}


def stored_rows(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with open_reader(url) as reader:
        return reader.raw_rows("events"), reader.raw_rows("chain")  # type: ignore[attr-defined]  # the PostgreSQL reader's


def plain_writes(url: str, events: list[tuple[Any, ...]], chain: list[tuple[Any, ...]], batch: int) -> dict[str, Any]:
    """The same rows again, into same-shaped tables: executemany, then COPY (binary), one transaction per batch."""
    results = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for method in ("executemany", "copy"):
            conn.execute(SAME_SHAPE)
            started = time.perf_counter()
            for start in range(0, len(events), batch):
                with conn.transaction(), conn.cursor() as c:
                    rows, links = events[start : start + batch], chain[start : start + batch]
                    if method == "executemany":
                        c.executemany("INSERT INTO bench_events VALUES (%s, %s, %s, %s, %s)", rows)
                        c.executemany("INSERT INTO bench_chain VALUES (%s, %s, %s, %s, %s, %s)", links)
                    else:
                        with c.copy("COPY bench_events FROM STDIN (FORMAT BINARY)") as copy:
                            copy.set_types(["uuid", "int8", "text", "bytea", "int8"])
                            for row in rows:
                                copy.write_row(row)
                        with c.copy("COPY bench_chain FROM STDIN (FORMAT BINARY)") as copy:
                            copy.set_types(["int8", "text", "text", "text", "text", "int8"])
                            for link in links:
                                copy.write_row(link)
            seconds = time.perf_counter() - started
            results[method] = {"events": len(events), "seconds": round(seconds, 2), "events_per_s": rate(len(events), seconds)}
        conn.execute("DROP TABLE bench_events, bench_chain")
    return results


def other_database(url: str, name: str) -> str:
    """The URL of a new, empty database ``name`` on the same server."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def lock_cost(url: str, appends: int, size: int) -> dict[str, Any]:
    """Small appends with and without the advisory lock, one writer; then four writers at once."""
    template = next(iter(generate_events(LedgerSpec(events=10))))
    results: dict[str, Any] = {"appends": appends, "events_per_append": size}
    locking = recorder_module.LOCK_STATEMENT
    variants = (("advisory_lock", locking), ("table_lock", f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE"), ("no_lock", "SELECT 1"))
    for label, statement in variants:
        target = other_database(url, f"lock_{label}")
        with open_store(target) as store:
            store.append([dict(template, id="warm-up")])
            recorder_module.LOCK_STATEMENT = statement
            try:
                started = time.perf_counter()
                for n in range(appends):
                    store.append([dict(template, id=f"{label}-{n}-{i}") for i in range(size)])
                seconds = time.perf_counter() - started
            finally:
                recorder_module.LOCK_STATEMENT = locking
        results[label] = {
            "seconds": round(seconds, 2),
            "appends_per_s": rate(appends, seconds),
            "ms_per_append": round(1000 * seconds / appends, 2),
        }
    script = WRITER.format(template=template)
    shared = url.rsplit("/", 1)[0] + "/lock_advisory_lock"
    started = time.perf_counter()
    writers = [subprocess.Popen([sys.executable, "-c", script, shared, str(n), str(appends // 4), str(size)]) for n in range(4)]
    codes = [writer.wait() for writer in writers]
    seconds = time.perf_counter() - started
    results["four_writers"] = {"ok": codes == [0] * 4, "seconds": round(seconds, 2), "appends_per_s": rate(appends, seconds)}
    return results


def catch_up(location: str, view: str, spec: LedgerSpec, extra: int) -> dict[str, Any]:
    from ledger.readmodel import project

    seconds, report = timed(project, location, view)
    first = {"events": report.events, "seconds": round(seconds, 2), "events_per_s": rate(report.events, seconds)}
    more = list(islice(generate_events(LedgerSpec(events=spec.events + extra, seed=spec.seed)), spec.events, None))
    with open_store(location) as store:
        ingest_stream(store, iter(more), extra, name="bench-more")
    seconds, report = timed(project, location, view)
    second = {"events": report.events, "seconds": round(seconds, 2), "events_per_s": rate(report.events, seconds)}
    return {"first": first, "incremental": second}


def verify(location: str) -> dict[str, Any]:
    with open_store(location) as store:
        seconds, result = timed(store.verify)
    return {"ok": result.ok, "events": result.count, "seconds": round(seconds, 2), "events_per_s": rate(result.count, seconds)}


def run(url: str, folder: Path, events: int, batch: int, small: int, appends: int) -> dict[str, Any]:
    spec = LedgerSpec(events=events)
    sqlite_db = str(folder / "ledger.db")
    results: dict[str, Any] = {"events": events, "batch": batch, "load_average_at_start": os.getloadavg()}
    start_workers()
    try:
        results["ingest_sqlite"] = ingest(sqlite_db, spec, batch)
        results["ingest_postgres"] = ingest(url, spec, batch)
    finally:
        stop_workers()
    results["append_sqlite"] = append_only(str(folder / "append.db"), spec, batch)
    results["append_postgres"] = append_only(other_database(url, "append_only"), spec, batch)
    events_rows, chain_rows = stored_rows(url)
    results.update(plain_writes(url, events_rows, chain_rows, batch))
    results["append_lock"] = lock_cost(url.rsplit("/", 1)[0] + "/postgres", appends, small)
    results["verify_sqlite"] = verify(sqlite_db)
    results["verify_postgres"] = verify(url)
    for name, location in (("sqlite", sqlite_db), ("postgres", url)):
        try:
            results[f"catch_up_from_{name}"] = catch_up(location, str(folder / f"{name}.view.db"), spec, 1000)
        except Exception as error:  # one phase failing still reports the others
            results[f"catch_up_from_{name}"] = {"error": f"{type(error).__name__}: {error}"}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=10, help="events per append in the lock measurement")
    parser.add_argument("--appends", type=int, default=1000, help="appends in the lock measurement")
    parser.add_argument("--url", help="an empty PostgreSQL database to use (default: start a throwaway server)")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    server = None
    if not args.url:
        sys.path.insert(0, str(REPO / "tests"))
        from postgres import start_server

        server = start_server(durable=True)
        args.url = server.url(server.create_database())
    try:
        with tempfile.TemporaryDirectory() as folder:
            results = run(args.url, Path(folder), args.events, args.batch, args.small, args.appends)
    finally:
        if server is not None:
            server.stop()
    results["machine"] = {"cpus": os.cpu_count(), "postgres": "15", "durable": True, "load_average_at_end": os.getloadavg()}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
