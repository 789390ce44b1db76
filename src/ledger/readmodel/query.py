"""The read-model engine: answers from indexed lookups of the read model, no folding.

It answers what the fold engine (:mod:`ledger.timetravel`) answers, with the same
data: each projection's state on a date is the set of history rows whose
valid-time, known-time and recorded ranges contain the asked dates, and each row
already holds the rendered state. :class:`ledger.Ledger` uses it when the read
model has caught up with the store; tests compare both engines field by field.

The SQL is the same the Datasette canned queries run (see ``metadata.yml``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from datetime import date, datetime
from itertools import starmap
from typing import Any

from ledger.dates import DateError
from ledger.projections.selection import split_entity
from ledger.readmodel.rows import json_text, whole_state, whole_state_json
from ledger.readmodel.schema import ReadModelError
from ledger.readmodel.versions import HISTORY_TABLES, HistoryTable

PROJECTIONS = tuple(HISTORY_TABLES)

VALID = "(valid_from IS NULL OR valid_from <= :as_of) AND (valid_to IS NULL OR valid_to > :as_of)"
KNOWN_LATEST = "known_to IS NULL"
KNOWN_AT = "(known_from IS NULL OR known_from <= :known_at) AND (known_to IS NULL OR known_to > :known_at)"
RECORDED_NOW = "recorded_to IS NULL"
RECORDED_THROUGH = "recorded_from <= :recorded_through AND (recorded_to IS NULL OR recorded_to > :recorded_through)"


def as_of_condition(known_at: bool, recorded_through: bool) -> str:
    """The WHERE condition for rows holding at ``:as_of`` (as known at ``:known_at``, as recorded through a position)."""
    return " AND ".join((RECORDED_THROUGH if recorded_through else RECORDED_NOW, KNOWN_AT if known_at else KNOWN_LATEST, VALID))


def open_view(view_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to the read model.

    Not memory-mapped: at a million events random lookups were slower mapped
    (a page fault on each page first touched: p50 0.025 against 0.018 ms), and
    every mapped page a process touches counts in its resident memory (1.7 GB
    after a thousand lookups in a 2.6 GB read model).
    """
    path = os.fspath(view_path)
    if not os.path.exists(path):
        raise ReadModelError(f"no read model at {path}; run 'ledger project' to build it")
    return sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, check_same_thread=False)


def replay(
    conn: sqlite3.Connection,
    as_of: date,
    known_at: date | None,
    names: list[str],
    recorded_through: int | None = None,
    entity: str | None = None,
    each: Callable[[str, str], Any] | None = None,
) -> dict[str, list[Any]]:
    """The states of the projections in ``names`` on ``as_of``, from the read model.

    - ``known_at``: only what had been reported by then (None: everything known);
    - ``recorded_through`` P: the read model as it stood after store position P (None: now);
    - ``entity``: one entity only (``ID`` or ``projection:ID``), for millisecond lookups;
    - ``each``: applied to each state's stored text and events list's JSON as read (default :func:`whole_state`), the lists holding what it returns.
    """
    read = each or whole_state
    if entity is not None and known_at is None and recorded_through is None:  # the common question: its own short path
        projection, key = split_entity(entity)
        day = as_of.isoformat()
        return {
            name: [read(*row) for row in latest_state(conn, HISTORY_TABLES[name], key, day)] if projection in (None, name) else []
            for name in names
        }
    if entity is None:
        return {name: list(states) for name, states in held_on(conn, as_of, known_at, names, recorded_through, stored_states, read).items()}
    params, condition = asked_rows(as_of, known_at, recorded_through)
    projection, key = split_entity(entity)
    result: dict[str, list[Any]] = {}
    for name in names:
        if projection not in (None, name):
            result[name] = []
            continue
        sql = f"{stored_states(HISTORY_TABLES[name])} WHERE {condition} AND h.entity = :entity"
        result[name] = [read(state, events) for state, events in conn.execute(sql, {**params, "entity": key})]
    return result


def replay_json(
    conn: sqlite3.Connection,
    as_of: date,
    known_at: date | None,
    names: list[str],
    recorded_through: int | None = None,
    entity: str | None = None,
) -> dict[str, Iterable[bytes]]:
    """:func:`replay`, each state as its compact JSON in UTF-8 (:func:`~ledger.readmodel.rows.json_text`'s), never parsed.

    Every entity's states are read as the lists are iterated (a whole state at a
    million events is tens of MB: a writer never holds it all), as bytes, so
    no text is decoded only to be encoded again. Iterate each list before the
    next question on ``conn``.
    """
    if entity is not None:
        return dict(replay(conn, as_of, known_at, names, recorded_through, entity, each=state_json_text))
    return held_on(conn, as_of, known_at, names, recorded_through, stored_states_json, state_json)


