"""Rebuilding the read model from scratch: the catch-up projector's tables, written entity by entity.

Applying a ledger's append batches one by one would recompute, for every
batch, the history of nearly every entity: quadratic in the ledger. The tables
only depend on what each batch did to each entity, so a rebuild computes the
same rows the other way round:

1. One pass over the store in position order writes the ``events``,
   ``event_sources`` and ``links`` rows and gathers each entity's members as
   store positions (:class:`~ledger.readmodel.membership.Membership`); from
   :data:`PARALLEL_EVENTS` events on, worker processes make some pages' rows.
2. Then one entity at a time: its events are read back by position and
   :class:`EntityReplay` goes through its append batches in order, doing what
   the catch-up projector does for it in each (extend its
   :class:`~ledger.readmodel.histories.EntityHistory`, or recompute it and diff
   against the open rows), so each version row is written once, with both ends
   of its recorded axis. From :data:`PARALLEL_EVENTS` events on, worker
   processes compute some of the entities' rows and this process writes them
   (:mod:`ledger.readmodel.workers`; ``LEDGER_WORKERS=0`` keeps it to one process).

An entity counts an event from the event's own batch on, even when a later
correction or link is what joins it to the entity: until then the event cannot
change the entity's history (:func:`ledger.projections.history.history`), so
the rows are the same; the tests compare both ways on generated ledgers.

Bulk loading: the read model's secondary indexes are dropped while the rows go
in and created again from the migrations' own definitions, the full-text
indexes are rebuilt once, and SQLite skips fsync. The tracking row is written
last: a rebuild stopped halfway leaves position 0, and the next run starts over.
"""

from __future__ import annotations

import gc
import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ledger.projections.base import EntityKey
from ledger.readmodel import rows
from ledger.readmodel.histories import EntityHistory, HistoryDelta
from ledger.readmodel.membership import Members, Membership, role
from ledger.readmodel.states import EntityStates, Ids
from ledger.readmodel.versions import HISTORY_TABLES, STORED_COLUMNS, Row, StateTexts, book_rows

if TYPE_CHECKING:
    from ledger.readmodel.projector import ProjectionReport
    from ledger.readmodel.workers import ReplayPool
    from ledger.store import StoreReader

READ_PAGE = 5_000  # store positions per page in the first pass
ENTITY_EVENTS = 4_000  # member events read back at a time in the second pass
FLUSH_ROWS = 20_000  # rows buffered per table before an executemany
COMMIT_ROWS = 300_000  # rows per transaction
PARALLEL_EVENTS = 20_000  # from this many events on, worker processes compute some of the entities' rows
REPLAY_GC_THRESHOLD = (10_000, 50, 100)
"""The garbage collector's thresholds while entities are replayed, here and in the workers (Python's default: 700, 10, 10).

Replaying an entity makes many short-lived containers and hardly any cycles:
at the default, collections took a tenth of the replay's time (300k events),
at these a third of that, with the same peak memory.
"""
REBUILDING = "ledger-view:rebuilding"  # a projector_state row while a rebuild may have dropped indexes


class EntityReplay:
    """One entity's version rows, as the catch-up projector writes them batch after batch.

    The entity's open rows (``recorded_to`` NULL) are kept in memory by their
    valid dates and ``known_from``: a history never has two rows with the same
    ones, and the open rows are always one history's rows. The rows are made
    from the sweep's rows straight (:func:`~ledger.readmodel.versions.book_rows`).
    """

    def __init__(self, entity: EntityKey) -> None:
        self.entity = entity
        self.history: EntityHistory | None = None
        self.seen: list[dict[str, Any]] = []
        self.open: dict[tuple[Any, ...], Row] = {}  # (valid_from, valid_to, known_from) → row
        self.closed: list[Row] = []
        self.texts = StateTexts()

    def arrive(self, batch: int, events: list[dict[str, Any]]) -> None:
        """The entity's members first recorded in the batch starting at ``batch``."""
        self.seen.extend(events)
        history = self.history
        if history is not None and history.accepts(events) and self._apply(batch, history.add(events)):
            return
        self.history = EntityHistory(self.entity)
        self.texts = StateTexts()  # the states of the history given up are not shown again
        self._replace(batch, self._rows(self.history.add(self.seen), batch))

    def rows(self) -> Iterator[Row]:
        """Every row written for the entity: closed ones with their ``recorded_to``, then the open ones."""
        yield from self.closed
        yield from self.open.values()

    def _rows(self, delta: HistoryDelta, batch: int) -> list[Row]:
        return book_rows(self.entity.key, delta.rows, batch, self.texts)

    def _apply(self, batch: int, delta: HistoryDelta) -> bool:
        """End the rows that no longer hold and open the new ones; False (nothing done) if a row to end is not open and known now."""
        open_rows = self.open
        for dates in delta.ended:
            row = open_rows.get(dates)
            if row is None or row[4] is not None:  # known_to
                return False
        for dates in delta.ended:
            self._close(dates, batch)
        for row in self._rows(delta, batch):
            open_rows[(row[1], row[2], row[3])] = row
        return True

    def _replace(self, batch: int, new_rows: list[Row]) -> None:
        """Make ``new_rows`` the open rows: rows already open with the same content stay."""
        wanted = {(row[1], row[2], row[3]): row for row in new_rows}
        for dates in [dates for dates, row in self.open.items() if not same_content(wanted.get(dates), row)]:
            self._close(dates, batch)
        for dates, row in wanted.items():
            if dates not in self.open:
                self.open[dates] = row

    def _close(self, dates: tuple[Any, ...], batch: int) -> None:
        row = self.open.pop(dates)
        self.closed.append((*row[:6], batch, *row[7:]))


