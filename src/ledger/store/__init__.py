"""The append-only, tamper-evident store of ledger events.

The store's parts, by responsibility:

- :mod:`ledger.store.interface`: what a backend must do (:class:`StoreReader`,
  :class:`StoreBackend`) and the values it returns; everything outside the
  store reads and writes events only through it;
- :mod:`ledger.store.codec`: the canonical bytes of an event (what is hashed)
  and their compressed stored form;
- :mod:`ledger.store.reader` and :mod:`ledger.store.recorder`: SQLite, the
  default backend (reading with ``sqlite3`` alone; the append with its hash
  chain, the immutability triggers, verify);
- :mod:`ledger.store.library`: the event-sourcing library's view of the same
  rows (``LedgerStore.app``).

:class:`LedgerStore` (opened with :func:`open_store`) is the facade the rest of
the ledger uses. Importing this package loads neither the event-sourcing
library nor the codec: :func:`read_head` answers with ``sqlite3`` alone.

Each ledger event's id is unique in the ledger; the order of recording is the
event's **position**, the *recorded-time* axis; world dates stay inside the event.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.store.interface import (
    Appended,
    Batch,
    DuplicateEvent,
    Head,
    PreparedEvent,
    RecordedEvent,
    RegistryEntry,
    StoreBackend,
    StoreError,
    StoreReader,
    Verification,
)

if TYPE_CHECKING:
    from ledger.store.codec import (
        LEDGER_NAMESPACE,
        STATE_HEADER,
        TRAINING_MIN,
        StateCodec,
        canonical_bytes,
        content_hash,
        entry_hex,
        entry_id,
        library_state,
        prepare_event,
    )

BACKENDS = ("sqlite", "postgres")
URL_SCHEMES = ("postgresql://", "postgres://")

__all__ = [
    "BACKENDS",
    "LEDGER_NAMESPACE",
    "STATE_HEADER",
    "TRAINING_MIN",
    "Appended",
    "Batch",
    "DuplicateEvent",
    "Head",
    "LedgerStore",
    "PreparedEvent",
    "RecordedEvent",
    "RegistryEntry",
    "StateCodec",
    "StoreBackend",
    "StoreError",
    "StoreReader",
    "Verification",
    "canonical_bytes",
    "codec_of",
    "content_hash",
    "entry_hex",
    "entry_id",
    "event_reader",
    "library_state",
    "open_reader",
    "open_store",
    "prepare_event",
    "read_head",
]

_LAZY = {
    "STATE_HEADER": "codec",
    "TRAINING_MIN": "codec",
    "StateCodec": "codec",
    "canonical_bytes": "codec",
    "content_hash": "codec",
    "library_state": "codec",
    "prepare_event": "codec",
    "LEDGER_NAMESPACE": "codec",
    "entry_hex": "codec",
    "entry_id": "codec",
    "Entry": "library",
}


def __getattr__(name: str) -> Any:
    """Names of the codec and the recorder, loaded when first asked for (keeps ``import ledger.store`` light)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"ledger.store.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ledger.store' has no attribute {name!r}")


def backend_of(location: str, backend: str | None = None) -> str:
    """Which backend serves ``location``: ``postgres`` for a PostgreSQL URL (or when asked for), else ``sqlite``."""
    chosen = (backend or ("postgres" if location.startswith(URL_SCHEMES) else "sqlite")).lower()
    if chosen not in BACKENDS:
        raise StoreError(f"unknown backend {chosen!r}; choose one of: {', '.join(BACKENDS)}")
    return chosen


def _backend_module(chosen: str) -> Any:
    if chosen == "sqlite":
        return importlib.import_module("ledger.store.recorder")
    try:
        return importlib.import_module("ledger.store.postgres")
    except ImportError as error:
        raise StoreError(f"the PostgreSQL backend is not available: {error}") from None


def open_reader(location: str, backend: str | None = None) -> StoreReader:
    """A reader of the store at ``location`` (a file path or a PostgreSQL URL); cheap, one per process or thread."""
    chosen = backend_of(os.fspath(location), backend)
    if chosen == "sqlite":
        from ledger.store.reader import open_reader as open_sqlite

        return open_sqlite(os.fspath(location))
    reader: StoreReader = _backend_module(chosen).open_reader(os.fspath(location))
    return reader


def read_head(location: str | os.PathLike[str]) -> Head | None:
    """The store's head (last position, chain hash), or None when there is no ledger there.

    For start-up checks (is the read model current?): a SQLite file is read
    with ``sqlite3`` alone, without loading the codec or the event-sourcing library.
    """
    location = os.fspath(location)
    if not location.startswith(URL_SCHEMES):
        if not Path(location).is_file():
            return None
        try:
            with closing(sqlite3.connect(f"file:{Path(location).resolve()}?mode=ro", uri=True)) as conn:
                row = conn.execute("SELECT position, chain_hash FROM ledger_chain ORDER BY position DESC LIMIT 1").fetchone()
        except sqlite3.Error:
            return None
        if not row:
            return Head(0, None)
        return Head(row[0], row[1].hex() if isinstance(row[1], bytes) else row[1])  # 32 bytes; hex in the earlier layout
    try:
        with open_reader(location) as reader:
            return reader.head()
    except StoreError:
        return None


def event_reader(conn: sqlite3.Connection) -> Any:
    """A function that decodes a SQLite ``stored_events.state`` read on ``conn`` into the event dict (for store tests and tools)."""
    return codec_of(conn).event


