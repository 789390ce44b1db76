"""The catch-up projector: brings the read model up to the store, one append batch at a time.

For each batch (the events one ``ingest`` appended in one transaction), in
store order, one transaction of the read model:

1. adds the batch's events, their sources and links;
2. finds the entities the batch touches — an entity is touched when one of its
   events, a correction of one, or an alternative account linked to one
   arrives — and recomputes only their history
   (:func:`ledger.projections.history.history`);
3. diffs each history against the entity's open rows: unchanged rows stay,
   vanished rows get ``recorded_to = batch``, new rows ``recorded_from = batch``;
4. moves the tracking position (``projector_state``) to the batch's last position.

View rows and tracking commit together, so a crash anywhere loses nothing and
applies nothing twice: the next run starts after the last committed batch.

A read model that has applied nothing yet is not caught up batch by batch but
rebuilt entity by entity (:mod:`ledger.readmodel.rebuild`), which gives the
same tables in time linear in the ledger; ``rebuild`` empties the read model
first, so it too gives the same tables as projecting after every ingest.

SQLite cannot push notifications (eventsourcing's ``ProjectionRunner`` does not
subscribe on SQLite), so the projector polls: ``ingest`` runs it after each
append, and ``ledger project`` runs it by hand.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import glob
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from ledger.projections.base import EntityKey
from ledger.projections.history import group_by_entity
from ledger.readmodel import rows
from ledger.readmodel.histories import DEFAULT_BUDGET, EntityHistory, HistoryCache
from ledger.readmodel.membership import CLOSURE_RELATIONS, closure_links, role
from ledger.readmodel.rebuild import REBUILDING, Rebuild, create_indexes, drop_indexes, expected_indexes
from ledger.readmodel.schema import ReadModelError, connect, migrate
from ledger.readmodel.versions import HISTORY_TABLES, StaleHistory, VersionChanges, VersionWriter
from ledger.store import Batch, RecordedEvent, StoreError, StoreReader, open_reader

TRACKING_NAME = "ledger-view"
CHUNK = 900  # bound parameters per IN (...) list, under SQLite's 999
BULK_EVENTS = 20_000  # from this many events on, a rebuild drops the secondary indexes and makes them again after
REBUILD_CACHE_KB = 100_000
READ_PAGE = 20_000

Progress = Callable[[int, int], None]
"""Called as ``progress(events_done, events_total)`` after each batch."""

VIEW_TABLES = (
    "events", "event_sources", "links", "entity_events", "actors", "sources", "questions",
    *(name for table in HISTORY_TABLES.values() for name in (table.history, table.states)), "event_lists",
)  # fmt: skip


@dataclass(frozen=True)
class Tracking:
    """How far the read model has got: the last store position applied, and what it saw there."""

    position: int = 0
    batch: int | None = None
    chain_hash: str | None = None
    registry_mark: str | None = None


@dataclass
class ProjectionReport:
    """What a run of the projector did."""

    view: str
    batches: int = 0
    events: int = 0
    entities: int = 0
    opened: int = 0
    closed: int = 0
    position: int = 0
    migrations: list[str] = field(default_factory=list)
    rebuilt: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Projector:
    """Keeps one read model (``view_path``) up to date with one store (``store_path``).

    Keep an instance to project again and again with little overhead (it keeps
    recently extended entity histories, up to ``history_budget`` KB); close it when done.
    """

    def __init__(self, store_path: str | os.PathLike[str], view_path: str | os.PathLike[str], history_budget: int = DEFAULT_BUDGET) -> None:
        self.store_path, self.view_path = os.fspath(store_path), os.fspath(view_path)
        self.store = self.open_store()
        self.view = connect(self.view_path)
        self.migrations = migrate(self.view_path, self.view)
        self.histories = HistoryCache(history_budget)

    def open_store(self) -> StoreReader:
        try:
            return open_reader(self.store_path)
        except StoreError as error:
            raise ReadModelError(str(error)) from None

    def close(self) -> None:
        self.store.close()
        self.view.close()

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tracking ---------------------------------------------------------------------------

    def tracking(self) -> Tracking:
        """The tracking row (position 0 before the first batch)."""
        row = self.view.execute(
            "SELECT position, batch, chain_hash, registry_mark FROM projector_state WHERE name = ?", (TRACKING_NAME,)
        ).fetchone()
        return Tracking(*row) if row else Tracking()

    def write_tracking(self, batch: Batch, chain_hash: str) -> None:
        """Move the tracking position to the end of ``batch`` (inside the batch's transaction)."""
        self.view.execute(
            "INSERT INTO projector_state (name, position, batch, chain_hash, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, batch = excluded.batch, "
            "chain_hash = excluded.chain_hash, updated_at = excluded.updated_at",
            (TRACKING_NAME, batch.end, batch.start, chain_hash, now()),
        )

    def check_store(self, tracking: Tracking) -> None:
        """Refuse to go on if the view was built from another store (or the store lost events)."""
        if not tracking.position:
            return
        if self.store.chain_hash(tracking.position) != tracking.chain_hash:
            raise ReadModelError(
                f"the read model {self.view_path} was built from a different ledger than {self.store_path} "
                f"(position {tracking.position} does not match); run 'ledger project --rebuild'"
            )

    # -- running ----------------------------------------------------------------------------

    def pending_batches(self, after: int) -> list[Batch]:
        """The store's append batches after position ``after``, in order."""
        return self.store.batches(after)

    def run(self, progress: Progress | None = None) -> ProjectionReport:
        """Apply every batch the read model has not seen yet; return what was done.

        A read model that has applied nothing yet (new, emptied, or left behind
        by a rebuild that stopped halfway) is rebuilt instead (:meth:`rebuild`):
        the same tables, entity by entity. Otherwise it catches up (:meth:`catch_up`).
        """
        tracking = self.tracking()
        if not tracking.position and self.store_end():
            report = self.rebuild(progress)
            report.rebuilt = False  # nothing had been applied: not a rebuild anyone asked for
            return report
        return self.catch_up(progress, tracking)

    def catch_up(self, progress: Progress | None = None, tracking: Tracking | None = None) -> ProjectionReport:
        """Apply the batches after the tracking position one by one, each in one transaction.

        ``tracking``: the tracking row, when the caller has just read it.
        """
        collecting = gc.isenabled()
        gc.disable()  # the kept histories are many small objects: collections would rescan them all
        try:
            return self._catch_up(progress, tracking or self.tracking())
        finally:
            if collecting:
                gc.enable()

    def _catch_up(self, progress: Progress | None, tracking: Tracking) -> ProjectionReport:
        started = time.perf_counter()
        report = ProjectionReport(self.view_path, migrations=list(self.migrations))
        self.migrations = []
        self.check_store(tracking)
        self.copy_registry(tracking)
        batches = self.pending_batches(tracking.position)
        total = sum(batch.size for batch in batches)
        for batch in batches:
            changes, entities = self.apply_batch(batch)
            report.batches += 1
            report.events += batch.size
            report.entities += entities
            report.opened += changes.opened
            report.closed += changes.closed
            if progress:
                progress(report.events, total)
        report.position = batches[-1].end if batches else tracking.position
        report.seconds = time.perf_counter() - started
        return report

    def store_end(self) -> int:
        """The store's last position (0 when it is empty)."""
        return self.store.head().position

    def rebuild(self, progress: Progress | None = None) -> ProjectionReport:
        """Fill a read model from the whole store, entity by entity (:mod:`ledger.readmodel.rebuild`).

        Gives the tables that applying every append batch one by one gives. A
        read model that already answers keeps answering until the new one is
        complete: the new one is built in a file beside it (:func:`rebuild_path`)
        and renamed over it at the end, so a rebuild that is stopped, however,
        leaves the previous read model as it was. One that answers nothing yet
        (new, or left empty by an earlier version's rebuild) is filled in place.
        """
        if self.view_path in ("", ":memory:") or not self.tracking().position:
            return self.rebuild_here(progress)
        remove_stale_rebuilds(self.view_path)
        building = rebuild_path(self.view_path)
        try:
            with Projector(self.store_path, building, self.histories.budget) as fresh:
                report = fresh.rebuild_here(progress)
                fresh.view.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to rename: no WAL beside it
            self.view.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the old file's WAL is empty, so the new file never meets it
            self.view.close()
            os.replace(building, self.view_path)
        finally:
            for leftover in (building, f"{building}-wal", f"{building}-shm", f"{building}-journal"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(leftover)
        self.view = connect(self.view_path)
        self.histories.clear()
        report.view, report.migrations, self.migrations = self.view_path, list(self.migrations), []
        return report

    def rebuild_here(self, progress: Progress | None = None) -> ProjectionReport:
        """Empty this read model and fill it from the whole store (see :meth:`rebuild`).

        The tracking row is written last, in its own transaction: a rebuild
        stopped before it leaves position 0, which the next run rebuilds again.
        """
        started = time.perf_counter()
        report = ProjectionReport(self.view_path, migrations=list(self.migrations), rebuilt=True)
        self.migrations = []
        end = self.store_end()
        stopped_halfway = self.view.execute("SELECT 1 FROM projector_state WHERE name = ?", (REBUILDING,)).fetchone()
        self.clear()
        self.copy_registry(Tracking())
        if not end:
            report.seconds = time.perf_counter() - started
            return report
        expected = expected_indexes() if end >= BULK_EVENTS or stopped_halfway else None
        collecting = gc.isenabled()
        gc.disable()
        try:
            self.view.execute("PRAGMA synchronous=OFF")  # safe: a rebuild that stops leaves position 0 and is done again
            self.view.execute(f"PRAGMA cache_size=-{REBUILD_CACHE_KB}")
            if expected is not None:
                with transaction(self.view):
                    self.view.execute("INSERT INTO projector_state (name, position, updated_at) VALUES (?, 0, ?)", (REBUILDING, now()))
                    drop_indexes(self.view, VIEW_TABLES, expected)
            rebuild = Rebuild(self.store, self.view, end, report, progress)
            rebuild.run()
            with transaction(self.view):
                if expected is not None:
                    create_indexes(self.view, expected)
                for index in ("events_fts", "event_sources_fts"):
                    self.view.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
            self.view.execute("PRAGMA synchronous=NORMAL")
            self.view.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rows are on disk before the tracking row says so
            chain_hash = self.store.chain_hash(end) or ""
            with transaction(self.view):
                self.write_tracking(Batch(rebuild.last_batch, end), chain_hash)
                self.view.execute("DELETE FROM projector_state WHERE name = ?", (REBUILDING,))
        finally:
            if self.view.in_transaction:
                self.view.execute("ROLLBACK")
            self.view.execute("PRAGMA synchronous=NORMAL")
            self.view.execute("PRAGMA cache_size=-2000")
            if collecting:
                gc.enable()
        report.position = end
        report.seconds = time.perf_counter() - started
        return report

    def clear(self) -> None:
        """Empty every table the projector fills and reset the tracking position (one transaction)."""
        self.histories.clear()
        with transaction(self.view):
            for index in ("events_fts", "event_sources_fts"):
                self.view.execute(f"INSERT INTO {index} ({index}) VALUES ('delete-all')")
            for table in VIEW_TABLES:
                self.view.execute(f"DELETE FROM {table}")
            self.view.execute("DELETE FROM projector_state")

    # -- registries -------------------------------------------------------------------------

    def copy_registry(self, tracking: Tracking) -> None:
        """Copy actors, documents and questions from the store when they changed since the last copy."""
        mark = self.store.registry_mark()
        if mark == tracking.registry_mark:
            return
        entries = [(kind, key, data) for kind, entries in self.store.registry().items() for key, data in entries.items()]
        with transaction(self.view):
            for kind, table_rows in rows.registry_rows(entries).items():
                table, columns = rows.REGISTRY_TABLES[kind]
                self.view.execute(f"DELETE FROM {table}")
                self.view.executemany(rows.insert_sql(table, columns), table_rows)
            self.view.execute(
                "INSERT INTO projector_state (name, position, registry_mark, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET registry_mark = excluded.registry_mark, updated_at = excluded.updated_at",
                (TRACKING_NAME, tracking.position, mark, now()),
            )

    # -- one batch --------------------------------------------------------------------------

    def apply_batch(self, batch: Batch) -> tuple[VersionChanges, int]:
        """Apply one append batch in one transaction; return the version changes and the entities recomputed."""
        try:
            return self._apply_batch(batch)
        except BaseException:
            self.histories.clear()  # they may hold events of the batch that was rolled back
            raise

    def _apply_batch(self, batch: Batch) -> tuple[VersionChanges, int]:
        new: dict[str, dict[str, Any]] = {}
        positions: dict[str, int] = {}
        with transaction(self.view):
            chain_hash = ""
            (last_source,) = self.view.execute("SELECT COALESCE(MAX(id), 0) FROM event_sources").fetchone()
            for page in self.read_batch(batch):
                event_rows, source_rows, link_rows = [], [], []
                for position, recorded_at, _, chain_hash, data in page:  # noqa: B007 - the last chain_hash is the tracking row's
                    new[data["id"]] = data
                    positions[data["id"]] = position
                    event_rows.append(rows.event_row(data, position, batch.start, recorded_at))
                    source_rows.extend(rows.source_rows(data))
                    link_rows.extend(rows.link_rows(data))
                self.view.executemany(rows.insert_sql("events", rows.EVENT_COLUMNS), event_rows)
                self.view.executemany(rows.insert_sql("event_sources", rows.SOURCE_COLUMNS), source_rows)
                self.view.executemany(rows.insert_sql("links", rows.LINK_COLUMNS, "INSERT OR IGNORE"), link_rows)
            self.index_text(batch, last_source)
            writer = VersionWriter(self.view, batch.start)
            entities = self.update_histories(new, positions, writer)
            changes = writer.flush()
            self.write_tracking(batch, chain_hash)
        return changes, entities

    def index_text(self, batch: Batch, last_source: int) -> None:
        """Add the batch's summaries and quotes to the full-text indexes (one statement each)."""
        self.view.execute(
            "INSERT INTO events_fts (rowid, summary, quote) SELECT rowid, summary, quote FROM events WHERE position BETWEEN ? AND ?",
            (batch.start, batch.end),
        )
        self.view.execute(
            "INSERT INTO event_sources_fts (rowid, quote, outlet) SELECT id, quote, outlet FROM event_sources WHERE id > ?",
            (last_source,),
        )

    def read_batch(self, batch: Batch) -> Iterator[list[RecordedEvent]]:
        """The batch's recorded events, a page at a time."""
        events = self.store.events(batch.start, batch.end)
        while page := list(islice(events, READ_PAGE)):
            yield page

    def update_histories(self, new: dict[str, dict[str, Any]], positions: dict[str, int], writer: VersionWriter) -> int:
        """Bring the history of every entity the new events touch up to date; return how many changed.

        A history kept from an earlier batch is extended when the new events
        were reported after all its others; any other is recomputed from all its events.
        """
        related = self.related_events(new, positions)
        membership: list[tuple[Any, ...]] = []
        changed = 0
        for entity, members in group_by_entity(related.values()).items():
            history = self.histories.get(entity)
            if history is not None:
                arrived = [data for data in members if data["id"] not in history.ids]
                if not arrived:
                    continue
                try:
                    if not history.accepts(arrived):
                        raise StaleHistory(str(entity))
                    writer.apply(entity.projection, entity.key, history.add(arrived))
                    self.histories.put(history)
                except StaleHistory:
                    arrived = self.recompute(entity, members, related, writer)
            else:
                arrived = self.recompute(entity, members, related, writer)
            if arrived:
                changed += 1
                membership.extend(
                    (entity.projection, entity.key, positions[data["id"]], data["id"], role(data, entity)) for data in arrived
                )
        self.view.executemany(rows.insert_sql("entity_events", rows.ENTITY_EVENT_COLUMNS), membership)
        return changed

    def recompute(
        self, entity: EntityKey, members: list[dict[str, Any]], related: dict[str, dict[str, Any]], writer: VersionWriter
    ) -> list[dict[str, Any]]:
        """Bring an entity's history up to date when any of ``members`` is new to it; return the new ones.

        When the new events were reported after all the others (news arriving
        in order, or a late report of an old change), the history is taken up
        from the read model's known-now rows and extended
        (:meth:`EntityHistory.resume`); otherwise it is computed whole and diffed.
        """
        known = dict(
            self.view.execute("SELECT event_id, position FROM entity_events WHERE projection = ? AND entity = ?", entity).fetchall()
        )
        arrived = [data for data in members if data["id"] not in known]
        if not arrived:
            return []
        events = {data["id"]: data for data in members}
        events.update((event_id, related[event_id]) for event_id in known.keys() & related.keys())
        missing = [position for event_id, position in known.items() if event_id not in events]
        events.update((data["id"], data) for data in self.events_at(missing).values())
        if known and self.resume(entity, [events[event_id] for event_id in known], arrived, writer):
            return arrived
        history = EntityHistory(entity)
        writer.replace(entity.projection, entity.key, history.add(events.values()).added, fresh=not known)
        self.histories.put(history)
        return arrived

    def resume(self, entity: EntityKey, known: list[dict[str, Any]], arrived: list[dict[str, Any]], writer: VersionWriter) -> bool:
        """Extend the history taken up from the read model's rows with ``arrived``; False if it cannot be."""
        last_known = max(data["reported"] for data in known)
        if not all(data["reported"] > last_known for data in arrived):
            return False
        history = EntityHistory.resume(entity, known, writer.known_now(entity.projection, entity.key))
        if history is None:
            return False
        try:
            writer.apply(entity.projection, entity.key, history.add(arrived))
        except StaleHistory:
            return False
        self.histories.put(history)
        return True

    def related_events(self, new: dict[str, dict[str, Any]], positions: dict[str, int]) -> dict[str, dict[str, Any]]:
        """The new events and every recorded event linked to them by corrections or alternative accounts.

        The set is closed under those links (both ways), so grouping it by
        entity gives each touched entity's new members exactly. Links from
        recorded events can only point to older events, so new events' links
        are read from the events themselves and only recorded ones are looked up.
        """
        related = dict(new)
        frontier = {target for data in new.values() for _, target in closure_links(data)} - related.keys()
        while frontier:
            found = self.recorded_events(frontier)
            for event_id, (position, data) in found.items():
                related[event_id] = data
                positions[event_id] = position
            neighbours = {target for _, data in found.values() for _, target in closure_links(data)}
            neighbours |= self.linked_ids(found.keys())
            frontier = neighbours - related.keys()
        return related

    def linked_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Ids linked to these by a correction or an alternative account, either way, per the ``links`` table."""
        found: set[str] = set()
        ids = list(event_ids)
        relations = ", ".join(f"'{relation}'" for relation in CLOSURE_RELATIONS)
        for chunk in chunks(ids):
            marks = ", ".join("?" * len(chunk))
            found.update(
                row[0]
                for row in self.view.execute(
                    f"SELECT target_id FROM links WHERE event_id IN ({marks}) AND relation IN ({relations}) "
                    f"UNION SELECT event_id FROM links WHERE target_id IN ({marks}) AND relation IN ({relations})",
                    [*chunk, *chunk],
                )
            )
        return found

    def recorded_events(self, event_ids: Iterable[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """Events already in the read model, by id: (position, event) read from the store."""
        by_position: dict[int, str] = {}
        for chunk in chunks(list(event_ids)):
            marks = ", ".join("?" * len(chunk))
            for event_id, position in self.view.execute(f"SELECT id, position FROM events WHERE id IN ({marks})", chunk):
                by_position[position] = event_id
        stored = self.events_at(by_position)
        return {by_position[position]: (position, data) for position, data in stored.items()}

    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Events read from the store by position."""
        return self.store.events_at(positions)


def rebuild_path(view_path: str) -> str:
    """Where a rebuild of the read model at ``view_path`` is built before it replaces it: beside it, named by this process."""
    return f"{view_path}.rebuild-{os.getpid()}"


def remove_stale_rebuilds(view_path: str) -> None:
    """Remove what rebuilds that were stopped left beside the read model (their process is gone)."""
    folder, name = os.path.split(os.path.abspath(view_path))
    for leftover in Path(folder).glob(f"{glob.escape(name)}.rebuild-*"):
        pid = leftover.name[len(name) + len(".rebuild-") :].split("-")[0]  # {name}.rebuild-{pid}, maybe with -wal, -shm...
        if pid.isdigit() and not process_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def now() -> str:
    return datetime.now(UTC).isoformat()


class transaction:
    """BEGIN ... COMMIT on a connection in autocommit mode; ROLLBACK if anything raises."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


def project(
    db: str | os.PathLike[str],
    view: str | os.PathLike[str] | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> ProjectionReport:
    """Bring the read model of the store ``db`` up to date (``rebuild``: from scratch).

    A catch-up leaves its connection to the read model open for the next one
    in this process (:class:`KeptProjector`): opening it again and reading its
    schema cost more than a late event's own rows at a million events.
    """
    from ledger.readmodel.schema import view_path_for

    view_path = view_path_for(db, view)
    if rebuild or view_path in ("", ":memory:"):
        with Projector(db, view_path) as projector:
            return projector.rebuild(progress) if rebuild else projector.run(progress)
    projector = KEPT.take(db, view_path) or Projector(db, view_path)
    try:
        report = projector.run(progress)
    except BaseException:
        projector.close()
        raise
    KEPT.keep(projector)
    return report


FileId = tuple[int, int]


def file_id(path: str) -> FileId | None:
    """The (device, inode) of the file at ``path`` (None when there is none): a file replaced or made anew has another."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


class KeptProjector:
    """The projector of the last catch-up in this process, its read model kept open for the next one on the same files.

    It is given out again only to the process that opened it, while the store
    and the read model are the very files it opened (a read model rebuilt or
    removed since is another file) and no other connection has written to the
    read model since (``PRAGMA data_version``: its migrations or schema may
    have changed, and a projector reads those only when it opens), and to one
    caller at a time. It keeps no entity histories between calls (another
    process may have moved the read model on meanwhile: what it reads anew is
    the read model as it is), and not the store: a reader left open would keep
    the store's writer, when it closes, from folding its write-ahead log back
    into the file. The store is opened again by each catch-up. The kept
    projector is closed when another takes its place and when the process exits.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.kept: tuple[Projector, tuple[Any, ...]] | None = None
        atexit.register(self.close)

    @staticmethod
    def identity(store_path: str, view_path: str, view: sqlite3.Connection) -> tuple[Any, ...] | None:
        """This process, the two files by path and by (device, inode), and the read model's ``data_version`` on ``view``
        (it changes when another connection commits); None when either file is gone."""
        store_file, view_file = file_id(store_path), file_id(view_path)
        if store_file is None or view_file is None:
            return None
        written = view.execute("PRAGMA data_version").fetchone()[0]
        return (os.getpid(), store_path, view_path, store_file, view_file, written)

    def take(self, db: str | os.PathLike[str], view_path: str) -> Projector | None:
        """The kept projector with its store opened again, if it is still that of these files; else None (and it is closed)."""
        store_path = os.fspath(db)
        with self.lock:
            kept, self.kept = self.kept, None
        if kept is None:
            return None
        projector, identity = kept
        if identity[0] != os.getpid():
            return None  # opened by the parent of this process: its connection is not this process's to use or close
        if identity != self.identity(store_path, view_path, projector.view):
            projector.view.close()
            return None
        try:
            projector.store = projector.open_store()
        except BaseException:
            projector.view.close()
            raise
        return projector

    def keep(self, projector: Projector) -> None:
        """Keep ``projector``'s read model open for the next catch-up (its store and histories closed), closing the one kept before."""
        projector.histories.clear()
        identity = self.identity(projector.store_path, projector.view_path, projector.view)
        projector.store.close()
        with self.lock:
            before, self.kept = self.kept, (projector, identity) if identity is not None else None
        if identity is None:
            projector.view.close()
        if before is not None and before[1][0] == os.getpid():
            before[0].view.close()

    def close(self) -> None:
        with self.lock:
            kept, self.kept = self.kept, None
        if kept is not None and kept[1][0] == os.getpid():
            kept[0].view.close()


KEPT = KeptProjector()
