"""The PostgreSQL backend: one shared ledger on a server, with the guarantees and the answers of the SQLite one.

A ledger at ``postgresql://user@host:port/dbname`` keeps the tables the SQLite
file keeps, with the same meaning and the same bytes in them:

- ``stored_events``: eventsourcing's table (its PostgreSQL recorder made it),
  one row per event, ``notification_id`` is the event's position and ``state``
  the same compressed bytes SQLite stores (:mod:`ledger.store.codec`);
- ``ledger_chain``: position, event id, content hash, chain hash, recorded time, batch;
- ``ledger_codec``: the zstd dictionaries the states were compressed with;
- ``ledger_registry``: actors, documents and questions (JSON text), with a
  revision number that moves whenever an entry is written;
- ``ledger_log`` and ``ledger_checkpoints``: the Merkle log's leaves and the
  checkpoints made of it (:mod:`ledger.store.log` says what a leaf covers).

Text columns that are compared or sorted use the ``"C"`` collation, so ISO
times and ids order byte by byte whatever the database's locale.

Reading needs no event-sourcing library: :class:`PostgresReader` is one plain
psycopg connection. Writing (:mod:`ledger.store.postgres_recorder`) goes
through eventsourcing's PostgreSQL recorder and its connection pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson
import psycopg
from psycopg.rows import tuple_row

from ledger.store.codec import StateCodec
from ledger.store.interface import Batch, Head, RecordedEvent, StoreBackend, StoreError, StoreReader, Verification
from ledger.store.locations import redacted
from ledger.store.log import event_leaf_input
from ledger.store.recorder import verify_chain

EVENTS_TABLE = "stored_events"
PAGE = 5000
APPEND_LOCK = int.from_bytes(hashlib.sha256(b"ledger append").digest()[:8], "big", signed=True)
"""The transaction-level advisory lock every append takes first (``pg_advisory_xact_lock``), serialising writers."""

LEDGER_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS ledger_chain (
        position bigint PRIMARY KEY,
        event_id text COLLATE "C" NOT NULL UNIQUE,
        content_hash text NOT NULL,
        chain_hash text NOT NULL,
        recorded_at text COLLATE "C" NOT NULL,
        batch bigint NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ledger_chain_recorded_at ON ledger_chain (recorded_at)",
    "CREATE SEQUENCE IF NOT EXISTS ledger_registry_revision",
    """CREATE TABLE IF NOT EXISTS ledger_registry (
        kind text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        data text NOT NULL,
        revision bigint NOT NULL DEFAULT nextval('ledger_registry_revision'),
        PRIMARY KEY (kind, id)
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_codec (
        id integer PRIMARY KEY,
        dictionary bytea NOT NULL,
        first_position bigint NOT NULL,
        samples integer NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_log (
        leaf bigint PRIMARY KEY,
        position bigint UNIQUE,
        input bytea,
        hash bytea NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        id bigserial PRIMARY KEY,
        size bigint NOT NULL,
        root text NOT NULL,
        time text NOT NULL,
        key_id text,
        document text NOT NULL
    )""",
    """CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger events are immutable: record a correction event instead' USING ERRCODE = 'insufficient_privilege';
    END $$""",
    *(
        f"""CREATE OR REPLACE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"""
        for table in (EVENTS_TABLE, "ledger_chain", "ledger_codec", "ledger_log", "ledger_checkpoints")
    ),
    *(
        f"""CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"""
        for table in (EVENTS_TABLE, "ledger_chain", "ledger_codec", "ledger_registry", "ledger_log", "ledger_checkpoints")
    ),
]
"""The ledger's own tables and triggers, created beside the library's ``stored_events`` (idempotent)."""

WRITER_GRANTS = """\
GRANT CONNECT ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT ON stored_events, ledger_chain, ledger_codec, ledger_log, ledger_checkpoints TO {role};
GRANT SELECT, INSERT, UPDATE ON ledger_registry TO {role};
GRANT USAGE ON SEQUENCE ledger_registry_revision, ledger_checkpoints_id_seq TO {role};
"""
"""What a writer role needs, and no more: no UPDATE, DELETE or TRUNCATE of events, chain or dictionaries, no DDL.

Run by the ledger's owner (the role that created it) for a role made with
``CREATE ROLE name LOGIN PASSWORD '...'``; readers need only the first two lines and SELECT.
"""

EVENT_COLUMNS = f"SELECT c.position, c.recorded_at, c.batch, c.chain_hash, s.state FROM ledger_chain c JOIN {EVENTS_TABLE} s ON s.notification_id = c.position"


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A plain autocommit connection; libpq finds the password in the URL, ``PGPASSWORD`` or ``~/.pgpass``."""
    try:
        return psycopg.connect(url, autocommit=True, row_factory=tuple_row)
    except psycopg.OperationalError as error:
        raise StoreError(f"cannot connect to the ledger at {redacted(url)}: {str(error).strip()}") from None


def has_ledger(conn: psycopg.Connection[Any]) -> bool:
    """Whether the database on ``conn`` holds a ledger's tables."""
    row = conn.execute("SELECT to_regclass('ledger_chain') IS NOT NULL AND to_regclass(%s) IS NOT NULL", (EVENTS_TABLE,)).fetchone()
    return bool(row and row[0])


Cursor = psycopg.Cursor[tuple[Any, ...]]


class PostgresReader(StoreReader):
    """Reads a PostgreSQL ledger through one connection of its own (or the cursors ``cursor`` gives)."""

    def __init__(self, location: str, cursor: Callable[[], AbstractContextManager[Cursor]] | None = None) -> None:
        self.location = location
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        if cursor is None:
            self._conn = connect(location)
            if not has_ledger(self._conn):
                self._conn.close()
                raise StoreError(f"no ledger at {redacted(location)}: run ledger ingest, or check --db")
            conn = self._conn
            cursor = conn.cursor
        self._cursor = cursor
        self.codec = StateCodec(self._dictionaries)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor() as c:
            c.execute(sql, tuple(params))
            return c.fetchall()

    def _dictionaries(self) -> list[tuple[int, bytes]]:
        return [(key, bytes(dictionary)) for key, dictionary in self._rows("SELECT id, dictionary FROM ledger_codec")]

    def _recorded(self, row: tuple[Any, ...]) -> RecordedEvent:
        return RecordedEvent(row[0], row[1], row[2], row[3], self.codec.event(bytes(row[4])))

    # -- the chain ---------------------------------------------------------------------------

    def head(self) -> Head:
        rows = self._rows("SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1")
        return Head(rows[0][0], rows[0][1]) if rows else Head(0, None)

    def chain_hash(self, position: int) -> str | None:
        rows = self._rows("SELECT chain_hash FROM ledger_chain WHERE position = %s", (position,))
        return rows[0][0] if rows else None

    def count(self) -> int:
        return self._rows("SELECT count(*) FROM ledger_chain")[0][0]

    # -- events --------------------------------------------------------------------------------

    def batches(self, after: int = 0) -> list[Batch]:
        rows = self._rows("SELECT batch, max(position) FROM ledger_chain WHERE position > %s GROUP BY batch ORDER BY batch", (after,))
        return [Batch(start, end) for start, end in rows]

    def events(self, start: int, end: int | None = None) -> Iterator[RecordedEvent]:
        last = end if end is not None else self.head().position
        while start <= last:
            rows = self._rows(
                EVENT_COLUMNS + " WHERE c.position BETWEEN %s AND %s ORDER BY c.position", (start, min(last, start + PAGE - 1))
            )
            yield from map(self._recorded, rows)
            start += PAGE

    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        wanted = list(positions)
        rows = self._rows(f"SELECT notification_id, state FROM {EVENTS_TABLE} WHERE notification_id = ANY(%s)", (wanted,))
        return {position: self.codec.event(bytes(state)) for position, state in rows}

    def positions_of(self, event_ids: Iterable[str], up_to: int | None = None) -> dict[str, int]:
        sql = "SELECT event_id, position FROM ledger_chain WHERE event_id = ANY(%s)"
        params: list[Any] = [list(event_ids)]
        if up_to is not None:
            sql, params = sql + " AND position <= %s", [*params, up_to]
        return dict(self._rows(sql, params))

    def content_hashes(self, event_ids: Iterable[str], entries: Sequence[str] | None = None) -> dict[str, str]:
        return dict(self._rows("SELECT event_id, content_hash FROM ledger_chain WHERE event_id = ANY(%s)", (list(event_ids),)))

    def get(self, event_id: str) -> RecordedEvent | None:
        rows = self._rows(EVENT_COLUMNS + " WHERE c.event_id = %s", (event_id,))
        return self._recorded(rows[0]) if rows else None

    def batch_start(self, position: int) -> int | None:
        rows = self._rows("SELECT batch FROM ledger_chain WHERE position >= %s ORDER BY position LIMIT 1", (position,))
        return rows[0][0] if rows else None

    def position_at(self, timestamp: str) -> int:
        found = self._rows("SELECT min(position) FROM ledger_chain WHERE recorded_at > %s", (timestamp,))[0][0]
        return found if found is not None else self.head().position + 1

    # -- the registry ----------------------------------------------------------------------------

    def registry(self, kind: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        sql, params = "SELECT kind, id, data FROM ledger_registry", tuple[str, ...]()
        if kind:
            sql, params = sql + " WHERE kind = %s", (kind,)
        found: dict[str, dict[str, dict[str, Any]]] = {}
        for entry_kind, key, data in self._rows(sql + " ORDER BY kind, id", params):
            found.setdefault(entry_kind, {})[key] = orjson.loads(data)
        return found

    def registry_ids(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for kind, key in self._rows("SELECT kind, id FROM ledger_registry"):
            found.setdefault(kind, set()).add(key)
        return found

    def registry_mark(self) -> str:
        count, revision = self._rows("SELECT count(*), coalesce(max(revision), 0) FROM ledger_registry")[0]
        return f"{count}:{revision}"

    # -- the Merkle log (ledger.store.log) ------------------------------------------------------

    def log_size(self) -> int:
        return self._rows("SELECT coalesce(max(leaf), -1) + 1 FROM ledger_log")[0][0]

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        rows = self._rows("SELECT hash FROM ledger_log ORDER BY leaf LIMIT %s", (size,))
        return [bytes(digest) for (digest,) in rows]

    def leaf_inputs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int | None, bytes | None]]:
        last = (2**63 - 1) if end is None else end - 1
        while start <= last:
            page = self._rows(
                f"SELECT l.leaf, l.position, l.input, c.recorded_at, s.state FROM ledger_log l "
                f"LEFT JOIN ledger_chain c ON c.position = l.position LEFT JOIN {EVENTS_TABLE} s ON s.notification_id = l.position "
                f"WHERE l.leaf BETWEEN %s AND %s ORDER BY l.leaf LIMIT {PAGE}",
                (start, last),
            )
            for leaf, position, stored_input, recorded_at, state in page:
                if position is None:
                    yield leaf, None, None if stored_input is None else bytes(stored_input)
                elif state is None or recorded_at is None:
                    yield leaf, position, None
                else:
                    yield leaf, position, event_leaf_input(self.codec.canonical(bytes(state)), position, recorded_at)
            if len(page) < PAGE:
                return
            start = page[-1][0] + 1

    def leaf_of(self, event_id: str) -> int | None:
        rows = self._rows(
            "SELECT l.leaf FROM ledger_log l JOIN ledger_chain c ON c.position = l.position WHERE c.event_id = %s", (event_id,)
        )
        return rows[0][0] if rows else None

    def log_position(self, size: int) -> int:
        return self._rows("SELECT max(position) FROM ledger_log WHERE leaf < %s", (size,))[0][0] or 0

    def checkpoints(self) -> list[str]:
        return [document for (document,) in self._rows("SELECT document FROM ledger_checkpoints ORDER BY id")]

    # -- checking ----------------------------------------------------------------------------

    def raw_rows(self, part: str) -> list[tuple[Any, ...]]:
        """The rows, in position order, of a table an append writes (``events`` or ``chain``): for benchmarks that copy the same bytes."""
        if part == "events":
            return self._rows(
                "SELECT originator_id, originator_version, topic, state, notification_id FROM stored_events ORDER BY notification_id"
            )
        return self._rows("SELECT * FROM ledger_chain ORDER BY position")

    def verify(self) -> Verification:
        """Recompute the chain over every stored event and chain entry, streamed in position order (as SQLite's verify)."""
        sql = (
            f"SELECT s.notification_id, s.state, c.position, c.event_id, c.content_hash, c.chain_hash "
            f"FROM {EVENTS_TABLE} s FULL OUTER JOIN ledger_chain c ON c.position = s.notification_id "
            f"ORDER BY coalesce(c.position, s.notification_id), s.notification_id"
        )
        return verify_chain(self._stream(sql), self.codec)

    def _stream(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql`` through a server-side cursor, so a whole ledger is read in bounded memory."""
        with psycopg.connect(self.location, row_factory=tuple_row) as conn, conn.transaction(), conn.cursor(name="ledger_stream") as c:
            c.itersize = 2000
            c.execute(sql)
            yield from c


def open_reader(location: str) -> StoreReader:
    """A reader of the PostgreSQL ledger at this URL (no event-sourcing import)."""
    return PostgresReader(location)


def open_backend(location: str, create: bool = True) -> StoreBackend:
    """The writable PostgreSQL ledger at this URL; with ``create``, its tables are made if missing."""
    from ledger.store.postgres_recorder import PostgresBackend

    return PostgresBackend(location, create=create)
