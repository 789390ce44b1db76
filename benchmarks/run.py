"""The whole benchmark in one run: each phase in its own process, then the targets judged.

:func:`run_benchmark` returns the results as a dict (the JSON the command
writes); :func:`benchmarks.targets.results_table` prints them. Phases:

1. ``ingest``: generate and ingest N events (a copy of the store is kept at
   the smaller size, 100,000 events by default);
2. ``raw``: the same rows with raw ``executemany``; then both again beside
   a busy loop on one core (``ingest_busy``, ``raw_busy``), unless told not to;
3. ``rebuild`` and ``query`` at both sizes: a read model from scratch, then
   as-of lookups of random entities at random dates;
4. ``late``: a backdated event appended to the large ledger, until the read model shows it;
5. ``ledger replay --as-of D`` as a whole process;
6. ``by_the_book``: the same workload with eventsourcing's ``Application.save``
   and ``repository.get``.
"""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.generate import LedgerSpec
from benchmarks.phase import PhaseError, commit_of_checkout, run_phase
from benchmarks.read import VIEW_UNAVAILABLE, view_path
from benchmarks.targets import judge
from benchmarks.write import snapshot_path
from ledger.settings import child_environment

SMALL_SIZE = 100_000
SLOW_REPLAY_S = 10.0
Report = Callable[[str], None]


def machine() -> dict[str, Any]:
    """What the numbers were measured on, and how busy the machine was."""
    cpu = ""
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else 0
    cores = os.cpu_count() or 0
    python = platform.python_version()
    return {
        "commit": commit_of_checkout(),
        "cores": cores,
        "cpu": cpu,
        "memory_gib": round(memory, 1),
        "python": python,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_average_start": os.getloadavg(),
        "summary": f"{cores} cores, Python {python}, SQLite {sqlite3.sqlite_version}",
    }


def _ledger_command() -> list[str]:
    """The ``ledger`` script installed beside this interpreter, as a user's environment runs it.

    A version manager's shim found first on ``PATH`` (pyenv's is a shell script
    that looks up the interpreter to run) would add its own start-up to every
    timed run.
    """
    beside = Path(sys.executable).with_name("ledger")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("ledger")
    return [found] if found else [sys.executable, "-m", "ledger"]


@dataclass
class Ran:
    """One finished process: wall seconds, peak RSS (MB), exit code and output."""

    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: bytes
    stderr: bytes


def _run(command: list[str], timeout: float = 900.0, env: dict[str, str] | None = None) -> Ran:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not every child's
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Ran(seconds, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read())


def _wall(command: list[str], runs: int, env: dict[str, str] | None = None) -> list[Ran]:
    return [_run(command, env=env) for _ in range(runs)]


def with_bytecode(folder: str) -> dict[str, str]:
    """The environment with Python's compiled modules kept (in ``folder``), as an installed package has them.

    Where ``PYTHONDONTWRITEBYTECODE`` is set, every process would compile
    every module it imports again; a user's installed ledger was compiled once
    when it was installed.
    """
    return child_environment(unset=("PYTHONDONTWRITEBYTECODE",), PYTHONPYCACHEPREFIX=folder)