def held_on(
    conn: sqlite3.Connection,
    as_of: date,
    known_at: date | None,
    names: list[str],
    recorded_through: int | None,
    select: Callable[[HistoryTable], str],
    read: Callable[..., Any],
) -> dict[str, Iterable[Any]]:
    """Every entity's state on ``as_of`` per projection, in entity order: ``read`` of each row ``select`` gives, as the rows are read."""
    params, condition = asked_rows(as_of, known_at, recorded_through)
    return {
        name: starmap(read, conn.execute(f"{select(HISTORY_TABLES[name])} WHERE {condition} ORDER BY h.entity", params)) for name in names
    }


def asked_rows(as_of: date, known_at: date | None, recorded_through: int | None) -> tuple[dict[str, Any], str]:
    """The parameters and the WHERE condition (:func:`as_of_condition`) of the rows holding on ``as_of``."""
    params = {"as_of": as_of.isoformat(), "known_at": known_at.isoformat() if known_at else None, "recorded_through": recorded_through}
    return params, as_of_condition(known_at is not None, recorded_through is not None)


def stored_states_json(table: HistoryTable) -> str:
    """:func:`stored_states` as UTF-8 bytes, the events list without its closing bracket (:func:`state_json` puts it back)."""
    return stored_states(table).replace(STATE_COLUMNS, STATE_BYTES, 1)


STATE_BYTES = "CAST(s.state AS BLOB), CAST(substr(l.ids, 1, h.events_end) AS BLOB)"
STORED_EMPTY_EVENTS = b'"events":[]'


def state_json(state: bytes, events: bytes) -> bytes:
    """A state's compact JSON from its stored bytes and its events list's (closing bracket left off), unparsed.

    The bytes of :func:`~ledger.readmodel.rows.whole_state_json`, encoded: the
    list goes back in the place the stored state keeps for it; a state holding
    that key more than once (a nested ``events``) is parsed and dumped instead.
    Measured against :meth:`bytes.replace` in C (with the key and the list
    made in SQL): as fast, and the nested key needs no second pass.
    """
    head, found, tail = state.partition(STORED_EMPTY_EVENTS)
    if found and STORED_EMPTY_EVENTS not in tail:
        return b"".join((head, b'"events":', events, b"]", tail))
    return state_json_text(state.decode(), events.decode() + "]")


def state_json_text(state: str, events: str) -> bytes:
    """:func:`state_json` of a state and events list read as text."""
    return whole_state_json(state, events).encode()


def stored_states(table: HistoryTable, *more: str, index: str | None = None) -> str:
    """SELECT the stored state and the events list of the history rows ``h``, then ``more`` columns (the WHERE clause to follow).

    ``index``: the index of the history table to read the rows through (``INDEXED BY``).
    """
    columns = ", ".join((STATE_COLUMNS, *more))
    history = f"{table.history} h INDEXED BY {index}" if index else f"{table.history} h"
    return f"SELECT {columns} FROM {history} JOIN {table.states} s ON s.id = h.state_id JOIN event_lists l ON l.id = h.events_list"


STATE_COLUMNS = "s.state, substr(l.ids, 1, h.events_end) || ']'"


def event_count(last: int, recorded_through: int) -> int:
    """How many events the store held after position ``recorded_through``, for a read model holding positions up to ``last``.

    A store's positions are consecutive from 1 (an append takes the next ones;
    none is ever deleted or reused) and the read model holds one event row per
    position, so the count is the position itself, capped at the last: no rows
    are counted.
    """
    return max(0, min(recorded_through, last))


def last_position(conn: sqlite3.Connection) -> int:
    """The last store position the read model holds (0 when empty)."""
    return conn.execute("SELECT COALESCE(MAX(position), 0) FROM events").fetchone()[0]


def recorded_through(conn: sqlite3.Connection, recorded_before: int | str) -> int:
    """The last position used for ``recorded_before`` N: the position before the first of N's append batch.

    N is a store position or an ISO timestamp (the first position recorded after it).
    """
    if isinstance(recorded_before, int) or str(recorded_before).isdigit():
        position = int(recorded_before)
    else:
        try:
            moment = datetime.fromisoformat(str(recorded_before))
        except ValueError:
            raise DateError(f"{recorded_before!r} is neither a store position nor an ISO timestamp") from None
        position = position_after(conn, moment)
    return batch_start(conn, position) - 1