def same_content(row: Row | None, other: Row) -> bool:
    """True when two rows hold the same (all but their recorded axis are equal)."""
    return row is not None and row[:5] == other[:5] and row[7:] == other[7:]


class RowSink:
    """Rows buffered per statement and written with ``executemany``, committing every :data:`COMMIT_ROWS`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.buffers: dict[str, list[tuple[Any, ...]]] = {}
        self.uncommitted = 0
        self.conn.execute("BEGIN")

    def add(self, sql: str, new_rows: list[tuple[Any, ...]]) -> None:
        buffer = self.buffers.setdefault(sql, [])
        buffer.extend(new_rows)
        if len(buffer) >= FLUSH_ROWS:
            self._write(sql, buffer)

    def _write(self, sql: str, buffer: list[tuple[Any, ...]]) -> None:
        self.conn.executemany(sql, buffer)
        self.uncommitted += len(buffer)
        buffer.clear()
        if self.uncommitted >= COMMIT_ROWS:
            self.commit()

    def commit(self) -> None:
        """Write what is buffered and commit; the next rows go in a new transaction."""
        for sql, buffer in self.buffers.items():
            if buffer:
                self.conn.executemany(sql, buffer)
                buffer.clear()
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")
        self.uncommitted = 0

    def close(self) -> None:
        self.commit()
        self.conn.execute("COMMIT")


EVENT_SQL = rows.insert_sql("events", rows.EVENT_COLUMNS)
SOURCE_SQL = rows.insert_sql("event_sources", rows.SOURCE_COLUMNS)
LINK_SQL = rows.insert_sql("links", rows.LINK_COLUMNS, "INSERT OR IGNORE")
ENTITY_EVENT_SQL = rows.insert_sql("entity_events", rows.ENTITY_EVENT_COLUMNS)
VERSION_SQL = {name: rows.insert_sql(table.history, STORED_COLUMNS) for name, table in HISTORY_TABLES.items()}
STATE_SQL = {name: rows.insert_sql(table.states, ("id", "state")) for name, table in HISTORY_TABLES.items()}
EVENT_LIST_SQL = rows.insert_sql("event_lists", ("id", "ids"))


class Rebuild:
    """Fills an emptied read model (``view``) from the store (``store``) up to position ``end``.

    What it writes is counted in ``report`` (batches, events, entity updates,
    rows opened and closed); ``progress(done, total)`` is called as entities
    are finished, ``done`` counting their events.
    """

    def __init__(
        self,
        store: StoreReader,
        view: sqlite3.Connection,
        end: int,
        report: ProjectionReport,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.store, self.view, self.end = store, view, end
        self.report, self.progress = report, progress
        self.batches: list[int] = []
        self.state_ids = {name: Ids() for name in HISTORY_TABLES}
        self.list_ids = Ids()

    @property
    def last_batch(self) -> int:
        """The first position of the last append batch read (0 before any)."""
        return self.batches[-1] if self.batches else 0

    def run(self) -> None:
        """Both passes; the caller has emptied the tables and writes the tracking row after."""
        pool = self.start_pool()
        try:
            sink = RowSink(self.view)
            membership = self.load_events(sink, pool)
            sink.commit()
            read = self.store.events_at
            membership.add_linked_groups(self.positions_of, read)
            if pool is not None:
                pool.prepare(self.batches)
            self.replay_entities_collecting(membership, read, sink, pool)
            sink.close()
        finally:
            if pool is not None:
                pool.close()
        self.report.batches = len(self.batches)

    def start_pool(self) -> ReplayPool | None:
        """Worker processes for both passes: none for a small ledger, with ``LEDGER_WORKERS=0``, or for a store in memory."""
        from ledger.readmodel.workers import ReplayPool, worker_count

        if self.end < PARALLEL_EVENTS:
            return None
        workers = worker_count()
        location = self.store.location
        if workers <= 0 or location in ("", ":memory:"):
            return None
        return ReplayPool(location, workers)

    # -- pass 1: events in position order -----------------------------------------------------

    def load_events(self, sink: RowSink, pool: ReplayPool | None = None) -> Membership:
        """Write every event's rows, in position order; return the entities' members.

        The store is read a page of positions at a time; with ``pool``, worker
        processes make some pages' rows, and this process writes every page's
        rows in position order (so the rows get the ids catching up gives them).
        """
        membership = Membership()
        pages = [(start, min(start + READ_PAGE - 1, self.end)) for start in range(1, self.end + 1, READ_PAGE)]
        ready: dict[int, PageRows] = {}
        written = 0

        def load(page: tuple[int, int]) -> PageRows:
            return load_page(self.store, *page)

        def write(page: tuple[int, int], found: PageRows) -> None:
            nonlocal written
            ready[page[0]] = found
            while written < len(pages) and pages[written][0] in ready:
                self.write_page(ready.pop(pages[written][0]), sink, membership)
                written += 1

        if pool is None:
            for page in pages:
                write(page, load(page))
        else:
            pool.replay(pages, load, write, kind="page")
        return membership

    def write_page(self, found: PageRows, sink: RowSink, membership: Membership) -> None:
        """One page's rows written, its batches and members counted."""
        batches, event_rows, source_rows, link_rows, members = found
        for batch in batches:
            if not self.batches or self.batches[-1] != batch:
                self.batches.append(batch)
        sink.add(EVENT_SQL, event_rows)
        sink.add(SOURCE_SQL, source_rows)
        sink.add(LINK_SQL, link_rows)
        membership.merge(*members)
        self.report.events += len(event_rows)

    def positions_of(self, event_ids: list[str]) -> dict[str, int]:
        """Store positions of these events (up to the rebuild's end)."""
        return self.store.positions_of(event_ids, up_to=self.end)

    # -- pass 2: entity by entity -------------------------------------------------------------

    def replay_entities_collecting(
        self, membership: Membership, read: Callable[[list[int]], dict[int, dict[str, Any]]], sink: RowSink, pool: ReplayPool | None
    ) -> None:
        """:meth:`replay_entities` with the garbage collector on for the objects it makes.

        The caller turns collection off for the passes (the members are many
        small objects a collection would rescan), but each entity's replay leaves
        reference cycles behind: uncollected, they grew a 1M-event rebuild by
        hundreds of MB. Freezing what exists now keeps the members out of every
        collection, so only the entities' own garbage is scanned, and less often
        (:data:`REPLAY_GC_THRESHOLD`).
        """
        was_collecting, threshold = gc.isenabled(), gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*REPLAY_GC_THRESHOLD)
        gc.enable()
        try:
            self.replay_entities(membership, read, sink, pool)
        finally:
            if not was_collecting:
                gc.disable()
            gc.set_threshold(*threshold)
            gc.unfreeze()

    def replay_entities(
        self, membership: Membership, read: Callable[[list[int]], dict[int, dict[str, Any]]], sink: RowSink, pool: ReplayPool | None = None
    ) -> None:
        """Each entity's version rows and ``entity_events`` rows, a few entities' events read at a time.

        With ``pool``, worker processes compute the rows of some of the groups
        of entities and this process writes them with its own.
        """
        total = self.report.events
        members_total = sum(len(positions) for positions in membership.positions.values()) or 1
        members_done = 0

        def replay(group: Group) -> GroupRows:
            return replay_group(group, read(sorted({position for _, positions in group for position in positions})), self.batches)

        def write(group: Group, found: GroupRows) -> None:
            nonlocal members_done
            (version_rows, states, lists), entity_event_rows, entities, opened, closed = found
            list_base = self.list_ids.next
            self.list_ids.next += len(lists)
            sink.add(EVENT_LIST_SQL, [(list_id + list_base, ids) for list_id, ids in lists])
            for projection, table_rows in version_rows.items():
                state_ids = self.state_ids[projection]
                state_base = state_ids.next
                state_ids.next += len(states[projection])
                sink.add(STATE_SQL[projection], [(state_id + state_base, text) for state_id, text in states[projection]])
                sink.add(VERSION_SQL[projection], [(*row[:10], row[10] + state_base, row[11] + list_base, row[12]) for row in table_rows])
            sink.add(ENTITY_EVENT_SQL, entity_event_rows)
            self.report.entities += entities
            self.report.opened += opened
            self.report.closed += closed
            members_done += sum(len(positions) for _, positions in group)
            if self.progress:
                self.progress(total * members_done // members_total, total)

        groups = entity_groups(membership.entities(), ENTITY_EVENTS)
        if pool is None:
            for group in groups:
                write(group, replay(group))
        else:
            pool.replay(groups, replay, write)


PageRows = tuple[list[int], list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, str, str]], Members]
"""A page's batch starts, ``events``, ``event_sources`` and ``links`` rows, and its members."""


