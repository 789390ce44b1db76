"""Read-side phases: read-model rebuild, as-of queries, and a late event until it is visible.

They go through the ledger's own API (:func:`ledger.readmodel.project`,
:meth:`ledger.Ledger.replay`) and the read model's documented tables; while the
read model is not in the checkout, each phase says so (``available: false``)
instead of giving a number.

An *as-of query* is the question an analyst asks of one entity: "what was the
state of this restriction (package, position, territory) on this date, as
known now?". It is asked of one open :class:`ledger.Ledger`, as a server would,
so each answer includes the check that the read model is still current and the
typed answer; the read model's lookup alone is timed beside it (``entity_sql``):
the SQL :func:`ledger.readmodel.query.latest_state` runs on the history tables
(one plain statement with the entity and the date as parameters, as a
Datasette canned query could run it: an index probe, a second only when no row
starts by the date) and the state put
back together and parsed, on a connection opened as the read model opens its
own (:func:`ledger.readmodel.query.open_view`); and the whole-state
``replay()`` for context.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.generate import LedgerSpec, government, restriction_id
from benchmarks.measure import disk_usage, latency_summary, rate

VIEW_UNAVAILABLE = "the read model (ledger.readmodel) is not available in this checkout"
HISTORY_TABLES = ("restriction_versions", "aid_package_versions", "position_versions", "territory_versions")
REPLAY_QUERIES = 20
LATE_EVENTS = 5


def view_path(db: str) -> str:
    """The read model beside a store, as :func:`ledger.readmodel.view_path_for` names it."""
    stem = db[: -len(".db")] if db.endswith(".db") else db
    return f"{stem}.view.db"


def _readmodel() -> Any:
    try:
        import ledger.readmodel as readmodel
    except ImportError:
        return None
    return readmodel if hasattr(readmodel, "project") else None


def _replay(db: str) -> Any:
    """``Ledger.replay`` of the ledger at ``db`` (the read model answers once it is current), or None."""
    try:
        from ledger.api import Ledger
    except ImportError:
        return None
    return Ledger(db).replay


def _unavailable() -> dict[str, Any]:
    return {"available": False, "reason": VIEW_UNAVAILABLE}


def _store_count(db: str) -> int:
    from ledger.store import open_reader

    with open_reader(db) as store:
        return store.count()


class _OutOfTime(Exception):
    """Raised from the projector's progress callback to stop a rebuild that has used its time."""


def rebuild_phase(db: str, budget_s: float | None = None) -> dict[str, Any]:
    """Rebuild the read model of ``db`` from scratch (a new file); events per second over the whole store.

    The time after each append batch is kept (``curve``), so a rate that falls
    as the ledger grows shows. With ``budget_s``, a rebuild still running after
    that long is stopped after its current batch (``finished: false``); the
    rate is then over the events done so far.

    A finished rebuild is compared with writing its own rows raw
    (:func:`raw_rebuild_phase`, in a process of its own): ``raw_seconds``,
    ``raw_events_per_s`` and ``raw_ratio`` (raw seconds over rebuild seconds:
    1 would be a rebuild as fast as the bare writes). ``view_tables`` gives the
    bytes of every table and index of the read model.
    """
    readmodel = _readmodel()
    if readmodel is None:
        return _unavailable()
    view = view_path(db)
    for suffix in ("", "-wal", "-shm"):  # from scratch: a new file, whatever schema an older one had
        Path(f"{view}{suffix}").unlink(missing_ok=True)
    events = _store_count(db)
    curve: list[tuple[int, float]] = []
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        curve.append((done, time.perf_counter() - started))
        if budget_s is not None and curve[-1][1] > budget_s and done < total:
            raise _OutOfTime

    finished, report = True, None
    try:
        report = readmodel.project(db, view, rebuild=True, progress=progress)
    except _OutOfTime:
        finished = False
    seconds = time.perf_counter() - started
    done = events if finished else (curve[-1][0] if curve else 0)
    disk = disk_usage(view)
    raw = _raw_rebuild_apart(view) if finished else {}
    return {
        "available": True,
        "finished": finished,
        "events": events,
        "events_done": done,
        "seconds": seconds,
        "events_per_s": rate(done, seconds),
        **raw,
        "raw_events_per_s": rate(events, raw["raw_seconds"]) if raw else None,
        "raw_ratio": raw["raw_seconds"] / seconds if raw and seconds else None,
        "curve": [{"events": n, "seconds": t} for n, t in curve],
        "report": report.to_dict() if report is not None and hasattr(report, "to_dict") else None,
        "view_bytes": disk["bytes"],
        "view_bytes_per_event": disk["bytes"] / events if events else None,
        "view_tables": disk["tables"],
    }


RAW_PAGE = 20_000  # rows read back and written per executemany


