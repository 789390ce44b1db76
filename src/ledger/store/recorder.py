"""Writing a SQLite store: the schema, the immutability triggers, the append with its hash chain, and verify.

Each ledger event is recorded as the creation event of its own small
aggregate (:mod:`ledger.store.library`), so ``stored_events`` is the
event-sourcing library's own table: its unique ``(originator_id,
originator_version)`` key makes every id unique, and its rowid is the event's
**position**.

An append (:meth:`SQLiteBackend.append`) is one transaction that takes the
write lock first (``BEGIN IMMEDIATE``, waiting up to :data:`LOCK_TIMEOUT` for
other writers), checks again inside the lock which ids are already recorded,
then :meth:`SQLiteBackend.record` writes the events, extends the hash chain in
``ledger_chain`` (32 bytes a position) with the append's time in
``ledger_chain_batches`` (one row an append) and writes the registry entries.
Two guarantees hold at the database: triggers make ``UPDATE`` and ``DELETE`` of
stored events, the chain and the dictionaries fail, so a position is never
reused; :func:`verify_chain` recomputes the chain from the stored events.

The append compresses each state with the store's dictionary, or takes the
compressed body a validation worker made with that same dictionary
(:class:`~ledger.store.interface.PreparedEvent`), and likewise the entry id.

A store whose chain is in the earlier layout (hex hashes, the event id and the
time on every row) is upgraded by the first writer that opens it
(:func:`upgrade_chain`): verified before, rewritten, verified after to the same
head, in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import zstandard

from ledger.store import log
from ledger.store.codec import (  # noqa: F401  (LEDGER_NAMESPACE, entry_id: this module's names since the first version)
    LEDGER_NAMESPACE,
    RECORDED_TOPIC,
    TRAINING_MIN,
    TRAINING_SAMPLES,
    StateCodec,
    entry_hex,
    entry_id,
    recorded_us,
    train_dictionary,
)
from ledger.store.interface import (
    Appended,
    PreparedEvent,
    RegistryEntry,
    StoreBackend,
    StoreError,
    Verification,
    unrecorded,
)
from ledger.store.reader import SQLiteReader, has_old_chain

GENESIS = bytes(32)
WRITER_CACHE_KIB = 64 * 1024
"""Page cache of a writer's connection (SQLite's default is 2 MiB): every append looks up each new id in the stored
events' index, whose pages a large ledger's random ids spread over tens of MB; kept in memory, they are not read again
from the file at every lookup. Filled only as pages are read."""
LOCK_TIMEOUT = 120.0
"""Seconds an append waits for another writer's append to finish before it gives up."""

EVENTS_TABLE = (  # the event-sourcing library's SQLite table, as its recorder makes it
    "CREATE TABLE IF NOT EXISTS stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version))"
)
CHAIN_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_chain (
    position INTEGER PRIMARY KEY,
    chain_hash BLOB NOT NULL
)
"""
"""The hash chain, one row per position: ``chain[p] = SHA-256(chain[p-1] || canonical[p])``, 32 bytes."""
CHAIN_BATCHES_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_chain_batches (
    batch INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL
)
"""
"""One row per append that recorded events: its first position and its recorded time (shared by all its events)."""
REGISTRY_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_registry (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
)
"""
CODEC_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_codec (
    id INTEGER PRIMARY KEY,
    dictionary BLOB NOT NULL,
    first_position INTEGER NOT NULL,
    samples INTEGER NOT NULL
)
"""
IMMUTABILITY_TRIGGERS = [
    f"""CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()}
    BEFORE {action} ON {table}
    BEGIN SELECT RAISE(ABORT, 'ledger events are immutable: record a correction event instead'); END"""
    for table in ("stored_events", "ledger_chain", "ledger_chain_batches", "ledger_codec")
    for action in ("UPDATE", "DELETE")
]
SCHEMA = [EVENTS_TABLE, CHAIN_TABLE, CHAIN_BATCHES_TABLE, REGISTRY_TABLE, CODEC_TABLE, *IMMUTABILITY_TRIGGERS]
TABLES = {"stored_events", "ledger_chain", "ledger_chain_batches", "ledger_registry", "ledger_codec"}
INSERT_EVENT = "INSERT INTO stored_events VALUES (?, 1, ?, ?)"


