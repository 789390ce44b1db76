"""Writing a PostgreSQL ledger: eventsourcing's PostgreSQL recorder, plus the chain, the codec and the lock.

:class:`PostgresLedgerRecorder` subclasses the library's
``PostgresApplicationRecorder`` as the SQLite recorder subclasses
``SQLiteApplicationRecorder``: the library makes ``stored_events`` and its
connection pool; the recorder adds the ledger's tables and triggers
(:data:`ledger.store.postgres.LEDGER_SCHEMA`) and the one append.

An append is one transaction:

1. ``pg_advisory_xact_lock`` (:data:`~ledger.store.postgres.APPEND_LOCK`):
   appends queue here, one at a time, until the previous one commits or rolls
   back. The library takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` instead; that
   needs UPDATE, DELETE or TRUNCATE privilege on the table, which a writer role
   must not have (docs/postgres.md), while an advisory lock needs none.
2. inside the lock: which ids are already recorded (same content: skipped;
   other content: :class:`DuplicateEvent`, nothing written), the head, the
   compression dictionary (trained, as SQLite does, by the append that brings
   the ledger to its training size);
3. the events at the next consecutive positions (given explicitly, so a rolled
   back append leaves no gap, as a sequence would), their chain entries, a new
   dictionary if any, the registry entries; then commit.

A writer killed anywhere before the commit leaves nothing: PostgreSQL rolls the
transaction back when its connection drops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed

from ledger import settings
from ledger.merkle import leaf_hash
from ledger.store.codec import RECORDED_TOPIC, TRAINING_MIN, TRAINING_SAMPLES, StateCodec, recorded_us, train_dictionary
from ledger.store.interface import Appended, PreparedEvent, RegistryEntry, StoreBackend, StoreError, unrecorded
from ledger.store.library import CodecCompressor, LedgerApplication
from ledger.store.log import event_leaf_hashes, registry_leaf_input
from ledger.store.postgres import APPEND_LOCK, EVENTS_TABLE, LEDGER_SCHEMA, Cursor, PostgresReader, connect, has_ledger, redacted
from ledger.store.recorder import GENESIS, entry_hex, utc

SCHEMA_LOCK = APPEND_LOCK + 1
LOCK_STATEMENT = "SELECT pg_advisory_xact_lock({})"
"""The append's first statement: waits for the previous append to commit or roll back (the lock is the transaction's)."""
INSERT_EVENTS = (
    f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state, notification_id) "
    "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[])"
)
INSERT_CHAIN = (
    "INSERT INTO ledger_chain (position, event_id, content_hash, chain_hash, recorded_at, batch) "
    "SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[])"
)
INSERT_LEAVES = (
    "INSERT INTO ledger_log (leaf, position, input, hash) SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::bytea[], %b::bytea[])"
)
UPSERT_REGISTRY = (
    "INSERT INTO ledger_registry (kind, id, data) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]) "
    "ON CONFLICT (kind, id) DO UPDATE SET data = EXCLUDED.data, revision = nextval('ledger_registry_revision') "
    "WHERE ledger_registry.data IS DISTINCT FROM EXCLUDED.data"
)


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus the hash chain, the state codec, the append lock and the triggers."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = EVENTS_TABLE) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)  # one table name on every backend
        self.sql_create_statements.extend(Composed([SQL(statement)]) for statement in LEDGER_SCHEMA)  # constant statements, no user input
        self.codec = StateCodec(self._dictionaries)

    def create_table(self) -> None:
        """The library's tables, then the ledger's, under a session advisory lock: writers opening a new ledger at once make it once."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                super().create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    @contextmanager
    def cursor(self) -> Iterator[Cursor]:
        """A tuple-row cursor on a pooled (autocommit) connection."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as c:
            yield c

    def _dictionaries(self) -> list[tuple[int, bytes]]:
        with self.cursor() as c:
            c.execute("SELECT id, dictionary FROM ledger_codec")
            return [(key, bytes(dictionary)) for key, dictionary in c.fetchall()]

    def append_entries(self, prepared: Sequence[PreparedEvent], registry: Sequence[RegistryEntry], recorded_at: datetime) -> Appended:
        """Record events, their chain entries and registry entries in one transaction, under the append lock."""
        trained_id: int | None = None
        try:
            with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor(row_factory=tuple_row) as c:
                c.execute(LOCK_STATEMENT.format(APPEND_LOCK))
                fresh, skipped = self._new_events(c, prepared)
                positions: list[int] = []
                if fresh:
                    c.execute("SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
                    row = c.fetchone()
                    head, previous = (row[0], bytes.fromhex(row[1])) if row else (0, GENESIS)
                    dictionary_id, trained = self._dictionary_for(c, head, prepared)
                    if trained is not None:
                        trained_id = dictionary_id
                    positions = list(range(head + 1, head + 1 + len(fresh)))
                    self._insert(c, fresh, positions, previous, dictionary_id, recorded_at)
                    if trained is not None:
                        c.execute("INSERT INTO ledger_codec VALUES (%s, %s, %s, %s)", (dictionary_id, trained[0], positions[0], trained[1]))
                changed = self._changed_registry(c, registry)  # read before the entries replace the old ones
                if registry:
                    entries = {(kind, key): json.dumps(data, sort_keys=True) for kind, key, data in registry}  # the last of a key wins
                    c.execute(UPSERT_REGISTRY, ([kind for kind, _ in entries], [key for _, key in entries], list(entries.values())))
                self._append_leaves(c, changed, list(zip(positions, (event.canonical for event in fresh))), recorded_at.isoformat())
        except BaseException:
            if trained_id is not None:
                self.codec.forget(trained_id)
            raise
        return Appended(positions, skipped)

    def _changed_registry(self, c: Cursor, registry: Sequence[RegistryEntry]) -> list[RegistryEntry]:
        """The entries that are new or whose data differs from the registry's, the last one of each key (as SQLite's)."""
        latest = {(kind, key): data for kind, key, data in registry}
        if not latest:
            return []
        c.execute(
            "SELECT kind, id, data FROM ledger_registry WHERE (kind, id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([kind for kind, _ in latest], [key for _, key in latest]),
        )
        current = {(kind, key): json.loads(data) for kind, key, data in c.fetchall()}
        return [(kind, key, data) for (kind, key), data in latest.items() if current.get((kind, key)) != data]

    def _append_leaves(self, c: Cursor, registry: Sequence[RegistryEntry], events: Sequence[tuple[int, bytes]], recorded_at: str) -> None:
        """The Merkle log's leaves of this append: changed registry entries first, then the events in position order."""
        if not registry and not events:
            return
        c.execute("SELECT coalesce(max(leaf), -1) + 1 FROM ledger_log")
        first = c.fetchone()[0]  # type: ignore[index]  # an aggregate always returns a row
        inputs: list[bytes | None] = [registry_leaf_input(kind, key, data, recorded_at) for kind, key, data in registry]
        hashes = [leaf_hash(leaf_input) for leaf_input in inputs if leaf_input is not None]
        hashes += event_leaf_hashes(events, recorded_at)
        inputs += [None] * len(events)
        leaves = list(range(first, first + len(hashes)))
        positions = [None] * len(registry) + [position for position, _ in events]
        c.execute(INSERT_LEAVES, (leaves, positions, inputs, hashes))

    def _new_events(self, c: Cursor, prepared: Sequence[PreparedEvent]) -> tuple[list[PreparedEvent], list[str]]:
        """The events to record (first of each id, not yet in the store) and the ids skipped; raises on a conflicting id."""
        hashes = {event.event_id: hashlib.sha256(event.canonical).hexdigest() for event in reversed(prepared)}
        c.execute("SELECT event_id, content_hash FROM ledger_chain WHERE event_id = ANY(%s)", (list(hashes),))
        fresh, skipped = unrecorded(prepared, dict(c.fetchall()))
        return [prepared[index] for index in fresh], skipped

    def _dictionary_for(self, c: Cursor, stored: int, prepared: Sequence[PreparedEvent]) -> tuple[int, tuple[bytes, int] | None]:
        """The dictionary this append compresses with (0: none), and (dictionary, samples) when it trains a new one.

        The same rule as the SQLite store: the newest dictionary; else, when this
        append brings the ledger to :data:`TRAINING_MIN` events, one trained on
        the last :data:`TRAINING_SAMPLES` events (stored ones first, then all
        this append was given), so the same appends give the same bytes on
        either backend.
        """
        c.execute("SELECT id, dictionary FROM ledger_codec ORDER BY id DESC LIMIT 1")
        row = c.fetchone()
        if row is not None:
            if not self.codec.knows(row[0]):
                self.codec.add(row[0], bytes(row[1]))
            return row[0], None
        if stored + len(prepared) < TRAINING_MIN:
            return 0, None
        samples = [event.canonical for event in prepared[-TRAINING_SAMPLES:]]
        if len(samples) < TRAINING_SAMPLES and stored:
            c.execute(
                f"SELECT state FROM {EVENTS_TABLE} ORDER BY notification_id DESC LIMIT %s",
                (TRAINING_SAMPLES - len(samples),),
            )
            samples = [self.codec.canonical(bytes(state)) for (state,) in reversed(c.fetchall())] + samples
        dictionary = train_dictionary(samples, 1)
        if dictionary is None:
            return 0, None
        self.codec.add(1, dictionary)
        return 1, (dictionary, len(samples))

    def _insert(
        self, c: Cursor, fresh: Sequence[PreparedEvent], positions: list[int], previous: bytes, dictionary_id: int, recorded_at: datetime
    ) -> None:
        encode = self.codec.encoder(dictionary_id, recorded_us(recorded_at))
        ids = [event.event_id for event in fresh]
        c.execute(
            INSERT_EVENTS,
            (
                [entry_hex(event_id) for event_id in ids],
                [1] * len(fresh),
                [RECORDED_TOPIC] * len(fresh),
                [encode(event.canonical) for event in fresh],
                positions,
            ),
        )
        content, chain = [], []
        for event in fresh:
            content.append(hashlib.sha256(event.canonical).hexdigest())
            previous = hashlib.sha256(previous + event.canonical).digest()
            chain.append(previous.hex())
        when = recorded_at.isoformat()
        c.execute(INSERT_CHAIN, (positions, ids, content, chain, [when] * len(fresh), [positions[0]] * len(fresh)))