def _raw_rebuild_apart(view: str) -> dict[str, Any]:
    """:func:`raw_rebuild_phase` in a process of its own: its memory is not the rebuild's peak."""
    from benchmarks.phase import run_phase

    found = run_phase("raw_rebuild", {"view": view})
    return {"raw_seconds": found["raw_seconds"], "raw_rows": found["raw_rows"], "raw_peak_rss_mb": found["raw_peak_rss_mb"]}


def raw_rebuild_phase(view: str) -> dict[str, Any]:
    """The rebuild's own output written raw: the gap between the rebuild and the machine's limit.

    Every row of every table the rebuild fills is read back from ``view`` and
    inserted with ``executemany`` into the empty tables of a new file made by
    the same migrations (same shape, same indexes, in place while the rows go
    in), in one transaction, with the rebuild's cache size and without fsync as
    the rebuild; then the full-text indexes are filled. Only the writing is
    timed (``raw_seconds``), not the reading back.
    """
    from ledger.readmodel.projector import REBUILD_CACHE_KB, VIEW_TABLES
    from ledger.readmodel.schema import connect, migrate

    target = f"{view}.raw"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    conn = connect(target)
    migrate(target, conn)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute(f"PRAGMA cache_size=-{REBUILD_CACHE_KB}")
    source = sqlite3.connect(f"file:{view}?mode=ro", uri=True)
    seconds, written = 0.0, 0
    try:
        conn.execute("BEGIN")
        for table in VIEW_TABLES:
            columns = ", ".join(row[1] for row in source.execute(f"PRAGMA table_info({table})"))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * (columns.count(',') + 1))})"
            cursor = source.execute(f"SELECT {columns} FROM {table}")
            while page := cursor.fetchmany(RAW_PAGE):
                started = time.perf_counter()
                conn.executemany(sql, page)
                seconds += time.perf_counter() - started
                written += len(page)
        started = time.perf_counter()
        for index in ("events_fts", "event_sources_fts"):
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds += time.perf_counter() - started
    finally:
        source.close()
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    return {"raw_seconds": seconds, "raw_rows": written, "raw_peak_rss_mb": own_peak_rss_mb()}


def own_peak_rss_mb() -> float | None:
    """This process's own peak RSS (``VmHWM``, Linux), which unlike ``ru_maxrss`` does not carry its parent's over ``exec``."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(found[0]) / 1024 if found else None


def _date_range(connection: sqlite3.Connection) -> tuple[date, date]:
    low, high = connection.execute("SELECT MIN(occurred_earliest), MAX(reported) FROM events").fetchone()
    return date.fromisoformat(low), date.fromisoformat(high)


def _random_day(rng: random.Random, low: date, high: date) -> str:
    return (low + timedelta(days=rng.randint(0, (high - low).days))).isoformat()


def _projection_tables() -> dict[str, str]:
    """Projection name (``restrictions``...) → its history table, as the read model declares them."""
    try:
        from ledger.readmodel.versions import HISTORY_TABLES as declared
    except ImportError:
        return dict(zip(("restrictions", "aid_packages", "positions", "territory"), HISTORY_TABLES))
    return {name: table.table for name, table in declared.items()}


def questions(
    connection: sqlite3.Connection, rng: random.Random, count: int
) -> tuple[dict[str, list[str]], list[tuple[str, str, str, str]]]:
    """Each projection's entities, and ``count`` questions (projection, its history table, entity, day) of :func:`entity_lookup`.

    Random entities, each projection equally often, on random days in the ledger's span.
    """
    low, high = _date_range(connection)
    tables = _projection_tables()
    entities = {name: [row[0] for row in connection.execute(f"SELECT DISTINCT entity FROM {table}")] for name, table in tables.items()}
    names = [name for name in tables if entities[name]]
    return entities, [(name, tables[name], rng.choice(entities[name]), _random_day(rng, low, high)) for name in rng.choices(names, k=count)]


def entity_lookup(replay: Any) -> Any:
    """One entity's state on a date: through ``Ledger.replay(..., entity=)``, else the read model's lookup alone."""
    if replay is not None:
        return lambda conn, name, table, entity, as_of: getattr(replay(as_of, only=[name], entity=f"{name}:{entity}"), name)
    from ledger.readmodel.query import latest_state
    from ledger.readmodel.rows import whole_state
    from ledger.readmodel.versions import HISTORY_TABLES as declared

    def by_sql(conn: sqlite3.Connection, name: str, table: str, entity: str, as_of: str) -> list[Any]:
        return [whole_state(state, events) for state, events in latest_state(conn, declared[name], entity, as_of)]

    return by_sql


def _lookup_plan(connection: sqlite3.Connection, name: str) -> list[str]:
    """The query plan of the lookup's statement (:func:`ledger.readmodel.query.latest_state_sql`): its two index probes."""
    from ledger.readmodel.query import latest_state_sql
    from ledger.readmodel.versions import HISTORY_TABLES as declared

    plan = connection.execute("EXPLAIN QUERY PLAN " + latest_state_sql(declared[name]), ("x", "2020-01-01")).fetchall()
    return [row[-1] for row in plan if str(row[-1]).startswith("SEARCH")]


