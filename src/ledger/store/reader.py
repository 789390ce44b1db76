"""Reading a SQLite store with nothing but ``sqlite3``: the :class:`~ledger.store.interface.StoreReader` of SQLite.

The tables (made by :mod:`ledger.store.recorder`):

- ``stored_events``: the event-sourcing library's table; the rowid is the position,
  ``originator_id`` the entry id of the event's id (:func:`~ledger.store.codec.entry_hex`,
  unique and indexed, so an event is found by its id here), ``state`` the compressed
  event (:class:`~ledger.store.codec.StateCodec`);
- ``ledger_chain``: one row per position, the chain hash (32 bytes); nothing that
  ``stored_events`` already holds, and the content hash is recomputed from the state when asked for;
- ``ledger_chain_batches``: one row per append, its first position (the batch) and recorded time;
- ``ledger_registry``: ``(kind, id) -> data`` (JSON text);
- ``ledger_codec``: the compression dictionaries.

A store written with the earlier chain layout (one ``ledger_chain`` row with
event id, content hash and chain hash as hex, recorded time and batch) is
upgraded once, verified before and after, by the first writer that opens it
(:func:`ledger.store.recorder.upgrade_chain`); :func:`open_reader` opens such a
store as a writer first.

A reader opens the file read-only, so worker processes and the read model's
projector can read while a writer appends (WAL mode).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ledger.store import log
from ledger.store.codec import StateCodec, entry_hex
from ledger.store.interface import Batch, Head, RecordedEvent, StoreError, StoreReader, Verification

READ_PAGE = 5_000  # rows per query when streaming events
EVENT_COLUMNS = "c.position, c.chain_hash, s.state"
EVENT_JOIN = "ledger_chain c JOIN stored_events s ON s.rowid = c.position"


def connect_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the store file at ``path`` (a :class:`StoreError` if there is none)."""
    if not Path(path).is_file():
        raise StoreError(f"no ledger database at {path}; run 'ledger ingest events/' to create it")
    return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False)


def has_old_chain(conn: sqlite3.Connection) -> bool:
    """Whether the store holds its chain in the earlier layout (with an ``event_id`` column), to be upgraded."""
    return any(row[1] == "event_id" for row in conn.execute("PRAGMA table_info(ledger_chain)"))


def open_reader(location: str) -> SQLiteReader:
    """A reader of the SQLite store at ``location`` (a file path); a store in the earlier chain layout is upgraded first."""
    conn = connect_read_only(location)
    if has_old_chain(conn):
        conn.close()
        from ledger.store.recorder import open_backend

        try:
            open_backend(location).close()  # a writer upgrades the chain's layout once
        except sqlite3.Error as error:
            raise StoreError(f"the ledger at {location} has its hash chain in an earlier layout and cannot be upgraded: {error}") from None
        conn = connect_read_only(location)
    return SQLiteReader(conn, location)


def hex_of(chain_hash: bytes | str) -> str:
    """A stored chain hash as the hex the interface speaks."""
    return chain_hash.hex() if isinstance(chain_hash, bytes) else chain_hash


APPENDED_TABLES = ("stored_events", "ledger_chain", "ledger_chain_batches", "ledger_log")
"""Every table an append writes rows to (the registry aside)."""


