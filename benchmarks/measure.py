"""Small measuring tools the benchmark phases share: clocks, percentiles, memory, disk."""

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Stopwatch:
    """Accumulates the time spent inside ``with watch:`` blocks (perf_counter, seconds)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


def rate(count: float, seconds: float) -> float:
    """Items per second, 0 when nothing was timed."""
    return count / seconds if seconds > 0 else 0.0


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` (0..1) percentile of ``values``, by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean and max of latencies given in seconds, reported in milliseconds."""
    return {
        "count": len(seconds),
        "p50_ms": percentile(seconds, 0.50) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
        "mean_ms": statistics.fmean(seconds) * 1000 if seconds else 0.0,
        "max_ms": max(seconds) * 1000 if seconds else 0.0,
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def checkpoint(db: str | Path) -> None:
    """Fold the write-ahead log into the database file, so its size is the data's size."""
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def disk_usage(db: str | Path) -> dict[str, Any]:
    """Bytes of the database file (and its WAL), and bytes per table and index (SQLite's dbstat)."""
    checkpoint(db)
    files = [Path(db), Path(f"{db}-wal")]
    total = sum(path.stat().st_size for path in files if path.exists())
    tables: dict[str, int] = {}
    connection = sqlite3.connect(db)
    try:
        for name, size in connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
            tables[name] = size
    except sqlite3.OperationalError:
        pass  # dbstat is a compile-time option; the total is enough without it
    finally:
        connection.close()
    return {"bytes": total, "tables": tables}


def copy_db(source: str | Path, target: str | Path) -> None:
    """A consistent copy of a SQLite database (the online backup API), replacing ``target``."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    os.sync()


class DescendantsPeak:
    """The largest peak RSS (``VmHWM``) of this process's descendants, sampled while ``with`` runs (Linux).

    Worker processes (validation, rebuild) are started through a fork server,
    so they are not this process's waited-for children and ``ru_maxrss`` never
    sees them; each one's own high-water mark is read from ``/proc`` every
    ``interval`` seconds and at the end, so a worker that lives longer than one
    interval is counted at its peak.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DescendantsPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                self.sample()
                return

    def sample(self) -> None:
        for pid in _descendants(os.getpid()):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state, past a name that may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found
