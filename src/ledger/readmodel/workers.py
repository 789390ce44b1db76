"""Worker processes for a rebuild's two passes: they compute some pages' and groups' rows, this process writes them.

A rebuild's second pass (:mod:`ledger.readmodel.rebuild`) goes through the
entities a group at a time, and each group's rows depend only on the group's
events and the store's append batches (the first pass, likewise, reads the
store a page of positions at a time, and a page's rows depend only on its events). :class:`ReplayPool` hands groups to
worker processes, :data:`AHEAD` at a time each, and computes the others
itself; a worker reads the group's events from the store on a read-only
connection of its own and sends back the rows as tuples
(:data:`~ledger.readmodel.rebuild.GroupRows`, :data:`~ledger.readmodel.rebuild.PageRows`), which this process writes with
its own: only this process writes to the read model, and the rows are the same
whoever computed them.

The workers start as every worker does (:mod:`ledger.workers`): with
``forkserver``, inheriting no open database, and dying with this process. A worker that fails or dies stops the pool:
this process computes the pages or groups it had again itself, so an error surfaces as
it would without workers.
"""

from __future__ import annotations

import gc
import queue
from collections.abc import Callable, Iterable
from typing import Any

from ledger import workers

AHEAD = 2  # pages or groups handed to a worker and not yet written back
WAIT = 0.5  # seconds between checks that the workers are alive, while waiting for their rows


def worker_count() -> int:
    """How many worker processes a large rebuild uses: ``LEDGER_WORKERS`` (as for ``ingest``), else one fewer than the CPUs.

    One fewer, not one per CPU as ``ingest``: here this process computes groups too, besides writing every row.
    """
    return workers.worker_count(spare=1)


def replay_worker(number: int, tasks: Any, results: Any) -> None:
    """A worker's loop: the store's path, then ``(kind, index, item)`` tasks until ``None``.

    A ``page`` task is a range of positions of the first pass; a ``batches``
    task gives the append batches' starts the second pass needs; a ``group``
    task is a group of entities of the second pass.
    """
    from ledger.readmodel.rebuild import REPLAY_GC_THRESHOLD, load_page, replay_group
    from ledger.store import open_reader

    workers.die_with_parent()
    gc.freeze()  # what the worker imported stays out of collections; each task's own garbage is collected
    gc.set_threshold(*REPLAY_GC_THRESHOLD)
    location = tasks.get()
    if location is None:
        return
    store = open_reader(location)
    batches: list[int] = []
    try:
        read = store.events_at
        while (task := tasks.get()) is not None:
            kind, index, item = task
            if kind == "batches":
                batches = item
                continue
            try:
                if kind == "page":
                    found: Any = load_page(store, *item)
                else:
                    found = replay_group(item, read(sorted({position for _, positions in item for position in positions})), batches)
            except Exception:
                results.put((number, index, None))
                return
            results.put((number, index, found))
    finally:
        store.close()


class ReplayPool:
    """``count`` processes computing groups' rows from the store at ``store_path`` (a location :func:`ledger.store.open_reader` opens)."""

    def __init__(self, store_path: str, count: int) -> None:
        context = workers.context(preload=["ledger.readmodel.rebuild"])
        self.store_path = store_path
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(count)]
        self.processes = [
            context.Process(  # type: ignore[attr-defined]  # a spawn/fork context has Process
                target=replay_worker, args=(number, tasks, self.results), daemon=True, name=f"ledger-rebuild-{number}"
            )
            for number, tasks in enumerate(self.tasks)
        ]
        self.handed: list[dict[int, Any]] = [{} for _ in self.processes]
        self.working = True
        self.kind = "group"
        for process in self.processes:
            process.start()
        for tasks in self.tasks:
            tasks.put(store_path)

    def prepare(self, batches: list[int]) -> None:
        """Send the workers what every group needs: the start of each append batch."""
        if self.working:
            for tasks in self.tasks:
                tasks.put(("batches", 0, batches))

    def replay(self, items: Iterable[Any], replay: Callable[[Any], Any], write: Callable[[Any, Any], None], kind: str = "group") -> None:
        """Every item's rows passed to ``write``: the workers' as they come, ``replay``'s for the items kept here.

        ``kind`` says what the items are: ``group`` (of entities, :data:`Group`) or ``page`` (of positions).
        """
        self.kind = kind
        numbered = enumerate(items)
        self._hand_out(numbered)
        for _, item in numbered:
            write(item, replay(item))
            self._collect(replay, write, wait=False)
            self._hand_out(numbered)
        while any(self.handed):
            self._collect(replay, write, wait=True)

    def _hand_out(self, numbered: Any) -> None:
        if not self.working:
            return
        for tasks, handed in zip(self.tasks, self.handed, strict=True):
            while len(handed) < AHEAD:
                found = next(numbered, None)
                if found is None:
                    return
                index, item = found
                handed[index] = item
                tasks.put((self.kind, index, item))

    def _collect(self, replay: Callable[[Any], Any], write: Callable[[Any, Any], None], wait: bool) -> None:
        """Write the rows the workers have sent; with ``wait``, wait for at least one group (or a failure)."""
        while self.working:
            try:
                number, index, found = self.results.get(timeout=WAIT) if wait else self.results.get_nowait()
            except queue.Empty:
                if wait and not all(process.is_alive() for process in self.processes):
                    self._take_back(replay, write)
                if not wait or not self.working:
                    return
                continue
            group = self.handed[number].pop(index, None)
            if found is None or group is None:
                if group is not None:
                    self.handed[number][index] = group
                self._take_back(replay, write)
                return
            write(group, found)
            wait = False

    def _take_back(self, replay: Callable[[Any], Any], write: Callable[[Any, Any], None]) -> None:
        """Stop the workers and compute here every group they had not sent back."""
        self.working = False
        self._stop(terminate=True)
        for handed in self.handed:
            for index in sorted(handed):
                write(handed[index], replay(handed[index]))
            handed.clear()

    def _stop(self, terminate: bool) -> None:
        for process, tasks in zip(self.processes, self.tasks, strict=True):
            if process.is_alive() and not terminate:
                tasks.put(None)
        for process in self.processes:
            if terminate:
                process.terminate()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for tasks in (*self.tasks, self.results):
            tasks.cancel_join_thread()
            tasks.close()

    def close(self) -> None:
        """Stop the workers (at once if groups are still out: the rebuild stopped)."""
        if self.processes and any(process.pid is not None and process.exitcode is None for process in self.processes):
            self._stop(terminate=any(self.handed) or not self.working)
        self.processes = []
        self.working = False
