"""Worker processes, for every stage that uses them (ingest's validation, the read model's rebuild).

One way to start them (:func:`context`): ``forkserver`` (``spawn`` where there
is none), so a worker inherits no open database, thread or lock. One count
(:func:`worker_count`), from ``LEDGER_WORKERS``. One rule for their end: a
worker dies with the process that started it (:func:`die_with_parent`, called
first thing in every worker), so an ingest or a rebuild killed with ``kill -9``
leaves no process behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.context import BaseContext

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_INTERVAL = 0.5  # seconds between a watching thread's checks of the parent, where there is no prctl


def context(preload: Sequence[str] = ()) -> BaseContext:
    """The start method workers use, with ``preload`` imported once by the fork server (when there is one)."""
    methods = multiprocessing.get_all_start_methods()
    chosen = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if preload and chosen.get_start_method() == "forkserver":
        chosen.set_forkserver_preload(list(preload))
    return chosen


def worker_count(spare: int = 0) -> int:
    """How many worker processes: ``LEDGER_WORKERS`` if set, else the CPUs less ``spare`` (at least 1 unless that leaves none)."""
    from ledger.settings import available_cpus, configured_workers

    configured = configured_workers()
    if configured is not None:
        return configured
    return max(0 if spare else 1, available_cpus() - spare)


def die_with_parent() -> None:
    """Make this process end when its parent does, however the parent ends (``kill -9`` included).

    On Linux the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``);
    a worker started through the fork server has the fork server as its parent,
    which itself exits when the process that started it is gone. Elsewhere a
    daemon thread watches the parent's id and ends the process when it changes.
    """
    _release_fork_server()
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent ended before the request took effect
                    os._exit(1)
                return
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="ledger-parent-watch").start()


def _release_fork_server() -> None:
    """Close this worker's copy of the fork server's lifeline, so the server ends when the process that started it does.

    The fork server exits once every copy of that pipe's write end is closed;
    multiprocessing hands one to each child (to let it start processes of its
    own, which workers never do), so without this the server and the workers
    would keep each other alive after the starting process was killed.
    """
    if multiprocessing.parent_process() is None:
        return  # the starting process itself: its copy is the one that must stay open
    from multiprocessing import forkserver

    server = forkserver._forkserver  # the module's one server; there is no public handle on its lifeline
    alive = getattr(server, "_forkserver_alive_fd", None)
    if alive is not None:
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[attr-defined]  # set by the server on its children, not declared


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)