def utc(recorded_at: datetime | None) -> datetime:
    """The time an append is recorded at, in UTC (a naive time is taken to be UTC), so ISO strings sort as times."""
    if recorded_at is None:
        return datetime.now(UTC)
    if recorded_at.tzinfo is None:
        return recorded_at.replace(tzinfo=UTC)
    return recorded_at.astimezone(UTC)


def open_backend(location: str, create: bool = True) -> SQLiteBackend:
    """The writable SQLite store at ``location`` (a file path; made if missing unless ``create`` is False)."""
    if not create and not Path(location).is_file():
        raise StoreError(f"no ledger database at {location}; run 'ledger ingest events/' to create it")
    return SQLiteBackend(location)


class SQLiteBackend(SQLiteReader, StoreBackend):
    """A SQLite store file: the reader's queries plus the append, over one connection in autocommit mode."""

    def __init__(self, location: str) -> None:
        try:
            conn = sqlite3.connect(location, isolation_level=None, timeout=LOCK_TIMEOUT, check_same_thread=False)
        except sqlite3.OperationalError as error:
            raise StoreError(f"cannot open the ledger database at {location}: {error}") from None
        super().__init__(conn, location)
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        self._app: Any = None
        self._create_schema()

    def _create_schema(self) -> None:
        existing = {name for (name,) in self._rows("SELECT name FROM sqlite_master")}
        if {*TABLES, *log.SCHEMA_NAMES} <= existing and not has_old_chain(self.conn):
            return
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode=WAL")
        with self.write():
            if has_old_chain(self.conn):
                upgrade_chain(self.conn, self.codec)
            for statement in SCHEMA:
                self.conn.execute(statement)
            log.build_log(self.conn, self.codec)  # the Merkle log, built from the events of a store written before it

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
        super().close()

    @property
    def app(self) -> Any:
        """The event-sourcing application over this file (``app.repository.get(entry_id(...))``), made on first use."""
        if self._app is None:
            from ledger.store.library import application

            self._app = application(self.location, self.codec)
        return self._app

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the write lock first (waiting for other writers), COMMIT, or ROLLBACK on any error."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"the ledger at {self.location} stayed locked by another writer: {error}") from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def put_checkpoint(self, size: int, root: str, time: str, key_id: str | None, document: str) -> None:
        with self.write():
            log.put_checkpoint(self.conn, size, root, time, key_id, document)

    # -- the append ----------------------------------------------------------------------------

    def append(
        self,
        prepared: Sequence[PreparedEvent],
        registry: Sequence[RegistryEntry] = (),
        recorded_at: datetime | None = None,
        checked_at: int | None = None,
    ) -> Appended:
        """Events and registry entries in one transaction (see :meth:`StoreBackend.append`).

        The states are compressed before the lock is taken, so it is held
        briefly; only when another writer trained the store's first dictionary
        meanwhile are they compressed again inside it.
        """
        at = utc(recorded_at)
        dictionary_id, trained = self._dictionary_for(prepared) if prepared else (0, None)
        states = self.codec.states(prepared, dictionary_id, recorded_us(at))
        try:
            with self.write():
                fresh, skipped = self._unrecorded(prepared, checked_at)
                if trained is not None and (not fresh or self._rows("SELECT MAX(id) FROM ledger_codec")[0][0] is not None):
                    self.codec.forget(dictionary_id)  # not needed, or another writer stored the first dictionary first
                    trained = None
                    if fresh:
                        dictionary_id, _ = self._dictionary_for(prepared)  # the one now stored
                        states = self.codec.states(prepared, dictionary_id, recorded_us(at))
                positions = self.record([(prepared[i], states[i]) for i in fresh], registry, at.isoformat())
                if trained is not None:
                    self.conn.execute("INSERT INTO ledger_codec VALUES (?, ?, ?, ?)", (dictionary_id, trained[0], positions[0], trained[1]))
        except BaseException:
            if trained is not None:
                self.codec.forget(dictionary_id)
            raise
        return Appended(positions, skipped)

    def record(self, events: Sequence[tuple[PreparedEvent, bytes]], registry: Sequence[RegistryEntry], recorded_at: str) -> list[int]:
        """Inside the append's transaction: write the events with their states, extend the chain, put the registry entries.

        Returns the events' positions: consecutive rowids, as the write lock is held.
        Everything an append writes is written here, in this transaction.
        """
        c = self.conn
        changed = log.changed_registry(c, registry)  # read before the entries replace the old ones
        if registry:
            c.executemany(
                "INSERT OR REPLACE INTO ledger_registry VALUES (?, ?, ?)",
                [(kind, key, json.dumps(data, sort_keys=True)) for kind, key, data in registry],
            )
        if not events:
            log.append_leaves(c, changed, [], recorded_at)
            return []
        c.executemany(INSERT_EVENT, [(event.entry or entry_hex(event.event_id), RECORDED_TOPIC, state) for event, state in events])
        last = c.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
        first = last - len(events) + 1
        row = c.execute("SELECT chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
        previous = row[0] if row else GENESIS
        sha256 = hashlib.sha256
        chain = []
        canonical = [event.canonical for event, _ in events]
        for position, body in enumerate(canonical, start=first):
            digest = sha256(previous)
            digest.update(body)
            previous = digest.digest()
            chain.append((position, previous))
        c.execute("INSERT INTO ledger_chain_batches VALUES (?, ?)", (first, recorded_at))
        c.executemany("INSERT INTO ledger_chain VALUES (?, ?)", chain)
        log.append_leaves(c, changed, list(zip(range(first, last + 1), canonical)), recorded_at)
        return list(range(first, last + 1))

    def _unrecorded(self, prepared: Sequence[PreparedEvent], checked_at: int | None = None) -> tuple[list[int], list[str]]:
        """Indexes of the events not recorded yet, and the ids recorded with the same content; refuses any with other content.

        Not looked up again when the head is still at ``checked_at``, where the caller found none of them recorded.
        """
        if not prepared:
            return [], []
        if checked_at is not None and self.head().position == checked_at:
            return unrecorded(prepared, {})  # still refuses an id given twice with different content
        entries = [event.entry or entry_hex(event.event_id) for event in prepared]
        return unrecorded(prepared, self.content_hashes([event.event_id for event in prepared], entries))

    def _dictionary_for(self, prepared: Sequence[PreparedEvent]) -> tuple[int, tuple[bytes, int] | None]:
        """The id of the dictionary to compress this append with (0 for none), and (dictionary, samples) if it is new.

        The store's newest dictionary; if it has none yet and this append brings
        it to :data:`TRAINING_MIN` events, one trained on the most recent
        :data:`TRAINING_SAMPLES` events, to be stored with the append.
        """
        newest = self._rows("SELECT MAX(id) FROM ledger_codec")[0][0]
        if newest is not None:
            if not self.codec.knows(newest):
                self.codec.add(newest, self._rows("SELECT dictionary FROM ledger_codec WHERE id = ?", (newest,))[0][0])
            return newest, None
        stored = self._rows("SELECT COALESCE(MAX(rowid), 0) FROM stored_events")[0][0]
        if stored + len(prepared) < TRAINING_MIN:
            return 0, None
        samples = [event.canonical for event in prepared[-TRAINING_SAMPLES:]]
        if len(samples) < TRAINING_SAMPLES and stored:
            found = self._rows("SELECT state FROM stored_events ORDER BY rowid DESC LIMIT ?", (TRAINING_SAMPLES - len(samples),))
            samples = [self.codec.canonical(row[0]) for row in reversed(found)] + samples
        dictionary = train_dictionary(samples, 1)
        if dictionary is None:
            return 0, None
        self.codec.add(1, dictionary)
        return 1, (dictionary, len(samples))


# -- checking ------------------------------------------------------------------------------

UNREADABLE = (ValueError, KeyError, TypeError, AttributeError, struct.error, zstandard.ZstdError, StoreError)


def verify_chain(rows: Iterable[tuple[Any, ...]], codec: StateCodec, by_entry: bool = False) -> Verification:
    """Recompute the hash chain over ``(rowid, state, position, event id, content hash, chain hash)`` rows in position order.

    A row with no stored event (rowid None) or no chain entry (position None)
    is a break; so is a state that does not decode, or whose id (its entry id,
    with ``by_entry``) or content hash (unless None: not kept) differs from the row's.
    Chain hashes are hex, or 32 bytes.
    """
    previous = GENESIS
    count = 0
    sha256 = hashlib.sha256
    for rowid, state, position, event_id, stored_hash, chain_hash in rows:
        where = position if position is not None else rowid
        if rowid is None:
            return Verification(False, count, None, where, "the stored event for this chain entry is missing")
        if position is None:
            return Verification(False, count, None, where, "a stored event has no hash-chain entry")
        try:
            canonical = codec.canonical(state)
            stored_id = orjson.loads(canonical).get("id")
            same_id = (entry_hex(stored_id) if by_entry else stored_id) == event_id
        except UNREADABLE:
            return Verification(False, count, None, where, "the stored event is not readable")
        if not same_id or (stored_hash is not None and sha256(canonical).hexdigest() != stored_hash):
            return Verification(False, count, None, where, "the stored event does not match its recorded hash")
        previous = sha256(previous + canonical).digest()
        if previous != (chain_hash if isinstance(chain_hash, bytes) else _from_hex(chain_hash)):
            return Verification(False, count, None, where, "the hash chain breaks here")
        count += 1
    return Verification(True, count, previous.hex() if count else None)


def _from_hex(value: Any) -> bytes | None:
    try:
        return bytes.fromhex(value)
    except (TypeError, ValueError):
        return None


# -- the earlier layout of the chain ----------------------------------------------------------

OLD_CHAIN_VERIFY = (
    "SELECT s.rowid, s.state, c.position, c.event_id, c.content_hash, c.chain_hash "
    "FROM stored_events s LEFT JOIN ledger_chain c ON c.position = s.rowid "
    "UNION ALL SELECT NULL, NULL, c.position, c.event_id, c.content_hash, c.chain_hash "
    "FROM ledger_chain c WHERE c.position NOT IN (SELECT rowid FROM stored_events) "
    "ORDER BY 3, 1"
)


def upgrade_chain(conn: sqlite3.Connection, codec: StateCodec) -> None:
    """Inside a write transaction: move a chain kept in the earlier layout to the compact one, checked before and after.

    The earlier ``ledger_chain`` kept, per position, the event id, the content
    hash and the chain hash as hex, the recorded time and the batch. The compact
    one keeps the chain hash as 32 bytes; the id is ``stored_events``' own
    ``originator_id``, the content hash is recomputed from the state, and the
    time is kept once per append (``ledger_chain_batches``). The chain must
    verify before (a broken chain is not rewritten: :class:`StoreError`) and
    give the same head after, or the transaction is rolled back.
    """
    before = verify_chain(iter(conn.execute(OLD_CHAIN_VERIFY).fetchone, None), codec)
    if not before.ok:
        raise StoreError(
            f"the hash chain breaks at position {before.first_bad_position} ({before.reason}); "
            "the store keeps its earlier layout, which this version does not read"
        )
    mixed = conn.execute("SELECT batch FROM ledger_chain GROUP BY batch HAVING COUNT(DISTINCT recorded_at) > 1 LIMIT 1").fetchone()
    if mixed:
        raise StoreError(f"the append at position {mixed[0]} has events recorded at different times; the store keeps its earlier layout")
    conn.execute(CHAIN_BATCHES_TABLE)
    conn.execute("INSERT INTO ledger_chain_batches SELECT batch, MIN(recorded_at) FROM ledger_chain GROUP BY batch ORDER BY batch")
    conn.execute(CHAIN_TABLE.replace("ledger_chain", "ledger_chain_compact"))
    cursor = conn.execute("SELECT position, chain_hash FROM ledger_chain ORDER BY position")
    while page := cursor.fetchmany(10_000):
        conn.executemany("INSERT INTO ledger_chain_compact VALUES (?, ?)", [(position, bytes.fromhex(hashed)) for position, hashed in page])
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'ledger_chain'").fetchall():
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE ledger_chain")
    conn.execute("ALTER TABLE ledger_chain_compact RENAME TO ledger_chain")
    after = SQLiteReader(conn, "").verify()
    if (after.ok, after.count, after.head) != (True, before.count, before.head):
        raise StoreError(f"the chain's new layout did not verify to the same head ({after.reason or after.head}); nothing was changed")
