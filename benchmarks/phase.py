"""Run one benchmark phase in a process of its own, so its peak memory is its own.

``python -m benchmarks.phase NAME JSON_ARGUMENTS`` runs the phase and prints
its result, with ``peak_rss_mb`` added, as one JSON line. :func:`run_phase` does
that from the orchestrator and returns the result.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.generate import LedgerSpec
from benchmarks.measure import DescendantsPeak, peak_rss_mb


class PhaseError(RuntimeError):
    """A phase's process failed; the message carries the end of its error output."""


def _phases() -> dict[str, Callable[..., dict[str, Any]]]:
    from benchmarks import bythebook, read, write

    return {
        "ingest": write.ingest_phase,
        "raw": write.raw_phase,
        "rebuild": read.rebuild_phase,
        "raw_rebuild": read.raw_rebuild_phase,
        "query": read.query_phase,
        "late": read.late_event_phase,
        "by_the_book": bythebook.by_the_book_phase,
        "by_the_book_query": bythebook.query_phase,
    }


def call_phase(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run a phase in this process (``spec`` given as a dict of :class:`LedgerSpec` fields)."""
    arguments = dict(arguments)
    if "spec" in arguments:
        arguments["spec"] = LedgerSpec(**arguments["spec"])
    commit = commit_of_checkout()  # the tree is shared and changes: say which code measured this
    with DescendantsPeak() as workers:
        result = _phases()[name](**arguments)
        workers.sample()  # the workers' high-water marks before they are stopped
        _end_workers()
    result["peak_rss_mb"] = peak_rss_mb()
    result["workers_peak_rss_mb"] = workers.peak_mb  # the largest of its worker processes
    result["commit"] = commit
    return result


def _end_workers() -> None:
    """Stop the phase's worker processes and wait for them, so their peak memory is counted."""
    if "ledger.ingest" in sys.modules:
        sys.modules["ledger.ingest"].stop_workers()
    for child in multiprocessing.active_children():
        child.join(timeout=30)


def commit_of_checkout() -> str:
    """The checkout's HEAD, marked when the tree has uncommitted changes; empty outside git."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=here).stdout.strip()
    except OSError:
        return ""
    return head + ("+uncommitted" if head and dirty else "")


def run_phase(name: str, arguments: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run a phase in a fresh Python process and return its result."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.phase", name, json.dumps(arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise PhaseError(f"benchmark phase {name!r} failed (exit {done.returncode}):\n{tail}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    name, arguments = (argv or sys.argv[1:])[:2]
    result = call_phase(name, json.loads(arguments))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