class PostgresBackend(PostgresReader, StoreBackend):
    """A writable PostgreSQL ledger: the library's application and recorder, read through its pool."""

    def __init__(self, location: str, create: bool = True) -> None:
        with connect(location) as probe:
            exists = has_ledger(probe)
        if not exists and not create:
            raise StoreError(f"no ledger at {redacted(location)}: run ledger ingest, or check --db")
        self.app = LedgerApplication(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "APPLICATION_RECORDER_TOPIC": get_topic(PostgresLedgerRecorder),
                "IS_SNAPSHOTTING_ENABLED": "n",
                # A writer role may not create tables: an existing ledger's are left as they are.
                "CREATE_TABLE": "n" if exists else "y",
                **settings.postgres_environment(location),
            }
        )
        self.recorder: PostgresLedgerRecorder = self.app.recorder  # type: ignore[assignment]  # made from APPLICATION_RECORDER_TOPIC
        self.app.mapper.compressor = CodecCompressor(self.recorder.codec)  # states are compressed: the mapper decodes them through it
        super().__init__(location, cursor=self.recorder.cursor)
        self.codec = self.recorder.codec

    def close(self) -> None:
        self.app.close()

    def put_checkpoint(self, size: int, root: str, time: str, key_id: str | None, document: str) -> None:
        with self.recorder.cursor() as c:
            c.execute(
                "INSERT INTO ledger_checkpoints (size, root, time, key_id, document) VALUES (%s, %s, %s, %s, %s)",
                (size, root, time, key_id, document),
            )

    def append(
        self,
        prepared: Sequence[PreparedEvent],
        registry: Sequence[RegistryEntry] = (),
        recorded_at: datetime | None = None,
        checked_at: int | None = None,
    ) -> Appended:
        """See :meth:`StoreBackend.append`; the ids are always looked up again under the lock (``checked_at`` is not used)."""
        if not prepared and not registry:
            return Appended([], [])
        return self.recorder.append_entries(prepared, registry, utc(recorded_at))