def query_phase(db: str, spec: LedgerSpec, queries: int) -> dict[str, Any]:
    """As-of lookups of random entities (each projection equally often) at random dates in the ledger's span.

    One connection serves all queries, as in a server; a tenth of the queries
    are run first to warm it up.
    """
    if _readmodel() is None:
        return _unavailable()
    from ledger.readmodel.query import open_view

    view = view_path(db)
    rng = random.Random(spec.seed + queries)
    connection = open_view(view)
    if not connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]:
        return {"available": False, "reason": f"the read model {view} holds no events: was it built?"}
    low, high = _date_range(connection)
    entities, asks = questions(connection, rng, queries)
    replay = _replay(db)
    result: dict[str, Any] = {
        "available": True,
        "entities": {name: len(keys) for name, keys in entities.items()},
        "date_range": [low.isoformat(), high.isoformat()],
    }
    for label, lookup in (("entity", entity_lookup(replay)), ("entity_sql", entity_lookup(None))):
        for ask in asks[: max(1, queries // 10)]:
            lookup(connection, *ask)
        latencies, answered = [], 0
        for ask in asks:
            started = time.perf_counter()
            states = lookup(connection, *ask)
            latencies.append(time.perf_counter() - started)
            answered += bool(states)
        result[label] = {**latency_summary(latencies), "answered": answered}
    result["entity"]["via"] = "ledger.Ledger.replay(as_of, entity=...)" if replay else "SQL"
    result["entity_sql"]["plan"] = _lookup_plan(connection, next(name for name, keys in entities.items() if keys))
    if replay is not None:
        times = []
        for _ in range(REPLAY_QUERIES):
            as_of = _random_day(rng, low, high)
            started = time.perf_counter()
            replay(as_of)
            times.append(time.perf_counter() - started)
        result["replay"] = latency_summary(times)
    connection.close()
    return result


def late_event(spec: LedgerSpec, number: int, occurred: date, reported: date, status: str) -> dict[str, Any]:
    """A decision on an existing restriction, appended long after it was taken."""
    issuer, restricted = government(spec, number), government(spec, number + 1)
    return {
        "id": f"late-policy-change-{number:05d}-{reported.isoformat()}",
        "kind": "policy_change",
        "occurred": occurred.isoformat(),
        "reported": reported.isoformat(),
        "actors": [issuer],
        "summary": f"{issuer} had quietly set {restriction_id(number)} to {status}, it emerged years later",
        "sources": [
            {"outlet": "Reuters", "published": reported.isoformat(), "attribution": "anonymous_official", "count": 2,
             "url": f"https://news.example/late/{number}"},
            {"outlet": "Politico", "published": reported.isoformat(), "attribution": "journalist",
             "url": f"https://news.example/late/{number}/b"},
        ],
        "restriction": {"id": restriction_id(number), "status": status, "issuer": issuer, "restricted": restricted},
        "stage": "signed",
    }  # fmt: skip


def late_event_phase(db: str, spec: LedgerSpec) -> dict[str, Any]:
    """Append backdated decisions one at a time; time each from the append until an as-of query shows it."""
    readmodel = _readmodel()
    if readmodel is None:
        return _unavailable()
    from ledger.ingest import ingest_dicts
    from ledger.store import open_store

    view = view_path(db)
    readmodel.project(db, view)  # start from a read model that is up to date
    rng = random.Random(spec.seed ^ 0x1A7E)
    connection = sqlite3.connect(f"file:{view}?mode=ro", uri=True, check_same_thread=False)
    low, high = _date_range(connection)
    tables, lookup = _projection_tables(), entity_lookup(_replay(db))
    trials = []
    with open_store(db) as store:
        for _ in range(LATE_EVENTS):
            number = rng.randrange(spec.restrictions)
            occurred = low + timedelta(days=rng.randint(30, max(31, (high - low).days // 2)))
            status = rng.choice(["prohibited", "permitted", "conditional", "under_review"])
            data = late_event(spec, number, occurred, high + timedelta(days=1), status)
            started = time.perf_counter()
            ingest_dicts(store, [data])
            appended = time.perf_counter()
            readmodel.project(db, view)
            projected = time.perf_counter()
            states = lookup(connection, "restrictions", tables["restrictions"], restriction_id(number), occurred.isoformat())
            visible = any(data["id"] in (state.get("events") or []) for state in states)
            done = time.perf_counter()
            trials.append({
                "event": data["id"],
                "occurred": data["occurred"],
                "visible": visible,
                "ingest_ms": (appended - started) * 1000,
                "project_ms": (projected - appended) * 1000,
                "query_ms": (done - projected) * 1000,
                "total_ms": (done - started) * 1000,
            })  # fmt: skip
    connection.close()
    totals = sorted(trial["total_ms"] for trial in trials)
    return {
        "available": True,
        "trials": trials,
        "all_visible": all(trial["visible"] for trial in trials),
        "median_ms": totals[len(totals) // 2],
        "max_ms": totals[-1],
    }
