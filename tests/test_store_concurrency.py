"""Several writers at once, and writers killed in the middle of an append: every event there once, and nothing half-written.

Each test starts real ``ledger ingest`` processes on one new store (no compression
dictionary yet, so every writer would train the first one). A few trials run in
the default suite; ``python -m pytest -m stress`` runs more.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import LedgerSpec, generate_events, registry_of
from ledger.store import TRAINING_MIN, open_reader

SPEC = LedgerSpec(events=5_000, seed=13, actors=40, questions=8, restrictions=25, packages=30, areas=20, documents=60)
WRITERS = 4
PER_WRITER = TRAINING_MIN  # each writer's batch alone is enough to train the store's first dictionary


def plain_events() -> list[dict]:
    """Generated events that name no other event (so disjoint batches can be recorded in any order)."""
    return [{**data, "links": {}} for data in generate_events(SPEC) if data["kind"] != "correction"]


EVENTS = plain_events()


def batch_folder(folder: Path, events: list[dict]) -> Path:
    """The registry and ``events`` as files for ``ledger ingest``."""
    folder.mkdir(parents=True)
    for kind, entries in registry_of(SPEC).items():
        (folder / f"{kind}s.json").write_text(json.dumps(entries))
    (folder / "events.jsonl").write_text("".join(json.dumps(data) + "\n" for data in events))
    return folder


def ingest(folder: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ledger", "ingest", str(folder), "--db", str(db), "--no-project", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(processes: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    return [(process.wait(timeout=600), *process.communicate()) for process in processes]


def recorded(db: Path) -> tuple[list[str], bool]:
    """The ids in recording order, and whether the chain verifies."""
    with open_reader(str(db)) as reader:
        return [event.id for event in reader.events(1)], reader.verify().ok


@pytest.mark.parametrize("trial", range(1))
def test_concurrent_ingests_into_a_new_store_record_every_event_once(tmp_path: Path, trial: int) -> None:
    batches = [EVENTS[n * PER_WRITER : (n + 1) * PER_WRITER] for n in range(WRITERS)]
    assert all(len(batch) == PER_WRITER for batch in batches)
    folders = [batch_folder(tmp_path / f"writer-{n}", batch) for n, batch in enumerate(batches)]
    db = tmp_path / "ledger.db"
    results = finish([ingest(folder, db) for folder in folders])
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err, err
    ids, verified = recorded(db)
    assert verified and sorted(ids) == sorted(data["id"] for data in EVENTS[: WRITERS * PER_WRITER])
    for batch in batches:  # each ingest is one append: its events sit together, in its order
        start = ids.index(batch[0]["id"])
        assert ids[start : start + len(batch)] == [data["id"] for data in batch]


@pytest.mark.parametrize("trial", range(1))
def test_the_same_batch_ingested_twice_at_once_is_recorded_once(tmp_path: Path, trial: int) -> None:
    folder = batch_folder(tmp_path / "batch", EVENTS[:PER_WRITER])
    db = tmp_path / "ledger.db"
    results = finish([ingest(folder, db) for _ in range(2)])
    for code, _, err in results:
        assert code == 0 and "Traceback" not in err, err
    reports = [json.loads(out) for _, out, _ in results]
    assert sorted((report["appended"], report["skipped"]) for report in reports) == [(0, PER_WRITER), (PER_WRITER, 0)]
    ids, verified = recorded(db)
    assert verified and ids == [data["id"] for data in EVENTS[:PER_WRITER]]


KILLED_INSIDE_THE_APPEND = """
import sys, time
from ledger.store import recorder

write = recorder.SQLiteBackend.record

def record_then_stall(self, *args, **kwargs):
    positions = write(self, *args, **kwargs)
    print("written, not committed", flush=True)
    time.sleep(120)
    return positions

recorder.SQLiteBackend.record = record_then_stall
from ledger.cli import main
main(["ingest", sys.argv[1], "--db", sys.argv[2], "--no-project"])
"""


def test_a_writer_killed_inside_its_append_leaves_neither_registry_entries_nor_events(tmp_path: Path) -> None:
    folder = batch_folder(tmp_path / "batch", EVENTS[:50])
    db = tmp_path / "ledger.db"
    writer = subprocess.Popen([sys.executable, "-c", KILLED_INSIDE_THE_APPEND, str(folder), str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "written, not committed"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    with open_reader(str(db)) as reader:
        assert reader.count() == 0 and reader.registry() == {} and reader.verify().ok
    code, out, err = finish([ingest(folder, db)])[0]
    assert code == 0, err
    with open_reader(str(db)) as reader:
        assert reader.count() == 50 and set(reader.registry()) == {"actor", "document", "question"}


@pytest.mark.stress
def test_stress_concurrent_ingests(tmp_path: Path) -> None:
    for trial in range(10):
        test_concurrent_ingests_into_a_new_store_record_every_event_once(tmp_path / f"disjoint-{trial}", trial)
        test_the_same_batch_ingested_twice_at_once_is_recorded_once(tmp_path / f"same-{trial}", trial)