def position_after(conn: sqlite3.Connection, moment: datetime) -> int:
    """The first position recorded after ``moment`` (one past the end when none was)."""
    for position, recorded_at in conn.execute("SELECT position, recorded_at FROM events ORDER BY position"):
        if datetime.fromisoformat(recorded_at) > moment:
            return int(position)
    return last_position(conn) + 1


def latest_state(conn: sqlite3.Connection, table: HistoryTable, entity: str, as_of: str) -> list[tuple[str, str]]:
    """One entity's state on ``as_of`` as known and recorded now: at most one row, found in O(log n).

    The rows an entity holds as known and recorded now are the segments of one
    valid-time line: they never overlap. So the row holding on a date is the
    last one starting on or before it (or the open-start row), if it has not
    ended by then. One statement: an index probe (a second only when no row
    starts by then; the index holds the row's dates and references), and the
    state and events list fetched by their ids.
    """
    row = conn.execute(latest_state_sql(table), (entity, as_of)).fetchone()
    if row is None or (row[2] is not None and row[2] <= as_of):
        return []
    return [row[:2]]


def latest_state_sql(table: HistoryTable) -> str:
    """The statement of :func:`latest_state`: the last row starting on or before a date, else the open-start row.

    Both are ranges of an index by entity and valid time; ``UNION ALL`` with
    ``LIMIT 1`` runs the second probe only when the first finds no row. Kept
    by table name: hashing the table's declaration took longer (1.4 µs) than
    a dict lookup by its name.
    """
    found = LATEST_STATE_SQL.get(table.table)
    if found is None:
        found = LATEST_STATE_SQL[table.table] = _latest_state_sql(table)
    return found


LATEST_STATE_SQL: dict[str, str] = {}


def _latest_state_sql(table: HistoryTable) -> str:
    # the index of the rows held now, named: left to itself SQLite takes the covering index of every row
    # (migration 6), four times the entries, and at a million events each lookup took 5% longer on it
    now = f"{stored_states(table, 'h.valid_to', index=f'{table.history}_now')} WHERE h.entity = ?1 AND h.recorded_to IS NULL AND h.known_to IS NULL"
    starting, open_start = f"{now} AND h.valid_from <= ?2 ORDER BY h.valid_from DESC LIMIT 1", f"{now} AND h.valid_from IS NULL LIMIT 1"
    return f"SELECT * FROM ({starting}) UNION ALL SELECT * FROM ({open_start}) LIMIT 1"


def related_positions(conn: sqlite3.Connection, event_ids: list[str]) -> list[int]:
    """The store positions of every event in the history of an entity one of ``event_ids`` is in (``entity_events``)."""
    rows = conn.execute(
        "SELECT DISTINCT e.position FROM entity_events n JOIN entity_events e ON e.projection = n.projection AND e.entity = n.entity "
        "WHERE n.event_id IN (SELECT value FROM json_each(?))",
        (json_text(event_ids),),
    ).fetchall()
    return [position for (position,) in rows]


def batch_start(conn: sqlite3.Connection, position: int) -> int:
    """The first position of the append batch holding ``position`` (``position`` itself past the end)."""
    row = conn.execute("SELECT batch FROM events WHERE position >= ? ORDER BY position LIMIT 1", (int(position),)).fetchone()
    return row[0] if row else int(position)


# --- is the read model current? -------------------------------------------------------------


def current_view(
    db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None, conn: sqlite3.Connection | None = None
) -> str | None:
    """The read model's path if it exists and has caught up with the store's last event, else None.

    Caught up means its tracking position and chain hash are the store's head, so
    its answers are exactly what folding the store would give. ``conn``: a
    connection open on the read model already, to read it on.
    """
    from ledger.readmodel.schema import view_path_for
    from ledger.store import read_head

    path = view_path_for(db, view)
    if not os.path.exists(path):
        return None
    try:
        if conn is None:
            with closing(sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)) as own:
                tracked = tracked_head(own)
        else:
            tracked = tracked_head(conn)
        head = read_head(db)
    except sqlite3.Error:
        return None
    return path if tracked and head and head.position and tracked == tuple(head) else None


def tracked_head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """The store head the read model has caught up with, None while a migration is pending (it may change what rows hold)."""
    from ledger.readmodel.schema import up_to_date

    tracked = conn.execute("SELECT position, chain_hash FROM projector_state WHERE name = 'ledger-view'").fetchone()
    return tuple(tracked) if tracked and up_to_date(conn) else None