def cli_replay_phase(db: str, as_of: str, runs: int = 5) -> dict[str, Any]:
    """``ledger replay --as-of D --format json`` as a whole process (start-up included), median of ``runs``.

    The first run is not timed: it warms the page cache, as a user's second
    query would find it, and compiles the modules (:func:`with_bytecode`).
    """
    command = [*_ledger_command(), "replay", "--as-of", as_of, "--db", db, "--format", "json"]
    env = with_bytecode(str(Path(db).parent / "pycache"))
    warm = _run(command, env=env)
    if warm.seconds > SLOW_REPLAY_S:
        runs = 1  # far off the target already: one more run says as much as five
    replays = _wall(command, runs, env)
    last = replays[-1]
    result: dict[str, Any] = {
        "command": " ".join(["ledger", *command[len(_ledger_command()) :]]),
        "runs": runs,
        "seconds": statistics.median(r.seconds for r in replays),
        "all_seconds": [r.seconds for r in replays],
        "exit_code": last.returncode,
        "output_bytes": len(last.stdout),
        "peak_rss_mb": max(r.peak_rss_mb for r in replays),
        "python_startup_s": statistics.median(r.seconds for r in _wall([sys.executable, "-c", "pass"], runs, env)),
        "import_ledger_cli_s": statistics.median(r.seconds for r in _wall([sys.executable, "-c", "import ledger.cli"], runs, env)),
        "bytecode_kept": True,
    }
    if last.returncode != 0:
        result["error"] = "\n".join(last.stderr.decode(errors="replace").strip().splitlines()[-5:])
    return result


