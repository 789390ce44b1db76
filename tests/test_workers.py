"""Worker processes end with the process that started them, even when it is killed with kill -9."""

import os
import signal
import subprocess
import sys
import time

import pytest

INGEST_POOL = """
import multiprocessing, sys, time
from ledger import ingest
ingest.start_workers(2)
from multiprocessing import forkserver
print(*[p.pid for p in multiprocessing.active_children()], forkserver._forkserver._forkserver_pid, flush=True)
time.sleep(120)
"""

REBUILD_POOL = """
import multiprocessing, sys, time
from ledger.readmodel.workers import ReplayPool
pool = ReplayPool(sys.argv[1], 2)
from multiprocessing import forkserver
print(*[p.pid for p in pool.processes], forkserver._forkserver._forkserver_pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap it counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_and_watch(code: str, *args: str) -> list[int]:
    """Start ``code``, read the worker pids it prints, kill -9 it, and return the workers still alive after a few seconds."""
    parent = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc") or sys.platform != "linux", reason="reads /proc")


def test_ingest_workers_die_when_the_ingest_is_killed():
    assert kill_and_watch(INGEST_POOL) == []


def test_rebuild_workers_die_when_the_rebuild_is_killed(tmp_path):
    from ledger.store import open_store

    with open_store(str(tmp_path / "ledger.db")):
        pass
    assert kill_and_watch(REBUILD_POOL, str(tmp_path / "ledger.db")) == []