def load_page(store: StoreReader, start: int, end: int) -> PageRows:
    """The rows and members of the events at positions ``start`` to ``end``."""
    membership = Membership()
    batches: list[int] = []
    event_rows, source_rows, link_rows = [], [], []
    event_row, page_sources, page_links, add = rows.event_row, rows.source_rows, rows.link_rows, membership.add
    for position, recorded_at, batch, _, data in store.events(start, end):
        if not batches or batches[-1] != batch:
            batches.append(batch)
        event_rows.append(event_row(data, position, batch, recorded_at))
        source_rows.extend(page_sources(data))
        link_rows.extend(page_links(data))
        add(data, position)
    return batches, event_rows, source_rows, link_rows, (dict(membership.positions), membership.links)


Group = list[tuple[EntityKey, list[int]]]
StoredRows = tuple[dict[str, list[Row]], dict[str, list[tuple[int, str]]], list[tuple[int, str]]]
"""A group's history rows by projection, its states by projection and its events lists, numbered from 0 within the group."""
GroupRows = tuple[StoredRows, list[tuple[Any, ...]], int, int, int]
"""A group's rows: history rows with their states and lists, ``entity_events`` rows, then entity updates, rows opened and rows closed."""


def replay_group(group: Group, events: dict[int, dict[str, Any]], batches: list[int]) -> GroupRows:
    """The rows of a group of entities, from their events (``{position: event}``) and the store's batch starts."""
    version_rows: dict[str, list[Row]] = {}
    states: dict[str, list[tuple[int, str]]] = {}
    lists: list[tuple[int, str]] = []
    state_ids = {name: Ids(0) for name in HISTORY_TABLES}
    list_ids = Ids(0)
    entity_event_rows: list[tuple[Any, ...]] = []
    updates = closed = 0
    for entity, positions in group:
        replay = EntityReplay(entity)
        arrived: list[dict[str, Any]] = []
        current = None
        for position in positions:
            batch = batches[bisect_right(batches, position) - 1]
            if batch != current and arrived:
                replay.arrive(current, arrived)  # type: ignore[arg-type]  # current is set once a group has started
                updates += 1
                arrived = []
            current = batch
            arrived.append(events[position])
        if arrived:
            replay.arrive(current, arrived)  # type: ignore[arg-type]  # current is set once a group has started
            updates += 1
        stored = EntityStates(state_ids[entity.projection], list_ids)
        version_rows.setdefault(entity.projection, []).extend(stored.stored(row) for row in replay.rows())
        states.setdefault(entity.projection, []).extend(stored.new_states)
        lists.extend(stored.written_lists())
        closed += len(replay.closed)
        entity_event_rows.extend(
            (entity.projection, entity.key, position, events[position]["id"], role(events[position], entity)) for position in positions
        )
    opened = sum(len(table_rows) for table_rows in version_rows.values())
    return (version_rows, states, lists), entity_event_rows, updates, opened, closed


