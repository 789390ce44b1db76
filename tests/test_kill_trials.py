"""kill -9 in the middle of ``ledger ingest``, ``ledger project`` and ``ledger project --rebuild``.

Each trial starts the real command as a process, kills it with SIGKILL at a
random moment of its run, and then checks what a user would: the store verifies,
a batch is there whole or not at all (no partial append), running the command
again completes with every event there once (no loss), and ``ledger replay``
gives the same answer as a ledger that was never interrupted. Worker processes
left behind by a killed parent are counted (and stopped by their PIDs).

One trial of each runs by default; ``python -m pytest -m stress -s`` runs 20 of
each and prints the tally for docs/robustness.md.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from helpers import LedgerSpec, generate_events, registry_of
from ledger.store import read_head

SPEC = LedgerSpec(events=4_000, seed=7, actors=40, questions=8, restrictions=25, packages=30, areas=20, documents=60)
FIRST = 500
"""Events ingested before the trials start; the rest form the batch that is killed."""
AS_OF = "2024-06-01"
ORPHAN_GRACE = 5.0
"""Seconds the processes a killed command started get to end before they count as left running."""


def ledger(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ledger", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The registry with the first events, and the batch that gets killed, as files for ``ledger ingest``."""
    folder = tmp_path_factory.mktemp("kill-batches")
    first, second = folder / "first", folder / "second"
    first.mkdir()
    second.mkdir()
    for kind, entries in registry_of(SPEC).items():
        (first / f"{kind}s.json").write_text(json.dumps(entries))
    events = list(generate_events(SPEC))
    (first / "events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in events[:FIRST]))
    (second / "events.jsonl").write_text("".join(json.dumps(event) + "\n" for event in events[FIRST:]))
    return {"first": first, "second": second}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, batches: dict[str, Path]) -> dict[str, object]:
    """An uninterrupted ledger: its databases, its replay answer, and how long each command took."""
    folder = tmp_path_factory.mktemp("kill-reference")
    db = str(folder / "ledger.db")
    durations = {}
    assert ledger("ingest", str(batches["first"]), "--db", db).returncode == 0
    started = time.perf_counter()
    assert ledger("ingest", str(batches["second"]), "--db", db, "--no-project").returncode == 0
    durations["ingest"] = time.perf_counter() - started
    started = time.perf_counter()
    assert ledger("project", "--db", db).returncode == 0
    durations["project"] = time.perf_counter() - started
    started = time.perf_counter()
    assert ledger("project", "--rebuild", "--db", db).returncode == 0
    durations["rebuild"] = time.perf_counter() - started
    answer = ledger("replay", "--as-of", AS_OF, "--format", "json", "--db", db)
    assert answer.returncode == 0, answer.stderr
    base = folder / "base"
    base.mkdir()
    assert ledger("ingest", str(batches["first"]), "--db", str(base / "ledger.db")).returncode == 0
    return {"answer": answer.stdout, "durations": durations, "base": base, "events": SPEC.events}


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_midway(args: list[str], seconds: float, rng: random.Random) -> tuple[float, int]:
    """Start ``ledger ARGS``, SIGKILL it after a random part of ``seconds``; (when it was killed, workers left alive)."""
    process = subprocess.Popen([sys.executable, "-m", "ledger", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    delay = rng.uniform(0.05, 1.0) * seconds
    deadline = time.perf_counter() + delay
    family: set[int] = set()
    while time.perf_counter() < deadline and process.poll() is None:
        family |= descendants(process.pid)
        time.sleep(0.02)
    family |= descendants(process.pid)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    orphans = {pid for pid in family if alive(pid)}
    deadline = time.perf_counter() + ORPHAN_GRACE
    while orphans and time.perf_counter() < deadline:  # workers, the fork server and its resource tracker end within a second
        time.sleep(0.1)
        orphans = {pid for pid in orphans if alive(pid)}
    for pid in orphans:  # our own leftovers: stop them by PID
        os.kill(pid, signal.SIGKILL)
    return delay, len(orphans)


def fresh_copy(reference: dict, folder: Path) -> str:
    for built in Path(reference["base"]).glob("ledger*"):
        shutil.copy(built, folder / built.name)
    return str(folder / "ledger.db")


def position(db: str) -> int:
    head = read_head(db)
    return head.position if head else 0


def trial(kind: str, reference: dict, batches: dict[str, Path], folder: Path, rng: random.Random, tally: Counter) -> None:
    """One kill -9 trial of ``kind``; adds what it saw to ``tally``."""
    db = fresh_copy(reference, folder)
    total = int(reference["events"])
    if kind != "ingest":
        assert ledger("ingest", str(batches["second"]), "--db", db, "--no-project").returncode == 0
        if kind == "rebuild":
            assert ledger("project", "--db", db).returncode == 0
    args = {
        "ingest": ["ingest", str(batches["second"]), "--db", db, "--no-project"],
        "project": ["project", "--db", db],
        "rebuild": ["project", "--rebuild", "--db", db],
    }[kind]
    _, orphans = kill_midway(args, reference["durations"][kind], rng)
    tally["trials"] += 1
    tally["workers_left"] += orphans
    assert orphans == 0, f"{orphans} process(es) of a killed ledger {kind} still running {ORPHAN_GRACE:.0f} s later"
    verified = ledger("verify", "--db", db)
    tally["verify_failures"] += verified.returncode != 0
    after = position(db)
    if kind == "ingest":
        tally["partial_appends"] += after not in (FIRST, total)
        tally["killed_before_commit"] += after == FIRST
    answer = ledger("replay", "--as-of", AS_OF, "--format", "json", "--db", db)
    tally["tracebacks"] += "Traceback" in answer.stderr
    if kind == "rebuild" or (kind == "project"):
        tally["answers_before_rerun"] += answer.returncode == 0 and answer.stdout == reference["answer"]
    rerun = ledger(*args)
    tally["tracebacks"] += "Traceback" in rerun.stderr
    tally["rerun_failures"] += rerun.returncode != 0
    tally["losses"] += position(db) != total
    final = ledger("replay", "--as-of", AS_OF, "--format", "json", "--db", db)
    tally["wrong_answers"] += final.returncode != 0 or final.stdout != reference["answer"]


def assert_clean(tally: Counter) -> None:
    for field in ("verify_failures", "partial_appends", "tracebacks", "rerun_failures", "losses", "wrong_answers"):
        assert tally[field] == 0, f"{field}: {dict(tally)}"


@pytest.mark.parametrize("kind", ["ingest", "project", "rebuild"])
def test_a_command_killed_midway_leaves_a_ledger_that_recovers_whole(
    kind: str, reference: dict, batches: dict[str, Path], tmp_path: Path
) -> None:
    tally: Counter = Counter()
    trial(kind, reference, batches, tmp_path, random.Random(kind), tally)
    assert_clean(tally)


@pytest.mark.stress
@pytest.mark.parametrize("kind", ["ingest", "project", "rebuild"])
def test_stress_20_kills_each(kind: str, reference: dict, batches: dict[str, Path], tmp_path: Path) -> None:
    tally: Counter = Counter()
    rng = random.Random(f"stress-{kind}")
    for number in range(20):
        folder = tmp_path / str(number)
        folder.mkdir()
        trial(kind, reference, batches, folder, rng, tally)
    print(f"STRESS kill -9 {kind}: " + ", ".join(f"{key}={value}" for key, value in sorted(tally.items())))
    assert_clean(tally)