@contextmanager
def _busy_loop() -> Iterator[subprocess.Popen[bytes]]:
    """A process spinning on one core while the block runs, as another user's work would."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield spinner
    finally:
        spinner.kill()
        spinner.wait()


def _sizes(events: int) -> tuple[int, int]:
    small = SMALL_SIZE if events > SMALL_SIZE else max(1, events // 10)
    return small, events


def run_benchmark(
    events: int = 1_000_000,
    out: str | Path | None = None,
    seed: int = LedgerSpec.seed,
    batch: int = 10_000,
    queries: int = 1_000,
    by_the_book_events: int | None = None,
    rebuild_budget_s: float = 1800.0,
    busy_core: bool = True,
    report: Report = lambda message: None,
) -> dict[str, Any]:
    """Run every phase on a generated ledger of ``events`` events in folder ``out``; return the results."""
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    spec = LedgerSpec(events=events, seed=seed)
    spec_args = {"events": events, "seed": seed}
    small, large = _sizes(events)
    db = str(folder / "ledger.db")
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "spec": {
            "events": events,
            "seed": seed,
            "batch": batch,
            "queries": queries,
            "entities": spec.entities,
            "years": spec.years,
            "by_the_book_events": min(by_the_book_events or events, events),
            "rebuild_budget_s": rebuild_budget_s,
        },  # fmt: skip
        "sizes": {"small": small, "large": large},
        "folder": str(folder),
        "phases": {},
    }
    step = _Steps(result["phases"], report)
    report(f"ingest: generating and ingesting {events:,} events in batches of {batch:,}")
    step("ingest", run_phase, "ingest", {"db": db, "spec": spec_args, "batch": batch, "snapshots": [small]})
    report("raw: the same rows with sqlite3 executemany")
    step("raw", run_phase, "raw", {"source_db": db, "target_db": str(folder / "raw.db"), "batch": batch})
    if busy_core:
        busy = folder / "busy"
        busy.mkdir(exist_ok=True)
        with _busy_loop() as spinner:
            report(f"ingest and raw again, beside a busy loop on one core (pid {spinner.pid})")
            step("ingest_busy", run_phase, "ingest", {"db": str(busy / "ledger.db"), "spec": spec_args, "batch": batch})
            step("raw_busy", run_phase, "raw", {"source_db": str(busy / "ledger.db"), "target_db": str(busy / "raw.db"), "batch": batch})
        for name in ("ledger.db", "raw.db"):  # only the ratio is kept: the stores are the ones above again
            for path in busy.glob(name + "*"):
                path.unlink()
    _read_side(result, step, report)
    count = min(by_the_book_events or events, events)
    report(f"by the book: {count:,} events with Application.save, {queries:,} repository.get queries")
    by_the_book = {
        "db": str(folder / "by_the_book.db"),
        "spec": spec_args,
        "count": count,
        "batch": batch,
        "queries": queries,
        "seed": seed,
    }
    step("by_the_book", run_phase, "by_the_book", by_the_book)
    return _finish(result, started)


def _read_side(result: dict[str, Any], step: _Steps, report: Report) -> None:
    """Rebuild, query at both sizes, late events and ``ledger replay``, on the stores already in the folder."""
    folder, spec_args = Path(result["folder"]), {"events": result["spec"]["events"], "seed": result["spec"]["seed"]}
    small, large = result["sizes"]["small"], result["sizes"]["large"]
    queries, budget = result["spec"]["queries"], result["spec"]["rebuild_budget_s"]
    db = str(folder / "ledger.db")
    dbs = {small: snapshot_path(db, small), large: db}
    for size in (small, large):
        report(f"rebuild: read model of {size:,} events (stopped after {budget:,.0f} s)")
        step(f"rebuild_{size}", run_phase, "rebuild", {"db": dbs[size], "budget_s": budget})
        if not result["phases"][f"rebuild_{size}"].get("finished"):
            result["phases"][f"query_{size}"] = {"available": False, "reason": "the read model was not rebuilt in time"}
            continue
        report(f"query: {queries:,} as-of queries at {size:,} events")
        step(f"query_{size}", run_phase, "query", {"db": dbs[size], "spec": spec_args, "queries": queries})
    if result["phases"][f"rebuild_{large}"].get("finished"):
        report("late: backdated events appended to the large ledger")
        step("late", run_phase, "late", {"db": db, "spec": spec_args})
    else:
        result["phases"]["late"] = {"available": False, "reason": "the read model of the large ledger was not rebuilt in time"}
    start = LedgerSpec().start
    as_of = start.replace(year=start.year + LedgerSpec().years // 2).isoformat()
    report(f"cli: ledger replay --as-of {as_of}")
    step("cli_replay", cli_replay_phase, db, as_of)


def rerun_read_side(previous: dict[str, Any], report: Report = lambda message: None) -> dict[str, Any]:
    """Run the read side again on the stores a previous run left in its folder (e.g. after a read-model fix).

    The write side and the baseline are kept; the replaced phases are kept
    under ``superseded`` with the commit that measured them.
    """
    result = dict(previous)
    started = time.perf_counter() - previous.get("seconds", 0.0)
    phases = result["phases"] = dict(previous["phases"])
    superseded = result.setdefault("superseded", [])
    superseded.append({
        "date": previous.get("read_side_date", previous["date"]),
        "phases": {name: phases.pop(name) for name in list(phases) if name.split("_")[0] in ("rebuild", "query", "late", "cli")},
    })  # fmt: skip
    result["read_side_date"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"]["commit_read_side"] = commit_of_checkout()
    _read_side(result, _Steps(phases, report), report)
    return _finish(result, started)


def _finish(result: dict[str, Any], started: float) -> dict[str, Any]:
    result["machine"]["load_average_end"] = os.getloadavg()
    result["seconds"] = time.perf_counter() - started
    result["headline"] = headline(result)
    result["targets"] = judge(result["headline"], result["sizes"]["small"], result["sizes"]["large"])
    return result


class _Steps:
    """Runs one phase, keeps its result under a name with its wall time and the machine's load after it."""

    def __init__(self, results: dict[str, Any], report: Report) -> None:
        self.results, self.report = results, report

    def __call__(self, name: str, phase: Callable[..., dict[str, Any]], *arguments: Any) -> None:
        started = time.perf_counter()
        try:
            result = phase(*arguments)
        except PhaseError as error:  # one broken phase must not cost the others' numbers
            result = {"available": False, "error": str(error)}
            self.report(f"   {name} failed: {str(error).splitlines()[-1]}")
        result["wall_seconds"] = time.perf_counter() - started
        result["load_average_after"] = os.getloadavg()  # the machine is shared: a busy one shows here
        self.results[name] = result
        self.report(f"   {name}: {result['wall_seconds']:.1f} s wall, load {result['load_average_after'][0]:.2f}")


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def chain_bytes_per_event(ingest: dict[str, Any]) -> float | None:
    """The hash chain's bytes on disk per event: every table and index of the store named after ``ledger_chain``."""
    tables, events = ingest.get("disk_tables"), ingest.get("events")
    if not tables or not events:
        return None
    return sum(size for name, size in tables.items() if "ledger_chain" in name) / events


