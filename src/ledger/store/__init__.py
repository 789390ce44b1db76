"""The append-only, tamper-evident store of ledger events, on eventsourcing.

Each ledger event is recorded as the creation event of its own small aggregate,
:class:`Entry`, whose id is derived from the event's slug, so the library's
unique ``(originator_id, originator_version)`` key makes every id unique in the
ledger. The library's notification id (the order of recording) is the
*recorded-time* axis and is called the event's **position**; world dates stay
inside the event itself.

Two guarantees are added at the database:

- immutability: triggers make ``UPDATE`` and ``DELETE`` of stored events (and
  of the hash chain) fail, so a position is never reused;
- tamper evidence: every append extends a SHA-256 hash chain in
  ``ledger_chain`` (over the previous hash and the event's canonical bytes),
  in the same transaction; :meth:`LedgerStore.verify` recomputes it.

Each event's state is stored compressed (:class:`StateCodec`): a short header
naming the zstd dictionary it was written with, then a zstd frame of the
event's canonical bytes. The dictionaries are trained on the ledger's own
events and kept in the store (``ledger_codec``), so the file describes itself.

The backend is a setting (:class:`StoreSettings`): SQLite, one file, by default.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import zstandard
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Compressor, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic

from ledger import events as vocabulary
from ledger.events import Envelope

DEFAULT_DB = "ledger.db"
BACKENDS = ("sqlite", "postgres")
LEDGER_NAMESPACE = uuid.UUID("6f1d3c1e-8a51-4a47-9d1e-2d3b9c0b7a10")
GENESIS = bytes(32)


class StoreError(Exception):
    """A problem with the store a user can act on (bad setting, missing database...)."""


@dataclass(frozen=True)
class StoreSettings:
    """Where and how events are stored. ``backend`` is ``sqlite`` (default) or ``postgres``."""

    db: str = DEFAULT_DB
    backend: str = "sqlite"

    @classmethod
    def from_env(cls, db: str | None = None, backend: str | None = None) -> StoreSettings:
        """Settings from arguments, else ``LEDGER_DB`` / ``LEDGER_BACKEND``, else the defaults."""
        return cls(
            db=db or os.environ.get("LEDGER_DB") or DEFAULT_DB,
            backend=(backend or os.environ.get("LEDGER_BACKEND") or "sqlite").lower(),
        )


def canonical_bytes(data: Any) -> bytes:
    """The canonical JSON encoding hashed into the chain: sorted keys, no spaces, UTF-8.

    Byte for byte what ``json.dumps(data, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` gives for the strings, integers, lists and mappings an
    event is made of; orjson only makes it fast.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


@dataclass(frozen=True)
class PreparedEvent:
    """A validated event reduced to what the append needs: its id and its canonical bytes.

    Pure to compute (:func:`prepare_event`), so it can be made in another process.
    """

    event_id: str
    canonical: bytes


def prepare_event(data: dict[str, Any]) -> PreparedEvent:
    """The :class:`PreparedEvent` of a validated, JSON-ready event dict."""
    return PreparedEvent(data["id"], canonical_bytes(data))


def event_reader(conn: sqlite3.Connection) -> Callable[[bytes], dict[str, Any]]:
    """A function that turns a ``stored_events.state`` value of the store on ``conn`` into the event dict.

    Everything that reads stored events without a :class:`LedgerStore` (the
    read-model projector, the benchmarks) goes through this, so the stored form
    can change in one place. It reads every form a store may hold (see
    :class:`StateCodec`), and loads the store's dictionaries from ``conn`` when
    a state first names one.
    """
    return codec_of(conn).event


def codec_of(conn: sqlite3.Connection) -> StateCodec:
    """The :class:`StateCodec` of the store on a plain ``sqlite3`` connection (read-only is enough)."""

    def load() -> list[tuple[int, bytes]]:
        try:
            return conn.execute("SELECT id, dictionary FROM ledger_codec").fetchall()
        except sqlite3.OperationalError:  # a store written before states were compressed has no codec table
            return []

    return StateCodec(load)


def entry_id(event_id: str) -> uuid.UUID:
    """The aggregate id under which an event with this slug is stored (a UUID version 5)."""
    return uuid.UUID(entry_hex(event_id))


def entry_hex(event_id: str) -> str:
    """:func:`entry_id` as the 32 hex digits the recorder stores, without building a UUID object."""
    digest = bytearray(hashlib.sha1(LEDGER_NAMESPACE.bytes + event_id.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


# --- the domain side of the library -------------------------------------------------------


class Entry(Aggregate, created_event_name="Recorded"):
    """One ledger event, recorded once and never changed."""

    def __init__(self, event: dict[str, Any], content_hash: str) -> None:
        self.event = event
        self.content_hash = content_hash


ENTRY_TOPIC = get_topic(Entry)
RECORDED_TOPIC = get_topic(Entry.Recorded)  # type: ignore[attr-defined]  # made by the created_event_name class argument


# --- the stored form of an event ----------------------------------------------------------

STATE_ZSTD = 1
STATE_HEADER = struct.Struct(">BHq")
"""Header of a compressed state: the form (:data:`STATE_ZSTD`), the dictionary id (0: none), the recorded time in µs."""
COMPRESSION_LEVEL = 3
DICTIONARY_SIZE = 64 * 1024
TRAINING_MIN = 1_000
"""A store trains its dictionary with the first append that brings it to this many events."""
TRAINING_SAMPLES = 10_000
"""How many of the most recent events (this append's, then stored ones) the dictionary is trained on."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def library_state(canonical: bytes, recorded_at: str) -> bytes:
    """The state eventsourcing decodes into an :class:`Entry`'s ``Recorded`` event.

    The canonical JSON of ``{content_hash, event, originator_topic, timestamp}``,
    assembled around the event's canonical bytes; it is also how states were
    stored before they were compressed.
    """
    return (
        b'{"content_hash":"'
        + hashlib.sha256(canonical).hexdigest().encode()
        + b'","event":'
        + canonical
        + b',"originator_topic":'
        + orjson.dumps(ENTRY_TOPIC)
        + b',"timestamp":'
        + canonical_bytes({"_type_": "datetime_iso", "_data_": recorded_at})
        + b"}"
    )


def train_dictionary(samples: list[Any], dictionary_id: int) -> bytes | None:
    """A zstd dictionary trained on these canonical events, or None if zstd cannot train one from them.

    Deterministic: one parameter set (no search) and one thread, so the same
    samples always give the same bytes.
    """
    size = min(DICTIONARY_SIZE, sum(map(len, samples)) // 4)
    try:
        trained = zstandard.train_dictionary(
            size, samples, k=1024, d=8, split_point=1.0, dict_id=dictionary_id, level=COMPRESSION_LEVEL, threads=0
        )
    except zstandard.ZstdError:
        return None
    return trained.as_bytes()


class StateCodec(Compressor):
    """Encodes and decodes ``stored_events.state``.

    A state is in one of two forms:

    - compressed: :data:`STATE_HEADER` (form ``1``, the id of the
      ``ledger_codec`` dictionary it was compressed with or 0 for none, the
      recorded time in microseconds since 1970 UTC), then a zstd frame of the
      event's canonical bytes (the bytes the hash chain covers);
    - plain: :func:`library_state`, JSON starting with ``{``, as stores
      written before compression hold.

    As the library's compressor, :meth:`decompress` gives eventsourcing the
    plain form of either, so ``repository.get`` works as usual; :meth:`compress`
    leaves states the library writes itself plain, which every reader reads.

    ``load`` returns the ``(id, dictionary)`` rows of ``ledger_codec``; it is
    called when a state names a dictionary this codec has not seen yet.
    """

    def __init__(self, load: Callable[[], Iterable[tuple[int, bytes]]]) -> None:
        self._load = load
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        self._decompressors = {0: zstandard.ZstdDecompressor()}
        self._compressors: dict[int, zstandard.ZstdCompressor] = {}

    def add(self, dictionary_id: int, dictionary: bytes) -> None:
        """Make a dictionary of the store known to this codec."""
        known = self._dictionaries.get(dictionary_id)
        if known is None or known.as_bytes() != dictionary:
            self.forget(dictionary_id)
            prepared = zstandard.ZstdCompressionDict(dictionary)
            self._dictionaries[dictionary_id] = prepared
            self._decompressors[dictionary_id] = zstandard.ZstdDecompressor(dict_data=prepared)

    def forget(self, dictionary_id: int) -> None:
        """Drop a dictionary this codec was given but the store did not keep (its append failed)."""
        self._dictionaries.pop(dictionary_id, None)
        self._decompressors.pop(dictionary_id, None)
        self._compressors.pop(dictionary_id, None)

    def knows(self, dictionary_id: int) -> bool:
        return dictionary_id in self._decompressors

    def _decompressor(self, dictionary_id: int) -> zstandard.ZstdDecompressor:
        if dictionary_id not in self._decompressors:
            for key, dictionary in self._load():
                self.add(key, dictionary)
            if dictionary_id not in self._decompressors:
                raise StoreError(f"a stored event names compression dictionary {dictionary_id}, which this store does not hold")
        return self._decompressors[dictionary_id]

    def _compressor(self, dictionary_id: int) -> zstandard.ZstdCompressor:
        if dictionary_id not in self._compressors:
            self._decompressor(dictionary_id)  # loads the dictionary if need be
            dictionary = self._dictionaries.get(dictionary_id)
            if dictionary is not None:
                dictionary.precompute_compress(level=COMPRESSION_LEVEL)
            self._compressors[dictionary_id] = zstandard.ZstdCompressor(
                level=COMPRESSION_LEVEL, dict_data=dictionary, write_checksum=False, write_content_size=True, write_dict_id=False
            )
        return self._compressors[dictionary_id]

    def encoder(self, dictionary_id: int, recorded_us: int) -> Callable[[bytes], bytes]:
        """A function from canonical event bytes to the compressed state, for events recorded together."""
        header = STATE_HEADER.pack(STATE_ZSTD, dictionary_id, recorded_us)
        compress = self._compressor(dictionary_id).compress
        return lambda canonical: header + compress(canonical)

    def encode(self, canonical: bytes, recorded_us: int, dictionary_id: int = 0) -> bytes:
        """The compressed state of one event."""
        return self.encoder(dictionary_id, recorded_us)(canonical)

    @staticmethod
    def header(state: bytes) -> tuple[int, int]:
        """The dictionary id and recorded time (µs since 1970 UTC) of a compressed state."""
        form, dictionary_id, recorded_us = STATE_HEADER.unpack_from(state)
        if form != STATE_ZSTD:
            raise StoreError(f"unknown stored form {form}: this store was written by a newer version of ledger")
        return dictionary_id, recorded_us

    def canonical(self, state: bytes) -> bytes:
        """The canonical bytes of the stored event (the bytes its content hash is over)."""
        if state[:1] == b"{":
            return canonical_bytes(orjson.loads(state)["event"])
        dictionary_id, _ = self.header(state)
        return self._decompressor(dictionary_id).decompress(state[STATE_HEADER.size :])

    def event(self, state: bytes) -> dict[str, Any]:
        """The stored event as a dict."""
        if state[0] == STATE_ZSTD:
            dictionary_id = STATE_HEADER.unpack_from(state)[1]
            decompressor = self._decompressors.get(dictionary_id) or self._decompressor(dictionary_id)
            return orjson.loads(decompressor.decompress(state[STATE_HEADER.size :]))
        if state[:1] == b"{":
            return orjson.loads(state)["event"]
        return orjson.loads(self.canonical(state))  # raises the unknown-form error

    def decompress(self, data: bytes) -> bytes:
        if data[:1] == b"{":
            return data
        dictionary_id, recorded_us = self.header(data)
        canonical = self._decompressor(dictionary_id).decompress(data[STATE_HEADER.size :])
        return library_state(canonical, (EPOCH + recorded_us * MICROSECOND).isoformat())

    def compress(self, data: bytes) -> bytes:
        return data


# --- persistence --------------------------------------------------------------------------

CHAIN_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_chain (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    chain_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    batch INTEGER NOT NULL
)
"""
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
    for table in ("stored_events", "ledger_chain", "ledger_codec")
    for action in ("UPDATE", "DELETE")
]


class LedgerRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, plus the hash chain, the state codec and immutability triggers.

    Events are inserted with one ``executemany``; their positions are the
    rowids SQLite assigns, which are consecutive because the insert holds the
    write lock before the positions are read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.codec = StateCodec(self._dictionaries)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), CHAIN_TABLE, REGISTRY_TABLE, CODEC_TABLE, *IMMUTABILITY_TRIGGERS]

    def _dictionaries(self) -> list[tuple[int, bytes]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT id, dictionary FROM ledger_codec")
            return [(row[0], row[1]) for row in c.fetchall()]

    def append_entries(self, prepared: Sequence[PreparedEvent], recorded_at: datetime) -> list[int]:
        """Compress and insert prepared events, and extend the chain, in one transaction; return their positions.

        The states are compressed before the transaction, whose first statement
        is the insert, so the write lock is taken first and held briefly.
        """
        dictionary_id, trained = self._dictionary_for(prepared)
        encode = self.codec.encoder(dictionary_id, (recorded_at - EPOCH) // MICROSECOND)
        stored = [StoredEvent(entry_hex(event.event_id), 1, RECORDED_TOPIC, encode(event.canonical)) for event in prepared]
        chain = [(event.event_id, event.canonical) for event in prepared]
        try:
            with self.datastore.transaction(commit=True) as c:
                positions = list(self._insert_events(c, stored, chain=chain, recorded_at=recorded_at.isoformat()))
                if trained is not None:
                    c.execute("INSERT INTO ledger_codec VALUES (?, ?, ?, ?)", (dictionary_id, trained[0], positions[0], trained[1]))
        except BaseException:
            if trained is not None:
                self.codec.forget(dictionary_id)
            raise
        return positions

    def _dictionary_for(self, prepared: Sequence[PreparedEvent]) -> tuple[int, tuple[bytes, int] | None]:
        """The id of the dictionary to compress this append with (0 for none), and (dictionary, samples) if it is new.

        The store's newest dictionary; if it has none yet and this append brings
        it to :data:`TRAINING_MIN` events, one trained on the most recent
        :data:`TRAINING_SAMPLES` events, to be stored with the append.
        """
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT MAX(id) FROM ledger_codec")
            newest = c.fetchone()[0]
            if newest is not None:
                if not self.codec.knows(newest):
                    c.execute("SELECT dictionary FROM ledger_codec WHERE id = ?", (newest,))
                    self.codec.add(newest, c.fetchone()[0])
                return newest, None
            c.execute("SELECT COALESCE(MAX(rowid), 0) FROM stored_events")
            stored = c.fetchone()[0]
            if stored + len(prepared) < TRAINING_MIN:
                return 0, None
            samples = [event.canonical for event in prepared[-TRAINING_SAMPLES:]]
            if len(samples) < TRAINING_SAMPLES and stored:
                c.execute("SELECT state FROM stored_events ORDER BY rowid DESC LIMIT ?", (TRAINING_SAMPLES - len(samples),))
                samples = [self.codec.canonical(row[0]) for row in reversed(c.fetchall())] + samples
        dictionary = train_dictionary(samples, 1)
        if dictionary is None:
            return 0, None
        self.codec.add(1, dictionary)
        return 1, (dictionary, len(samples))

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        chain_rows: list[tuple[str, bytes]] = kwargs.get("chain", [])
        recorded_at: str = kwargs.get("recorded_at") or datetime.now(UTC).isoformat()
        c.executemany(
            self.insert_events_statement,
            [
                (s.originator_id if isinstance(s.originator_id, str) else s.originator_id.hex, s.originator_version, s.topic, s.state)
                for s in stored_events
            ],
        )
        c.execute("SELECT MAX(rowid) FROM stored_events")
        last = c.fetchone()[0]
        first = last - len(stored_events) + 1
        c.execute("SELECT chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        previous = bytes.fromhex(row[0]) if row else GENESIS
        rows = []
        for position, (event_id, canonical) in enumerate(chain_rows, start=first):
            digest = hashlib.sha256(canonical).hexdigest()
            previous = hashlib.sha256(previous + canonical).digest()
            rows.append((position, event_id, digest, previous.hex(), recorded_at, first))
        c.executemany("INSERT INTO ledger_chain VALUES (?,?,?,?,?,?)", rows)
        return list(range(first, last + 1))


class LedgerApplication(Application[uuid.UUID]):
    """The eventsourcing application the store is built on (``repository.get`` works as usual)."""

    name = "ledger"

    def construct_event_store(self) -> Any:
        if isinstance(self.recorder, LedgerRecorder):
            self.mapper.compressor = self.recorder.codec  # states are compressed: the mapper decodes them through it
        return super().construct_event_store()


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store holds it: its position, when and in which batch it was recorded."""

    position: int
    recorded_at: str
    batch: int
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def event(self) -> Envelope:
        return vocabulary.parse_event(self.data)


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int
    head: str | None
    first_bad_position: int | None = None
    reason: str | None = None


class LedgerStore:
    """Append and read ledger events. Open with :func:`open_store`."""

    def __init__(self, settings: StoreSettings, create: bool = True) -> None:
        self.settings = settings
        if settings.backend == "postgres":
            raise StoreError("the PostgreSQL backend is not available in this version; use LEDGER_BACKEND=sqlite (the default)")
        if settings.backend != "sqlite":
            raise StoreError(f"unknown backend {settings.backend!r}; choose one of: {', '.join(BACKENDS)}")
        path = Path(settings.db)
        if not create and not path.exists():
            raise StoreError(f"no ledger database at {settings.db}; run 'ledger ingest events/' to create it")
        self.app = LedgerApplication(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(path),
                "APPLICATION_RECORDER_TOPIC": get_topic(LedgerRecorder),
                "IS_SNAPSHOTTING_ENABLED": "n",
            }
        )
        self.recorder: LedgerRecorder = self.app.recorder  # type: ignore[assignment]
        self.codec = self.recorder.codec
        self._registry_ids: dict[str, set[str]] | None = None

    @property
    def path(self) -> str:
        return self.settings.db

    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def append(self, events: Sequence[dict[str, Any]], recorded_at: datetime | None = None) -> list[int]:
        """Append validated events (plain JSON-ready dicts) in one transaction; return their positions."""
        return self.append_prepared([prepare_event(data) for data in events], recorded_at)

    def append_prepared(self, prepared: Sequence[PreparedEvent], recorded_at: datetime | None = None) -> list[int]:
        """Append events already reduced by :func:`prepare_event`, in one transaction; return their positions."""
        if not prepared:
            return []
        return self.recorder.append_entries(prepared, _utc(recorded_at))

    def put_registry(self, entries: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Insert or replace registry entries given as (kind, id, data)."""
        entries = list(entries)
        with self.recorder.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT OR REPLACE INTO ledger_registry VALUES (?,?,?)",
                [(kind, key, json.dumps(data, sort_keys=True)) for kind, key, data in entries],
            )
        if self._registry_ids is not None:
            for kind, key, _ in entries:
                self._registry_ids.setdefault(kind, set()).add(key)

    # -- reading --------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(sql, params)
            return c.fetchall()

    def registry(self, kind: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """Registry entries by kind, then id."""
        sql, params = "SELECT kind, id, data FROM ledger_registry", tuple[str, ...]()
        if kind:
            sql, params = sql + " WHERE kind=?", (kind,)
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for row in self._query(sql, params):
            found.setdefault(row["kind"], {})[row["id"]] = json.loads(row["data"])
        return found

    def registry_ids(self) -> dict[str, set[str]]:
        """The ids in each registry (no entry bodies): what reference checks need.

        Kept on this handle after the first read and updated by :meth:`put_registry`,
        so a stream of small ingests does not reread thousands of rows each time.
        """
        if self._registry_ids is None:
            found: dict[str, set[str]] = {}
            for kind, key in self._query("SELECT kind, id FROM ledger_registry"):
                found.setdefault(kind, set()).add(key)
            self._registry_ids = found
        return {kind: set(ids) for kind, ids in self._registry_ids.items()}

    def count(self) -> int:
        return self._query("SELECT COUNT(*) FROM ledger_chain")[0][0]

    def max_position(self) -> int:
        return self._query("SELECT COALESCE(MAX(position), 0) FROM ledger_chain")[0][0]

    def head(self) -> str | None:
        rows = self._query("SELECT chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
        return rows[0][0] if rows else None

    def content_hashes(self, event_ids: Iterable[str]) -> dict[str, str]:
        """The content hash of each of these ids already in the store."""
        ids = list(event_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT event_id, content_hash FROM ledger_chain WHERE event_id IN ({marks})", chunk):
                found[row[0]] = row[1]
        return found

    def get(self, event_id: str) -> RecordedEvent | None:
        """The recorded event with this id, or None."""
        rows = self._query(
            "SELECT c.position, c.recorded_at, c.batch, s.state FROM ledger_chain c "
            "JOIN stored_events s ON s.rowid = c.position WHERE c.event_id = ?",
            (event_id,),
        )
        return self._recorded(rows[0]) if rows else None

    def iter_events(self, after: int = 0, before: int | None = None, page: int = 5000) -> Iterator[RecordedEvent]:
        """Recorded events in recording order, with ``after < position < before``."""
        while True:
            sql = (
                "SELECT c.position, c.recorded_at, c.batch, s.state FROM ledger_chain c "
                "JOIN stored_events s ON s.rowid = c.position WHERE c.position > ?"
            )
            params: list[Any] = [after]
            if before is not None:
                sql += " AND c.position < ?"
                params.append(before)
            rows = self._query(sql + " ORDER BY c.position LIMIT ?", [*params, page])
            for row in rows:
                yield self._recorded(row)
            if len(rows) < page:
                return
            after = rows[-1][0]

    def _recorded(self, row: sqlite3.Row) -> RecordedEvent:
        return RecordedEvent(row[0], row[1], row[2], self.codec.event(row[3]))

    def batch_start(self, position: int) -> int | None:
        """The first position of the append (transaction) that holds ``position``."""
        rows = self._query("SELECT batch FROM ledger_chain WHERE position >= ? ORDER BY position LIMIT 1", (position,))
        return rows[0][0] if rows else None

    def position_at(self, timestamp: str) -> int:
        """The first position recorded after ``timestamp`` (ISO), for 'recorded before a time' questions."""
        rows = self._query("SELECT MIN(position) FROM ledger_chain WHERE recorded_at > ?", (timestamp,))
        return rows[0][0] if rows and rows[0][0] is not None else self.max_position() + 1

    # -- checking -------------------------------------------------------------------------

    def verify(self) -> Verification:
        """Recompute the hash chain from the stored events; report the first position that does not match."""
        previous = GENESIS
        count = 0
        with self.recorder.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT s.rowid, s.state, c.position, c.event_id, c.content_hash, c.chain_hash "
                "FROM stored_events s LEFT JOIN ledger_chain c ON c.position = s.rowid "
                "UNION ALL SELECT NULL, NULL, c.position, c.event_id, c.content_hash, c.chain_hash "
                "FROM ledger_chain c WHERE c.position NOT IN (SELECT rowid FROM stored_events) "
                "ORDER BY 3, 1"
            )
            for rowid, state, position, event_id, stored_hash, chain_hash in iter(c.fetchone, None):
                where = position if position is not None else rowid
                if rowid is None:
                    return Verification(False, count, None, where, "the stored event for this chain entry is missing")
                if position is None:
                    return Verification(False, count, None, where, "a stored event has no hash-chain entry")
                try:
                    canonical = self.codec.canonical(state)
                    stored_id = orjson.loads(canonical).get("id")
                except (ValueError, KeyError, TypeError, AttributeError, struct.error, zstandard.ZstdError, StoreError):
                    return Verification(False, count, None, where, "the stored event is not readable")
                if stored_id != event_id or hashlib.sha256(canonical).hexdigest() != stored_hash:
                    return Verification(False, count, None, where, "the stored event does not match its recorded hash")
                previous = hashlib.sha256(previous + canonical).digest()
                if previous.hex() != chain_hash:
                    return Verification(False, count, None, where, "the hash chain breaks here")
                count += 1
        return Verification(True, count, previous.hex() if count else None)


def _utc(recorded_at: datetime | None) -> datetime:
    """The time an append is recorded at, in UTC (a naive time is taken to be UTC), so ISO strings sort as times."""
    if recorded_at is None:
        return datetime.now(UTC)
    if recorded_at.tzinfo is None:
        return recorded_at.replace(tzinfo=UTC)
    return recorded_at.astimezone(UTC)


def open_store(db: str | None = None, backend: str | None = None, create: bool = True) -> LedgerStore:
    """Open the ledger store named by arguments or the environment (``LEDGER_DB``, ``LEDGER_BACKEND``)."""
    return LedgerStore(StoreSettings.from_env(db, backend), create=create)