class SQLiteReader(StoreReader):
    """Every read of a SQLite store, over one ``sqlite3`` connection (read-only, or the writer's own)."""

    def __init__(self, conn: sqlite3.Connection, location: str) -> None:
        self.conn = conn
        self.location = os.fspath(location)
        self.codec = StateCodec(self._dictionaries)
        self._registry_ids: tuple[str, dict[str, set[str]]] | None = None

    def close(self) -> None:
        self.conn.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def _dictionaries(self) -> list[tuple[int, bytes]]:
        try:
            return [(key, dictionary) for key, dictionary in self._rows("SELECT id, dictionary FROM ledger_codec")]
        except sqlite3.OperationalError:  # a store written before states were compressed has no codec table
            return []

    def compression_dictionary(self) -> tuple[int, bytes] | None:
        """The dictionary appends compress with now, as (id, bytes), or None while the store has none."""
        rows = self._rows("SELECT id, dictionary FROM ledger_codec ORDER BY id DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else None

    # -- the chain ---------------------------------------------------------------------------

    def head(self) -> Head:
        rows = self._rows("SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
        return Head(rows[0][0], hex_of(rows[0][1])) if rows else Head(0, None)

    def chain_hash(self, position: int) -> str | None:
        rows = self._rows("SELECT chain_hash FROM ledger_chain WHERE position = ?", (position,))
        return hex_of(rows[0][0]) if rows else None

    def count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM ledger_chain")[0][0]

    def _appends_over(self, first: int, last: int) -> tuple[list[int], list[str]]:
        """The appends holding positions ``first`` to ``last``: their first positions (ascending) and recorded times."""
        rows = self._rows(
            "SELECT batch, recorded_at FROM ledger_chain_batches "
            "WHERE batch >= (SELECT COALESCE(MAX(batch), 0) FROM ledger_chain_batches WHERE batch <= ?) AND batch <= ? ORDER BY batch",
            (first, last),
        )
        return [row[0] for row in rows], [row[1] for row in rows]

    def _recorded(self, rows: Sequence[tuple[int, bytes | str, bytes]]) -> Iterator[RecordedEvent]:
        """Events from (position, chain hash, state) rows in position order, with their append's batch and time."""
        if not rows:
            return
        starts, times = self._appends_over(rows[0][0], rows[-1][0])
        read = self.codec.event
        for position, chain_hash, state in rows:
            k = bisect_right(starts, position) - 1
            yield RecordedEvent(position, times[k], starts[k], hex_of(chain_hash), read(state))

    # -- events --------------------------------------------------------------------------------

    def batches(self, after: int = 0) -> list[Batch]:
        head = self.head().position
        if head <= after:
            return []
        starts, _ = self._appends_over(after + 1, head)
        return [Batch(start, end - 1) for start, end in zip(starts, [*starts[1:], head + 1])]

    def events(self, start: int, end: int | None = None) -> Iterator[RecordedEvent]:
        last = end if end is not None else 2**63 - 1
        while start <= last:
            page = self._rows(
                f"SELECT {EVENT_COLUMNS} FROM {EVENT_JOIN} WHERE c.position BETWEEN ? AND ? ORDER BY c.position LIMIT ?",
                (start, last, READ_PAGE),
            )
            yield from self._recorded(page)
            if len(page) < READ_PAGE:
                return
            start = page[-1][0] + 1

    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        read = self.codec.event
        found = self._rows(
            "SELECT rowid, state FROM stored_events WHERE rowid IN (SELECT value FROM json_each(?))", (orjson.dumps(list(positions)),)
        )
        return {position: read(state) for position, state in found}

    def _by_entry(self, event_ids: Iterable[str], entries: Sequence[str] | None, column: str, up_to: int | None = None) -> dict[str, Any]:
        """``column`` of stored_events for each of these ids recorded (at or before ``up_to``), found by entry id."""

        ids = list(event_ids)
        keys = list(entries) if entries is not None else [entry_hex(event_id) for event_id in ids]
        by_entry = dict(zip(keys, ids))
        found = self._rows(
            f"SELECT originator_id, {column} FROM stored_events WHERE originator_id IN (SELECT value FROM json_each(?)) AND rowid <= ?",
            (orjson.dumps(keys), 2**63 - 1 if up_to is None else up_to),
        )
        return {by_entry[entry]: value for entry, value in found}

    def positions_of(self, event_ids: Iterable[str], up_to: int | None = None) -> dict[str, int]:
        return self._by_entry(event_ids, None, "rowid", up_to)

    def content_hashes(self, event_ids: Iterable[str], entries: Sequence[str] | None = None) -> dict[str, str]:
        """See :meth:`StoreReader.content_hashes`; ``entries``: the ids' entry ids, when already known (saves computing them)."""
        canonical = self.codec.canonical
        found = self._by_entry(event_ids, entries, "state")
        return {event_id: hashlib.sha256(canonical(state)).hexdigest() for event_id, state in found.items()}

    def get(self, event_id: str) -> RecordedEvent | None:

        rows = self._rows(f"SELECT {EVENT_COLUMNS} FROM {EVENT_JOIN} WHERE s.originator_id = ?", (entry_hex(event_id),))
        return next(self._recorded(rows), None)

    def batch_start(self, position: int) -> int | None:
        rows = self._rows(
            "SELECT MAX(batch) FROM ledger_chain_batches WHERE batch <= (SELECT MIN(position) FROM ledger_chain WHERE position >= ?)",
            (position,),
        )
        return rows[0][0] if rows else None

    def position_at(self, timestamp: str) -> int:
        rows = self._rows("SELECT MIN(batch) FROM ledger_chain_batches WHERE recorded_at > ?", (timestamp,))
        return rows[0][0] if rows and rows[0][0] is not None else self.head().position + 1

    # -- the registry ----------------------------------------------------------------------------

    def registry(self, kind: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        sql, params = "SELECT kind, id, data FROM ledger_registry", tuple[str, ...]()
        if kind:
            sql, params = sql + " WHERE kind = ?", (kind,)
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for entry_kind, key, data in self._rows(sql, params):
            found.setdefault(entry_kind, {})[key] = orjson.loads(data)
        return found

    def registry_ids(self) -> dict[str, set[str]]:
        """The ids of each kind; kept on this reader while :meth:`registry_mark` stays the same."""
        mark = self.registry_mark()
        if self._registry_ids is None or self._registry_ids[0] != mark:
            found: dict[str, set[str]] = {}
            for kind, key in self._rows("SELECT kind, id FROM ledger_registry"):
                found.setdefault(kind, set()).add(key)
            self._registry_ids = (mark, found)
        return {kind: set(ids) for kind, ids in self._registry_ids[1].items()}

    def registry_mark(self) -> str:
        """How many entries, and the newest rowid (a replaced entry gets a new one).

        Each aggregate in a subquery of its own: SQLite counts entries from the
        b-tree alone and finds the largest rowid at the tree's edge only for an
        aggregate asked alone; asked together they scan every entry.
        """
        count, last = self._rows("SELECT (SELECT COUNT(*) FROM ledger_registry), (SELECT COALESCE(MAX(rowid), 0) FROM ledger_registry)")[0]
        return f"{count}:{last}"

    # -- the Merkle log (ledger.store.log) ------------------------------------------------------

    def log_size(self) -> int:
        return log.log_size(self.conn)

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        return log.leaf_hashes(self.conn, size)

    def leaf_inputs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int | None, bytes | None]]:
        return log.leaf_inputs(self.conn, self.codec, start, end)

    def leaf_of(self, event_id: str) -> int | None:
        return log.leaf_of(self.conn, event_id)

    def log_position(self, size: int) -> int:
        return log.log_position(self.conn, size)

    def checkpoints(self) -> list[str]:
        return log.checkpoints(self.conn)

    # -- for baselines -------------------------------------------------------------------------

    def raw_rows(self, table: str, first: int, last: int, registry_leaves: bool = False) -> tuple[str, list[tuple[Any, ...]]]:
        """The ``CREATE TABLE`` statement of a table an append writes, and its rows for positions ``first`` to ``last``.

        ``table`` is one of :data:`APPENDED_TABLES`. For benchmarks that copy the
        very rows the store wrote with plain ``sqlite3``; the ledger itself never
        reads them this way. With ``registry_leaves``, the Merkle log's rows are
        every leaf after the event before ``first``'s up to ``last``'s: the
        registry's leaves written among them come too, in order, as a copy under
        the store's own triggers (:meth:`raw_triggers`) must take them.
        """
        (shape,) = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if registry_leaves and table == "ledger_log":
            after, upto = (
                self._rows("SELECT COALESCE((SELECT leaf FROM ledger_log WHERE position = ?), -1)", (position,))[0][0]
                for position in (first - 1, last)
            )
            return shape, self._rows("SELECT * FROM ledger_log WHERE leaf > ? AND leaf <= ? ORDER BY leaf", (after, upto))
        where = {"stored_events": "rowid", "ledger_chain": "position", "ledger_chain_batches": "batch", "ledger_log": "position"}[table]
        return shape, self._rows(f"SELECT * FROM {table} WHERE {where} BETWEEN ? AND ? ORDER BY rowid", (first, last))

    def raw_triggers(self) -> list[str]:
        """The ``CREATE TRIGGER`` statements of the store's triggers on :data:`APPENDED_TABLES`, as it made them (for benchmarks)."""
        placeholders = ",".join("?" * len(APPENDED_TABLES))
        query = f"SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders}) ORDER BY name"
        return [row[0] for row in self._rows(query, APPENDED_TABLES)]

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> Verification:
        from ledger.store.recorder import verify_chain

        cursor = self.conn.execute(
            "SELECT s.rowid, s.state, c.position, s.originator_id, NULL, c.chain_hash "
            "FROM stored_events s LEFT JOIN ledger_chain c ON c.position = s.rowid "
            "UNION ALL SELECT NULL, NULL, c.position, NULL, NULL, c.chain_hash "
            "FROM ledger_chain c WHERE c.position NOT IN (SELECT rowid FROM stored_events) "
            "ORDER BY 3, 1"
        )
        return verify_chain(iter(cursor.fetchone, None), self.codec, by_entry=True)