def headline(result: dict[str, Any]) -> dict[str, float | None]:
    """The flat numbers the targets judge, from the phases' results (None where a phase was not available)."""
    phases = result["phases"]
    small, large = result["sizes"]["small"], result["sizes"]["large"]
    ingest = _get(phases, "ingest", "events_per_s")
    raw = _get(phases, "raw", "events_per_s")
    rebuild = _get(phases, f"rebuild_{large}", "events_per_s")
    rebuild_raw = _get(phases, f"rebuild_{large}", "raw_events_per_s")
    q_small = _get(phases, f"query_{small}", "entity", "p50_ms")
    q_large = _get(phases, f"query_{large}", "entity", "p50_ms")
    by_the_book = _get(phases, "by_the_book", "events_per_s")
    by_the_book_query = _get(phases, "by_the_book", "query", "p50_ms")
    cli = phases.get("cli_replay", {})
    view_bytes = _get(phases, f"rebuild_{large}", "view_bytes")
    view_events = _get(phases, f"rebuild_{large}", "events_done")
    return {
        "ingest_events_per_s": ingest,
        "raw_executemany_events_per_s": raw,
        "ingest_vs_raw": _ratio(ingest, raw),
        "ingest_vs_raw_busy": _ratio(_get(phases, "ingest_busy", "events_per_s"), _get(phases, "raw_busy", "events_per_s")),
        "chain_bytes_per_event": chain_bytes_per_event(phases.get("ingest", {})),
        "rebuild_events_per_s": rebuild,
        "rebuild_raw_events_per_s": rebuild_raw,
        "rebuild_vs_raw": _ratio(rebuild, rebuild_raw),
        "rebuild_events_per_s_small": _get(phases, f"rebuild_{small}", "events_per_s"),
        "rebuild_linearity": _ratio(rebuild, _get(phases, f"rebuild_{small}", "events_per_s")),
        "query_p50_ms_small": q_small,
        "query_p99_ms_small": _get(phases, f"query_{small}", "entity", "p99_ms"),
        "query_p50_ms": q_large,
        "query_p99_ms": _get(phases, f"query_{large}", "entity", "p99_ms"),
        "query_sql_p50_ms": _get(phases, f"query_{large}", "entity_sql", "p50_ms"),
        "query_sql_p99_ms": _get(phases, f"query_{large}", "entity_sql", "p99_ms"),
        "query_growth": _ratio(q_large, q_small),
        "replay_p50_ms": _get(phases, f"query_{large}", "replay", "p50_ms"),
        "late_event_ms": _get(phases, "late", "median_ms"),
        "cli_replay_s": cli.get("seconds") if cli.get("exit_code") == 0 else None,
        "python_startup_s": cli.get("python_startup_s"),
        "peak_rss_mb": max(
            (
                max(p.get("peak_rss_mb", 0), p.get("workers_peak_rss_mb", 0))
                for name, p in phases.items()
                if name != "by_the_book" and isinstance(p, dict)
            ),
            default=None,
        ),
        "disk_bytes_per_event": _get(phases, "ingest", "disk_bytes_per_event"),
        "view_bytes_per_event": view_bytes / view_events if view_bytes and view_events else None,
        "by_the_book_events_per_s": by_the_book,
        "ingest_vs_by_the_book": _ratio(ingest, by_the_book),
        "by_the_book_query_p50_ms": by_the_book_query,
        "query_vs_by_the_book": _ratio(by_the_book_query, q_large),
    }


__all__ = ["VIEW_UNAVAILABLE", "cli_replay_phase", "headline", "machine", "run_benchmark", "view_path"]