def codec_of(conn: sqlite3.Connection) -> StateCodec:
    """The :class:`StateCodec` of the SQLite store on a plain ``sqlite3`` connection (read-only is enough)."""
    from ledger.store.codec import StateCodec

    def load() -> list[tuple[int, bytes]]:
        try:
            return conn.execute("SELECT id, dictionary FROM ledger_codec").fetchall()
        except sqlite3.OperationalError:  # a store written before states were compressed has no codec table
            return []

    return StateCodec(load)


class LedgerStore:
    """Append and read ledger events, whichever backend keeps them. Open with :func:`open_store`.

    A thin facade over one :class:`StoreBackend`: the interface's methods, plus
    conveniences (appending event dicts, iterating by position).
    """

    def __init__(self, backend: StoreBackend) -> None:
        self.backend = backend

    @property
    def path(self) -> str:
        """Where the store is (a file path or a database URL)."""
        return self.backend.location

    location = path

    @property
    def app(self) -> Any:
        """The event-sourcing application over the same rows (SQLite): ``app.repository.get(entry_id(event_id))``."""
        return self.backend.app  # type: ignore[attr-defined]  # only backends built on the library's application have one

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def append(self, events: Sequence[dict[str, Any]], recorded_at: datetime | None = None) -> list[int]:
        """Append validated events (plain JSON-ready dicts) in one transaction; return the positions recorded.

        Ids already recorded with the same content are skipped; with other content, :class:`DuplicateEvent`.
        """
        from ledger.store.codec import prepare_event

        return self.append_prepared([prepare_event(data) for data in events], recorded_at)

    def append_prepared(self, prepared: Sequence[PreparedEvent], recorded_at: datetime | None = None) -> list[int]:
        """Append events already reduced by :func:`prepare_event`, in one transaction; return the positions recorded."""
        return self.record(prepared, recorded_at=recorded_at).positions

    def record(
        self,
        prepared: Sequence[PreparedEvent],
        registry: Sequence[RegistryEntry] = (),
        recorded_at: datetime | None = None,
        checked_at: int | None = None,
    ) -> Appended:
        """Events and registry entries in one transaction: :meth:`StoreBackend.append`."""
        if not prepared and not registry:
            return Appended([], [])
        return self.backend.append(prepared, registry, recorded_at, checked_at)

    def put_registry(self, entries: Iterable[RegistryEntry]) -> None:
        """Insert or replace registry entries given as (kind, id, data), in one transaction."""
        self.record([], list(entries))

    # -- reading --------------------------------------------------------------------------

    def head(self) -> Head:
        return self.backend.head()

    def max_position(self) -> int:
        return self.backend.head().position

    def chain_hash(self, position: int) -> str | None:
        return self.backend.chain_hash(position)

    def count(self) -> int:
        return self.backend.count()

    def batches(self, after: int = 0) -> list[Batch]:
        return self.backend.batches(after)

    def events(self, start: int = 1, end: int | None = None) -> Iterator[RecordedEvent]:
        return self.backend.events(start, end)

    def iter_events(self, after: int = 0, before: int | None = None) -> Iterator[RecordedEvent]:
        """Recorded events in recording order, with ``after < position < before``."""
        if before is not None and before <= after + 1:
            return iter(())
        return self.backend.events(after + 1, None if before is None else before - 1)

    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        return self.backend.events_at(positions)

    def positions_of(self, event_ids: Iterable[str], up_to: int | None = None) -> dict[str, int]:
        return self.backend.positions_of(event_ids, up_to)

    def content_hashes(self, event_ids: Iterable[str], entries: Sequence[str] | None = None) -> dict[str, str]:
        return self.backend.content_hashes(event_ids, entries)

    def compression_dictionary(self) -> tuple[int, bytes] | None:
        return self.backend.compression_dictionary()

    def get(self, event_id: str) -> RecordedEvent | None:
        return self.backend.get(event_id)

    def batch_start(self, position: int) -> int | None:
        return self.backend.batch_start(position)

    def position_at(self, timestamp: str) -> int:
        return self.backend.position_at(timestamp)

    def registry(self, kind: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        return self.backend.registry(kind)

    def registry_ids(self) -> dict[str, set[str]]:
        return self.backend.registry_ids()

    def registry_mark(self) -> str:
        return self.backend.registry_mark()

    def verify(self) -> Verification:
        """Recompute the hash chain from the stored events; report the first position that does not match."""
        return self.backend.verify()

    # -- the Merkle log (see StoreReader; ledger.proofs builds checkpoints and proofs on these) --------

    def log_size(self) -> int:
        return self.backend.log_size()

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        return self.backend.leaf_hashes(size)

    def leaf_inputs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int | None, bytes | None]]:
        return self.backend.leaf_inputs(start, end)

    def leaf_input(self, leaf: int) -> bytes:
        return self.backend.leaf_input(leaf)

    def leaf_of(self, event_id: str) -> int | None:
        return self.backend.leaf_of(event_id)

    def log_position(self, size: int) -> int:
        return self.backend.log_position(size)

    def checkpoints(self) -> list[str]:
        return self.backend.checkpoints()

    def put_checkpoint(self, size: int, root: str, time: str, key_id: str | None, document: str) -> None:
        self.backend.put_checkpoint(size, root, time, key_id, document)


def open_store(db: str | os.PathLike[str] | None = None, backend: str | None = None, create: bool = True) -> LedgerStore:
    """Open the ledger store at ``db`` (a path or a PostgreSQL URL), else where the settings say (``LEDGER_DB``, ``LEDGER_BACKEND``).

    ``create`` False: a :class:`StoreError` when there is no ledger there yet.
    """
    from ledger import settings

    location = os.fspath(db) if db else settings.ledger_db()
    chosen = backend_of(location, backend or settings.ledger_backend())
    return LedgerStore(_backend_module(chosen).open_backend(location, create=create))