def entity_groups(entities: Iterator[tuple[EntityKey, list[int]]], size: int) -> Iterator[list[tuple[EntityKey, list[int]]]]:
    """Consecutive entities, several at a time, about ``size`` member events per group."""
    group: list[tuple[EntityKey, list[int]]] = []
    count = 0
    for entity, positions in entities:
        group.append((entity, positions))
        count += len(positions)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


# -- bulk loading -------------------------------------------------------------------------------


def expected_indexes() -> dict[str, tuple[str, str]]:
    """The read model's secondary indexes as its migrations create them: name → (table, SQL)."""
    import sqlite_utils

    from ledger.readmodel.schema import load_migrations

    db = sqlite_utils.Database(memory=True)
    load_migrations().apply(db)
    found = db.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    return {name: (table, sql) for name, table, sql in found}


def drop_indexes(conn: sqlite3.Connection, tables: tuple[str, ...], expected: dict[str, tuple[str, str]]) -> None:
    """Drop the secondary indexes of ``tables`` that the migrations define (so they can be made again)."""
    present = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetchall()
    for name, sql in present:
        if name in expected and expected[name][0] in tables and expected[name][1] == sql:
            conn.execute(f'DROP INDEX "{name}"')


def create_indexes(conn: sqlite3.Connection, expected: dict[str, tuple[str, str]]) -> None:
    """Create every index the migrations define that the read model lacks."""
    present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    for name, (_, sql) in expected.items():
        if name not in present:
            conn.execute(sql)