def caught_up_view(
    db: str | os.PathLike[str], view: str | os.PathLike[str] | None = None, conn: sqlite3.Connection | None = None
) -> str | None:
    """The read model's path, first catching it up with the store when it exists but is behind.

    None when there is no read model yet, or it cannot be brought up to date
    (built from another store, unreadable): callers then fold the store instead.
    A read model that is behind usually lacks a few late events, which the
    projector applies in milliseconds. ``conn``: as for :func:`current_view`.
    """
    from ledger.readmodel.schema import view_path_for

    current = current_view(db, view, conn)
    if current or not os.path.exists(view_path_for(db, view)):
        return current
    from ledger.readmodel.projector import project

    try:
        project(db, view)
    except (ReadModelError, sqlite3.Error, OSError):
        return None
    return current_view(db, view, conn)


DATA_VERSION = "PRAGMA data_version"


class CurrentView:
    """The read model's connection while it is current, checked at every question in a few microseconds.

    The full check (:func:`caught_up_view`: the tracked head against the
    store's, the migrations, a catch-up when behind) runs only when something
    may have changed since it last passed. For a SQLite store that is known
    cheaply: each file's identity (a rebuild, or a new store, replaces the file)
    and ``PRAGMA data_version`` on a connection kept open to each file, which
    changes whenever another connection commits to it (another process
    appending, projecting or migrating). A store on a database server gives no
    such signal: every question then makes the full check.
    """

    def __init__(self, db: str | os.PathLike[str], view: str | os.PathLike[str]) -> None:
        self.db, self.view_path = os.fspath(db), os.fspath(view)
        self.local = not self.db.startswith(("postgresql://", "postgres://"))
        self.conn: sqlite3.Connection | None = None  # the read model, read-only
        self.store: sqlite3.Connection | None = None  # the store, kept open for its data_version only
        self.files = (0, 0)  # the inodes of the read model and the store those connections read
        self.position = 0  # the last store position the read model holds
        self.checked: tuple[int, ...] | None = None  # the stamp taken before the last full check that passed
        self.versions: tuple[sqlite3.Cursor, sqlite3.Cursor] | None = None  # the cursors reading each connection's data_version

    def connection(self) -> sqlite3.Connection | None:
        """The read model's connection if it is current now (caught up first if it was behind), else None."""
        if self.checked is not None:
            try:
                if self.stamp() == self.checked:
                    return self.conn
            except (OSError, sqlite3.Error):
                pass
        return self.check()

    def check(self) -> sqlite3.Connection | None:
        """The full check; when it passes, the stamp taken before it is kept for the next questions."""
        self.checked = None
        try:
            files = self.inodes()
            if self.conn is None or files != self.files:
                self.close()
                self.conn = open_view(self.view_path)
                if self.local:
                    self.store = sqlite3.connect(f"file:{os.path.abspath(self.db)}?mode=ro", uri=True, check_same_thread=False)
                if self.inodes() != files:
                    return self.check()  # replaced as it was opened
                self.files = files
            stamp = self.stamp() if self.local else None  # taken first: whatever commits after it changes the stamp
            current = caught_up_view(self.db, self.view_path, self.conn)
            if self.inodes() != self.files:
                return self.check()  # replaced as it caught up: open the new file
            if current is None:
                self.close()
                return None
            self.position = last_position(self.conn)
        except (OSError, sqlite3.Error, ReadModelError):
            self.close()
            return None
        self.checked = stamp
        return self.conn

    def inodes(self) -> tuple[int, int]:
        """Which files the paths name now: the read model's and the store's (0 for a server)."""
        return os.stat(self.view_path).st_ino, os.stat(self.db).st_ino if self.local else 0

    def stamp(self) -> tuple[int, ...]:
        """What changes when either file is replaced, or committed to by another connection.

        Each ``data_version`` is read on a cursor kept open on its connection:
        a new cursor for each took longer than the statement (2 µs of 4 for each).
        """
        if self.versions is None:
            assert self.conn is not None and self.store is not None
            self.versions = (self.conn.cursor(), self.store.cursor())
        view, store = self.versions
        return (
            os.stat(self.view_path).st_ino,
            os.stat(self.db).st_ino,
            view.execute(DATA_VERSION).fetchone()[0],
            store.execute(DATA_VERSION).fetchone()[0],
        )

    def close(self) -> None:
        self.checked = self.versions = None
        for conn in (self.conn, self.store):
            if conn is not None:
                conn.close()
        self.conn = self.store = None
