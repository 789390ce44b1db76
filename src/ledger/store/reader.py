"""Reading a SQLite store with nothing but ``sqlite3``: the :class:`~ledger.store.interface.StoreReader` of SQLite.

The tables (made by :mod:`ledger.store.recorder`):

- ``stored_events``: the event-sourcing library's table; the rowid is the position,
  ``state`` the compressed event (:class:`~ledger.store.codec.StateCodec`);
- ``ledger_chain``: one row per position: event id, content hash, chain hash,
  recorded time and batch;
- ``ledger_registry``: ``(kind, id) -> data`` (JSON text);
- ``ledger_codec``: the compression dictionaries.

A reader opens the file read-only, so worker processes and the read model's
projector can read while a writer appends (WAL mode).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from ledger.store import log
from ledger.store.codec import StateCodec
from ledger.store.interface import Batch, Head, RecordedEvent, StoreError, StoreReader, Verification

READ_PAGE = 5_000  # rows per query when streaming events
EVENT_COLUMNS = "c.position, c.recorded_at, c.batch, c.chain_hash, s.state"
EVENT_JOIN = "ledger_chain c JOIN stored_events s ON s.rowid = c.position"


def connect_read_only(path: str) -> sqlite3.Connection:
    """A read-only connection to the store file at ``path`` (a :class:`StoreError` if there is none)."""
    if not Path(path).is_file():
        raise StoreError(f"no ledger database at {path}; run 'ledger ingest events/' to create it")
    return sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False)


def open_reader(location: str) -> SQLiteReader:
    """A reader of the SQLite store at ``location`` (a file path)."""
    return SQLiteReader(connect_read_only(location), location)


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

    # -- the chain ---------------------------------------------------------------------------

    def head(self) -> Head:
        rows = self._rows("SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
        return Head(*rows[0]) if rows else Head(0, None)

    def chain_hash(self, position: int) -> str | None:
        rows = self._rows("SELECT chain_hash FROM ledger_chain WHERE position = ?", (position,))
        return rows[0][0] if rows else None

    def count(self) -> int:
        return self._rows("SELECT COUNT(*) FROM ledger_chain")[0][0]

    # -- events --------------------------------------------------------------------------------

    def batches(self, after: int = 0) -> list[Batch]:
        found = self._rows("SELECT batch, MAX(position) FROM ledger_chain WHERE position > ? GROUP BY batch ORDER BY batch", (after,))
        return [Batch(start, end) for start, end in found]

    def events(self, start: int, end: int | None = None) -> Iterator[RecordedEvent]:
        last = end if end is not None else 2**63 - 1
        read = self.codec.event
        while start <= last:
            page = self._rows(
                f"SELECT {EVENT_COLUMNS} FROM {EVENT_JOIN} WHERE c.position BETWEEN ? AND ? ORDER BY c.position LIMIT ?",
                (start, last, READ_PAGE),
            )
            for position, recorded_at, batch, chain_hash, state in page:
                yield RecordedEvent(position, recorded_at, batch, chain_hash, read(state))
            if len(page) < READ_PAGE:
                return
            start = page[-1][0] + 1

    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        read = self.codec.event
        found = self._rows(
            "SELECT rowid, state FROM stored_events WHERE rowid IN (SELECT value FROM json_each(?))", (orjson.dumps(list(positions)),)
        )
        return {position: read(state) for position, state in found}

    def positions_of(self, event_ids: Iterable[str], up_to: int | None = None) -> dict[str, int]:
        found = self._rows(
            "SELECT event_id, position FROM ledger_chain WHERE event_id IN (SELECT value FROM json_each(?)) AND position <= ?",
            (orjson.dumps(list(event_ids)), 2**63 - 1 if up_to is None else up_to),
        )
        return dict(found)

    def content_hashes(self, event_ids: Iterable[str]) -> dict[str, str]:
        found = self._rows(
            "SELECT event_id, content_hash FROM ledger_chain WHERE event_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(list(event_ids)),),
        )
        return dict(found)

    def get(self, event_id: str) -> RecordedEvent | None:
        rows = self._rows(f"SELECT {EVENT_COLUMNS} FROM {EVENT_JOIN} WHERE c.event_id = ?", (event_id,))
        if not rows:
            return None
        position, recorded_at, batch, chain_hash, state = rows[0]
        return RecordedEvent(position, recorded_at, batch, chain_hash, self.codec.event(state))

    def batch_start(self, position: int) -> int | None:
        rows = self._rows("SELECT batch FROM ledger_chain WHERE position >= ? ORDER BY position LIMIT 1", (position,))
        return rows[0][0] if rows else None

    def position_at(self, timestamp: str) -> int:
        rows = self._rows("SELECT MIN(position) FROM ledger_chain WHERE recorded_at > ?", (timestamp,))
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
        """How many entries, and the newest rowid (a replaced entry gets a new one)."""
        count, last = self._rows("SELECT COUNT(*), COALESCE(MAX(rowid), 0) FROM ledger_registry")[0]
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

    def raw_rows(self, part: str) -> tuple[str, sqlite3.Cursor]:
        """The ``CREATE TABLE`` statement and a cursor over the rows (in position order) of a table an append writes.

        ``part`` is ``events`` (the stored states) or ``chain``. For benchmarks
        that copy the very bytes the store wrote with plain ``sqlite3``; the
        ledger itself never reads them this way.
        """
        table = {"events": "stored_events", "chain": "ledger_chain"}[part]
        (shape,) = self.conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        return shape, self.conn.execute(f"SELECT * FROM {table} ORDER BY rowid")

    # -- checking ----------------------------------------------------------------------------

    def verify(self) -> Verification:
        from ledger.store.recorder import verify_chain

        cursor = self.conn.execute(
            "SELECT s.rowid, s.state, c.position, c.event_id, c.content_hash, c.chain_hash "
            "FROM stored_events s LEFT JOIN ledger_chain c ON c.position = s.rowid "
            "UNION ALL SELECT NULL, NULL, c.position, c.event_id, c.content_hash, c.chain_hash "
            "FROM ledger_chain c WHERE c.position NOT IN (SELECT rowid FROM stored_events) "
            "ORDER BY 3, 1"
        )
        return verify_chain(iter(cursor.fetchone, None), self.codec)
